# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Leak test: every error case at -vvv, and no secret value or token in the output."""

from __future__ import annotations

import time

from openbao_dev import closed_port, make_jwt

# (task name, lookup term, lookup keywords as Jinja, text the error must show)
CASES = [
    ("path", "secret/coder/missing:password", "token=lookup('ansible.builtin.env', 'LEAK_ROOT')",
     "the secret does not exist"),
    ("field", "secret/coder/db:pasword", "token=lookup('ansible.builtin.env', 'LEAK_ROOT')",
     "field 'pasword' does not exist; the fields that exist are: password, username"),
    ("denied", "secret/forbidden/thing:value", "token=lookup('ansible.builtin.env', 'LEAK_READER')",
     "permission denied"),
    ("invalid token", "secret/coder/db:password", "token=lookup('ansible.builtin.env', 'LEAK_BOGUS')",
     "was rejected: it is invalid or expired"),
    ("expired token", "secret/coder/db:password", "token=lookup('ansible.builtin.env', 'LEAK_EXPIRED')",
     "was rejected: it is invalid or expired"),
    ("approle refused", "secret/coder/db:password",
     "auth_method='approle', role_id=lookup('ansible.builtin.env', 'LEAK_ROLE_ID'), "
     "secret_id=lookup('ansible.builtin.env', 'LEAK_BAD_SECRET_ID')", "AppRole login refused"),
    ("jwt refused", "secret/coder/db:password",
     "auth_method='jwt', role='ci', jwt=lookup('ansible.builtin.env', 'LEAK_BAD_JWT')", "JWT login refused"),
    ("sealed", "secret/coder/db:password",
     "url=lookup('ansible.builtin.env', 'LEAK_SEALED_URL'), token=lookup('ansible.builtin.env', 'LEAK_SEALED_ROOT')",
     "the server is sealed"),
    ("unreachable", "secret/coder/db:password",
     "url=lookup('ansible.builtin.env', 'LEAK_DOWN_URL'), token=lookup('ansible.builtin.env', 'LEAK_ROOT'), retries=1",
     "cannot reach the server after 2 attempts"),
    ("tls", "secret/tls/probe:value",
     "url=lookup('ansible.builtin.env', 'LEAK_TLS_URL'), token=lookup('ansible.builtin.env', 'LEAK_TLS_ROOT')",
     "TLS verification of the server certificate failed"),
    # requests refuses such a header value in an exception that quotes it: the lookup must refuse it first.
    ("token with a line break", "secret/coder/db:password", "token=lookup('ansible.builtin.env', 'LEAK_NEWLINE')",
     "contains whitespace, control or non-ASCII characters"),
]
NEWLINE_TAIL = "NewlineTail" + "W" * 16


def leak_playbook(cases=None):
    lines = [
        "---",
        "- name: Every g448.devenv.vault error, verbosely",
        "  hosts: all",
        "  gather_facts: false",
        "  tasks:",
        "    - name: Load every secret into a no_log fact (values are in this process)",
        "      ansible.builtin.set_fact:",
        "        __all:",
        "          - \"{{ lookup('g448.devenv.vault', 'secret/coder/db', token=lookup('ansible.builtin.env', 'LEAK_ROOT')) }}\"",
        "          - \"{{ lookup('g448.devenv.vault', 'secret/coder/tls', token=lookup('ansible.builtin.env', 'LEAK_ROOT')) }}\"",
        "          - \"{{ lookup('g448.devenv.vault', 'secret/forbidden/thing', token=lookup('ansible.builtin.env', 'LEAK_ROOT')) }}\"",
        "      no_log: true",
        "      ignore_errors: true  # only so that the run without hvac goes on to the error cases",
    ]
    for name, term, kwargs, _expected in (CASES if cases is None else cases):
        lines += [
            "    - name: Fail on purpose ({0})".format(name),
            "      ansible.builtin.debug:",
            "        msg: \"{{{{ lookup('g448.devenv.vault', '{0}', {1}) }}}}\"".format(term, kwargs),
            "      ignore_errors: true",
        ]
    return "\n".join(lines) + "\n"


def test_no_secret_or_token_leaks_at_vvv_in_any_error_case(world, bao_tls, bao_sealed, runner, tmp_path):
    time.sleep(max(0.0, world.expired_at - time.time()))
    bad_jwt = make_jwt(world.jwt_key, {"iss": "https://ci.test", "sub": "x", "aud": "someone-else",
                                       "iat": int(time.time()), "exp": int(time.time()) + 60})
    env = {
        "VAULT_ADDR": world.url,
        "LEAK_ROOT": world.bao.root_token,
        "LEAK_READER": world.reader_token,
        "LEAK_BOGUS": "s.Bogus" + "Q" * 20,
        "LEAK_EXPIRED": world.expired_token,
        "LEAK_ROLE_ID": world.role_id,
        "LEAK_BAD_SECRET_ID": "f" * 8 + "-0000-0000-0000-" + "e" * 12,
        "LEAK_BAD_JWT": bad_jwt,
        "LEAK_SEALED_URL": bao_sealed.url,
        "LEAK_SEALED_ROOT": bao_sealed.root_token,
        "LEAK_DOWN_URL": "http://127.0.0.1:%d" % closed_port(),
        "LEAK_TLS_URL": bao_tls.url,
        "LEAK_TLS_ROOT": bao_tls.root_token,
        "LEAK_NEWLINE": "s.Head\n" + NEWLINE_TAIL,
    }
    result = runner.playbook(leak_playbook(), "-vvv", env=env, hosts=("h1",), name="leak.yml")
    output = result.stdout + result.stderr
    assert "ok=%d " % (len(CASES) + 1) in output and "ignored=%d " % len(CASES) in output, output[-3000:]
    for name, _term, _kwargs, expected in CASES:
        assert expected in output, name

    # The same run with hvac missing from the controller's Python.
    shadow = tmp_path / "no-hvac" / "hvac"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named hvac (hidden by the leak test)')\n")
    missing = runner.playbook(leak_playbook(CASES[:1]), "-vvv", env={**env, "PYTHONPATH": str(shadow.parent)},
                              hosts=("h1",), name="leak.yml")
    missing_output = missing.stdout + missing.stderr
    assert "hvac is not installed" in missing_output and "-m pip install" in missing_output

    credentials = [value for key, value in env.items() if key != "VAULT_ADDR" and not key.endswith("_URL")]
    credentials += [NEWLINE_TAIL]
    leaked = [s for s in world.secrets() + credentials if s in output or s in missing_output]
    assert not leaked, "leaked %d secret(s)" % len(leaked)
