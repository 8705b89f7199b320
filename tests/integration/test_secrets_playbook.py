# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""playbooks/secrets.yml against a real OpenBao: required secrets stop the run when missing,
optional ones (OIDC, GitLab, TLS) leave their role variables empty (issue 15), and every feed of the
secret map (playbooks/vars/secret_map.yml) reaches its role variable (issue 17). The expected values
are computed here from the map, independently of the playbook's Jinja."""

from __future__ import annotations

import json
import secrets
import subprocess
import textwrap

from pathlib import Path

import pytest
import yaml
from ansible.release import __version__ as ansible_version
from openbao_dev import BIN, generate_pem_pair

REPO = Path(__file__).resolve().parents[2]
CORE = tuple(int(x) for x in ansible_version.split(".")[:2])
SECRET_MAP = yaml.safe_load((REPO / "playbooks" / "vars" / "secret_map.yml").read_text())["g448_secret_map"]
# A value with template markers must reach its variable literally (Vault's values are unsafe).
MARKER = "{{ 6 * 7 }}"


def values_of(secret_map, keys):
    """Values to seed, by path within the mount, for the secrets ``keys`` of ``secret_map``."""
    out = {}
    for key in keys:
        fields = {}
        for field, fmt in secret_map[key]["fields"].items():
            if fmt in ("pem_certificate", "pem_private_key"):
                cert, pem_key = generate_pem_pair()
                fields[field] = cert if fmt == "pem_certificate" else pem_key
            elif fmt == "base64_keys":
                fields[field] = "%s-1-%%s, %s-2-%%s," % (key, key)  # trimmed, the empty part dropped
            else:
                fields[field] = "%s-%s-%%s-%s" % (key, field, MARKER)
        out[secret_map[key]["path"].partition("/")[2]] = fields
    return out


def required(secret_map=None):
    secret_map = secret_map or SECRET_MAP
    return values_of(secret_map, [k for k, v in secret_map.items() if v["required"]])


# Lists the map feeds an entry of; each keeps its other entries and their order.
INVENTORY_LISTS = {
    "postgres_users": [{"name": "other", "password": "other-password"}, {"name": "coder"}],
    "coder_external_auth_providers": [{"id": "github", "type": "github", "client_id": "gh-id",
                                       "client_secret": "gh-secret"}],
}


def write_inventory(path, lists, proxy="h1"):
    """An inventory of local hosts at ``path``: h1 the Coder server, ``proxy`` the Coder proxy, the
    group variables ``lists`` (lists of the inventory the map feeds an entry of)."""
    path.write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "local", **lists},
        "children": {"coder_server": {"hosts": {"h1": {}}}, "coder_proxy": {"hosts": {proxy: {}}}},
    }}, sort_keys=False))
    return path


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


