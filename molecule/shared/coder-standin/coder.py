#!/usr/bin/python3
# Coder STAND-IN for g448.devenv's Molecule tests. NOT Coder.
#
# No package registry reachable from the test machines carries Coder, so the
# coder role is tested against this small program, packaged like the real
# release (.deb with /usr/bin/coder, the `coder` user and coder.service reading
# /etc/coder.d/coder.env) by build.sh beside it. It implements only what the
# role touches, following Coder's documented behaviour:
#   coder --version                  first line "Coder v<version>+standin ..."
#   coder server                     reads CODER_HTTP_ADDRESS, CODER_ACCESS_URL,
#                                    CODER_PG_CONNECTION_URL; refuses to start
#                                    when its cache directory cannot be created
#                                    or PostgreSQL does not connect; creates
#                                    and checks its own tables (write access)
#   GET  /healthz                    200 "OK"
#   GET  /api/v2/buildinfo           {"version": "v<version>+standin", ...}
#   GET  /api/v2/users/first         200 when a user exists, 404 when not
#   POST /api/v2/users/first         201 created, 409 when one exists, 400 bad body or input that
#                                    Coder refuses (coderd/users.go): email not well formed, username
#                                    not codersdk.NameValid, password over 64 bytes or under 52 bits
#                                    of go-password-validator entropy (coderd/userpassword)
#   POST /api/v2/users/login         201 {"session_token"}, 401 on bad credentials
#   GET  /api/v2/users/me            200 with Coder-Session-Token, 401 without
#   GET  https://<app>.<wildcard>/   a workspace app on a subdomain of CODER_WILDCARD_ACCESS_URL,
#                                    as Coder routes it for a browser without a session: 303 to
#                                    <access URL>/api/v2/applications/auth-redirect?redirect_uri=<app URL>,
#                                    which sends it (307) to /login?redirect=...; GET /login is 200
#                                    "Coder stand-in: sign in". A host that matches the wildcard but
#                                    is no app name is 400. Stand-in behaviour: every well-formed app
#                                    name is taken as an existing, non-public app (real Coder answers
#                                    404 for a workspace it does not have).
# STANDIN_MIGRATE_SECONDS=N makes `coder server` "migrate" for N seconds before
# it listens, like a slow database migration.
# Docs followed: https://coder.com/docs/reference/api/users
#                https://coder.com/docs/reference/cli/server
#                https://coder.com/docs/admin/networking/wildcard-access-url and upstream
#                coderd/workspaceapps/{proxy.go,appurl/appurl.go,db.go} (subdomain app routing)
import hashlib
import http.server
import json
import math
import os
import re
import secrets
import socket
import socketserver
import sys
import threading
import time
import uuid
from urllib.parse import urlencode, urlsplit

VERSION = "@VERSION@"
LOCK = threading.Lock()


def log(msg):
    print(f"coder-standin {VERSION}: {msg}", file=sys.stderr, flush=True)


def sd_notify(state):
    """Tell systemd we are ready (the packaged unit is Type=notify)."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(addr)
        sock.sendall(state.encode())


# Coder's app name: {app or port}[--{agent}]--{workspace}--{user} (appurl.ParseSubdomainAppURL).
_NAME = "[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*"
APP_NAME = re.compile("^(?:.*---)?(%s)(?:--(%s))?--(%s)--(%s)$" % (_NAME, _NAME, _NAME, _NAME))


def app_host_pattern(wildcard):
    """CODER_WILDCARD_ACCESS_URL ("*.apps.example" or "*--apps.example") as a regex whose group 1 is the app name."""
    wildcard = wildcard.strip().lower().split("://")[-1].split(":")[0]
    if not wildcard.startswith("*") or "." not in wildcard:
        return None
    return re.compile("^" + re.escape(wildcard).replace(r"\*", "([^.]+)", 1) + r"\.?(?::\d+)?$", re.I)


def hash_password(password, salt=None):
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 100_000).hex()
    return f"pbkdf2${salt}${digest}"


def check_password(password, stored):
    _, salt, _ = stored.split("$")
    return secrets.compare_digest(hash_password(password, salt), stored)


# Coder's first-user input rules. The email pattern is a conservative form of go-playground's
# "email"; the username is codersdk.NameValid; the password coderd/userpassword.Validate, whose
# entropy is go-password-validator v0.3.0's, re-implemented here (the fixture imports nothing
# from the collection; tests/unit/molecule/test_coder_standin_first_user.py compares the two).
EMAIL = re.compile(r"^[^@\s\"(),:;<>\[\\\]]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$")
USERNAME = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
CHARSETS = ("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "!@$&*", "_-., ",
            "\"#%'()+/:;<=>?[\\]^{|}~")
RUNS = ("0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz")


def entropy(password):
    base = sum(len(cs) for cs in CHARSETS if set(cs) & set(password))
    base += len([ch for ch in set(password) if not any(ch in cs for cs in CHARSETS)])
    chars = list(re.sub(r"(.)\1\1+", r"\1\1", password, flags=re.S))  # a run counts twice
    for run in RUNS + tuple(r[::-1] for r in RUNS):  # so does a sequence (upstream's scan, quirks kept)
        i = count = 0
        while i < len(chars):
            for ch in run:
                if i >= len(chars):
                    break
                count = count + 1 if chars[i] == ch else 0
                if count > 2:
                    del chars[i]
                elif count:
                    i += 1
            i += 1
    return len("".join(chars).encode()) * math.log2(base) if base > 1 else 0.0


def first_user_validations(body):
    """Coder's 400 answer to POST /api/v2/users/first for this body, or None (its order: fields, then password)."""
    values = {f: body.get(f) if isinstance(body.get(f), str) else "" for f in ("email", "username", "password")}
    bad = [(f, "required") for f in values if not values[f]]
    if values["email"] and not EMAIL.match(values["email"]):
        bad.append(("email", "email"))
    name = values["username"]
    if name and (len(name) > 32 or name in ("new", "create") or not USERNAME.match(name)):
        bad.append(("username", "username"))
    if bad:
        return {"message": "Validation failed.", "validations": [
            {"field": f, "detail": 'Validation failed for tag "%s" with value: "%s"' % (tag, values[f])} for f, tag in bad]}
    return None


