# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Unit tests for g448.devenv.vault: real hvac over a fake HTTP layer."""

from __future__ import annotations

import os
import stat

import pytest
from ansible.errors import AnsibleLookupError

ROOT = {"token": "root-token"}
APPROLE = {"auth_method": "approle", "role_id": "role-id-1", "secret_id": "secret-id-1"}


class Sub(str):
    """Stands in for Ansible's own str subclasses (AnsibleUnicode, tagged strings)."""


def ansible_str(text):
    """A string of the type Ansible itself passes around on this ansible-core."""
    try:
        from ansible._internal._datatag._tags import Origin  # ansible-core >= 2.19
    except ImportError:
        from ansible.parsing.yaml.objects import AnsibleUnicode

        value = AnsibleUnicode(text)
    else:
        value = Origin(description="unit test").tag(text)
    assert type(value) is not str  # pylint: disable=unidiomatic-typecheck  # a str subclass, exactly
    return value


def run(lookup, terms, variables=None, **kwargs):
    return lookup.run(terms if isinstance(terms, list) else [terms], variables=variables or {}, **kwargs)


# ---------------------------------------------------------------- term parsing
@pytest.mark.parametrize(
    "raw, path, field",
    [
        ("secret/coder/db", "secret/coder/db", None),
        ("secret/coder/db:password", "secret/coder/db", "password"),
        ("/secret//coder/db/:password", "secret/coder/db", "password"),
        (" secret/coder/db:pass:word ", "secret/coder/db:pass", "word"),
        ("secret/a:b/c", "secret/a:b/c", None),
        (Sub("team/kv/svc/api:key"), "team/kv/svc/api", "key"),
    ],
)
def test_parse_term(vc, raw, path, field):
    term = vc.parse_term(raw)
    assert (term.path, term.field) == (path, field)
    assert type(term.path) is str  # pylint: disable=unidiomatic-typecheck  # plain str, no subclass


@pytest.mark.parametrize(
    "raw, kwargs, message",
    [
        ("secret/coder/db:", {}, "names no field"),
        (":password", {}, "names no path"),
        ("", {}, "names no path"),
        ("secret/coder/db", {"mount": "other"}, "is not below the mount 'other/'"),
        ("secret", {"mount": "secret"}, "names the mount itself"),
        ("secret/x", {"kv_version": 3}, "kv_version must be 1 or 2"),
        ("kv1/x", {"kv_version": 1, "version": 2}, "the version option needs KV v2"),
        ("kv1/x", {"kv_version": 1, "metadata": True}, "metadata needs KV v2"),
    ],
)
def test_parse_term_errors(vc, raw, kwargs, message):
    with pytest.raises(vc.VaultLookupError, match=message):
        vc.parse_term(raw, **kwargs)


# ------------------------------------------------------------------ reading
@pytest.mark.parametrize(
    "term, expected",
    [
        ("secret/coder/db:password", "db-pass-1"),
        ("secret/coder/db", {"password": "db-pass-1", "username": "coder"}),
        ("kv1/legacy/app:api_key", "kv1-key"),
        ("kv1/legacy/app:port", 8080),
        ("team/kv/svc/api:key", "team-key"),
        ("secret/coder/tls:cert", "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"),
    ],
)
def test_reads_kv1_and_kv2_with_the_same_term_style(lookup, fake, term, expected):
    assert run(lookup, term, **ROOT) == [expected]
    read = [c[1] for c in fake.calls if c[0] == "read"]
    assert read and all("/data/data/" not in p for p in read)


def test_several_terms_return_a_list_in_order(lookup, fake):
    assert run(lookup, ["team/kv/svc/api:key", "secret/coder/db:username", "kv1/legacy/app:api_key"], **ROOT) == [
        "team-key", "coder", "kv1-key"]


@pytest.mark.parametrize("version, expected", [(1, "first"), (2, "second"), (None, "second")])
def test_version_pinning(lookup, fake, version, expected):
    kwargs = dict(ROOT)
    if version is not None:
        kwargs["version"] = version
    assert run(lookup, "secret/app/versioned:value", **kwargs) == [expected]


