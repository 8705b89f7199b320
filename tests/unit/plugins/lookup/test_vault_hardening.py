# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""g448.devenv.vault hardening (issue 15): logins are never repeated once sent, a forced
mount or kv_version that does not match the server is an error, and login tokens are bound
to the run that made them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from ansible.errors import AnsibleLookupError

ROOT = {"token": "root-token"}
APPROLE = {"auth_method": "approle", "role_id": "role-id-1", "secret_id": "secret-id-1"}


def run(lookup, terms, variables=None, **kwargs):
    return lookup.run(terms if isinstance(terms, list) else [terms], variables=variables or {}, **kwargs)


# ------------------------------------------------------------- login retries
@pytest.mark.parametrize("failure, reason", [("read-timeout", "timed out"), ("aborted", "connection reset by peer")])
def test_a_login_that_was_sent_is_never_retried(lookup, fake, failure, reason):
    fake.login_failure = failure
    with pytest.raises(AnsibleLookupError) as info:
        run(lookup, "secret/coder/db:password", retries=3, **APPROLE)
    message = str(info.value)
    assert fake.count("login") == 1
    assert "the login request was sent, but no answer came (%s after 1 attempt)" % reason in message
    assert "not retried" in message and "single-use secret ID" in message and "auth method approle" in message
    assert "secret-id-1" not in message and "role-id-1" not in message


def test_a_login_whose_connection_never_opened_is_retried(lookup, fake):
    fake.fail_connect = 2
    assert run(lookup, "secret/coder/db:password", retries=3, **APPROLE) == ["db-pass-1"]
    assert (fake.count("connect-error"), fake.count("login")) == (2, 1)


@pytest.mark.parametrize("status, retried", [(429, True), (503, True), (500, False), (502, False), (504, False)])
def test_a_login_is_retried_only_on_answers_that_say_it_was_not_processed(lookup, fake, status, retried):
    fake.login_failure = status
    with pytest.raises(AnsibleLookupError, match="auth mount auth/approle"):
        run(lookup, "secret/coder/db:password", retries=2, **APPROLE)
    assert fake.count("login") == (3 if retried else 1)


def test_reads_are_still_retried_after_a_read_timeout(lookup, fake, vc, monkeypatch):
    """Only the login is special: a GET may be repeated."""
    real = fake.send
    failures = [1]

    def send(request, **kwargs):
        if "/data/coder/db" in request.url and failures[0]:
            failures[0] -= 1
            fake.calls.append(("read-timeout", request.url))
            import requests

            raise requests.exceptions.ReadTimeout("Read timed out.", request=request)
        return real(request, **kwargs)

    monkeypatch.setattr(fake, "send", send)
    assert run(lookup, "secret/coder/db:password", retries=1, **ROOT) == ["db-pass-1"]
    assert fake.count("read-timeout") == 1


