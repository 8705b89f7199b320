#!/usr/bin/env python3
"""HTTP and WebSocket echo server: a test stand-in for an upstream behind a proxy.

Shared Molecule fixture of g448.devenv (test code only; standard library only).

    echo_upstream.py [--host 127.0.0.1] [--port 3000]

HTTP: every request except the paths below is answered 200 with a JSON body
describing what arrived: method, path, the client address of the TCP
connection and the request headers (so a test can see Host, X-Forwarded-For,
X-Real-IP and friends as the proxy sent them).

    GET /healthz         200 "ok" (the path Coder answers health checks on)
    GET /slow?seconds=N  waits N seconds (at most 120), then answers like any
                         other path: lets a test keep a request in flight

WebSocket (RFC 6455): a GET with "Upgrade: websocket" gets the handshake and
then every text or binary message is sent back unchanged; pings are answered
with pongs, and a close frame is echoed before the connection ends.
"""

import argparse
import base64
import hashlib
import json
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_FRAME = 1 << 20


class EchoHandler(BaseHTTPRequestHandler):
    server_version = "echo-upstream/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # --- HTTP -------------------------------------------------------------
    def _send(self, status, body, content_type):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._send(200, "ok\n", "text/plain")
            return
        if url.path == "/slow":
            seconds = float(parse_qs(url.query).get("seconds", ["5"])[0])
            time.sleep(max(0.0, min(seconds, 120.0)))
        report = {
            "method": self.command,
            "path": self.path,
            "client": self.client_address[0],
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        self._send(200, json.dumps(report, indent=2, sort_keys=True) + "\n", "application/json")

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        else:
            self._echo()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _echo

    # --- WebSocket --------------------------------------------------------
    def _websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        if "upgrade" not in self.headers.get("Connection", "").lower() or not key:
            self._send(400, "bad websocket handshake\n", "text/plain")
            return
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            while True:
                frame = self._read_frame()
                if frame is None:
                    return
                opcode, payload = frame
                if opcode in (0x1, 0x2):
                    self._write_frame(opcode, payload)
                elif opcode == 0x9:
                    self._write_frame(0xA, payload)
                elif opcode == 0x8:
                    self._write_frame(0x8, payload[:2])
                    return
        except (ConnectionError, OSError):
            return

    def _read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _read_frame(self):
        head = self._read_exact(2)
        if head is None:
            return None
        opcode = head[0] & 0x0F
        masked = head[1] & 0x80
        length = head[1] & 0x7F
        if length == 126:
            ext = self._read_exact(2)
            if ext is None:
                return None
            length = struct.unpack("!H", ext)[0]
        elif length == 127:
            ext = self._read_exact(8)
            if ext is None:
                return None
            length = struct.unpack("!Q", ext)[0]
        if length > MAX_FRAME:
            return None
        mask = self._read_exact(4) if masked else b"\0\0\0\0"
        payload = self._read_exact(length) if length else b""
        if mask is None or payload is None:
            return None
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return opcode, payload

    def _write_frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([n])
        elif n < 65536:
            header += bytes([126]) + struct.pack("!H", n)
        else:
            header += bytes([127]) + struct.pack("!Q", n)
        self.wfile.write(header + payload)
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    with Server((args.host, args.port), EchoHandler) as server:
        sys.stderr.write("echo upstream listening on %s:%d\n" % (args.host, args.port))
        server.serve_forever()


if __name__ == "__main__":
    main()