def password_validation(password):
    if entropy(password) < 52:
        detail = "insecure password, try using a longer password"
    elif len(password.encode()) > 64:
        detail = "password must be no more than 64 characters"
    else:
        return None
    return {"message": "Password not strong enough!", "validations": [{"field": "password", "detail": detail}]}


class Store:
    def __init__(self, url):
        import psycopg2  # only the server needs it; `coder --version` must not

        self.psycopg2 = psycopg2
        self.conn = psycopg2.connect(url, connect_timeout=10)
        self.conn.autocommit = False
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS standin_migrations ("
                " version text NOT NULL, started_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS standin_users ("
                " id uuid PRIMARY KEY, email text UNIQUE NOT NULL, username text UNIQUE NOT NULL,"
                " name text NOT NULL DEFAULT '', hashed_password text NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS standin_api_keys ("
                " token text PRIMARY KEY, user_id uuid NOT NULL REFERENCES standin_users(id),"
                " created_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute("INSERT INTO standin_migrations (version) VALUES (%s)", (VERSION,))
            cur.execute("SELECT count(*) FROM standin_migrations WHERE version = %s", (VERSION,))
            if cur.fetchone()[0] < 1:
                raise RuntimeError("write check on standin_migrations failed")

    def query(self, sql, args=()):
        with LOCK, self.conn, self.conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "coder-standin"
    store = None
    access_url = ""
    app_host = None

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

    def reply(self, status, body):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        ctype = "text/plain" if isinstance(body, str) else "application/json"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def user_count(self):
        return self.store.query("SELECT count(*) FROM standin_users")[0][0]

    def redirect(self, status, location):
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def subdomain_app(self):
        """Answer a request for a workspace app on the wildcard host; False when it is no such request."""
        host = (self.headers.get("Host") or "").strip()
        access = urlsplit(self.access_url)
        match = self.app_host.match(host) if self.app_host else None
        if not match or host.split(":")[0].lower() == (access.hostname or "").lower():
            return False
        if not APP_NAME.match(match.group(1)):
            self.reply(400, {"message": "Invalid Application URL: could not parse subdomain %r" % match.group(1)})
            return True
        app_url = "%s://%s%s" % (access.scheme or "https", host, self.path)
        self.redirect(303, "%s/api/v2/applications/auth-redirect?%s" % (
            self.access_url.rstrip("/"), urlencode({"redirect_uri": app_url})))
        return True

    def do_GET(self):
        if self.subdomain_app():
            return None
        if self.path.startswith("/api/v2/applications/auth-redirect?"):
            # No session: Coder's API key middleware sends the browser to the login page.
            return self.redirect(307, "%s/login?%s" % (self.access_url.rstrip("/"), urlencode(
                {"message": "You are signed out or your session has expired. Please sign in again to continue.",
                 "redirect": self.path})))
        if self.path.split("?")[0] == "/login":
            data = b"<!doctype html><title>Coder</title><p>Coder stand-in: sign in</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        if self.path == "/healthz":
            return self.reply(200, "OK")
        if self.path == "/api/v2/buildinfo":
            return self.reply(200, {
                "version": f"v{VERSION}+standin",
                "external_url": "https://github.com/coder/coder",
                "dashboard_url": self.access_url,
                "deployment_id": "00000000-0000-0000-0000-000000000000",
                "telemetry": os.environ.get("CODER_TELEMETRY_ENABLE", "true") == "true",
                "workspace_proxy": False,
            })
        if self.path == "/api/v2/users/first":
            if self.user_count() > 0:
                return self.reply(200, {"message": "The initial user has already been created!"})
            return self.reply(404, {"message": "The initial user has not been created!"})
        if self.path == "/api/v2/users/me":
            token = self.headers.get("Coder-Session-Token", "")
            rows = self.store.query(
                "SELECT u.id, u.email, u.username, u.name FROM standin_users u"
                " JOIN standin_api_keys k ON k.user_id = u.id WHERE k.token = %s", (token,))
            if not rows:
                return self.reply(401, {"message": "You must be logged in to do this."})
            uid, email, username, name = rows[0]
            return self.reply(200, {"id": str(uid), "email": email, "username": username, "name": name,
                                    "status": "active", "roles": [{"name": "owner"}]})
        return self.reply(404, {"message": "Route not found (Coder stand-in)."})

    def do_POST(self):
        body = self.body()
        if body is None:
            return self.reply(400, {"message": "Request body must be valid JSON."})
        if self.path == "/api/v2/users/first":
            refused = first_user_validations(body)
            if refused:
                return self.reply(400, refused)
            if self.user_count() > 0:
                return self.reply(409, {"message": "The initial user has already been created."})
            refused = password_validation(body["password"])
            if refused:
                return self.reply(400, refused)
            uid = uuid.uuid4()
            self.store.query(
                "INSERT INTO standin_users (id, email, username, name, hashed_password) VALUES (%s, %s, %s, %s, %s)",
                (str(uid), body["email"], body["username"], body.get("name") or "", hash_password(body["password"])))
            return self.reply(201, {"user_id": str(uid), "organization_id": str(uuid.uuid4())})
        if self.path == "/api/v2/users/login":
            rows = self.store.query("SELECT id, hashed_password FROM standin_users WHERE email = %s",
                                    (body.get("email", ""),))
            if not rows or not check_password(body.get("password", ""), rows[0][1]):
                return self.reply(401, {"message": "Incorrect email or password."})
            token = f"{secrets.token_hex(5)}-{secrets.token_hex(11)}"
            self.store.query("INSERT INTO standin_api_keys (token, user_id) VALUES (%s, %s)", (token, str(rows[0][0])))
            return self.reply(201, {"session_token": token})
        return self.reply(404, {"message": "Route not found (Coder stand-in)."})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def cache_dir():
    # Coder's default cache directory (where Terraform keeps its providers):
    # CODER_CACHE_DIRECTORY, else systemd's CACHE_DIRECTORY (the packaged unit
    # has CacheDirectory=coder), else the user's cache directory + /coder.
    for name in ("CODER_CACHE_DIRECTORY", "CACHE_DIRECTORY"):
        if os.environ.get(name):
            return os.environ[name]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ.get("HOME", "/"), ".cache")
    return os.path.join(base, "coder")