class SilentServer:
    """A TCP server that reads each HTTP request in full and never answers it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.requests = []
        self.conns = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            data = b""
            conn.settimeout(5)
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            self.requests.append(data.split(b"\r\n", 1)[0].decode())

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()


def test_a_real_login_read_timeout_sends_exactly_one_login(lookup, vc, monkeypatch):
    """Real requests and urllib3 over a socket: the server reads the login, then stays silent."""
    server = SilentServer()
    try:
        with pytest.raises(AnsibleLookupError, match="the login request was sent, but no answer came"):
            run(lookup, "secret/coder/db:password", url=server.url, timeout=1, retries=3, token_cache=False,
                **APPROLE)
        assert server.requests == ["POST /v1/auth/approle/login HTTP/1.1"]
    finally:
        server.close()


def test_a_real_refused_login_connection_is_retried(lookup, vc):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(AnsibleLookupError, match=r"cannot reach the server after 3 attempts \(connection refused\)"):
        run(lookup, "secret/coder/db:password", url="http://127.0.0.1:%d" % port, retries=2, token_cache=False,
            **APPROLE)


# ------------------------------------------------------ forced mount/kv_version
@pytest.mark.parametrize(
    "term, kwargs, expected",
    [
        ("secret/coder/db:password", {"kv_version": 1},
         "term 'secret/coder/db:password' was read with mount secret/ (the first path segment, taken as the mount "
         "because kv_version is set) and kv_version 1, but the server has it in mount secret/, KV v2"),
        ("secret/coder/db:password", {"mount": "secret", "kv_version": 1},
         "term 'secret/coder/db:password' was read with mount secret/ and kv_version 1, but the server has it in "
         "mount secret/, KV v2"),
        ("kv1/legacy/app:api_key", {"kv_version": 2}, "but the server has it in mount kv1/, KV v1"),
        ("team/kv/svc/api:key", {"kv_version": 2}, "but the server has it in mount team/kv/, KV v2"),
    ],
)
@pytest.mark.parametrize("default", [None, "", "fallback"])
def test_a_forced_kv_version_that_does_not_match_is_an_error_even_with_default(
        lookup, fake, term, kwargs, expected, default):
    with pytest.raises(AnsibleLookupError) as info:
        run(lookup, term, default=default, **kwargs, **ROOT)
    message = str(info.value)
    assert expected in message and "even with default" in message
    for value in ("db-pass-1", "kv1-key", "team-key", "root-token"):
        assert value not in message


def test_a_forced_kv_version_after_the_mount_was_detected_is_checked_too(lookup, fake):
    assert run(lookup, "secret/coder/db:username", **ROOT) == ["coder"]  # detects secret/ as KV v2
    with pytest.raises(AnsibleLookupError, match="was read with .*kv_version 1, but the server has it in mount "
                                                 "secret/, KV v2"):
        run(lookup, "secret/coder/db:password", kv_version=1, default="x", **ROOT)


def test_a_forced_kv_version_that_the_policy_denies_names_the_mismatch(lookup, fake):
    fake.denied.add("secret/coder/db")  # a policy on secret/data/* only
    with pytest.raises(AnsibleLookupError, match="kv_version 1, but the server has it in mount secret/, KV v2"):
        run(lookup, "secret/coder/db:password", kv_version=1, token="reader-token", default="x")


@pytest.mark.parametrize("kwargs", [{"kv_version": 2}, {"mount": "secret", "kv_version": 2}, {"mount": "secret"}])
def test_a_matching_forced_mount_still_gets_the_default_for_an_absent_path(lookup, fake, kwargs):
    assert run(lookup, "secret/coder/missing:x", default="fallback", **kwargs, **ROOT) == ["fallback"]
    assert run(lookup, "secret/coder/db:missing", default="fallback", **kwargs, **ROOT) == ["fallback"]


def test_a_matching_forced_mount_costs_no_detection_when_the_path_exists(lookup, fake):
    run(lookup, "secret/coder/db:password", mount="secret", kv_version=2, **ROOT)
    assert fake.count("detect") == 0


# --------------------------------------------------------- run-bound tokens
def test_a_cached_login_starts_one_watcher_with_the_run_and_the_token(lookup, fake, vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import run_identity

    run(lookup, "secret/coder/db:password", **APPROLE)
    vc.reset_process_caches()  # another worker of the same run
    run(lookup, "secret/coder/db:username", **APPROLE)
    assert fake.count("login") == 1 and fake.count("revoke") == 0
    (job,) = lookup.watchers
    assert job["run"] == run_identity() and job["token"] == "issued-token-1"
    assert job["url"] == "http://vault.test:8200" and job["cache_dir"] == str(tmp_path / "token-cache")
    record = json.loads((tmp_path / "token-cache" / (job["cache_key"] + ".json")).read_text())
    assert record["token"] == "issued-token-1" and record["run"] == run_identity()


def test_token_auth_starts_no_watcher_and_revokes_nothing(lookup, fake):
    run(lookup, "secret/coder/db:password", **ROOT)
    assert lookup.watchers == [] and fake.count("revoke") == 0


def test_without_the_cache_the_login_token_is_revoked_at_the_end_of_each_call(lookup, fake):
    run(lookup, ["secret/coder/db:password", "secret/coder/tls:cert"], token_cache=False, **APPROLE)
    assert fake.revoked == ["issued-token-1"] and lookup.watchers == []
    # The next call logs in again; paths already read in this process are not read again.
    run(lookup, ["secret/coder/db:username", "secret/app/versioned:value"], token_cache=False, **APPROLE)
    assert fake.revoked == ["issued-token-1", "issued-token-2"]
    assert (fake.count("login"), fake.count("read")) == (2, 3)


def test_the_token_is_revoked_even_when_the_call_fails(lookup, fake):
    with pytest.raises(AnsibleLookupError, match="does not exist"):
        run(lookup, "secret/coder/missing:x", token_cache=False, **APPROLE)
    assert fake.revoked == ["issued-token-1"]


def test_when_no_watcher_starts_the_token_is_not_shared_and_is_revoked(lookup, fake, vc, monkeypatch, tmp_path):
    monkeypatch.setattr(vc, "_spawn_watcher", lambda job: False)
    run(lookup, "secret/coder/db:password", **APPROLE)
    assert fake.revoked == ["issued-token-1"]
    records = [json.loads(p.read_text()) for p in (tmp_path / "token-cache").glob("*.json")]
    assert all(r.get("kind") == "mounts" for r in records)


def test_a_cached_token_of_an_ended_run_is_never_reused(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache, run_identity

    cache = TokenCache(str(tmp_path / "c"))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    cache.put("mine", "tok-mine", 3600, run=run_identity())
    cache.put("ended", "tok-ended", 3600, run=[ended.pid, 1])
    cache.put("reused-pid", "tok-reused", 3600, run=[os.getpid(), -1])  # same pid, another start
    cache._write("legacy", {"kind": "token", "token": "tok-legacy", "expires_at": None})  # no run recorded
    assert cache.get("mine") == ("tok-mine", cache.get("mine")[1])
    for key in ("ended", "reused-pid", "legacy"):
        assert cache.get(key) is None
    assert sorted(p.name for p in (tmp_path / "c").glob("*.json")) == ["mine.json"]


def test_prune_drops_the_records_of_ended_runs(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache

    cache = TokenCache(str(tmp_path / "c"))
    cache.put("ended", "tok-ended", 3600, run=[2 ** 22 + 7, None])
    cache.put("new", "tok-new", 3600)
    assert sorted(p.name for p in (tmp_path / "c").glob("*.json")) == ["new.json"]


def test_two_runs_never_share_a_login_record(lookup, fake, vc, monkeypatch):
    from ansible_collections.g448.devenv.plugins.plugin_utils import _vault_client

    run(lookup, "secret/coder/db:password", **APPROLE)
    vc.reset_process_caches()
    monkeypatch.setattr(_vault_client, "run_identity", lambda: [os.getppid(), None])  # another live run
    run(lookup, "secret/coder/db:password", **APPROLE)
    assert fake.count("login") == 2 and len(lookup.watchers) == 2
    assert lookup.watchers[0]["cache_key"] != lookup.watchers[1]["cache_key"]


# ------------------------------------------------------------- the watcher
def test_wait_for_end_follows_the_process_and_the_expiry(vc):
    from ansible_collections.g448.devenv.plugins.plugin_utils import _vault_revoker as revoker
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import process_alive, process_start

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = process_start(child.pid)
        t0 = time.monotonic()
        assert revoker.wait_for_end(child.pid, start, time.time() + 0.3, process_alive) is False
        assert time.monotonic() - t0 < 5
        # Another start time: the pid was reused, the run has ended.
        assert revoker.wait_for_end(child.pid, (start or 0) + 1, None, process_alive) is True
        threading.Timer(0.3, child.kill).start()
        assert revoker.wait_for_end(child.pid, start, time.time() + 20, process_alive) is True  # even as a zombie
        assert time.monotonic() - t0 < 10
    finally:
        child.kill()
        child.wait()


class RevokeRecorder:
    """A tiny HTTP server that answers revoke-self with 204 and records the token."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                seen.append((self.path, self.headers.get("X-Vault-Token"), self.headers.get("X-Vault-Namespace")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def command_lines():
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/cmdline" % name, "rb") as handle:
                    out.append(handle.read())
            except OSError:
                pass
    return out