def run_secrets(runner, world, namespace, expected, inventory=None, extra_args=(), extra_secrets=None,
                extra_vars=None):
    """playbooks/secrets.yml as the component playbooks import it, then a play that checks the role variables.

    The playbook sits next to a symlink to playbooks/secrets.yml and to playbooks/vars (or a vars/ whose
    map is the collection's plus ``extra_secrets``), so the collection's own secrets step runs.
    """
    pdir = runner.workdir / "pb"
    pdir.mkdir(exist_ok=True)
    if not (pdir / "secrets.yml").exists():
        (pdir / "secrets.yml").symlink_to(REPO / "playbooks" / "secrets.yml")
    if extra_secrets is None:
        if not (pdir / "vars").exists():
            (pdir / "vars").symlink_to(REPO / "playbooks" / "vars")
    else:
        (pdir / "vars").mkdir(exist_ok=True)
        (pdir / "vars" / "secret_map.yml").write_text(
            (REPO / "playbooks" / "vars" / "secret_map.yml").read_text().replace(
                "\ng448_secret_map:\n", "\ng448_secret_map:\n" + "".join(
                    "  %s: %s\n" % (key, json.dumps(entry)) for key, entry in extra_secrets.items()), 1))
    (pdir / "expected.json").write_text(json.dumps(expected))
    (pdir / "check.yml").write_text(textwrap.dedent("""\
        ---
        - name: Resolve the secrets as every component playbook does
          ansible.builtin.import_playbook: secrets.yml

        # site.yml imports it once per component: the later imports keep what the first fed.
        - name: Resolve them again, as the next component playbook of site.yml does
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
        inventory = write_inventory(runner.workdir / "hosts.yml", INVENTORY_LISTS)
    variables = {"g448_vault_url": world.url, "g448_vault_namespace": namespace, "g448_vault_auth_method": "token"}
    variables.update(extra_vars or {})
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(pdir / "check.yml"),
           "-e", json.dumps(variables), *extra_args]
    return subprocess.run(cmd, cwd=runner.workdir, env=runner.env({"VAULT_TOKEN": world.bao.root_token}),
                          capture_output=True, text=True, timeout=300, check=False)


def expected_of(values, secret_map=None, lists=None):
    """Every variable the map feeds, from the seeded ``values`` (by path within the mount).

    A missing optional secret leaves its variables empty; a list variable in ``lists`` (the
    inventory's) gets the field in the entry that matches, the rest unchanged.
    """
    secret_map = secret_map or SECRET_MAP
    lists = json.loads(json.dumps(INVENTORY_LISTS if lists is None else lists))
    out = {}
    for key, entry in secret_map.items():
        fields = values.get(entry["path"].partition("/")[2], {})
        for feed in entry["feeds"]:
            value = fields.get(feed["field"], "")
            if "split" in feed:
                value = [part.strip() for part in value.split(feed["split"]) if part.strip()]
            if "where" not in feed:
                out[feed["var"]] = value
                continue
            if feed["var"] not in lists:
                continue
            (match_key, match_value), = feed["where"].items()
            for item in lists[feed["var"]]:
                if item.get(match_key) == match_value:
                    item[feed["key"]] = value
                    break
            out[feed["var"]] = lists[feed["var"]]
    return out


def check(result):
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_missing_optional_secrets_leave_their_role_variables_empty(world, runner):
    namespace, values = seed(world, required())
    check(run_secrets(runner, world, namespace, expected_of(values)))


def test_the_seeded_case_maps_every_secret(world, runner):
    namespace, values = seed(world, values_of(SECRET_MAP, SECRET_MAP))
    expected = expected_of(values)
    assert MARKER in expected["coder_pg_password"] and expected["postgres_users"][1]["password"]
    result = run_secrets(runner, world, namespace, expected)
    check(result)
    for data in values.values():
        for value in data.values():
            if len(value) > 8:
                assert value not in result.stdout + result.stderr


@pytest.mark.parametrize("missing", [k for k, v in SECRET_MAP.items() if v["required"]])
def test_a_missing_required_secret_stops_the_run_naming_its_path(world, runner, missing):
    path = SECRET_MAP[missing]["path"].partition("/")[2]
    namespace, values = seed(world, {k: v for k, v in required().items() if k != path})
    result = run_secrets(runner, world, namespace, {})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "failed=1" in output
    if CORE < (2, 19):
        # ansible-core 2.17 censors the error of a no_log task entirely.
        assert "'no_log: true' was specified for this result" in output, output[-3000:]
    else:
        assert "the secret does not exist" in output and "path secret/%s" % path in output, output[-3000:]


def test_an_external_auth_provider_without_its_gitlab_secret_is_refused(world, runner):
    namespace, values = seed(world, required())
    lists = {"coder_external_auth_providers": [{"id": "gitlab", "type": "gitlab"}]}
    inventory = write_inventory(runner.workdir / "hosts-gitlab.yml", lists, proxy="h2")
    expected = expected_of(values, lists=lists)
    result = run_secrets(runner, world, namespace, expected, inventory=inventory)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Coder external auth provider(s) gitlab have an empty client_id or client_secret" in output, output[-3000:]
    assert SECRET_MAP["gitlab"]["path"] in output
    assert "failed=1" in output and "h2 " in output  # only the Coder server needs it


def test_the_production_inventory_takes_every_secret_from_the_map(world, runner):
    """inventories/production names no path and reads no secret back: GitLab is used there, OIDC and
    TLS may be absent, and the map feeds its GitLab provider and Coder's database user."""
    namespace, values = seed(world, dict(required(), **values_of(SECRET_MAP, ["gitlab"])))
    production = yaml.safe_load((REPO / "inventories" / "production" / "group_vars" / "all" / "main.yml").read_text())
    lists = {name: production[name] for name in INVENTORY_LISTS}
    expected = expected_of(values, lists=lists)
    provider = expected["coder_external_auth_providers"][0]
    assert provider["id"] == "gitlab" and provider["client_secret"].startswith("gitlab-client_secret-")
    assert expected["postgres_users"][0]["password"].startswith("db-password-")
    # The inventory's own templates in the provider (auth_url, ...) are compared rendered.
    provider_url = production["g448_gitlab_url"]
    for field in ("auth_url", "token_url", "validate_url"):
        provider[field] = provider[field].replace("{{ g448_gitlab_url }}", provider_url)
    provider["regex"] = "^(https?://)?gitlab[.]448[.]global(/.*)?$"
    check(run_secrets(runner, world, namespace, expected, inventory=REPO / "inventories" / "production"))


def test_a_path_moved_by_the_inventory_is_read_there(world, runner):
    moved = {k: v for k, v in required().items() if k != "coder/db"}
    moved["other/db"] = {"password": "moved-db-%s"}
    namespace, values = seed(world, moved)
    values["coder/db"] = values.pop("other/db")
    result = run_secrets(runner, world, namespace, expected_of(values),
                         extra_vars={"g448_secret_paths": {"db": "secret/other/db"}})
    check(result)


def test_g448_secret_paths_naming_no_secret_of_the_map_is_refused(world, runner):
    namespace, _values = seed(world, required())
    result = run_secrets(runner, world, namespace, {}, extra_vars={"g448_secret_paths": {"databse": "secret/x/db"}})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "g448_secret_paths must map secrets of playbooks/vars/secret_map.yml" in output


def test_a_secret_added_only_to_the_map_is_read_and_fed(world, runner):
    """The one place to add a secret: a new entry of the map is read from Vault and feeds its variable."""
    extra = {"extra": {"path": "secret/coder/extra", "required": True, "fields": {"token": "text"},
                       "feeds": [{"field": "token", "var": "g448_extra_token"}]}}
    secret_map = dict(SECRET_MAP, **extra)
    namespace, values = seed(world, dict(required(), **values_of(secret_map, ["extra"])))
    expected = expected_of(values, secret_map=secret_map)
    assert expected["g448_extra_token"].startswith("extra-token-")
    check(run_secrets(runner, world, namespace, expected, extra_secrets=extra))
    # Required means required: without it in Vault the run stops.
    namespace, values = seed(world, required())
    result = run_secrets(runner, world, namespace, {}, extra_secrets=extra)
    assert result.returncode != 0 and "failed=1" in result.stdout + result.stderr
