# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""g448.devenv.vault in real ansible-playbook runs: forked workers, one login per run."""

from __future__ import annotations

import re
import stat

from openbao_dev import audit_after_revocations, classify

HOSTS = ("h1", "h2", "h3")


def check(result):
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_forked_workers_log_in_once_and_share_only_the_token(world, runner):
    before = len(world.bao.audit_requests())
    result = runner.play("Read secrets from every worker", """\
        - name: Use two paths
          ansible.builtin.assert:
            that:
              - lookup('g448.devenv.vault', 'secret/coder/db:username') == 'coder'
              - lookup('g448.devenv.vault', 'secret/coder/admin:email') == 'admin@coder.test'
              - lookup('g448.devenv.vault', 'secret/coder/admin:password') | length > 8
        - name: Use them again in a new worker
          ansible.builtin.assert:
            that:
              - lookup('g448.devenv.vault', 'secret/coder/db') | length == 2
              - lookup('g448.devenv.vault', 'secret/coder/admin:username') == 'admin'
        - name: Copy the cache directory while the run goes on (its token record goes when the run ends)
          ansible.builtin.command:
            argv: [cp, -a, "%(cache)s", "%(cache)s-during-the-run"]
          run_once: true
          changed_when: true
        """ % {"cache": runner.cache_dir}, env=world.approle_env(), hosts=HOSTS)
    check(result)
    cache_dir = runner.cache_dir.with_name(runner.cache_dir.name + "-during-the-run")
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    files = sorted(cache_dir.glob("*.json"))
    assert len(files) == 2 and {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}  # token, mounts
    stored = "".join(f.read_text() for f in files)
    counts = classify(audit_after_revocations(world.bao, before, 1))
    # 6 worker processes (2 tasks x 3 hosts): one login and one mount detection for the
    # run (both shared through the cache directory), then per process one read per path.
    # Values are never shared between processes. The run's end revokes the login token.
    assert counts == {"requests": 1 + 1 + 6 * 2 + 1, "logins": 1, "reads": 12, "other": 2}, counts
    for secret in world.values.values():
        assert secret not in stored
    assert world.secret_id not in stored and world.role_id not in stored
    assert '"secret/"' in stored


def test_token_auth_detects_each_mount_once_per_run(world, runner):
    before = len(world.bao.audit_requests())
    result = runner.play("Read secrets from every worker with a token", """\
        - name: Use a path of each mount
          ansible.builtin.assert:
            that:
              - lookup('g448.devenv.vault', 'secret/coder/db:username') == 'coder'
              - lookup('g448.devenv.vault', 'kv1/legacy/app:owner') == 'legacy'
        """, env={"VAULT_ADDR": world.url, "VAULT_TOKEN": world.reader_token}, hosts=HOSTS)
    check(result)
    counts = classify(world.bao.audit_requests()[before:])
    assert counts == {"requests": 2 + 3 * 2, "logins": 0, "reads": 6, "other": 2}, counts
    stored = "".join(f.read_text() for f in runner.cache_dir.glob("*.json"))
    assert world.reader_token not in stored and '"kv1/"' in stored


def test_templated_variables_configure_the_lookup(world, runner):
    """g448_vault_* variables are often templates: they must be rendered, on 2.17 and 2.19."""
    result = runner.play("Configure the lookup through templated play variables", """\
        - name: Read through the templated settings
          ansible.builtin.assert:
            that:
              - lookup('g448.devenv.vault', 'secret/coder/db:username') == 'coder'
        """, play_vars={
        "vault_port": str(world.bao.port),
        "g448_vault_url": "{{ 'http://127.0.0.1:' ~ vault_port }}",
        "g448_vault_auth_method": "{{ 'appr' ~ 'ole' }}",
        "g448_vault_role_id": "{{ lookup('ansible.builtin.env', 'TEST_ROLE_ID') }}",
        "g448_vault_secret_id": "{{ lookup('ansible.builtin.env', 'TEST_SECRET_ID') }}",
    }, env={"TEST_ROLE_ID": world.role_id, "TEST_SECRET_ID": world.secret_id})
    check(result)


