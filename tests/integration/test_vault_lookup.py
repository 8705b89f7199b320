# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""g448.devenv.vault against a real OpenBao, in this process (one worker's view)."""

from __future__ import annotations

import time

import pytest
from ansible.errors import AnsibleLookupError
from openbao_dev import classify, closed_port, make_jwt


def token(world):
    return {"url": world.url, "token": world.bao.root_token}


def test_kv2_field_and_whole_secret(world, lookup):
    v = world.values
    assert lookup("secret/coder/db:password", **token(world)) == [v["db_password"]]
    assert lookup("secret/coder/db", **token(world)) == [{"password": v["db_password"], "username": "coder"}]


def test_kv1_same_term_style(world, lookup):
    assert lookup("kv1/legacy/app:api_key", **token(world)) == [world.values["kv1_api_key"]]
    assert lookup("kv1/legacy/app", **token(world)) == [{"api_key": world.values["kv1_api_key"], "owner": "legacy"}]


def test_nested_mount_path(world, lookup):
    assert lookup("team/kv/svc/api:key", **token(world)) == [world.values["team_key"]]


@pytest.mark.parametrize("version, name", [(1, "v1"), (2, "v2"), (None, "v2")])
def test_version_pinning(world, lookup, version, name):
    kwargs = token(world)
    if version:
        kwargs["version"] = version
    assert lookup("secret/app/versioned:value", **kwargs) == [world.values[name]]


def test_absent_version_uses_default_only_when_given(world, lookup):
    assert lookup("secret/app/versioned:value", version=7, default="none", **token(world)) == ["none"]
    with pytest.raises(AnsibleLookupError, match="does not exist .*version 7"):
        lookup("secret/app/versioned:value", version=7, **token(world))


def test_namespace(world, lookup):
    assert lookup("secret/app/cfg:value", namespace="ns1", **token(world)) == [world.values["ns_value"]]
    with pytest.raises(AnsibleLookupError, match="does not exist"):
        lookup("secret/app/cfg:value", **token(world))


def test_metadata_updated_time(world, lookup):
    meta = lookup("secret/app/versioned", metadata=True, **token(world))[0]
    assert meta["current_version"] == 2
    assert lookup("secret/app/versioned:updated_time", metadata=True, **token(world)) == [meta["updated_time"]]


def test_pem_comes_back_byte_for_byte(world, lookup):
    cert, key = lookup(["secret/coder/tls:cert", "secret/coder/tls:key"], **token(world))
    assert cert == world.values["tls_cert"] and key == world.values["tls_key"]
    assert cert.count("\n") > 5 and key.endswith("-----END PRIVATE KEY-----\n")


def test_template_markers_are_returned_literally_and_unsafe(world, lookup):
    (value,) = lookup("secret/app/template:value", **token(world))
    assert value == world.values["template"]
    try:
        from ansible._internal._datatag._tags import TrustedAsTemplate  # ansible-core >= 2.19
    except ImportError:
        from ansible.utils.unsafe_proxy import AnsibleUnsafe

        assert isinstance(value, AnsibleUnsafe)
    else:
        assert not TrustedAsTemplate.is_tagged_on(value)


def test_one_detection_and_one_read_per_path_in_a_process(world, lookup):
    before = len(world.bao.audit_requests())
    terms = ["secret/coder/admin:username", "secret/coder/admin:email", "secret/coder/admin:password",
             "secret/coder/db:password", "secret/coder/admin"]
    lookup(terms, auth_method="approle", role_id=world.role_id, secret_id=world.secret_id, url=world.url)
    lookup(terms, auth_method="approle", role_id=world.role_id, secret_id=world.secret_id, url=world.url)
    counts = classify(world.bao.audit_requests()[before:])
    assert counts == {"requests": 4, "logins": 1, "reads": 2, "other": 1}


# ------------------------------------------------------------------ auth methods
def test_token_from_home_file(world, lookup, tmp_path):
    (tmp_path / "home" / ".vault-token").write_text(world.reader_token + "\n")
    assert lookup("secret/coder/db:username", url=world.url) == ["coder"]