def test_the_real_watcher_revokes_when_the_run_ends_and_drops_the_record(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils import _vault_revoker as revoker
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache, process_start

    server = RevokeRecorder()
    the_run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_id = [the_run.pid, process_start(the_run.pid)]
        cache = TokenCache(str(tmp_path / "cache"))
        cache.put("key1", "tok-watched-123", 3600, run=run_id)
        job = {"url": server.url, "token": "tok-watched-123", "namespace": "team", "verify": True, "timeout": 5,
               "run": run_id, "expires_at": time.time() + 3600, "cache_dir": cache.directory, "cache_key": "key1"}
        t0 = time.monotonic()
        assert revoker.spawn(job) is True
        watchers = [args for args in command_lines() if b"_vault_revoker" in args]
        assert watchers and not any(b"tok-watched-123" in args for args in watchers)  # never in argv
        time.sleep(0.3)
        assert server.seen == [] and cache.get("key1") is not None  # nothing happens while the run goes on
        the_run.kill()
        the_run.wait()
        deadline = time.monotonic() + 15
        while (not server.seen or (tmp_path / "cache" / "key1.json").exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.seen == [("/v1/auth/token/revoke-self", "tok-watched-123", "team")]
        assert not (tmp_path / "cache" / "key1.json").exists()
        assert time.monotonic() - t0 < 15
    finally:
        if the_run.poll() is None:
            the_run.kill()
            the_run.wait()
        server.close()


def test_a_watcher_that_cannot_start_is_reported_as_not_started(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils import _vault_revoker as revoker

    job = {"url": "http://127.0.0.1:1", "token": "t", "run": [os.getpid(), None], "expires_at": None}
    assert revoker.spawn(job, executable=str(tmp_path / "no-such-python")) is False
    assert revoker.spawn(job, executable="/bin/false") is False