def test_once_per_run_pattern_reads_each_path_once_and_keeps_values_exact(world, runner):
    out = runner.workdir / "out"
    out.mkdir()
    before = len(world.bao.audit_requests())
    result = runner.play("Resolve every secret once per run", """\
        - name: Ensure every secret of the run is resolved once
          ansible.builtin.set_fact:
            __secrets:
              db: "{{ lookup('g448.devenv.vault', 'secret/coder/db') }}"
              tls: "{{ lookup('g448.devenv.vault', 'secret/coder/tls') }}"
              template: "{{ lookup('g448.devenv.vault', 'secret/app/template') }}"
          run_once: true
          no_log: true

        - name: Ensure the PEM pair and the template value are written from the facts
          ansible.builtin.copy:
            content: "{{ __secrets.tls.cert }}{{ __secrets.tls.key }}{{ __secrets.template.value }}"
            dest: "%(out)s/{{ inventory_hostname }}"
            mode: "0600"
          no_log: true
        """ % {"out": out}, env=world.approle_env(), hosts=HOSTS)
    check(result)
    counts = classify(audit_after_revocations(world.bao, before, 1))
    assert counts == {"requests": 6, "logins": 1, "reads": 3, "other": 2}, counts  # other: detection, revocation
    expected = (world.values["tls_cert"] + world.values["tls_key"] + world.values["template"]).encode()
    for host in HOSTS:
        assert (out / host).read_bytes() == expected


def test_direct_lookup_value_with_template_markers_stays_literal(world, runner):
    out = runner.workdir / "literal"
    out.mkdir()
    result = runner.play("Template markers in a secret are data", """\
        - name: Ensure a fact set from the lookup stays literal
          ansible.builtin.set_fact:
            __value: "{{ lookup('g448.devenv.vault', 'secret/app/template') }}"

        - name: Ensure the task lookup, the fact and the play var are written literally
          ansible.builtin.copy:
            content: "{{ lookup('g448.devenv.vault', 'secret/app/template:value') }}|{{ __value.value }}|{{ from_play_vars }}"
            dest: "%(out)s/written"
            mode: "0600"

        - name: Show it
          ansible.builtin.debug:
            msg: "{{ __value.value }}"
        """ % {"out": out}, play_vars={"from_play_vars": "{{ lookup('g448.devenv.vault', 'secret/app/template:value') }}"},
        env={"VAULT_ADDR": world.url, "VAULT_TOKEN": world.reader_token})
    check(result)
    assert (out / "written").read_text().split("|") == [world.values["template"]] * 3
    assert "{{ 7 * 6 }}" in result.stdout and "pre 42" not in result.stdout


def test_ansible_doc_renders_with_examples(runner):
    result = runner.doc("-t", "lookup", "g448.devenv.vault")
    assert result.returncode == 0, result.stderr
    text = re.sub(r"\s+", " ", result.stdout)
    for part in ("Reads secrets from a KV v1 or KV v2 secrets engine", "auth_method", "kv_version", "secret_id_file",
                 "VAULT_ADDR", "g448_vault_token", "EXAMPLES", "run_once: true", "no_log: true",
                 "secret/coder/db", "RETURN VALUES"):
        assert part in text, part


def test_return_shapes_of_lookup_query_and_wantlist(world, runner):
    result = runner.play("One term, several terms, wantlist", """\
        - name: Check every shape
          ansible.builtin.assert:
            that:
              - lookup('g448.devenv.vault', 'secret/coder/db:username') == 'coder'
              - lookup('g448.devenv.vault', 'secret/coder/db') is mapping
              - lookup('g448.devenv.vault', 'secret/coder/db').username == 'coder'
              - lookup('g448.devenv.vault', 'secret/coder/db:username', wantlist=true) == ['coder']
              - query('g448.devenv.vault', 'secret/coder/db:username', 'kv1/legacy/app:owner') == ['coder', 'legacy']
              - query('g448.devenv.vault', 'secret/coder/db')[0].username == 'coder'
              - lookup('g448.devenv.vault', 'secret/coder/db:username', 'kv1/legacy/app:owner') == 'coder,legacy'
              - lookup('g448.devenv.vault', 'secret/coder/nothing:x', default=none) is none
              - query('g448.devenv.vault', 'secret/coder/nothing:x', 'secret/coder/db:nofield', default='') == ['', '']
            fail_msg: a return shape changed
        """, env={"VAULT_ADDR": world.url, "VAULT_TOKEN": world.reader_token})
    check(result)
