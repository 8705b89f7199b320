# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Unit tests for the metadata mode of g448.devenv.vault (``metadata=true``): KV v2 metadata
through the same client and caches as the data reads, one request per path per process."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleLookupError

ROOT = {"token": "root-token"}
READER = {"token": "reader-token"}
APPROLE = {"auth_method": "approle", "role_id": "role-id-1", "secret_id": "secret-id-1"}
# The Vault paths of the deployment (README, "Interfaces between the roles").
DESIGN_PATHS = ["secret/coder/db", "secret/coder/admin", "secret/coder/oidc", "secret/coder/gitlab",
                "secret/coder/dbcrypt", "secret/coder/tls", "secret/coder/backup"]


def run(lookup, terms, variables=None, **kwargs):
    return lookup.run(terms if isinstance(terms, list) else [terms], variables=variables or {}, **kwargs)


def reads(fake):
    return [c[1] for c in fake.calls if c[0] == "read"]


@pytest.fixture
def design(fake):
    """Every path of the deployment holds a secret; db and tls already exist once."""
    for path in DESIGN_PATHS:
        fake.put(path, {"value": "value-of-" + path.rsplit("/", 1)[1]})
    return fake


def test_metadata_of_every_design_path_is_one_login_one_detection_one_request_per_path(lookup, design):
    out = run(lookup, DESIGN_PATHS, metadata=True, **APPROLE)
    assert (design.count("login"), design.count("detect"), design.count("read")) == (1, 1, 7)
    assert reads(design) == ["secret/metadata/" + p.split("/", 1)[1] for p in DESIGN_PATHS]
    assert [m["current_version"] for m in out] == [2, 1, 1, 1, 1, 2, 1]
    assert all(m["updated_time"] == "2026-11-28T10:00:00Z" for m in out)
    # The whole run asks again in later tasks: the process cache answers.
    run(lookup, DESIGN_PATHS, metadata=True, **APPROLE)
    run(lookup, ["%s:updated_time" % p for p in DESIGN_PATHS], metadata=True, **APPROLE)
    assert design.count() == 9


def test_metadata_never_carries_the_secret_data(lookup, design):
    out = run(lookup, DESIGN_PATHS, metadata=True, **ROOT)
    text = repr(out)
    values = ["value-of-" + p.rsplit("/", 1)[1] for p in DESIGN_PATHS]
    for secret in ["db-pass-1", "-----BEGIN CERTIFICATE-----"] + values:
        assert secret not in text


def test_metadata_and_data_of_one_path_are_cached_apart(lookup, fake):
    assert run(lookup, "secret/coder/db:password", **ROOT) == ["db-pass-1"]
    assert run(lookup, "secret/coder/db:updated_time", metadata=True, **ROOT) == ["2026-11-28T10:00:00Z"]
    # Each mode keeps its own entry: neither answers for the other.
    assert run(lookup, "secret/coder/db", **ROOT) == [{"password": "db-pass-1", "username": "coder"}]
    assert run(lookup, "secret/coder/db:current_version", metadata=True, **ROOT) == [1]
    assert reads(fake) == ["secret/data/coder/db", "secret/metadata/coder/db"]


@pytest.mark.parametrize("flag", [True, "true", "yes", 1])
def test_metadata_option_takes_ansible_booleans(lookup, fake, flag):
    assert run(lookup, "secret/coder/db:current_version", metadata=flag, **ROOT) == [1]
    assert reads(fake) == ["secret/metadata/coder/db"]


def test_metadata_false_reads_the_data(lookup, fake):
    assert run(lookup, "secret/coder/db:password", metadata=False, **ROOT) == ["db-pass-1"]
    assert reads(fake) == ["secret/data/coder/db"]


def test_metadata_key_that_does_not_exist_lists_the_keys(lookup, fake):
    with pytest.raises(AnsibleLookupError, match="field 'rotated' does not exist; the fields that exist are: "
                                                 "current_version, updated_time"):
        run(lookup, "secret/coder/db:rotated", metadata=True, **ROOT)


def test_metadata_of_an_absent_path_is_an_error_naming_the_metadata_api_path(lookup, fake):
    with pytest.raises(AnsibleLookupError) as info:
        run(lookup, "secret/coder/oidc", metadata=True, **ROOT)
    message = str(info.value)
    assert "the secret does not exist" in message
    assert "API path secret/metadata/coder/oidc" in message and "KV version 2" in message


@pytest.mark.parametrize("default", [None, "", "never"])
def test_metadata_of_an_absent_path_gives_the_default_when_given(lookup, fake, default):
    assert run(lookup, ["secret/coder/oidc", "secret/coder/db:current_version"], metadata=True, default=default,
               **ROOT) == [default, 1]


def test_metadata_default_never_hides_a_permission_error(lookup, fake):
    fake.denied.add("secret/metadata/coder/db")
    with pytest.raises(AnsibleLookupError) as info:
        run(lookup, "secret/coder/db", metadata=True, default=None, **READER)
    message = str(info.value)
    assert "permission denied" in message
    assert "Grant 'read' on secret/metadata/coder/db" in message
    assert "reader-token" not in message


def test_metadata_is_refused_on_a_detected_kv1_mount(lookup, fake):
    with pytest.raises(AnsibleLookupError, match="the metadata option needs a KV v2 mount .*mount kv1/"):
        run(lookup, "kv1/legacy/app", metadata=True, **ROOT)
    assert fake.count("read") == 0


def test_metadata_with_mount_and_kv_version_skips_detection(lookup, fake):
    run(lookup, ["secret/coder/db", "secret/coder/tls"], metadata=True, mount="secret", kv_version=2, **ROOT)
    assert (fake.count("detect"), fake.count("read")) == (0, 2)


def test_metadata_term_written_with_metadata_in_it_gets_the_cli_hint(lookup, fake):
    with pytest.raises(AnsibleLookupError, match="Terms never contain /data/ or /metadata/"):
        run(lookup, "secret/metadata/coder/db", metadata=True, **ROOT)


def test_metadata_on_a_nested_mount(lookup, fake):
    assert run(lookup, "team/kv/svc/api:current_version", metadata=True, **ROOT) == [1]
    assert reads(fake) == ["team/kv/metadata/svc/api"]