def test_metadata_mode_returns_the_kv2_metadata(lookup, fake):
    assert run(lookup, "secret/app/versioned", metadata=True, **ROOT)[0]["current_version"] == 2
    assert run(lookup, "secret/app/versioned:updated_time", metadata=True, **ROOT) == ["2026-11-28T10:00:00Z"]


def test_values_are_marked_unsafe(lookup, fake):
    from ansible.utils.unsafe_proxy import AnsibleUnsafe, AnsibleUnsafeText

    fake.put("secret/app/tmpl", {"value": "{{ lookup('pipe', 'id') }}"})
    value = run(lookup, "secret/app/tmpl:value", **ROOT)[0]
    assert value == "{{ lookup('pipe', 'id') }}"
    try:
        from ansible._internal._datatag._tags import TrustedAsTemplate  # ansible-core >= 2.19
    except ImportError:
        assert isinstance(value, (AnsibleUnsafe, AnsibleUnsafeText))
    else:
        assert not TrustedAsTemplate.is_tagged_on(value)


# ------------------------------------------------------------ HTTP call counts
def test_counts_http_calls_one_detection_one_read_per_path(lookup, fake):
    terms = ["secret/coder/db:password", "secret/coder/db:username", "secret/coder/db",
             "secret/coder/tls:cert", "secret/coder/db:password"]
    run(lookup, terms, **APPROLE)
    assert (fake.count("login"), fake.count("detect"), fake.count("read"), fake.count()) == (1, 1, 2, 4)
    # A second lookup call in the same process costs nothing.
    run(lookup, terms, **APPROLE)
    assert fake.count() == 4


def test_mount_and_kv_version_skip_detection(lookup, fake):
    run(lookup, ["secret/coder/db:password", "secret/coder/tls:cert"], mount="secret", kv_version=2, **ROOT)
    assert (fake.count("detect"), fake.count("read")) == (0, 2)


def test_token_is_shared_across_processes_through_the_cache(lookup, fake, vc, tmp_path):
    run(lookup, "secret/coder/db:password", **APPROLE)
    # A forked worker starts with empty in-process caches but the same cache directory.
    vc.reset_process_caches()
    run(lookup, "secret/coder/db:password", **APPROLE)
    assert fake.count("login") == 1
    assert fake.count("detect") == 1  # the mount list is shared too
    assert fake.count("read") == 2  # values are never shared through disk
    cache_dir = tmp_path / "token-cache"
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    files = sorted(cache_dir.glob("*.json"))
    assert len(files) == 2 and {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    content = "".join(f.read_text() for f in files)
    assert "issued-token-1" in content and '"secret/"' in content
    for secret in ("db-pass-1", "coder", "secret-id-1", "role-id-1", "password"):
        assert secret not in content


def test_rejected_cached_token_is_replaced_by_one_new_login(lookup, fake, vc):
    run(lookup, "secret/coder/db:password", **APPROLE)
    del fake.tokens["issued-token-1"]  # revoked on the server
    vc.reset_process_caches()
    assert run(lookup, "secret/coder/db:username", **APPROLE) == ["coder"]
    assert fake.count("login") == 2


def test_unreachable_is_retried_with_backoff(lookup, fake, vc, monkeypatch):
    sleeps = []
    monkeypatch.setattr(vc, "_backoff_sleep", sleeps.append)
    fake.fail_connect = 2
    assert run(lookup, "secret/coder/db:password", retries=3, **ROOT) == ["db-pass-1"]
    assert sleeps == [0.5, 1.0]


def test_plain_types_reach_hvac(lookup, fake, vc, monkeypatch):
    seen = {}
    real_client = vc.hvac.Client

    def spy(**kwargs):
        seen.update(kwargs)
        return real_client(**kwargs)

    monkeypatch.setattr(vc.hvac, "Client", spy)
    variables = {"g448_vault_url": ansible_str("http://vault.test:8200"), "g448_vault_namespace": ansible_str("team"),
                 "g448_vault_timeout": ansible_str("7")}
    run(lookup, ansible_str("secret/coder/db:password"), variables, token=ansible_str("root-token"),
        mount=ansible_str("secret"))
    for name in ("url", "namespace", "timeout", "verify"):
        assert type(seen[name]) in (str, int, bool), name
    assert seen["timeout"] == 7 and seen["namespace"] == "team"
    assert fake.header_types <= {str, bytes}


@pytest.mark.parametrize(
    "kwargs, verify",
    [({}, True), ({"ca_cert": "/etc/vault/ca.pem"}, "/etc/vault/ca.pem"), ({"validate_certs": False}, False),
     ({"validate_certs": False, "ca_cert": "/etc/vault/ca.pem"}, False)],
)
def test_tls_options_reach_the_http_layer(lookup, fake, monkeypatch, kwargs, verify):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)  # requests' own default for verify=True
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    run(lookup, "secret/coder/db:password", **ROOT, **kwargs)
    assert fake.verify == {verify}


