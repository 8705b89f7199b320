# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The Coder stand-in's Prometheus endpoint (test fixture, molecule/shared/coder-standin/coder.py):
off unless CODER_PROMETHEUS_ENABLE is true, as in Coder; on CODER_PROMETHEUS_ADDRESS it serves, on
any path, Prometheus's text format with metric names Coder exports, counting the answers of the
main server. Parsed with the collection's own prometheus_metrics parser.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
_SPEC = importlib.util.spec_from_file_location("coder_standin_metrics", REPO / "molecule/shared/coder-standin/coder.py")
standin = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(standin)


@pytest.fixture(scope="module")
def parse(collections_root):
    """g448.devenv.prometheus_metrics, loaded by FQCN (tests/conftest.py puts the checkout on the path)."""
    from ansible.plugins.loader import filter_loader

    plugin = filter_loader.get("g448.devenv.prometheus_metrics")
    return plugin.j2_function if hasattr(plugin, "j2_function") else plugin


class FakeStore:
    """The stand-in's database: ``users`` with a session; ``down`` makes every query fail as psycopg2
    does when PostgreSQL is stopped."""

    def __init__(self, users=2):
        self.users, self.down, self.queries = users, False, 0

    def query(self, sql, args=()):
        assert "standin_api_keys" in sql
        self.queries += 1
        if self.down:
            raise ConnectionError("server closed the connection unexpectedly")
        return [[self.users]]


def _get(url):
    with urllib.request.urlopen(url) as answer:
        return answer.read()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def servers(monkeypatch):
    """The main server (Handler, /healthz only here) and the metrics server, each on a free port."""
    port = _free_port()
    monkeypatch.setenv("CODER_PROMETHEUS_ENABLE", "true")
    monkeypatch.setenv("CODER_PROMETHEUS_ADDRESS", "127.0.0.1:%d" % port)
    monkeypatch.setattr(standin, "REQUESTS", {})
    main = standin.Server(("127.0.0.1", 0), standin.Handler)
    threading.Thread(target=main.serve_forever, daemon=True).start()
    store = FakeStore()
    metrics = standin.metrics_server(store)
    yield "http://127.0.0.1:%d" % main.server_address[1], "http://127.0.0.1:%d" % port, store
    main.shutdown()
    metrics.refresh_stop.set()
    metrics.shutdown()


@pytest.mark.parametrize("value", ["", "false", "0"])
def test_metrics_are_off_unless_enabled(monkeypatch, value):
    monkeypatch.setenv("CODER_PROMETHEUS_ENABLE", value)
    assert standin.metrics_server(FakeStore()) is None


@pytest.mark.parametrize("path", ["/metrics", "/"])
def test_metrics_count_the_main_servers_answers(servers, parse, path):
    main, metrics, _store = servers
    assert [_get(main + "/healthz") for attempt in range(3)] == [b"OK"] * 3
    # A handler thread leaves the in-flight count a moment after its answer reached the client
    # (and while it waits for the client to close): the count must return to 0, not be 0 at once.
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(metrics + path) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = answer.read().decode()
        flat = parse(text)
        if flat["coderd_api_concurrent_requests"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert flat["coderd_api_active_users_duration_hour"] == 2
    assert flat["coderd_api_concurrent_requests"] == 0
    labelled = parse(text, labels=True)["coderd_api_requests_processed_total"]
    assert {"labels": {"code": "200", "method": "GET", "path": "/healthz"}, "value": 3} in labelled


def _wait_for(condition, what):
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.fixture
def fast_refresh(monkeypatch):
    """The gauge's refresh loop ticking every 0.05 s (set before the servers start their loop)."""
    monkeypatch.setattr(standin, "ACTIVE_USERS_REFRESH_SECONDS", 0.05)


def test_metrics_answer_while_postgresql_is_down(fast_refresh, servers, parse):
    """Coder's /metrics answers from memory: with the database down it still answers 200, the users
    gauge keeping its last value (review finding 15: the stand-in's scrape queried PostgreSQL and
    failed); when the database is back the gauge follows it again."""
    main, metrics, store = servers
    assert _get(main + "/healthz") == b"OK"
    store.down = True
    failed = store.queries
    _wait_for(lambda: store.queries >= failed + 2, "the gauge was not refreshed while the database was down")
    with urllib.request.urlopen(metrics + "/metrics") as answer:
        assert answer.status == 200
        text = answer.read().decode()
    assert parse(text)["coderd_api_active_users_duration_hour"] == 2
    labelled = parse(text, labels=True)["coderd_api_requests_processed_total"]
    assert {"labels": {"code": "200", "method": "GET", "path": "/healthz"}, "value": 1} in labelled
    store.users, store.down = 5, False
    _wait_for(lambda: parse(_get(metrics + "/metrics").decode())["coderd_api_active_users_duration_hour"] == 5,
              "the gauge did not follow the database once it was back")
