# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The coder role's JSON-valued and proxy settings in its env file (issue 14 item 6).

Renders roles/coder/templates/coder.env.j2 with the ansible-core this test runs on and reads the
result the way systemd's EnvironmentFile= does for the unquoted lines the role writes (a value
runs to the end of its line; quotes inside it are kept), which is also how Docker's env file
reads them: each JSON value must parse back to what the inventory gave.
"""

from __future__ import annotations

import json

import pytest

GROUPS = {"authentik Admins": "admins", "devs": "développeurs"}
ROLES = {"coder-admin": ["owner", "template-admin"]}
PARAMS = {"prompt": "consent"}
LINKS = [{"name": "Platform team", "target": "https://wiki.448.global/coder", "icon": "docs"},
         {"name": "Chat", "target": "https://chat.448.global"}]


BASE = {
    "coder_version": "2.34.0",
    "coder_access_url": "https://coder.test.448.global",
    "coder_pg_password": "pw",
    "coder_oidc_issuer_url": "https://auth.test.448.global/application/o/coder/",
    "coder_oidc_client_id": "coder",
    "coder_oidc_client_secret": "oidc-secret",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, render_coder_env):
    return render_coder_env(tmp_path_factory.mktemp("coder-env-json"), {
        **BASE,
        "coder_oidc_group_mapping": GROUPS,
        "coder_oidc_user_role_mapping": ROLES,
        # JSON object text, as the argument validation also accepts it
        "coder_oidc_auth_url_params": json.dumps(PARAMS),
        "coder_support_links": LINKS,
        "coder_external_auth_providers": [
            {"id": "gitlab", "type": "gitlab", "client_id": "x", "client_secret": "y"},
            {"id": "gh", "type": "github", "client_id": "x", "client_secret": "y"},
            {"id": "gl2", "type": "gitlab", "client_id": "x", "client_secret": "y", "scopes": ["api"]},
        ],
        "coder_extra_env": {"HTTPS_PROXY": "http://proxy.448.global:3128", "no_proxy": "localhost,.448.global",
                            "TF_CLI_CONFIG_FILE": "/home/coder/.terraformrc", "CODER_UPDATE_CHECK": False,
                            "CODER_SUPPORT_LINKS_EXTRA": '{"a":"b"}'},
    })


def test_json_settings_render_as_compact_json_that_parses_back(rendered):
    assert json.loads(rendered["CODER_OIDC_GROUP_MAPPING"]) == GROUPS
    assert json.loads(rendered["CODER_OIDC_USER_ROLE_MAPPING"]) == ROLES
    assert json.loads(rendered["CODER_OIDC_AUTH_URL_PARAMS"]) == PARAMS
    assert rendered["CODER_OIDC_AUTH_URL_PARAMS"] == '{"prompt":"consent"}'
    # an empty icon is left out; non-ASCII stays as it is (no backslash escapes)
    assert json.loads(rendered["CODER_SUPPORT_LINKS"]) == [LINKS[0], LINKS[1]]
    assert "\\" not in "".join(rendered.values())


def test_scope_defaults_offline_access_and_gitlab(rendered):
    assert rendered["CODER_OIDC_SCOPES"].split(",") == ["openid", "profile", "email", "offline_access"]
    assert rendered["CODER_EXTERNAL_AUTH_0_SCOPES"] == "write_repository read_api"
    assert "CODER_EXTERNAL_AUTH_1_SCOPES" not in rendered
    assert rendered["CODER_EXTERNAL_AUTH_2_SCOPES"] == "api"


def test_proxy_terraform_and_boolean_extra_env(rendered):
    expected = {
        "HTTPS_PROXY": "http://proxy.448.global:3128",
        "no_proxy": "localhost,.448.global",
        "TF_CLI_CONFIG_FILE": "/home/coder/.terraformrc",
        "CODER_UPDATE_CHECK": "false",
        "CODER_SUPPORT_LINKS_EXTRA": '{"a":"b"}',
    }
    assert {name: rendered.get(name) for name in expected} == expected


def test_empty_json_settings_are_left_out(tmp_path, render_coder_env):
    rendered = render_coder_env(tmp_path, BASE)
    for name in ("CODER_OIDC_GROUP_MAPPING", "CODER_OIDC_USER_ROLE_MAPPING", "CODER_OIDC_AUTH_URL_PARAMS",
                 "CODER_SUPPORT_LINKS"):
        assert name not in rendered