# ------------------------------------------------------------ option precedence
@pytest.mark.parametrize(
    "env, variables, direct, expected",
    [
        ({}, {}, {}, "http://127.0.0.1:8200"),
        ({"VAULT_ADDR": "http://env.test:8200"}, {}, {}, "http://env.test:8200"),
        ({"BAO_ADDR": "http://bao.test:8200"}, {}, {}, "http://bao.test:8200"),
        ({"VAULT_ADDR": "http://env.test:8200"}, {"g448_vault_url": "http://vars.test:8200"}, {},
         "http://vars.test:8200"),
        ({"VAULT_ADDR": "http://env.test:8200"}, {"g448_vault_url": "http://vars.test:8200"},
         {"url": "http://direct.test:8200"}, "http://direct.test:8200"),
    ],
)
def test_option_precedence_for_url(lookup, fake, monkeypatch, env, variables, direct, expected):
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    run(lookup, "secret/coder/db:password", variables, token="root-token", **direct)
    assert fake.requested_hosts() == {expected}


@pytest.mark.parametrize(
    "source",
    ["direct", "vars", "env_vault", "env_bao", "home_file"],
)
def test_token_sources(lookup, fake, monkeypatch, source):
    variables, direct = {}, {}
    if source == "direct":
        direct["token"] = "root-token"
    elif source == "vars":
        variables["g448_vault_token"] = "root-token"
    elif source == "env_vault":
        monkeypatch.setenv("VAULT_TOKEN", "root-token")
    elif source == "env_bao":
        monkeypatch.setenv("BAO_TOKEN", "root-token")
    else:
        with open(os.path.expanduser("~/.vault-token"), "w") as handle:
            handle.write("root-token\n")
    assert run(lookup, "secret/coder/db:password", variables, **direct) == ["db-pass-1"]


def test_direct_token_beats_env(lookup, fake, monkeypatch):
    monkeypatch.setenv("VAULT_TOKEN", "not-a-token")
    assert run(lookup, "secret/coder/db:password", token="root-token") == ["db-pass-1"]


def test_secret_id_file(lookup, fake, tmp_path):
    path = tmp_path / "sid"
    path.write_text("secret-id-1\n")
    assert run(lookup, "secret/coder/db:password", auth_method="approle", role_id="role-id-1",
               secret_id_file=str(path)) == ["db-pass-1"]


# -------------------------------------------------------------------- defaults
@pytest.mark.parametrize(
    "term, kwargs",
    [
        ("secret/coder/missing:x", {}),
        ("secret/coder/db:missing", {}),
        ("secret/app/versioned:value", {"version": 9}),
        ("secret/app/gone:value", {}),
        ("kv1/legacy/missing", {}),
    ],
)
@pytest.mark.parametrize("default", ["", None, "fallback", {"a": 1}])
def test_default_applies_to_absent_secrets_only_when_given(lookup, fake, term, kwargs, default):
    assert run(lookup, term, default=default, **kwargs, **ROOT) == [default]
    with pytest.raises(AnsibleLookupError):
        run(lookup, term, **kwargs, **ROOT)


