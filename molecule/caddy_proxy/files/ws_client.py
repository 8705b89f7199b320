#!/usr/bin/env python3
"""WebSocket round trip over TLS, for the caddy_proxy scenario's verify (stdlib only).

    ws_client.py HOST CAFILE [CONNECT_ADDR] [PORT]

Connects to CONNECT_ADDR:PORT (default 127.0.0.1:443) with SNI and Host set to
HOST, verifies the server certificate against CAFILE, performs the WebSocket
handshake on /ws, sends one masked text frame and reads the echo. Prints one
JSON object: {"status": <handshake status line>, "accept_ok": bool,
"sent": str, "received": str}. Exits non-zero when anything fails.
"""

import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def main():
    host, cafile = sys.argv[1], sys.argv[2]
    addr = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    port = int(sys.argv[4]) if len(sys.argv) > 4 else 443
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    raw = socket.create_connection((addr, port), timeout=10)
    sock = ctx.wrap_socket(raw, server_hostname=host)

    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (host, key)
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("connection closed during the handshake: %r" % head)
        head += chunk
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    result = {"status": lines[0], "accept_ok": headers.get("sec-websocket-accept") == expected}
    if not lines[0].startswith("HTTP/1.1 101"):
        print(json.dumps(result))
        return 1

    message = "hello through caddy %s" % base64.b16encode(os.urandom(4)).decode()
    payload = message.encode()
    mask = os.urandom(4)
    frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(frame)

    first, second = read_exact(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", read_exact(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", read_exact(sock, 8))[0]
    received = read_exact(sock, length).decode("utf-8", "replace")
    result.update({"sent": message, "received": received, "opcode": first & 0x0F})

    close = bytes([0x88, 0x82]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(struct.pack("!H", 1000)))
    sock.sendall(close)
    sock.close()
    print(json.dumps(result))
    return 0 if result["accept_ok"] and received == message else 1


if __name__ == "__main__":
    sys.exit(main())
