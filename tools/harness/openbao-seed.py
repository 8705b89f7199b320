#!/usr/bin/env python
# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""A seeded OpenBao dev server on 127.0.0.1 for molecule/site, molecule/cluster, `make demo` and `make bench`.

  openbao-seed.py start --dir DIR --site-host HOST   start `bao server -dev` (detached) and write every
                                                     secret of the secret map (playbooks/vars/secret_map.yml)
                                                     with fresh values, one per field in the field's format
  openbao-seed.py stop --dir DIR                     stop it (no-op when it is not running)
  openbao-seed.py requests --dir DIR [--mark]        logins/reads/requests its audit log saw since the last
                                                     mark (seeding sets one), as JSON; --mark sets a new one
  openbao-seed.py path KEY                           the map's Vault path of secret KEY (e.g. admin)
  openbao-seed.py show --dir DIR KEY FIELD           the seeded value of a field of secret KEY

DIR gets state.json (url, root token, pid; 0600), secrets.json (the seeded values by path within the
mount, e.g. "coder/db", 0600: the leak tests grep the output for them), token (the root token alone, 0600), audit.log and server.log. `start` on a
DIR whose server still answers only prints its state. The server is a throwaway dev server: in-memory
storage, a root token, plain HTTP on loopback. It never leaves the machine.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import secrets
import signal
import sys
import time
import uuid
from pathlib import Path

import requests
from openbao_dev import Bao, classify  # this directory's helper, shared with tests/integration

SECRET_MAP = Path(__file__).resolve().parents[2] / "playbooks" / "vars" / "secret_map.yml"


def wildcard_pair(site_host):
    """A self-signed certificate for the site host and its wildcard, with its key, in PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, site_host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(site_host),
                                                        x509.DNSName("*." + site_host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


def secret_map(path=SECRET_MAP):
    """The secret map: key -> path, required, card, fields (field -> format), feeds."""
    import yaml  # only here: `stop` runs on the system's python3 too

    return yaml.safe_load(Path(path).read_text())["g448_secret_map"]


def word(prefix):
    return "%s-%s" % (prefix, secrets.token_urlsafe(18))


# A fresh value per field format of the map: (prefix, pem) -> value; pem(0) and pem(1) are one
# certificate and its key for the site host and its wildcard.
FORMATS = {
    "text": lambda prefix, pem: word(prefix),
    "username": lambda prefix, pem: "admin",
    "email": lambda prefix, pem: "admin@448.global",
    "password_in_url": lambda prefix, pem: word(prefix) + "/@:?#",  # characters the connection URL must encode
    "base64_keys": lambda prefix, pem: base64.b64encode(secrets.token_bytes(32)).decode(),
    "pem_certificate": lambda prefix, pem: pem(0),
    "pem_private_key": lambda prefix, pem: pem(1),
    "coder_license": lambda prefix, pem: test_licence(),
}


def fresh_secrets(site_host, secrets_map=None):
    """One value per field of every secret of the map, by path within its mount (coder/db).

    Each value is made in its field's format; text values are distinct, long and greppable.
    """
    pair = []

    def pem(index):
        if not pair:
            pair.extend(wildcard_pair(site_host))
        return pair[index]

    values = {}
    for key, entry in (secret_map() if secrets_map is None else secrets_map).items():
        mount, _sep, path = entry["path"].partition("/")
        if mount != "secret" or not path:
            raise ValueError("%s: the seed writes to the KV v2 mount secret/, not %s" % (key, entry["path"]))
        unknown = sorted(set(entry["fields"].values()) - set(FORMATS))
        if unknown:
            raise ValueError("%s: no seed for the format(s) %s" % (key, ", ".join(unknown)))
        values[path] = {field: FORMATS[fmt]("%s-%s" % (key, field), pem) for field, fmt in entry["fields"].items()}
    return values


def test_licence():
    """A licence key shaped like Coder's (a JWT; the stand-in does not check its signature)."""
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"jti": str(uuid.uuid4()), "account_type": "test", "account_id": "g448-molecule", "version": 3,
              "license_expires": int(time.time()) + 30 * 86400, "features": {"multiple_external_auth": 1}}
    return "%s.%s.%s" % (part({"alg": "EdDSA", "typ": "JWT", "kid": "g448-test"}), part(claims),
                         secrets.token_urlsafe(64))


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def alive(state):
    try:
        os.kill(state["pid"], 0)
        return requests.get(state["url"] + "/v1/sys/health", timeout=2).status_code == 200
    except (OSError, requests.RequestException):
        return False


def load_state(workdir):
    path = workdir / "state.json"
    return json.loads(path.read_text()) if path.exists() else None


def start(args):
    workdir = Path(args.dir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o700)
    state = load_state(workdir)
    if state and alive(state):
        print(json.dumps({"url": state["url"], "pid": state["pid"], "started": False}))
        return 0
    for stale in ("audit.log", "server.log"):
        (workdir / stale).unlink(missing_ok=True)
    bao = Bao(workdir).start()
    values = fresh_secrets(args.site_host)
    for path, data in values.items():
        bao.kv2_put(path, data)
    # Seeding is not part of what the runs under test did: count from here.
    state = {"url": bao.url, "root_token": bao.root_token, "pid": bao.proc.pid,
             "audit_offset": audit_size(workdir)}
    write_private(workdir / "state.json", json.dumps(state))
    write_private(workdir / "token", bao.root_token)
    write_private(workdir / "secrets.json", json.dumps(values))
    print(json.dumps({"url": bao.url, "pid": bao.proc.pid, "started": True}))
    return 0


def stop(args):
    state = load_state(Path(args.dir))
    if not state:
        return 0
    try:
        os.killpg(state["pid"], signal.SIGTERM)
    except OSError:
        return 0
    for _attempt in range(50):
        try:
            os.kill(state["pid"], 0)
        except OSError:
            break
        time.sleep(0.1)
    else:
        os.killpg(state["pid"], signal.SIGKILL)
    return 0


def audit_size(workdir):
    time.sleep(0.2)  # the audit device writes after answering
    path = workdir / "audit.log"
    return path.stat().st_size if path.exists() else 0


def count(args):
    workdir = Path(args.dir)
    state = load_state(workdir)
    offset = state.get("audit_offset", 0)
    bao = Bao.__new__(Bao)  # only the audit log reader: the server is another process
    bao.audit_log = workdir / "audit.log"
    entries = bao.audit_requests(offset)
    if args.mark:
        state["audit_offset"] = audit_size(workdir)
        write_private(workdir / "state.json", json.dumps(state))
    result = classify(entries)
    result["paths_read"] = sorted({p for op, p in entries if op == "read" and not p.startswith(("sys/", "auth/"))})
    print(json.dumps(result))
    return 0


def show_path(args):
    print(secret_map()[args.key]["path"])
    return 0


def show(args):
    path = secret_map()[args.key]["path"].partition("/")[2]
    print(json.loads((Path(args.dir) / "secrets.json").read_text())[path][args.field])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start")
    p_start.add_argument("--dir", required=True)
    p_start.add_argument("--site-host", required=True)
    p_stop = sub.add_parser("stop")
    p_stop.add_argument("--dir", required=True)
    p_count = sub.add_parser("requests")
    p_count.add_argument("--dir", required=True)
    p_count.add_argument("--mark", action="store_true")
    p_path = sub.add_parser("path")
    p_path.add_argument("key")
    p_show = sub.add_parser("show")
    p_show.add_argument("--dir", required=True)
    p_show.add_argument("key")
    p_show.add_argument("field")
    args = parser.parse_args()
    return {"start": start, "stop": stop, "requests": count, "path": show_path, "show": show}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
