# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The Coder stand-in's template import job refuses what real Coder's import refuses (test
fixture, molecule/shared/coder-standin/coder.py), with Coder's job error messages:
coderd/provisionerdserver ("required template variables need values: a, b" and "external auth
provider %q is not configured") and Terraform's "Value for undeclared variable". The shipped
Docker template imports when the server configures its GitLab id.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
_SPEC = importlib.util.spec_from_file_location("coder_standin_templates", REPO / "molecule/shared/coder-standin/coder.py")
standin = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(standin)

DOCKER = (REPO / "roles/coder/files/coder_templates/docker/main.tf").read_text(encoding="utf-8")

REQUIRED = '''
variable "region" {
  type = string
  validation {
    condition     = length(var.region) > 0
    error_message = "set a region { with braces } in a string"
  }
}
'''


def values(**kwargs):
    return [{"name": k, "value": v} for k, v in kwargs.items()]


def test_the_shipped_docker_template_imports_with_gitlab_configured():
    assert standin.template_import([DOCKER], values(gitlab_link_required="true"), {"gitlab"}) == ""


def test_an_external_auth_id_the_server_does_not_configure_fails_the_import():
    assert standin.template_import([DOCKER], [], {"github"}) == 'external auth provider "gitlab" is not configured'
    assert standin.template_import([DOCKER], [], set()) == 'external auth provider "gitlab" is not configured'


def test_an_external_auth_id_from_a_variable_is_resolved():
    tf = 'variable "auth" {\n  default = "gitlab"\n}\ndata "coder_external_auth" "x" {\n  id = var.auth\n}\n'
    assert standin.template_import([tf], [], {"gitlab"}) == ""
    assert standin.template_import([tf], values(auth="github"), {"gitlab"}) == 'external auth provider "github" is not configured'


@pytest.mark.parametrize("given, error", [
    ([], "required template variables need values: region"),
    (values(region=""), "required template variables need values: region"),
    (values(region="eu"), ""),
])
def test_a_required_variable_needs_a_value(given, error):
    assert standin.template_import([REQUIRED], given, set()) == error


def test_a_value_for_an_undeclared_variable_fails_the_import():
    error = standin.template_import([DOCKER], values(no_such_variable="1"), {"gitlab"})
    assert error.startswith('Value for undeclared variable: a variable named "no_such_variable"')


def test_an_archive_without_terraform_files_fails_the_import():
    assert "no Terraform files" in standin.template_import([], [], {"gitlab"})


def test_the_configured_ids_come_from_coder_external_auth_n_id(monkeypatch):
    monkeypatch.setenv("CODER_EXTERNAL_AUTH_0_ID", "gitlab")
    monkeypatch.setenv("CODER_EXTERNAL_AUTH_0_TYPE", "bitbucket-server")
    configured = standin.configured_external_auth()
    assert "gitlab" in configured
    assert "bitbucket-server" not in configured
