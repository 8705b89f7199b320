# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The metadata mode of g448.devenv.vault (secret ages for the service-card report) against a
real OpenBao: the deployment's Vault paths, request counts from the audit log, rotation."""

from __future__ import annotations

import datetime
import secrets
import time

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleLookupError
from openbao_dev import classify

SECRET_MAP = yaml.safe_load((Path(__file__).resolve().parents[2] / "playbooks" / "vars" / "secret_map.yml").read_text())[
    "g448_secret_map"]
# The paths whose age the report reads: the secret map's secrets with a card row.
DESIGN_PATHS = [entry["path"] for entry in SECRET_MAP.values() if entry.get("card")]
# The world seeds db, admin and tls; this module writes the others the report reads.
MISSING = {entry["path"].partition("/")[2]: list(entry["fields"]) for entry in SECRET_MAP.values()
           if entry.get("card") and entry["path"] not in ("secret/coder/db", "secret/coder/admin", "secret/coder/tls")}


def parse_time(text):
    # OpenBao writes nanoseconds ("2026-11-28T10:00:00.123456789Z"); keep microseconds.
    head, _dot, frac = text.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(head + ("." + frac[:6] if frac else "")).replace(
        tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def design(world):
    """Every Vault path of the deployment exists; returns the values written here."""
    written = {}
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    for path, fields in MISSING.items():
        data = {name: "%s-%s" % (name, secrets.token_hex(8)) for name in fields}
        world.bao.kv2_put(path, data)
        written.update(data)
    return start, written


def test_metadata_of_the_design_paths_is_one_detection_and_one_read_per_path(world, design, lookup):
    start, written = design
    reader = {"url": world.url, "token": world.reader_token}
    before = len(world.bao.audit_requests())
    metas = lookup(DESIGN_PATHS, metadata=True, **reader)
    again = lookup(["%s:updated_time" % p for p in DESIGN_PATHS], metadata=True, **reader)
    entries = world.bao.audit_requests()[before:]
    assert classify(entries) == {"requests": len(DESIGN_PATHS) + 1, "logins": 0, "reads": len(DESIGN_PATHS),
                                 "other": 1}, entries
    assert sorted(p for op, p in entries if op == "read" and p.startswith("secret/")) == sorted(
        "secret/metadata/" + p.split("/", 1)[1] for p in DESIGN_PATHS)
    now = datetime.datetime.now(datetime.timezone.utc)
    for path, meta, updated in zip(DESIGN_PATHS, metas, again):
        assert meta["updated_time"] == updated
        assert meta["current_version"] >= 1 and str(meta["current_version"]) in meta["versions"]
        assert parse_time(meta["created_time"]) <= parse_time(updated) <= now, path
    # The paths written by this module are younger than the module; the world's are older still valid times.
    assert len(MISSING) >= 4
    for path in MISSING:
        assert parse_time(again[DESIGN_PATHS.index("secret/" + path)]) >= start
    text = repr(metas)
    for secret in list(written.values()) + world.secrets():
        assert secret not in text


def test_updated_time_moves_when_a_secret_is_rotated(world, lookup, vc):
    path = "rotation/%s" % secrets.token_hex(4)
    root = {"url": world.url, "token": world.bao.root_token}
    world.bao.kv2_put(path, {"password": "first-" + secrets.token_hex(6)})
    first = lookup("secret/%s" % path, metadata=True, **root)[0]
    time.sleep(1.1)
    world.bao.kv2_put(path, {"password": "second-" + secrets.token_hex(6)})
    # Within one process a path is read once: the run sees one consistent answer.
    assert lookup("secret/%s" % path, metadata=True, **root)[0] == first
    vc.reset_process_caches()  # the next run (a new process)
    second = lookup("secret/%s" % path, metadata=True, **root)[0]
    assert (first["current_version"], second["current_version"]) == (1, 2)
    assert second["created_time"] == first["created_time"]
    assert parse_time(second["updated_time"]) - parse_time(first["updated_time"]) >= datetime.timedelta(seconds=1)


def test_metadata_permission_denied_names_the_metadata_path(world, lookup):
    with pytest.raises(AnsibleLookupError) as info:
        lookup("secret/forbidden/thing", metadata=True, default=None, url=world.url, token=world.reader_token)
    message = str(info.value)
    assert "permission denied" in message and "Grant 'read' on secret/metadata/forbidden/thing" in message
    assert world.reader_token not in message


def test_metadata_of_an_absent_path_gives_the_default(world, lookup):
    assert lookup(["secret/coder/absent", "secret/coder/db:current_version"], metadata=True, default=None,
                  url=world.url, token=world.reader_token) == [None, 1]


def test_report_pattern_in_a_playbook_reads_each_path_once(world, design, runner):
    """The report's pattern: one run_once task collects every path's metadata for all hosts."""
    before = len(world.bao.audit_requests())
    result = runner.play("Collect the age of every secret of the deployment once", """\
        - name: Ensure the metadata of every path is collected once
          ansible.builtin.set_fact:
            __meta: "{{ dict(paths | zip(query('g448.devenv.vault', *paths, metadata=true, default=none))) }}"
          run_once: true
          vars:
            paths: %(paths)s

        - name: Show the ages
          ansible.builtin.debug:
            msg: "{{ item.key }} v{{ item.value.current_version }} {{ item.value.updated_time }}"
          loop: "{{ __meta | dict2items }}"

        - name: Check every host got every path
          ansible.builtin.assert:
            that:
              - __meta | length == %(count)d
              - __meta.values() | map(attribute='updated_time') | select('match', '^20[0-9-]+T') | list | length == %(count)d
        """ % {"paths": DESIGN_PATHS, "count": len(DESIGN_PATHS)}, "-v", env={"VAULT_ADDR": world.url, "VAULT_TOKEN": world.reader_token},
        hosts=("h1", "h2", "h3"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    counts = classify(world.bao.audit_requests()[before:])
    assert counts == {"requests": len(DESIGN_PATHS) + 1, "logins": 0, "reads": len(DESIGN_PATHS), "other": 1}, counts
    assert "%s v1 20" % SECRET_MAP["backup"]["path"] in result.stdout
    for secret in list(design[1].values()) + world.secrets():
        assert secret not in result.stdout + result.stderr
