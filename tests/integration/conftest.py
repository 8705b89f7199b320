# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""A real OpenBao for the g448.devenv.vault integration tests.

One seeded dev server per test session (plus a TLS one and a sealed one, started
only when a test asks for them), all on 127.0.0.1 with free ports. The
ansible-playbook and ansible-doc subprocesses come from the same virtualenv as
the running pytest, so `.venv-core2.17/bin/pytest` tests ansible-core 2.17.
"""

from __future__ import annotations

import importlib
import os
import secrets
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from openbao_dev import BIN, Bao, generate_pem_pair, make_jwt  # tools/harness (pytest.ini)

ENV_PREFIXES = ("VAULT_", "BAO_", "G448_VAULT_", "ANSIBLE_")

READER_POLICY = """
path "secret/data/*" { capabilities = ["read"] }
path "secret/metadata/*" { capabilities = ["read"] }
path "secret/data/forbidden/*" { capabilities = ["deny"] }
path "secret/metadata/forbidden/*" { capabilities = ["deny"] }
path "kv1/*" { capabilities = ["read"] }
path "team/kv/data/*" { capabilities = ["read"] }
"""


@dataclass
class World:
    """What the seeded server holds, for assertions."""

    bao: Bao
    values: dict = field(default_factory=dict)  # name -> seeded secret value
    reader_token: str = ""
    expired_token: str = ""
    expired_at: float = 0.0
    role_id: str = ""
    secret_id: str = ""
    jwt: str = ""
    jwt_key: object = None

    @property
    def url(self):
        return self.bao.url

    def approle_env(self, **extra):
        """The environment that makes g448.devenv.vault log in with the seeded AppRole."""
        env = {"VAULT_ADDR": self.url, "G448_VAULT_AUTH_METHOD": "approle", "G448_VAULT_ROLE_ID": self.role_id,
               "G448_VAULT_SECRET_ID": self.secret_id}
        env.update(extra)
        return env

    def secrets(self):
        """Every string that must never appear in output: values and credentials."""
        out = [v for v in self.values.values() if isinstance(v, str)]
        out += [self.bao.root_token, self.reader_token, self.expired_token, self.secret_id, self.jwt]
        # A PEM block is long: any of its body lines leaking is a leak.
        for pem in (self.values["tls_cert"], self.values["tls_key"]):
            out += [line for line in pem.splitlines() if line and not line.startswith("-----")]
        return [s for s in out if s]


def _seed(bao):
    w = World(bao=bao)
    tok = secrets.token_hex(8)
    cert, key = generate_pem_pair()
    w.values = {
        "db_password": "dbpw-" + tok,
        "admin_password": "adminpw-" + tok,
        "template": "pre {{ 7 * 6 }} {{ lookup('ansible.builtin.env', 'HOME') }} {% if true %}jinja{% endif %} post",
        "tls_cert": cert,
        "tls_key": key,
        "v1": "version-one-" + tok,
        "v2": "version-two-" + tok,
        "forbidden": "forbidden-" + tok,
        "kv1_api_key": "kv1key-" + tok,
        "team_key": "teamkey-" + tok,
        "ns_value": "nsvalue-" + tok,
    }
    v = w.values
    bao.api("POST", "sys/mounts/kv1", {"type": "kv", "options": {"version": "1"}})
    bao.api("POST", "sys/mounts/team/kv", {"type": "kv", "options": {"version": "2"}})
    bao.kv2_put("coder/db", {"password": v["db_password"], "username": "coder"})
    bao.kv2_put("coder/admin", {"username": "admin", "email": "admin@coder.test", "password": v["admin_password"]})
    bao.kv2_put("coder/tls", {"cert": v["tls_cert"], "key": v["tls_key"]})
    bao.kv2_put("app/template", {"value": v["template"]})
    bao.kv2_put("app/versioned", {"value": v["v1"]})
    bao.kv2_put("app/versioned", {"value": v["v2"]})
    bao.kv2_put("forbidden/thing", {"value": v["forbidden"]})
    bao.api("POST", "kv1/legacy/app", {"api_key": v["kv1_api_key"], "owner": "legacy"})
    bao.kv2_put("svc/api", {"key": v["team_key"]}, mount="team/kv")
    bao.api("POST", "sys/namespaces/ns1", {})
    bao.api("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, namespace="ns1")
    bao.kv2_put("app/cfg", {"value": v["ns_value"]}, namespace="ns1")

    bao.api("PUT", "sys/policies/acl/reader", {"policy": READER_POLICY})
    w.reader_token = bao.api("POST", "auth/token/create", {"policies": ["reader"], "ttl": "1h"})["auth"]["client_token"]
    w.expired_token = bao.api("POST", "auth/token/create", {"policies": ["reader"], "ttl": "1s",
                                                            "explicit_max_ttl": "1s"})["auth"]["client_token"]
    w.expired_at = time.time() + 1.5

    bao.api("POST", "sys/auth/approle", {"type": "approle"})
    bao.api("POST", "auth/approle/role/reader", {"token_policies": ["reader"], "token_ttl": "1h"})
    w.role_id = bao.api("GET", "auth/approle/role/reader/role-id")["data"]["role_id"]
    w.secret_id = bao.api("POST", "auth/approle/role/reader/secret-id", {})["data"]["secret_id"]

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    w.jwt_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = w.jwt_key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    bao.api("POST", "sys/auth/jwt", {"type": "jwt"})
    bao.api("POST", "auth/jwt/config", {"jwt_validation_pubkeys": [pub], "bound_issuer": "https://ci.test"})
    bao.api("POST", "auth/jwt/role/ci", {"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["g448"],
                                         "token_policies": ["reader"], "token_ttl": "1h"})
    now = int(time.time())
    w.jwt = make_jwt(w.jwt_key, {"iss": "https://ci.test", "sub": "pipeline-1", "aud": "g448", "iat": now,
                                 "nbf": now - 5, "exp": now + 3600})
    return w


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    bao = Bao(tmp_path_factory.mktemp("bao")).start()
    try:
        yield _seed(bao)
    finally:
        bao.stop()


@pytest.fixture(scope="session")
def bao_tls(tmp_path_factory):
    bao = Bao(tmp_path_factory.mktemp("bao-tls"), tls=True).start()
    try:
        bao.kv2_put("tls/probe", {"value": "tls-probe-" + secrets.token_hex(6)})
        yield bao
    finally:
        bao.stop()


@pytest.fixture(scope="session")
def bao_sealed(tmp_path_factory):
    bao = Bao(tmp_path_factory.mktemp("bao-sealed")).start()
    try:
        bao.api("PUT", "sys/seal")
        yield bao
    finally:
        bao.stop()


@pytest.fixture(scope="session")
def vc(collections_root):
    return importlib.import_module("ansible_collections.g448.devenv.plugins.plugin_utils._vault_client")


@pytest.fixture
def lookup(vault_worker, monkeypatch):
    """Run the plugin in this process, as one worker would, with clean env and caches."""
    from ansible.plugins.loader import lookup_loader

    # In this process the run is pytest itself: a real watcher would wait for the whole session.
    # The ansible-playbook tests (test_vault_token_lifetime.py) run the real ones.
    monkeypatch.setattr(vault_worker, "_spawn_watcher", lambda job: True)
    plugin = lookup_loader.get("g448.devenv.vault")

    def call(terms, variables=None, **kwargs):
        terms = terms if isinstance(terms, list) else [terms]
        return plugin.run(terms, variables=variables or {}, **kwargs)

    return call


class Runner:
    """Runs ansible-playbook / ansible-doc from the venv of the running pytest."""

    def __init__(self, workdir, collections):
        self.workdir = Path(workdir)
        self.collections = collections
        self.home = self.workdir / "home"
        self.home.mkdir(exist_ok=True)
        self.cache_dir = self.workdir / "token-cache"
        cfg = self.workdir / "ansible.cfg"
        cfg.write_text(textwrap.dedent("""\
            [defaults]
            collections_path = %s
            forks = 5
            host_key_checking = false
            retry_files_enabled = false
            local_tmp = %s/ansible-tmp
            stdout_callback = default

            [connection]
            pipelining = true
            """ % (collections, self.workdir)))
        self.cfg = cfg

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
        env.update({
            "ANSIBLE_CONFIG": str(self.cfg),
            "HOME": str(self.home),
            "PATH": "%s:%s" % (BIN, env.get("PATH", "")),
            "G448_VAULT_TOKEN_CACHE_DIR": str(self.cache_dir),
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "false",
        })
        env.update(extra or {})
        return env

    def inventory(self, hosts=("h1",)):
        path = self.workdir / "inventory.ini"
        lines = ["[bench]"] + ["%s ansible_connection=local ansible_python_interpreter=%s" % (h, sys.executable)
                               for h in hosts]
        path.write_text("\n".join(lines) + "\n")
        return path

    def playbook(self, text, *args, env=None, hosts=("h1",), name="play.yml", timeout=300):
        play = self.workdir / name
        play.write_text(textwrap.dedent(text))
        cmd = [str(BIN / "ansible-playbook"), "-i", str(self.inventory(hosts)), str(play), *args]
        return subprocess.run(cmd, cwd=self.workdir, env=self.env(env), capture_output=True, text=True,
                              timeout=timeout, check=False)

    def play(self, title, tasks, *args, play_vars=None, **kwargs):
        """``playbook`` of ``one_play(title, tasks, play_vars)``."""
        return self.playbook(self.one_play(title, tasks, play_vars), *args, **kwargs)

    @staticmethod
    def one_play(title, tasks, play_vars=None):
        """The text of a playbook of one play ``title`` on every host, without facts: the task list
        ``tasks`` (YAML text, indented as you like) with the play variables ``play_vars`` (a dict)."""
        head = {"name": title, "hosts": "all", "gather_facts": False}
        if play_vars:
            head["vars"] = play_vars
        return ("---\n" + yaml.safe_dump([head], sort_keys=False, width=1000) + "  tasks:\n"
                + textwrap.indent(textwrap.dedent(tasks), "    "))

    def doc(self, *args):
        return subprocess.run([str(BIN / "ansible-doc"), *args], cwd=self.workdir, env=self.env(),
                              capture_output=True, text=True, timeout=120, check=False)


def wait_for_token_watchers(cache_dir, timeout=15.0):
    """Wait until the token watchers of the runs that used ``cache_dir`` have revoked and exited.

    A run's cached token is revoked by a watcher (plugins/plugin_utils/_vault_revoker.py) a moment
    after the run ends; one still running when the next test counts OpenBao's audit log would add
    its revocation to that count. Watchers inherit the run's environment, which names the cache.
    """
    marker = ("G448_VAULT_TOKEN_CACHE_DIR=%s" % cache_dir).encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = False
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                waiting = (b"_vault_revoker" in (proc / "cmdline").read_bytes()
                           and marker in (proc / "environ").read_bytes().split(b"\0"))
            except OSError:
                continue
            if waiting:
                break
        if not waiting:
            return
        time.sleep(0.05)


@pytest.fixture
def runner(tmp_path, collections_root):
    run = Runner(tmp_path, collections_root)
    yield run
    wait_for_token_watchers(run.cache_dir)
