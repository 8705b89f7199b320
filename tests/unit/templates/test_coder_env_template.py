# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Render the coder role's env file with the ansible-core this test runs on.

`make unit` runs this on the newest and the oldest ansible-core the collection claims, so a
filter or test name that one of them lacks (``ansible.builtin.urlencode`` does not exist in
2.17) fails here instead of in a deploy. The template module runs on localhost through the
same ansible-core, with the role's defaults and a password that needs percent-encoding.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

PASSWORD = "p/@:?#% ss"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, render_coder_env):
    tmp = tmp_path_factory.mktemp("coder-env")
    extra = {
        "coder_version": "2.34.0",
        "coder_access_url": "https://coder.test.448.global",
        "coder_wildcard_access_url": "*.coder.test.448.global",
        "coder_pg_password": PASSWORD,
        "coder_pg_user": "co/der",
        "coder_oidc_issuer_url": "https://auth.test.448.global/application/o/coder/",
        "coder_oidc_client_id": "coder",
        "coder_oidc_client_secret": "oidc-secret",
        "coder_external_auth_providers": [{"id": "gitlab", "type": "gitlab", "client_id": "x",
                                           "client_secret": "y", "regex": "^git$"}],
    }
    return render_coder_env(tmp, extra)


def test_the_connection_url_percent_encodes_user_and_password(rendered):
    url = urlsplit(rendered["CODER_PG_CONNECTION_URL"])
    assert url.scheme == "postgres" and url.hostname == "127.0.0.1" and url.path == "/coder"
    assert unquote(url.username) == "co/der"
    assert unquote(url.password) == PASSWORD
    assert not set("/@:?# ") & set(url.password)


def test_the_env_file_carries_the_access_oidc_and_external_auth_settings(rendered):
    expected = {
        "CODER_ACCESS_URL": "https://coder.test.448.global",
        "CODER_WILDCARD_ACCESS_URL": "*.coder.test.448.global",
        "CODER_OIDC_ISSUER_URL": "https://auth.test.448.global/application/o/coder/",
        "CODER_EXTERNAL_AUTH_0_ID": "gitlab",
        "CODER_EXTERNAL_AUTH_0_REGEX": "^git$",
    }
    assert {name: rendered.get(name) for name in expected} == expected