def test_default_does_not_hide_permission_denied(lookup, fake):
    with pytest.raises(AnsibleLookupError, match="permission denied"):
        run(lookup, "secret/private/x:value", token="reader-token", default="x")


# ---------------------------------------------------------------------- errors
CONTEXT = "address http://vault.test:8200"


@pytest.mark.parametrize(
    "case, setup, term, kwargs, expected",
    [
        ("path", None, "secret/coder/missing:password", ROOT,
         ["the secret does not exist", "mount secret/", "path secret/coder/missing", "field password",
          "KV version 2", "auth method token", "API path secret/data/coder/missing"]),
        ("path-data", None, "secret/data/coder/db", ROOT, ["Terms never contain /data/"]),
        ("field", None, "secret/coder/db:pasword", ROOT,
         ["field 'pasword' does not exist; the fields that exist are: password, username", "KV version 2"]),
        ("kv1-field", None, "kv1/legacy/app:nope", ROOT,
         ["fields that exist are: api_key, port", "KV version 1", "mount kv1/"]),
        ("denied", None, "secret/private/x:value", {"token": "reader-token"},
         ["permission denied: the token's policies do not allow reading this path", "path secret/private/x",
          "API path secret/data/private/x"]),
        ("bad-token", None, "secret/coder/db:password", {"token": "bogus-token-value"},
         ["the token from the token option (keyword, variable or VAULT_TOKEN) was rejected: it is invalid or expired",
          "mount not detected",
          "KV version unknown"]),
        ("approle", None, "secret/coder/db:password", {**APPROLE, "secret_id": "wrong-secret-id"},
         ["AppRole login refused: invalid role or secret ID", "auth method approle", "auth mount auth/approle"]),
        ("approle-mount", None, "secret/coder/db:password", {**APPROLE, "mount_point": "ci-approle"},
         ["AppRole login failed: no auth method is enabled at auth/ci-approle"]),
        ("sealed", "sealed", "secret/coder/db:password", ROOT, ["the server is sealed", "operator unseal"]),
        ("unreachable", "down", "secret/coder/db:password", {**ROOT, "retries": 2},
         ["cannot reach the server after 3 attempts (connection refused)"]),
        ("tls", "tls", "secret/coder/db:password", ROOT,
         ["TLS verification of the server certificate failed (certificate verify failed: self-signed", "ca_cert"]),
        ("no-token", None, "secret/coder/db:password", {}, ["no token to authenticate with", "~/.vault-token"]),
    ],
)
def test_error_messages_name_the_context_and_never_a_secret(lookup, fake, case, setup, term, kwargs, expected):
    if setup == "sealed":
        fake.sealed = True
    elif setup == "down":
        fake.fail_connect = 99
    elif setup == "tls":
        fake.ssl_error = True
    with pytest.raises(AnsibleLookupError) as info:
        run(lookup, term, **kwargs)
    message = str(info.value)
    for text in expected:
        assert text in message
    assert CONTEXT in message
    for secret in ("db-pass-1", "private-value", "root-token", "reader-token", "bogus-token-value",
                   "secret-id-1", "wrong-secret-id", "issued-token", "kv1-key", "role-id-1"):
        assert secret not in message
    if case == "unreachable":
        assert fake.count("connect-error") == 3


def test_unknown_auth_method_is_refused_by_the_option_choices(lookup, fake):
    from ansible.errors import AnsibleError

    with pytest.raises(AnsibleError, match="auth_method"):
        run(lookup, "secret/coder/db:password", auth_method="ldap")
    assert fake.count() == 0


def test_approle_login_to_a_missing_auth_mount(lookup, fake):
    with pytest.raises(AnsibleLookupError, match="no auth method is enabled at auth/elsewhere"):
        run(lookup, "secret/coder/db:password", **APPROLE, mount_point="elsewhere/")


