#!/usr/bin/env python3
"""Ask a PostgreSQL server how it would authenticate a user, without a password.

  pg_startup_probe.py HOST PORT USER DATABASE

Sends a protocol 3.0 StartupMessage (no TLS) from this host and prints the
server's first answer as JSON: {"reply": "auth", "code": 10, "mechanisms":
["SCRAM-SHA-256", ...]} when pg_hba.conf has a line for this address (10 is
SASL), or {"reply": "error", "sqlstate": "28000", "message": "no pg_hba.conf
entry ..."} when it refuses the address. Test helper of molecule/cluster:
stdlib only, so it runs on hosts without a PostgreSQL client.
"""

import json
import socket
import struct
import sys


def main(host, port, user, database):
    params = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in (("user", user), ("database", database)))
    body = struct.pack("!I", 196608) + params + b"\0"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(struct.pack("!I", len(body) + 4) + body)
        head = sock.recv(5, socket.MSG_WAITALL)
        kind, length = head[:1], struct.unpack("!I", head[1:5])[0]
        payload = b""
        while len(payload) < length - 4:
            chunk = sock.recv(length - 4 - len(payload))
            if not chunk:
                break
            payload += chunk
    if kind == b"R":
        code = struct.unpack("!I", payload[:4])[0]
        mechanisms = [m.decode() for m in payload[4:].split(b"\0") if m] if code == 10 else []
        return {"reply": "auth", "code": code, "mechanisms": mechanisms}
    if kind == b"E":
        fields = {f[:1].decode(): f[1:].decode(errors="replace") for f in payload.split(b"\0") if f}
        return {"reply": "error", "sqlstate": fields.get("C", ""), "message": fields.get("M", "")}
    return {"reply": kind.decode(errors="replace"), "payload": payload.hex()}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])))
