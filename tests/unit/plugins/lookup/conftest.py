# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Fixtures for the g448.devenv.vault unit tests: the plugin loaded by FQCN and
an in-memory Vault behind a fake HTTP layer (real hvac, real requests, no sockets)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError


@pytest.fixture(scope="session")
def vc(collections_root):
    from ansible.plugins.loader import lookup_loader

    assert lookup_loader.get("g448.devenv.vault") is not None
    import importlib

    return importlib.import_module("ansible_collections.g448.devenv.plugins.plugin_utils._vault_client")


@pytest.fixture
def lookup(vault_worker, monkeypatch):
    """A fresh plugin instance with a clean environment and empty process caches."""
    from ansible.plugins.loader import lookup_loader

    monkeypatch.setattr(vault_worker, "_backoff_sleep", lambda s: None)
    # The token watcher is a process that outlives the test: record its jobs instead
    # (test_vault_revoker.py starts real ones).
    plugin_watchers = []

    def spawn(job):
        plugin_watchers.append(job)
        return True

    monkeypatch.setattr(vault_worker, "_spawn_watcher", spawn, raising=False)
    plugin = lookup_loader.get("g448.devenv.vault")
    plugin.watchers = plugin_watchers
    return plugin


def _response(request, status, body=None):
    resp = requests.Response()
    resp.status_code = status
    resp.request = request
    resp.url = request.url
    resp.headers["Content-Type"] = "application/json"
    resp._content = json.dumps(body if body is not None else {}).encode() if status != 204 else b""
    return resp