def server():
    address = os.environ.get("CODER_HTTP_ADDRESS", "127.0.0.1:3000")
    cache = cache_dir()
    try:  # Coder creates it at start and exits when it cannot
        os.makedirs(cache, mode=0o700, exist_ok=True)
    except OSError as exc:
        log(f"create cache directory: {exc}")
        return 1
    access_url = os.environ.get("CODER_ACCESS_URL", "")
    pg_url = os.environ.get("CODER_PG_CONNECTION_URL", "")
    if not pg_url:
        log("CODER_PG_CONNECTION_URL is empty; the stand-in has no built-in PostgreSQL")
        return 1
    try:
        store = Store(pg_url)
    except Exception as exc:  # any connection or permission error stops the server
        log(f"connect to postgres: {type(exc).__name__}: {str(exc).strip()}")
        return 1
    migrate = int(os.environ.get("STANDIN_MIGRATE_SECONDS", "0") or 0)
    if migrate > 0:
        log(f"running database migrations ({migrate}s)")
        time.sleep(migrate)
    host, _, port = address.rpartition(":")
    Handler.store = store
    Handler.access_url = access_url
    Handler.app_host = app_host_pattern(os.environ.get("CODER_WILDCARD_ACCESS_URL", ""))
    httpd = Server((host.strip("[]") or "0.0.0.0", int(port)), Handler)
    log(f"listening on http://{address}, access URL {access_url!r}")
    sd_notify("READY=1")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:  # SIGINT is the unit's KillSignal
        pass
    return 0


def main(argv):
    if argv[:1] in (["--version"], ["version"]):
        print(f"Coder v{VERSION}+standin (a test stand-in, not Coder)")
        print("https://github.com/coder/coder")
        return 0
    if argv[:1] == ["server"]:
        return server()
    print("coder (stand-in): only `coder --version` and `coder server` are implemented", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
