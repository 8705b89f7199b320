# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The OpenBao helper's KV v2 write (tools/harness/openbao_dev.py) waits out a new mount's storage
upgrade and nothing else: CI once failed on a write made while a namespace's fresh KV v2 mount
still answered 400 "Upgrading from non-versioned to versioned data"."""

from __future__ import annotations

import pytest

import openbao_dev
from openbao_dev import UPGRADING, Bao


def answers(monkeypatch, replies):
    """Bao.api answers with ``replies`` in turn (an exception is raised); returns the calls it saw."""
    calls = []

    def api(self, method, path, body=None, token=None, namespace=None, ok=(200, 204)):
        calls.append((method, path, body, namespace))
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    monkeypatch.setattr(Bao, "api", api)
    monkeypatch.setattr(openbao_dev.time, "sleep", lambda seconds: None)
    return calls


def upgrading():
    return RuntimeError('POST secret/data/coder/admin -> 400 {"errors":["%s. This backend will be '
                        'unavailable for a brief period and will resume service shortly."]}' % UPGRADING)


def test_a_write_during_the_mount_upgrade_is_retried_until_it_lands(tmp_path, monkeypatch):
    calls = answers(monkeypatch, [upgrading(), upgrading(), {"data": {"version": 1}}])
    assert Bao(tmp_path).kv2_put("coder/admin", {"password": "x"}, namespace="ns") == {"data": {"version": 1}}
    assert calls == [("POST", "secret/data/coder/admin", {"data": {"password": "x"}}, "ns")] * 3


def test_any_other_refusal_fails_at_once(tmp_path, monkeypatch):
    denied = RuntimeError('POST secret/data/coder/admin -> 403 {"errors":["permission denied"]}')
    calls = answers(monkeypatch, [denied, {"data": {}}])
    with pytest.raises(RuntimeError, match="permission denied"):
        Bao(tmp_path).kv2_put("coder/admin", {"password": "x"})
    assert len(calls) == 1


def test_an_upgrade_that_never_ends_fails_after_the_deadline(tmp_path, monkeypatch):
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(openbao_dev.time, "time", lambda: next(clock))
    answers(monkeypatch, [upgrading() for attempt in range(10)])
    with pytest.raises(RuntimeError, match=UPGRADING):
        Bao(tmp_path).kv2_put("coder/admin", {"password": "x"})
