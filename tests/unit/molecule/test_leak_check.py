# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The Molecule scenarios' leak checker (molecule/shared/filter_plugins/leak_check.py, test only).

Each test seeds a known leak in one form a run could print a secret in, and expects the checker
to name it (and never to show the value); a text without secrets must come out clean.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from ansible.errors import AnsibleFilterError
from jinja2 import Environment

REPO = Path(__file__).resolve().parents[3]
_SPEC = importlib.util.spec_from_file_location("leak_check", REPO / "molecule/shared/filter_plugins/leak_check.py")
leak_check = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(leak_check)

# The seeded DB password of tools/harness/openbao-seed.py has these characters on purpose.
DB_PASSWORD = "db-Zx8Qv2Lr0Tn4Wk6Ym1Pj/@:?#"
KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWq3s1d1N2xQm8rJ0
cKkZb7o6Y9mJm0dP2mB1xH5y3n2hRANCAAQy6mF2y0Xo3Q4mP7v0c6a8R1d2n3h4
Ag==
-----END PRIVATE KEY-----
"""
SECRETS = {"coder/db.password": DB_PASSWORD, "coder/tls.key": KEY_PEM,
           "coder/dbcrypt.keys": ["MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "second-key-value-1234"]}


def role_url_encoding(value):
    """What roles/coder/templates/coder.env.j2 writes into CODER_PG_CONNECTION_URL."""
    return Environment().from_string("{{ v | urlencode | replace('/', '%2F') }}").render(v=value)


def test_the_role_encoding_hides_the_password_from_a_literal_search():
    url = "CODER_PG_CONNECTION_URL=postgres://coder:%s@127.0.0.1:5432/coder" % role_url_encoding(DB_PASSWORD)
    assert DB_PASSWORD not in url  # why a literal-only check is blind
    assert leak_check.secret_leaks(url, SECRETS) == ["coder/db.password (url-encoded)"]


@pytest.mark.parametrize("encode, form", [
    (lambda v: "x " + v + " y", "literal"),
    (lambda v: quote(v, safe="/"), "url-encoded, / kept"),
    (lambda v: "pw=" + quote(v, safe="").replace("%20", "+"), "url-encoded"),
    (lambda v: json.dumps({"content": v}), "literal"),
])
def test_each_text_form_is_found(encode, form):
    assert leak_check.secret_leaks(encode(DB_PASSWORD), {"db": DB_PASSWORD}) == ["db (%s)" % form]


def test_json_escaped_value_is_found():
    value = 'quote"and\\backslash-secret'
    assert leak_check.secret_leaks(json.dumps([value]), {"s": value}) == ["s (json-escaped)"]


@pytest.mark.parametrize("lead", ["", "A", "AB", "CODER_PG_PASSWORD=", "0123456789abcdefg"])
def test_base64_of_a_longer_text_is_found_at_every_alignment(lead):
    """What a slurp of a secret-bearing file prints: the base64 of the whole file."""
    blob = base64.b64encode(("%s%s\nNEXT=1\n" % (lead, DB_PASSWORD)).encode()).decode()
    assert leak_check.secret_leaks('{"content": "%s"}' % blob, {"db": DB_PASSWORD}) == ["db (base64)"]


def test_base64_of_the_url_encoded_form_is_found():
    """A slurp of coder.env prints the base64 of a file that holds the password percent-encoded."""
    env = "CODER_PG_CONNECTION_URL=postgres://coder:%s@127.0.0.1:5432/coder\n" % role_url_encoding(DB_PASSWORD)
    slurped = base64.b64encode(env.encode()).decode()
    assert leak_check.secret_leaks(slurped, SECRETS) == ["coder/db.password (base64 of url-encoded)"]
    assert leak_check.secret_leaks([env, slurped], SECRETS) == [
        "coder/db.password (url-encoded)", "coder/db.password (base64 of url-encoded)"]


def test_pem_body_lines_are_searched_one_by_one():
    second = KEY_PEM.splitlines()[2]
    assert leak_check.secret_leaks("... %s ..." % second, SECRETS) == ["coder/tls.key line 2 (literal)"]
    slurped = base64.b64encode(KEY_PEM.encode()).decode()
    assert leak_check.secret_leaks(slurped, SECRETS) == [
        "coder/tls.key line 1 (base64)", "coder/tls.key line 2 (base64)"]
    # The armour is public and the short last line too common: neither is searched.
    assert leak_check.secret_leaks("-----BEGIN PRIVATE KEY----- Ag==", SECRETS) == []
    assert leak_check.secret_labels(SECRETS) == ["coder/db.password", "coder/tls.key line 1", "coder/tls.key line 2",
                                                 "coder/dbcrypt.keys[0]", "coder/dbcrypt.keys[1]"]


def test_list_values_and_list_texts():
    leaks = leak_check.secret_leaks(["clean", "a second-key-value-1234 b"], SECRETS)
    assert leaks == ["coder/dbcrypt.keys[1] (literal)"]


def test_a_clean_text_has_no_leak():
    text = "PLAY RECAP ok=12 changed=3 postgres://coder:********@127.0.0.1/coder MDEyMzQ1 -----BEGIN PRIVATE KEY-----"
    assert leak_check.secret_leaks(text, SECRETS) == []


def test_every_base64_fragment_is_long_enough_to_mean_something():
    for value in ("12345678", DB_PASSWORD):
        assert all(len(f) >= 8 for f in leak_check._b64_fragments(value))


@pytest.mark.parametrize("secrets, message", [
    ({"short": "abc1234"}, "the value of short is shorter than 8 characters"),
    ({"n": 12345678}, "the value of n is a int"),
    (["not", "a", "dict"], "secrets must map a name to a value"),
])
def test_bad_input_is_an_error_that_never_shows_the_value(secrets, message):
    with pytest.raises(AnsibleFilterError) as err:
        leak_check.secret_leaks("text", secrets)
    assert message in str(err.value)
    assert "abc1234" not in str(err.value)


def test_the_filters_are_registered():
    assert set(leak_check.FilterModule().filters()) == {"secret_leaks", "secret_labels"}
