# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""playbooks/secrets.yml against a real OpenBao: required secrets stop the run when missing,
optional ones (OIDC, GitLab, TLS) leave their role variables empty (issue 15)."""

from __future__ import annotations

import json
import secrets
import subprocess
import textwrap

from pathlib import Path

import pytest
from ansible.release import __version__ as ansible_version
from openbao_dev import BIN, generate_pem_pair

REPO = Path(__file__).resolve().parents[2]
CORE = tuple(int(x) for x in ansible_version.split(".")[:2])

REQUIRED = {
    "coder/db": {"password": "db-%s"},
    "coder/admin": {"username": "admin", "email": "admin@coder.test", "password": "admin-%s"},
    "coder/dbcrypt": {"keys": "key1-%s,key2-%s"},
    "coder/backup": {"restic_password": "restic-%s"},
}
ROLE_VARIABLES = ("coder_oidc_client_id", "coder_oidc_client_secret", "g448_gitlab_client_id",
                  "g448_gitlab_client_secret", "caddy_proxy_tls_cert", "caddy_proxy_tls_key", "coder_license")


def seed(world, paths):
    """A namespace of its own whose KV v2 mount 'secret' holds ``paths``; returns (namespace, values)."""
    namespace = "opt-" + secrets.token_hex(4)
    bao = world.bao
    bao.api("POST", "sys/namespaces/" + namespace, {})
    bao.api("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, namespace=namespace)
    tag = secrets.token_hex(6)
    values = {}
    for path, fields in paths.items():
        data = {k: (v.replace("%s", tag) if isinstance(v, str) else v) for k, v in fields.items()}
        bao.kv2_put(path, data, namespace=namespace)
        values[path] = data
    return namespace, values


def run_secrets(runner, world, namespace, expected, inventory=None, extra_args=()):
    """playbooks/secrets.yml as the component playbooks import it, then a play that checks the role variables.

    The playbook sits next to symlinks to playbooks/secrets.yml and playbooks/group_vars, so the
    collection's own mapping applies to both plays.
    """
    pdir = runner.workdir / "pb"
    pdir.mkdir(exist_ok=True)
    for name in ("secrets.yml", "group_vars"):
        if not (pdir / name).exists():
            (pdir / name).symlink_to(REPO / "playbooks" / name)
    (pdir / "expected.json").write_text(json.dumps(expected))
    (pdir / "check.yml").write_text(textwrap.dedent("""\
        ---
        - name: Resolve the secrets as every component playbook does
          ansible.builtin.import_playbook: secrets.yml

        - name: Check the role variables the secrets map to
          hosts: all
          gather_facts: false
          vars:
            __expected: "{{ lookup('ansible.builtin.file', playbook_dir ~ '/expected.json') | from_json }}"
          tasks:
            - name: Assert each role variable holds what Vault holds (or is empty)
              ansible.builtin.assert:
                that:
                  - lookup('ansible.builtin.vars', item.key) == item.value
                fail_msg: "{{ item.key }} is not what Vault holds"
                quiet: true
              loop: "{{ __expected | dict2items }}"
              loop_control:
                label: "{{ item.key }}"
              no_log: true
        """))
    if inventory is None:
        inventory = runner.workdir / "hosts.yml"
        inventory.write_text(textwrap.dedent("""\
            all:
              vars:
                ansible_connection: local
              children:
                coder_server: {hosts: {h1: {}}}
                coder_proxy: {hosts: {h1: {}}}
            """))
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(pdir / "check.yml"),
           "-e", json.dumps({"g448_vault_url": world.url, "g448_vault_namespace": namespace,
                             "g448_vault_auth_method": "token"}), *extra_args]
    return subprocess.run(cmd, cwd=runner.workdir, env=runner.env({"VAULT_TOKEN": world.bao.root_token}),
                          capture_output=True, text=True, timeout=300, check=False)


def expected_of(values):
    out = {name: "" for name in ROLE_VARIABLES}
    if "coder/oidc" in values:
        out["coder_oidc_client_id"] = values["coder/oidc"]["client_id"]
        out["coder_oidc_client_secret"] = values["coder/oidc"]["client_secret"]
    if "coder/gitlab" in values:
        out["g448_gitlab_client_id"] = values["coder/gitlab"]["client_id"]
        out["g448_gitlab_client_secret"] = values["coder/gitlab"]["client_secret"]
    if "coder/tls" in values:
        out["caddy_proxy_tls_cert"] = values["coder/tls"]["cert"]
        out["caddy_proxy_tls_key"] = values["coder/tls"]["key"]
    if "coder/license" in values:
        out["coder_license"] = values["coder/license"]["jwt"]
    out["coder_pg_password"] = values["coder/db"]["password"]
    out["backup_restic_password"] = values["coder/backup"]["restic_password"]
    return out


def check(result):
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_missing_optional_secrets_leave_their_role_variables_empty(world, runner):
    namespace, values = seed(world, REQUIRED)
    check(run_secrets(runner, world, namespace, expected_of(values)))


def test_the_seeded_case_maps_every_secret(world, runner):
    cert, key = generate_pem_pair()
    paths = dict(REQUIRED, **{"coder/oidc": {"client_id": "oidc-id-%s", "client_secret": "oidc-secret-%s"},
                              "coder/gitlab": {"client_id": "gl-id-%s", "client_secret": "gl-secret-%s"},
                              "coder/tls": {"cert": cert, "key": key},
                              "coder/license": {"jwt": "eyJhbGciOiJub25lIn0.eyJqdGkiOiJ0ZXN0In0.licence-%s"}})
    namespace, values = seed(world, paths)
    result = run_secrets(runner, world, namespace, expected_of(values))
    check(result)
    for data in values.values():
        for value in data.values():
            if len(value) > 8:
                assert value not in result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["coder/db", "coder/admin", "coder/dbcrypt", "coder/backup"])
def test_a_missing_required_secret_stops_the_run_naming_its_path(world, runner, missing):
    namespace, values = seed(world, {k: v for k, v in REQUIRED.items() if k != missing})
    result = run_secrets(runner, world, namespace, {})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "failed=1" in output
    if CORE < (2, 19):
        # ansible-core 2.17 censors the error of a no_log task entirely.
        assert "'no_log: true' was specified for this result" in output, output[-3000:]
    else:
        assert "the secret does not exist" in output and "path secret/%s" % missing in output, output[-3000:]


def test_an_external_auth_provider_without_its_gitlab_secret_is_refused(world, runner):
    namespace, values = seed(world, REQUIRED)
    inventory = runner.workdir / "hosts-gitlab.yml"
    inventory.write_text(textwrap.dedent("""\
        all:
          vars:
            ansible_connection: local
            coder_external_auth_providers:
              - id: gitlab
                type: gitlab
                client_id: "{{ g448_gitlab_client_id }}"
                client_secret: "{{ g448_gitlab_client_secret }}"
          children:
            coder_server: {hosts: {h1: {}}}
            coder_proxy: {hosts: {h2: {}}}
        """))
    result = run_secrets(runner, world, namespace, expected_of(values), inventory=inventory)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Coder external auth provider(s) gitlab have an empty client_id or client_secret" in output, output[-3000:]
    assert "secret/coder/gitlab" in output
    assert "failed=1" in output and "h2 " in output  # only the Coder server needs it


def test_the_production_inventory_reads_optional_secrets_with_a_default(world, runner):
    """g448_secrets_source of inventories/production: GitLab is used there, OIDC and TLS may be absent."""
    namespace, values = seed(world, dict(REQUIRED, **{"coder/gitlab": {"client_id": "gl-id-%s",
                                                                       "client_secret": "gl-secret-%s"}}))
    check(run_secrets(runner, world, namespace, expected_of(values),
                      inventory=REPO / "inventories" / "production"))