def test_hvac_missing_says_how_to_install(lookup, vc, monkeypatch):
    monkeypatch.setattr(vc, "HVAC_IMPORT_ERROR", ImportError("No module named 'hvac'"))
    with pytest.raises(AnsibleLookupError, match=r"hvac is not installed .* -m pip install 'hvac>=2.1'"):
        run(lookup, "secret/coder/db:password", **ROOT)


# ------------------------------------------------------------------ token cache
def test_token_cache_refuses_an_open_directory(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache

    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    os.chmod(open_dir, 0o755)
    assert TokenCache(str(open_dir)).usable is False
    link = tmp_path / "link"
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    link.symlink_to(private)
    assert TokenCache(str(link)).usable is False
    assert TokenCache(str(tmp_path / "new")).usable is True


@pytest.mark.parametrize("lease, age, hit", [(3600, 0, True), (3600, 3500, True), (3600, 3580, False),
                                             (0, 10 ** 6, True), (10, 0, False)])
def test_token_cache_expiry(vc, tmp_path, lease, age, hit):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache

    now = [1000.0]
    cache = TokenCache(str(tmp_path / "c"), clock=lambda: now[0])
    cache.put("k", "tok", lease)
    now[0] += age
    assert (cache.get("k") is not None) is hit


def test_token_cache_prunes_expired_records_of_other_identities(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache

    now = [1000.0]
    cache = TokenCache(str(tmp_path / "c"), clock=lambda: now[0])
    cache.put("old", "tok-old", 100)
    cache.put("alive", "tok-alive", 3600)
    now[0] += 200
    cache.put("new", "tok-new", 3600)
    assert sorted(p.name for p in (tmp_path / "c").glob("*.json")) == ["alive.json", "new.json"]


def test_a_forked_child_gets_new_connections_but_keeps_the_parents_reads(lookup, fake, vc):
    run(lookup, "secret/coder/db:password", **APPROLE)
    (parent,) = vc._SESSIONS.values()
    parent.pid = -1  # as seen from a forked child
    assert run(lookup, "secret/coder/db:username", **APPROLE) == ["coder"]
    (child,) = vc._SESSIONS.values()
    assert child is not parent and child._http is not parent._http
    assert (fake.count("login"), fake.count("read")) == (1, 1)


# ------------------------------------------------------------ review fixes: leaks
def test_token_with_surrounding_whitespace_is_stripped(lookup, fake):
    assert run(lookup, "secret/coder/db:password", token=" root-token\n") == ["db-pass-1"]


@pytest.mark.parametrize("source, bad", [("direct", "root-tok\nen-XYZ123"), ("home_file", "root-tok\ren-XYZ123"),
                                         ("direct", "root-tok en-XYZ123"), ("direct", "root-tok\u2019en-XYZ123")])
def test_token_with_a_control_character_is_refused_without_quoting_it(lookup, fake, source, bad):
    kwargs = {}
    if source == "direct":
        kwargs["token"] = bad
    else:
        with open(os.path.expanduser("~/.vault-token"), "w") as handle:
            handle.write(bad + "\n")
    with pytest.raises(AnsibleLookupError, match="contains whitespace, control or non-ASCII characters") as info:
        run(lookup, "secret/coder/db:password", **kwargs)
    assert "XYZ123" not in str(info.value) and "root-tok" not in str(info.value)
    assert fake.count() == 0


def test_unexpected_exceptions_are_withheld_and_not_chained(lookup, fake, vc, monkeypatch):
    import requests

    def explode(*args, **kwargs):
        raise requests.exceptions.ChunkedEncodingError("broken body {'password': 'db-pass-1'} token root-token")

    monkeypatch.setattr(fake, "send", explode)
    with pytest.raises(AnsibleLookupError) as info:
        run(lookup, "secret/coder/db:password", **ROOT)
    message = str(info.value)
    assert "unexpected requests.exceptions.ChunkedEncodingError" in message
    assert "address http://vault.test:8200" in message
    assert "db-pass-1" not in message and "root-token" not in message
    # Nothing chained either: Ansible prints causes and (unsuppressed) contexts at -vvv.
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_settings_repr_shows_no_credential(vc):
    settings = vc.Settings(url="http://vault.test:8200", token="tok-AAAA", role_id="rid-BBBB", secret_id="sid-CCCC",
                           jwt="jwt-DDDD")
    text = repr(settings)
    for secret in ("tok-AAAA", "rid-BBBB", "sid-CCCC", "jwt-DDDD"):
        assert secret not in text
    assert "vault.test" in text


# --------------------------------------------------------- review fixes: retries
def test_sealed_is_retried_then_reported_as_sealed(lookup, fake, vc, monkeypatch):
    sleeps = []
    monkeypatch.setattr(vc, "_backoff_sleep", sleeps.append)
    fake.sealed = True
    with pytest.raises(AnsibleLookupError, match=r"the server is sealed \(after 3 attempts\)"):
        run(lookup, "secret/coder/db:password", retries=2, **ROOT)
    assert sleeps == [0.5, 1.0]


def test_a_503_that_clears_is_retried(lookup, fake, vc, monkeypatch):
    real_send = fake.send
    left = [2]

    def flaky(request, **kwargs):
        if left[0]:
            left[0] -= 1
            fake.calls.append(("unavailable", request.url))
            return _status(request, 503)
        return real_send(request, **kwargs)

    monkeypatch.setattr(fake, "send", flaky)
    assert run(lookup, "secret/coder/db:password", **ROOT) == ["db-pass-1"]
    assert fake.count("unavailable") == 2


@pytest.mark.parametrize("status, retried", [(504, True), (500, True), (502, True), (429, True), (403, False),
                                             (404, False), (400, False), (405, False)])
def test_only_transient_statuses_are_retried(lookup, fake, monkeypatch, status, retried):
    def answer(request, **kwargs):
        fake.calls.append(("answered", request.url))
        return _status(request, status)

    monkeypatch.setattr(fake, "send", answer)
    with pytest.raises(AnsibleLookupError):
        run(lookup, "secret/coder/db:password", mount="secret", kv_version=2, retries=2, **ROOT)
    reads = [c for c in fake.calls if "secret/data/coder/db" in c[1]]
    assert len(reads) == (3 if retried else 1)


def test_a_reused_session_follows_the_retries_of_each_call(lookup, fake):
    run(lookup, "secret/coder/tls:cert", retries=5, **ROOT)
    fake.fail_connect = 1
    with pytest.raises(AnsibleLookupError, match="after 1 attempt "):
        run(lookup, "secret/coder/db:password", retries=0, **ROOT)


@pytest.mark.parametrize("kwargs, message", [({"timeout": 0}, "timeout must be at least 1"),
                                             ({"retries": -1}, "retries must be 0 or more"),
                                             ({"version": 0}, "version must be 1 or more")])
def test_bad_numbers_are_refused_clearly(lookup, fake, kwargs, message):
    with pytest.raises(AnsibleLookupError, match=message):
        run(lookup, "secret/coder/db:password", **ROOT, **kwargs)
    assert fake.count() == 0


def _status(request, status):
    import json

    import requests

    resp = requests.Response()
    resp.status_code = status
    resp.request = request
    resp.url = request.url
    resp.headers["Content-Type"] = "application/json"
    resp._content = json.dumps({"errors": ["status %d" % status]}).encode()
    return resp


# ---------------------------------------------------- review fixes: unsafe values
def _is_unsafe(value):
    try:
        from ansible._internal._datatag._tags import TrustedAsTemplate  # ansible-core >= 2.19
    except ImportError:
        from ansible.utils.unsafe_proxy import AnsibleUnsafe

        return isinstance(value, AnsibleUnsafe)
    return not TrustedAsTemplate.is_tagged_on(value)


def _strings(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_nested_values_of_whole_secrets_and_defaults_are_unsafe(lookup, fake):
    fake.put("secret/app/nested", {"value": "{{ 1 + 1 }}", "list": ["{{ a }}", {"deep": "{{ b }}"}]})
    inner = "{{ c }}"
    try:
        from ansible._internal._datatag._tags import TrustedAsTemplate  # ansible-core >= 2.19
    except ImportError:
        pass
    else:
        inner = TrustedAsTemplate().tag(inner)  # as a default taken from a playbook would be
        assert TrustedAsTemplate.is_tagged_on(inner)
    whole, missing = run(lookup, ["secret/app/nested", "secret/app/absent"], default={"d": [inner]}, **ROOT)
    assert whole == {"value": "{{ 1 + 1 }}", "list": ["{{ a }}", {"deep": "{{ b }}"}]}
    assert missing == {"d": ["{{ c }}"]}
    strings = list(_strings(whole)) + list(_strings(missing))
    assert len(strings) == 8
    assert all(_is_unsafe(s) for s in strings)


def test_returned_dicts_are_copies_of_the_process_cache(lookup, fake):
    first = run(lookup, "secret/coder/db", **ROOT)[0]
    first["password"] = "changed"
    assert run(lookup, "secret/coder/db:password", **ROOT) == ["db-pass-1"]


# ------------------------------------------------------ review fixes: mount cache
def test_token_auth_shares_the_mount_detection_across_processes(lookup, fake, vc, tmp_path):
    run(lookup, "secret/coder/db:password", **ROOT)
    vc.reset_process_caches()  # a new forked worker
    run(lookup, ["secret/coder/tls:cert", "team/kv/svc/api:key"], **ROOT)
    assert fake.count("detect") == 2  # secret/ once for both processes, team/kv/ once
    files = list((tmp_path / "token-cache").glob("*.json"))
    assert len(files) == 1  # token auth stores no token, only the mounts
    assert "root-token" not in files[0].read_text()


def test_token_cache_false_writes_nothing(lookup, fake, vc, tmp_path):
    run(lookup, "secret/coder/db:password", token_cache=False, **APPROLE)
    vc.reset_process_caches()
    run(lookup, "secret/coder/db:password", token_cache=False, **APPROLE)
    assert (fake.count("login"), fake.count("detect")) == (2, 2)
    assert not (tmp_path / "token-cache").exists()


def _seed_mounts(vc, tmp_path, mounts):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache

    settings = vc.Settings(url="http://vault.test:8200")
    cache = TokenCache(str(tmp_path / "token-cache"))
    for mount, kv in mounts.items():
        cache.put_mount(settings.mounts_key(), mount, kv)
    return cache, settings.mounts_key()


def test_a_stale_cached_mount_is_detected_again(lookup, fake, vc, tmp_path):
    # Another worker (or an earlier run) recorded secret/ as KV v1; it is KV v2 now.
    cache, key = _seed_mounts(vc, tmp_path, {"secret/": 1})
    assert run(lookup, "secret/coder/db:password", **ROOT) == ["db-pass-1"]
    assert fake.count("detect") == 1
    assert cache.get_mounts(key) == {"secret/": 2}


def test_a_truly_missing_path_below_a_cached_mount_still_gets_the_default(lookup, fake, vc, tmp_path):
    _seed_mounts(vc, tmp_path, {"secret/": 2})
    assert run(lookup, ["secret/coder/nothing:x", "secret/coder/none:y"], default="dflt", **ROOT) == ["dflt", "dflt"]
    assert fake.count("detect") == 1  # checked once, then trusted for the process
    with pytest.raises(AnsibleLookupError, match="the secret does not exist"):
        run(lookup, "secret/coder/nothing:x", **ROOT)


def test_cached_mounts_expire(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import MOUNT_TTL, TokenCache

    now = [1000.0]
    cache = TokenCache(str(tmp_path / "c"), clock=lambda: now[0])
    cache.put_mount("m", "secret/", 2)
    cache.put_mount("m", "kv1/", 1)
    assert cache.get_mounts("m") == {"secret/": 2, "kv1/": 1}
    now[0] += MOUNT_TTL
    assert cache.get_mounts("m") == {}


# ------------------------------------------------- review fixes: cache directory
def test_token_cache_refuses_group_writable_and_foreign_directories(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache

    group = tmp_path / "group"
    group.mkdir()
    os.chmod(group, 0o770)
    cache = TokenCache(str(group))
    assert cache.usable is False and "open to group or others" in cache.reason
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    os.chmod(foreign, 0o700)
    os.chown(foreign, 4242, 4242)
    cache = TokenCache(str(foreign))
    assert cache.usable is False and "belongs to uid 4242" in cache.reason


def test_an_unusable_cache_directory_is_reported_once(lookup, fake, vc, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(vc.display, "warning", lambda msg, *a, **k: warnings.append(msg))
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o755)
    run(lookup, "secret/coder/db:password", token_cache_dir=str(open_dir), **APPROLE)
    run(lookup, "secret/coder/tls:cert", token_cache_dir=str(open_dir), **APPROLE)
    assert len(warnings) == 1 and "is not used because it is open to group or others" in warnings[0]
    assert os.listdir(open_dir) == []


def test_token_records_that_are_symlinks_or_open_are_ignored(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache

    cache = TokenCache(str(tmp_path / "c"))
    cache.put("real", "tok-real", 3600)
    assert cache.get("real")[0] == "tok-real"
    directory = tmp_path / "c"
    (directory / "link.json").symlink_to(directory / "real.json")
    assert cache.get("link") is None
    os.chmod(directory / "real.json", 0o644)
    assert cache.get("real") is None
    os.mkfifo(directory / "fifo.json")
    assert cache.get("fifo") is None  # does not block on the FIFO
    (directory / "evil.lock").symlink_to(tmp_path / "elsewhere")
    with cache.locked("evil"):  # a planted lock symlink is not followed, nor fatal
        pass
    assert not (tmp_path / "elsewhere").exists()


def test_records_are_created_exclusively_and_never_through_a_symlink(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache

    cache = TokenCache(str(tmp_path / "c"))
    target = tmp_path / "target"
    target.write_text("untouched")
    (tmp_path / "c" / "k.json").symlink_to(target)
    cache.put("k", "tok-k", 3600)
    assert target.read_text() == "untouched"
    assert not (tmp_path / "c" / "k.json").is_symlink()
    assert stat.S_IMODE((tmp_path / "c" / "k.json").stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "c").iterdir() if p.name.startswith(".tmp-")] == []


def test_a_directory_swapped_after_the_check_is_not_followed(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache

    directory = tmp_path / "c"
    cache = TokenCache(str(directory))
    directory.rename(tmp_path / "moved")
    attacker = tmp_path / "attacker"
    attacker.mkdir()
    directory.symlink_to(attacker)
    cache.put("k", "tok-k", 3600)
    assert list(attacker.iterdir()) == []
    assert (tmp_path / "moved" / "k.json").exists()


def test_tokens_limited_in_uses_are_not_shared(vc, tmp_path):
    from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import TokenCache

    cache = TokenCache(str(tmp_path / "c"))
    cache.put("k", "tok-k", 3600, num_uses=5)
    assert cache.get("k") is None


def test_runtime_dir_of_another_user_is_not_used(vc, tmp_path, monkeypatch):
    from ansible_collections.g448.devenv.plugins.plugin_utils import _vault_token_cache as tc

    open_runtime = tmp_path / "run-user"
    open_runtime.mkdir()
    os.chmod(open_runtime, 0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(open_runtime))
    assert not tc.default_cache_dir().startswith(str(open_runtime))
    os.chmod(open_runtime, 0o700)
    assert tc.default_cache_dir() == str(open_runtime / "g448-devenv-vault")