class FakeVault(BaseAdapter):
    """Just enough of the Vault HTTP API for the lookup, recording every call."""

    def __init__(self):
        super().__init__()
        self.calls = []
        self.mounts = {"secret/": 2, "kv1/": 1, "team/kv/": 2}
        self.secrets = {}  # (mount, rel) -> list of versions (dict or None when deleted)
        self.tokens = {"root-token": "root", "reader-token": "reader"}
        self.denied = set()  # API paths the reader token may not read
        self.approle = {"role-id-1": "secret-id-1"}
        self.sealed = False
        self.fail_connect = 0
        self.login_failure = None  # "read-timeout", "aborted" or an HTTP status, for every login
        self.revoked = []  # tokens revoked through auth/token/revoke-self
        self.ssl_error = False
        self.header_types = set()
        self.issued = 0
        self.hosts = set()
        self.verify = set()

    # --- helpers for tests
    def put(self, path, data, mount=None):
        mount = mount or next(m for m in sorted(self.mounts, key=len, reverse=True) if path.startswith(m))
        self.secrets.setdefault((mount, path[len(mount):]), []).append(dict(data))

    def requested_hosts(self):
        return set(self.hosts)

    def count(self, kind=None):
        if kind is None:
            return len(self.calls)
        return sum(1 for c in self.calls if c[0] == kind)

    # --- requests adapter
    def close(self):
        pass

    def send(self, request, **kwargs):
        self.verify.add(kwargs.get("verify"))
        if self.ssl_error:
            raise requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                                               "self-signed certificate in certificate chain (_ssl.c:1006)")
        if self.fail_connect:
            self.fail_connect -= 1
            self.calls.append(("connect-error", request.url))
            # As requests raises it: the connection never opened, so the request was not sent.
            cause = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
            raise requests.exceptions.ConnectionError(MaxRetryError(None, request.url, cause), request=request)
        parts = urlsplit(request.url)
        self.hosts.add("%s://%s" % (parts.scheme, parts.netloc))
        for value in request.headers.values():
            self.header_types.add(type(value))
        url = urlsplit(request.url)
        path = url.path[len("/v1/"):]
        query = parse_qs(url.query)
        token = request.headers.get("X-Vault-Token")
        if path == "sys/seal-status":
            self.calls.append(("other", path))
            return _response(request, 200, {"sealed": self.sealed})
        if self.sealed:
            self.calls.append(("other", path))
            return _response(request, 503, {"errors": ["Vault is sealed"]})
        if re.fullmatch(r"auth/[^/]+/login", path):
            self.calls.append(("login", path))
            if self.login_failure == "read-timeout":  # the request went out, no answer came
                raise requests.exceptions.ReadTimeout(ReadTimeoutError(None, request.url, "Read timed out."),
                                                      request=request)
            if self.login_failure == "aborted":  # the server closed the connection after the request
                raise requests.exceptions.ConnectionError(
                    ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
                    request=request)
            if isinstance(self.login_failure, int):
                return _response(request, self.login_failure, {"errors": ["login failure %d" % self.login_failure]})
            body = json.loads(request.body or b"{}")
            if path != "auth/approle/login":
                return _response(request, 404, {"errors": ["no handler for route"]})
            if self.approle.get(body.get("role_id")) != body.get("secret_id"):
                return _response(request, 400, {"errors": ["invalid role or secret ID"]})
            self.issued += 1
            new = "issued-token-%d" % self.issued
            self.tokens[new] = "reader"
            return _response(request, 200, {"auth": {"client_token": new, "lease_duration": 3600}})
        policy = self.tokens.get(token)
        if path == "auth/token/revoke-self":
            self.calls.append(("revoke", path))
            if policy is None:
                return _response(request, 403, {"errors": ["permission denied"]})
            del self.tokens[token]
            self.revoked.append(token)
            return _response(request, 204)
        if path == "auth/token/lookup-self":
            self.calls.append(("other", path))
            if policy is None:
                return _response(request, 403, {"errors": ["permission denied"]})
            return _response(request, 200, {"data": {"policies": [policy]}})
        if path.startswith("sys/internal/ui/mounts/"):
            self.calls.append(("detect", path))
            if policy is None:
                return _response(request, 403, {"errors": ["permission denied"]})
            target = path[len("sys/internal/ui/mounts/"):] + "/"
            for mount in sorted(self.mounts, key=len, reverse=True):
                if target.startswith(mount):
                    version = self.mounts[mount]
                    return _response(request, 200, {"data": {"path": mount, "type": "kv",
                                                             "options": {"version": str(version)}}})
            return _response(request, 403, {"errors": ["preflight capability check returned 403"]})
        self.calls.append(("read", path))
        if policy is None:
            return _response(request, 403, {"errors": ["permission denied"]})
        if policy != "root" and path in self.denied:
            return _response(request, 403, {"errors": ["1 error occurred:\n\t* permission denied\n\n"]})
        for mount in sorted(self.mounts, key=len, reverse=True):
            if path.startswith(mount):
                rel = path[len(mount):]
                break
        else:
            return _response(request, 404, {"errors": ["no handler for route"]})
        if self.mounts[mount] == 1:
            versions = self.secrets.get((mount, rel))
            if not versions:
                return _response(request, 404, {"errors": []})
            return _response(request, 200, {"data": versions[-1]})
        kind, _slash, rel = rel.partition("/")
        versions = self.secrets.get((mount, rel))
        if not versions:
            return _response(request, 404, {"errors": []})
        if kind == "metadata":
            return _response(request, 200, {"data": {"current_version": len(versions),
                                                     "updated_time": "2026-11-28T10:00:00Z"}})
        number = int(query.get("version", [len(versions)])[0])
        if number < 1 or number > len(versions):
            return _response(request, 404, {"errors": []})
        data = versions[number - 1]
        if data is None:
            return _response(request, 404, {"data": {"data": None, "metadata": {
                "deletion_time": "2026-11-27T00:00:00Z", "destroyed": False, "version": number}}})
        return _response(request, 200, {"data": {"data": data, "metadata": {"version": number}}})


@pytest.fixture
def fake(vc, lookup, monkeypatch):
    """Route every HTTP request the lookup makes into a FakeVault."""
    vault = FakeVault()

    def new_session():
        session = requests.Session()
        session.mount("http://", vault)
        session.mount("https://", vault)
        return session

    monkeypatch.setattr(vc, "_new_http_session", new_session)
    vault.put("secret/coder/db", {"password": "db-pass-1", "username": "coder"})
    vault.put("secret/coder/tls", {"cert": "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"})
    vault.put("secret/app/versioned", {"value": "first"})
    vault.put("secret/app/versioned", {"value": "second"})
    vault.put("secret/app/gone", {"value": "old"})
    vault.secrets[("secret/", "app/gone")].append(None)
    vault.put("kv1/legacy/app", {"api_key": "kv1-key", "port": 8080})
    vault.put("team/kv/svc/api", {"key": "team-key"})
    vault.put("secret/private/x", {"value": "private-value"})
    vault.denied.add("secret/data/private/x")
    monkeypatch.setenv("VAULT_ADDR", "http://vault.test:8200")
    return vault