def test_token_from_env(world, lookup, monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", world.url)
    monkeypatch.setenv("VAULT_TOKEN", world.reader_token)
    assert lookup("secret/coder/db:username") == ["coder"]


def test_approle_with_secret_id(world, lookup):
    assert lookup("secret/coder/db:username", url=world.url, auth_method="approle", role_id=world.role_id,
                  secret_id=world.secret_id) == ["coder"]


def test_approle_with_secret_id_file_from_vars(world, lookup, tmp_path):
    path = tmp_path / "secret-id"
    path.write_text(world.secret_id + "\n")
    variables = {"g448_vault_url": world.url, "g448_vault_auth_method": "approle",
                 "g448_vault_role_id": world.role_id, "g448_vault_secret_id_file": str(path)}
    assert lookup("secret/coder/db:username", variables) == ["coder"]


def test_jwt_and_jwt_file(world, lookup, tmp_path, vc):
    assert lookup("secret/coder/db:username", url=world.url, auth_method="jwt", role="ci", jwt=world.jwt) == ["coder"]
    vc.reset_process_caches()
    path = tmp_path / "jwt"
    path.write_text(world.jwt)
    assert lookup("team/kv/svc/api:key", url=world.url, auth_method="jwt", role="ci",
                  jwt_file=str(path)) == [world.values["team_key"]]


def test_tls_with_ca_cert(bao_tls, lookup):
    assert lookup("secret/tls/probe:value", url=bao_tls.url, token=bao_tls.root_token,
                  ca_cert=str(bao_tls.ca_cert))[0].startswith("tls-probe-")


# ----------------------------------------------------------------------- errors
def error_cases(world, bao_tls, bao_sealed):
    """(name, term, kwargs, expected message parts) for every failure the issue lists."""
    root = token(world)
    wrong = make_jwt(world.jwt_key, {"iss": "https://ci.test", "sub": "x", "aud": "someone-else",
                                     "iat": int(time.time()), "exp": int(time.time()) + 60})
    return [
        ("path", "secret/coder/missing:password", root,
         ["the secret does not exist", "mount secret/", "path secret/coder/missing", "field password",
          "KV version 2", "auth method token", "address %s" % world.url]),
        ("field", "secret/coder/db:pasword", root,
         ["field 'pasword' does not exist; the fields that exist are: password, username", "KV version 2"]),
        ("kv1-path", "kv1/legacy/nothing", root,
         ["the secret does not exist", "mount kv1/", "KV version 1", "field (whole secret)"]),
        ("denied", "secret/forbidden/thing:value", {"url": world.url, "token": world.reader_token},
         ["permission denied", "path secret/forbidden/thing", "field value"]),
        ("invalid-token", "secret/coder/db:password", {"url": world.url, "token": "s.notARealToken0000"},
         ["was rejected: it is invalid or expired"]),
        ("expired-token", "secret/coder/db:password", {"url": world.url, "token": world.expired_token},
         ["was rejected: it is invalid or expired"]),
        ("approle-refused", "secret/coder/db:password",
         {"url": world.url, "auth_method": "approle", "role_id": world.role_id, "secret_id": "0" * 36},
         ["AppRole login refused", "auth method approle", "auth mount auth/approle"]),
        ("jwt-refused", "secret/coder/db:password",
         {"url": world.url, "auth_method": "jwt", "role": "ci", "jwt": wrong}, ["JWT login refused", "auth/jwt"]),
        ("sealed", "secret/coder/db:password", {"url": bao_sealed.url, "token": bao_sealed.root_token},
         ["the server is sealed", "address %s" % bao_sealed.url]),
        ("unreachable", "secret/coder/db:password", {"url": "http://127.0.0.1:%d" % closed_port(), "token": "x" * 8,
                                                     "retries": 1},
         ["cannot reach the server after 2 attempts (connection refused)"]),
        ("tls", "secret/tls/probe:value", {"url": bao_tls.url, "token": bao_tls.root_token},
         ["TLS verification of the server certificate failed (certificate verify failed", "ca_cert"]),
    ]


CASES = ["path", "field", "kv1-path", "denied", "invalid-token", "expired-token", "approle-refused", "jwt-refused",
         "sealed", "unreachable", "tls"]


@pytest.mark.parametrize("case", CASES)
def test_errors_are_clear_and_never_leak(world, bao_tls, bao_sealed, lookup, case):
    name, term, kwargs, expected = next(c for c in error_cases(world, bao_tls, bao_sealed) if c[0] == case)
    if case == "expired-token":
        time.sleep(max(0.0, world.expired_at - time.time()))
    with pytest.raises(AnsibleLookupError) as info:
        lookup(term, **kwargs)
    message = str(info.value)
    for part in expected:
        assert part in message, message
    for secret in world.secrets() + [bao_tls.root_token, bao_sealed.root_token, kwargs.get("jwt") or "-" * 20]:
        assert secret not in message


def test_unreachable_retries_with_backoff(lookup):
    start = time.monotonic()
    with pytest.raises(AnsibleLookupError, match="after 3 attempts"):
        lookup("secret/x:y", url="http://127.0.0.1:%d" % closed_port(), token="t" * 8, retries=2)
    assert time.monotonic() - start >= 1.5  # 0.5 s + 1 s of backoff
