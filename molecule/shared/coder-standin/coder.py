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
# Templates (the template block below; every call needs Coder-Session-Token, else 401;
# stored in PostgreSQL like the users):
#   POST /api/v2/users/logout        200 {"message"}; the session token stops working
#   GET  /api/v2/licenses            the licences added, an owner's session required
#   POST /api/v2/licenses            {"license": "<jwt>"} -> 201; stand-in: any 3-part token with a JSON payload
#   CODER_OIDC_ISSUER_URL            fetches <issuer>/.well-known/openid-configuration at start and
#                                    exits 1 (logging why) when it fails or names another issuer
#   CODER_OIDC_GROUP_MAPPING, ..._USER_ROLE_MAPPING, ..._AUTH_URL_PARAMS, CODER_SUPPORT_LINKS
#                                    parsed as JSON at start (exit 1 when one does not parse)
#   GET  /api/v2/organizations/{org} 200 Organization ({org}: id, name or "default")
#   POST /api/v2/files               raw application/x-tar or application/zip body: 201 {"hash": <file id>},
#                                    200 with the same id when this user uploaded the same bytes before
#   POST /api/v2/organizations/{org}/templateversions
#                                    {file_id, storage_method "file", provisioner, name, message, template_id,
#                                    user_variable_values [{name, value}]}: 201 TemplateVersion whose
#                                    job.status is "pending"; the import job then runs in the background
#                                    and ends "succeeded" or "failed" with Coder's job.error: a required
#                                    variable without a value ("required template variables need values: a"),
#                                    a value for a variable the template does not declare (Terraform's
#                                    "Value for undeclared variable"), a data "coder_external_auth" id that no
#                                    CODER_EXTERNAL_AUTH_<n>_ID configures ("external auth provider \"x\" is
#                                    not configured"). The top-level *.tf are parsed with regexes.
#   GET  /api/v2/templateversions/{id}
#                                    200 TemplateVersion
#   GET  /api/v2/organizations/{org}/templates[/{name}]
#                                    200 [Template] / Template, 404 when there is no such template
#   POST /api/v2/organizations/{org}/templates
#                                    {name, display_name, description, icon, template_version_id}: 201 Template;
#                                    409 for a taken name; 400 when the version's import did not succeed
#   GET  /api/v2/templates/{id}[/versions]
#                                    200 Template / [TemplateVersion] (oldest first)
#   PATCH /api/v2/templates/{id}/versions
#                                    {id}: 200 {"message"}; 400 for another template's or a failed version
#   PATCH /api/v2/templates/{id}     UpdateTemplateMeta: 200 Template, 304 when nothing changes (empty
#                                    strings keep the current value)
# CODER_PROMETHEUS_ENABLE=true  serves Prometheus's text format on CODER_PROMETHEUS_ADDRESS
#                                (default 127.0.0.1:2112), on every path as Coder's metrics server does
#                                (its docs curl "/"; Prometheus asks /metrics), with three metric names
#                                Coder exports (coder.com/docs/admin/integrations/prometheus, "Available
#                                metrics"): coderd_api_requests_processed_total{code,method,path} (stand-in:
#                                the request path, not Coder's route pattern), coderd_api_concurrent_requests
#                                and coderd_api_active_users_duration_hour (stand-in: users with a session).
#                                The scrape answers from memory, as Coder's registry does: the users
#                                gauge is refreshed in the background (a failed database query keeps its
#                                last value, as Coder's ActiveUsers loop does), so /metrics answers 200
#                                while PostgreSQL is down
# STANDIN_MIGRATE_SECONDS=N makes `coder server` "migrate" for N seconds before
# it listens, like a slow database migration.
# Docs followed: https://coder.com/docs/reference/api/users
#                https://coder.com/docs/admin/integrations/prometheus
#                https://coder.com/docs/reference/api/{files,templates,organizations}
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
# Answers by (code, method, path) and requests in progress, for the metrics server.
# (Its own lock: LOCK is held around database queries.)
METRICS_LOCK = threading.Lock()
REQUESTS = {}
CONCURRENT = 0


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

    def log_request(self, code="-", size="-"):
        # Every answer passes here (send_response): counted for the metrics server.
        key = (str(getattr(code, "value", code)), self.command, self.path.split("?")[0])
        with METRICS_LOCK:
            REQUESTS[key] = REQUESTS.get(key, 0) + 1
        super().log_request(code, size)

    def handle_one_request(self):
        global CONCURRENT
        with METRICS_LOCK:
            CONCURRENT += 1
        try:
            super().handle_one_request()
        finally:
            with METRICS_LOCK:
                CONCURRENT -= 1

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
        if template_api(self, "GET"):  # the template block below
            return None
        if licence_api(self, "GET"):  # the licence block below
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
        if template_api(self, "POST"):  # the template block below (files are no JSON)
            return None
        if licence_api(self, "POST"):  # the licence block below
            return None
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
            return self.reply(201, {"user_id": str(uid), "organization_id": str(_org(self, "default")[0])})
        if self.path == "/api/v2/users/login":
            rows = self.store.query("SELECT id, hashed_password FROM standin_users WHERE email = %s",
                                    (body.get("email", ""),))
            if not rows or not check_password(body.get("password", ""), rows[0][1]):
                return self.reply(401, {"message": "Incorrect email or password."})
            token = f"{secrets.token_hex(5)}-{secrets.token_hex(11)}"
            self.store.query("INSERT INTO standin_api_keys (token, user_id) VALUES (%s, %s)", (token, str(rows[0][0])))
            return self.reply(201, {"session_token": token})
        return self.reply(404, {"message": "Route not found (Coder stand-in)."})


# ---------------------------------------------------------------------------
# Templates (g448.devenv.coder's coder_templates): files, template versions
# with their import job, templates. Shapes follow Coder's API reference
# (docs/reference/api/{files,templates,organizations}.md, codersdk/{files,
# templateversions,templates,organizations}.go). Stored in PostgreSQL like the
# users, so they survive restarts, dumps and restores. Every call needs a
# Coder-Session-Token. The "import job" does not run Terraform: it parses the
# top-level *.tf with regexes and refuses what Coder's import refuses.
# ---------------------------------------------------------------------------
TPL_NAME = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")  # codersdk.NameValid (template names)
TPL_VERSION_NAME = re.compile(r"^[a-zA-Z0-9]+(?:[_.-][a-zA-Z0-9]+)*$")  # codersdk.TemplateVersionNameValid
TPL_DISPLAY_NAME = re.compile(r"^[^\s](.*[^\s])?$")
TPL_MAX_FILE = 10 << 20
# Template settings kept as given by PATCH /api/v2/templates/{id} (UpdateTemplateMeta), with Coder's defaults.
TPL_SETTINGS = {
    "default_ttl_ms": 0, "activity_bump_ms": 3600000, "allow_user_autostart": True, "allow_user_autostop": True,
    "allow_user_cancel_workspace_jobs": False, "failure_ttl_ms": 0, "time_til_dormant_ms": 0,
    "time_til_dormant_autodelete_ms": 0, "require_active_version": False, "deprecation_message": "",
    "max_port_share_level": "owner", "autostop_requirement": {"days_of_week": [], "weeks": 1},
    "autostart_requirement": {"days_of_week": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]},
}
TPL_ADJECTIVES = ("brave", "calm", "eager", "gentle", "happy", "jolly", "keen", "lucid", "merry", "quirky")
TPL_NAMES = ("babbage", "curie", "dijkstra", "hopper", "knuth", "lovelace", "ritchie", "shannon", "turing", "wozniak")


def template_setup(store):
    """Create the template tables and the default organization (once)."""
    store.query(
        "CREATE TABLE IF NOT EXISTS standin_organizations ("
        " id uuid PRIMARY KEY, name text UNIQUE NOT NULL, is_default boolean NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now())")
    store.query(
        "INSERT INTO standin_organizations (id, name, is_default) SELECT %s, 'coder', true"
        " WHERE NOT EXISTS (SELECT 1 FROM standin_organizations WHERE is_default)", (str(uuid.uuid4()),))
    store.query(
        "CREATE TABLE IF NOT EXISTS standin_files ("
        " id uuid PRIMARY KEY, hash text NOT NULL, created_by uuid NOT NULL, mimetype text NOT NULL,"
        " data bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (hash, created_by))")
    store.query(
        "CREATE TABLE IF NOT EXISTS standin_templates ("
        " id uuid PRIMARY KEY, organization_id uuid NOT NULL, name text NOT NULL, display_name text NOT NULL,"
        " description text NOT NULL, icon text NOT NULL, active_version_id uuid NOT NULL,"
        " settings text NOT NULL, created_by uuid NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),"
        " UNIQUE (organization_id, name))")
    store.query(
        "CREATE TABLE IF NOT EXISTS standin_template_versions ("
        " id uuid PRIMARY KEY, template_id uuid, organization_id uuid NOT NULL, name text NOT NULL,"
        " message text NOT NULL, file_id uuid NOT NULL, user_variable_values text NOT NULL,"
        " job_id uuid NOT NULL, job_status text NOT NULL, job_error text NOT NULL DEFAULT '',"
        " job_started_at timestamptz, job_completed_at timestamptz, created_by uuid NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())")


def _ts(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _hcl_blocks(text, kind, label_count):
    """(labels, body) of each top-level `kind "a" ["b"] { ... }` block (braces matched, strings skipped)."""
    head = re.compile(r'(?m)^\s*%s%s\s*\{' % (re.escape(kind), r'\s+"([^"]+)"' * label_count))
    for match in head.finditer(text):
        depth, i, quote = 1, match.end(), False
        while i < len(text) and depth:
            ch = text[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == '"':
                    quote = False
            elif ch == '"':
                quote = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            i += 1
        yield match.groups(), text[match.end():i - 1]


def _hcl_attr(body, name):
    """The expression of a top-level attribute of a block body, or None."""
    depth, out = 0, None
    for line in body.splitlines():
        if depth == 0:
            match = re.match(r"^\s*%s\s*=\s*(.+?)\s*$" % re.escape(name), line)
            if match:
                out = match.group(1)
        depth += line.count("{") - line.count("}")
    return out


def template_import(tf_sources, user_values, configured_auth):
    """The import job's error for these *.tf texts, or "" when Coder would import it.

    Coder's order: variable values first (provisionerdserver UpdateJob: "required
    template variables need values: a, b"; a value for a variable the template does not
    declare is Terraform's "Value for undeclared variable"), then the external auth
    ids at completion (provisionerdserver CompleteJob: "external auth provider %q is
    not configured")."""
    if not tf_sources:
        return "no Terraform files (*.tf) at the top level of the template archive"
    text = "\n".join(tf_sources)
    declared = {}
    for (name,), body in _hcl_blocks(text, "variable", 1):
        default = _hcl_attr(body, "default")
        declared[name] = None if default is None else default.strip('"')
    values = {v.get("name"): v.get("value", "") for v in user_values}
    missing = [n for n, d in declared.items() if d is None and values.get(n, "") == ""]
    if missing:
        return "required template variables need values: %s" % ", ".join(missing)
    for name in values:
        if name not in declared:
            return ('Value for undeclared variable: a variable named "%s" was assigned a value, but the root '
                    'module does not declare a variable of that name.' % name)
    for (_, label), body in _hcl_blocks(text, "data", 2):
        if _ != "coder_external_auth":
            continue
        expr = (_hcl_attr(body, "id") or "").strip()
        var = re.match(r"^var\.([A-Za-z0-9_-]+)$", expr)
        auth_id = (values.get(var.group(1)) or declared.get(var.group(1)) or "") if var else expr.strip('"')
        if auth_id not in configured_auth:
            return 'external auth provider "%s" is not configured' % auth_id
    return ""


def configured_external_auth():
    return {v for k, v in os.environ.items() if re.match(r"^CODER_EXTERNAL_AUTH_[0-9]+_ID$", k)}


def _run_import(store, version_id):
    """The import job: pending → running → succeeded or failed (job.error), in the background."""
    import io
    import tarfile

    store.query("UPDATE standin_template_versions SET job_status = 'running', job_started_at = now() WHERE id = %s",
                (version_id,))
    rows = store.query("SELECT f.data, f.mimetype, v.user_variable_values FROM standin_template_versions v"
                       " JOIN standin_files f ON f.id = v.file_id WHERE v.id = %s", (version_id,))
    data, mimetype, values = rows[0]
    sources = []
    try:
        if mimetype == "application/zip":
            import zipfile
            with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
                for name in archive.namelist():
                    if re.match(r"^(\./)?[^/]+\.tf$", name):
                        sources.append(archive.read(name).decode())
        else:
            with tarfile.open(fileobj=io.BytesIO(bytes(data)), mode="r:") as archive:
                for member in archive.getmembers():
                    if member.isfile() and re.match(r"^(\./)?[^/]+\.tf$", member.name):
                        sources.append(archive.extractfile(member).read().decode())
        error = template_import(sources, json.loads(values), configured_external_auth())
    except Exception as exc:  # an archive Coder cannot read fails the job too
        error = "unpack template archive: %s" % exc
    store.query("UPDATE standin_template_versions SET job_status = %s, job_error = %s, job_completed_at = now(),"
                " updated_at = now() WHERE id = %s", ("failed" if error else "succeeded", error, version_id))
    log("template version %s import %s%s" % (version_id, "failed: " if error else "succeeded", error))


def _session(handler):
    """The session's user (id, username, name), or None after answering 401."""
    token = handler.headers.get("Coder-Session-Token", "")
    rows = handler.store.query("SELECT u.id, u.username, u.name FROM standin_users u"
                               " JOIN standin_api_keys k ON k.user_id = u.id WHERE k.token = %s", (token,)) if token else []
    if not rows:
        handler.reply(401, {"message": "You must be logged in to do this."})
        return None
    return rows[0]


def _org(handler, ref):
    """The organization row (id, name, created_at, is_default) for an id, a name or "default"."""
    if ref == "default":
        rows = handler.store.query("SELECT id, name, created_at, is_default FROM standin_organizations WHERE is_default")
    else:
        rows = handler.store.query("SELECT id, name, created_at, is_default FROM standin_organizations"
                                   " WHERE id::text = %s OR name = %s", (ref, ref))
    return rows[0] if rows else None


def _org_json(row):
    return {"id": str(row[0]), "name": row[1], "display_name": row[1], "description": "", "icon": "",
            "created_at": _ts(row[2]), "updated_at": _ts(row[2]), "is_default": row[3]}


def _not_found(handler):
    handler.reply(404, {"message": "Resource not found or you do not have access to this resource"})


TPL_VERSION_COLS = ("v.id, v.template_id, v.organization_id, v.name, v.message, v.file_id, v.job_id, v.job_status,"
                    " v.job_error, v.job_started_at, v.job_completed_at, v.created_at, v.updated_at,"
                    " u.id, u.username, u.name")


def _version(handler, version_id):
    rows = handler.store.query("SELECT %s FROM standin_template_versions v JOIN standin_users u ON u.id = v.created_by"
                               " WHERE v.id::text = %%s" % TPL_VERSION_COLS, (version_id,))
    return _version_json(rows[0]) if rows else None


def _version_json(row):
    (vid, tid, oid, name, message, fid, jid, status, error, started, completed, created, updated,
     uid, username, uname) = row
    return {
        "id": str(vid), "template_id": str(tid) if tid else None, "organization_id": str(oid), "name": name,
        "message": message, "created_at": _ts(created), "updated_at": _ts(updated), "readme": "",
        "created_by": {"id": str(uid), "username": username, "name": uname, "avatar_url": ""},
        "archived": False, "warnings": [],
        "job": {"id": str(jid), "created_at": _ts(created), "started_at": _ts(started), "completed_at": _ts(completed),
                "canceled_at": None, "error": error, "error_code": "", "status": status, "worker_id": None,
                "file_id": str(fid), "tags": {"owner": "", "scope": "organization"}, "queue_position": 0,
                "queue_size": 0, "organization_id": str(oid), "type": "template_version_import",
                "input": {"template_version_id": str(vid)}, "available_workers": [], "metadata": {}},
    }


TPL_COLS = ("t.id, t.organization_id, o.name, t.name, t.display_name, t.description, t.icon, t.active_version_id,"
            " t.settings, t.created_at, t.updated_at, u.id, u.username")


def _template(handler, where, args):
    rows = handler.store.query(
        "SELECT %s FROM standin_templates t JOIN standin_organizations o ON o.id = t.organization_id"
        " JOIN standin_users u ON u.id = t.created_by WHERE %s ORDER BY t.name" % (TPL_COLS, where), args)
    return [_template_json(r) for r in rows]


def _template_json(row):
    tid, oid, oname, name, display, desc, icon, active, settings, created, updated, uid, username = row
    out = {"id": str(tid), "organization_id": str(oid), "organization_name": oname,
           "organization_display_name": oname, "organization_icon": "", "name": name, "display_name": display,
           "description": desc, "icon": icon, "active_version_id": str(active), "provisioner": "terraform",
           "active_user_count": 0, "build_time_stats": {}, "deprecated": False,
           "created_at": _ts(created), "updated_at": _ts(updated), "created_by_id": str(uid),
           "created_by_name": username, "use_classic_parameter_flow": False}
    out.update(dict(TPL_SETTINGS, **json.loads(settings)))
    out["deprecated"] = bool(out["deprecation_message"])
    return out


def _json_body(handler):
    body = handler.body()
    if body is None:
        handler.reply(400, {"message": "Request body must be valid JSON."})
    return body


def _ready(version):
    """Why a template version cannot become a template's active version, or None."""
    status = version["job"]["status"]
    if status in ("pending", "running"):
        return "The provided template version is still being imported."
    if status != "succeeded":
        return "The provided template version %s has failed to import: %s" % (version["id"], version["job"]["error"])
    return None


def template_api(handler, method):
    """Answer the template endpoints; False when the path is none of them."""
    path = handler.path.split("?")[0]
    parts = path.strip("/").split("/")[2:] if path.startswith("/api/v2/") else []
    rest = "/".join(parts)
    routes = (
        ("POST", r"users/logout"), ("POST", r"files"), ("GET", r"organizations/[^/]+"),
        ("POST", r"organizations/[^/]+/templateversions"), ("GET", r"templateversions/[^/]+"),
        ("GET", r"organizations/[^/]+/templates(/[^/]+)?"), ("POST", r"organizations/[^/]+/templates"),
        ("GET", r"templates/[^/]+(/versions)?"), ("PATCH", r"templates/[^/]+(/versions)?"),
    )
    if not any(m == method and re.fullmatch(r, rest) for m, r in routes):
        return False
    shape = (method,) + tuple(p if p in ("users", "logout", "files", "organizations", "templateversions",
                                         "templates", "versions") and not (i == 1 and parts[0] != "users") else "*"
                              for i, p in enumerate(parts))
    user = _session(handler)
    if user is None:
        return True
    store = handler.store
    if shape == ("POST", "users", "logout"):
        store.query("DELETE FROM standin_api_keys WHERE token = %s", (handler.headers.get("Coder-Session-Token"),))
        handler.reply(200, {"message": "Logged out!"})
        return True
    if shape == ("POST", "files"):
        ctype = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in ("application/x-tar", "application/zip"):
            handler.reply(400, {"message": 'Unsupported content type header "%s".' % ctype})
            return True
        length = int(handler.headers.get("Content-Length") or 0)
        if length > TPL_MAX_FILE:
            handler.reply(413, {"message": "File too large."})
            return True
        data = handler.rfile.read(length)
        digest = hashlib.sha256(data).hexdigest()
        rows = store.query("SELECT id FROM standin_files WHERE hash = %s AND created_by = %s", (digest, str(user[0])))
        if rows:
            handler.reply(200, {"hash": str(rows[0][0])})
            return True
        fid = str(uuid.uuid4())
        store.query("INSERT INTO standin_files (id, hash, created_by, mimetype, data) VALUES (%s, %s, %s, %s, %s)",
                    (fid, digest, str(user[0]), ctype, store.psycopg2.Binary(data)))
        handler.reply(201, {"hash": fid})
        return True
    if parts[0] == "organizations":
        org = _org(handler, parts[1])
        if org is None:
            _not_found(handler)
            return True
        if len(parts) == 2:
            handler.reply(200, _org_json(org))
        elif parts[2:] == ["templateversions"]:
            _post_version(handler, user, org)
        elif method == "POST":
            _post_template(handler, user, org)
        elif len(parts) == 3:
            handler.reply(200, _template(handler, "t.organization_id = %s", (str(org[0]),)))
        else:
            found = _template(handler, "t.organization_id = %s AND t.name = %s", (str(org[0]), parts[3]))
            handler.reply(200, found[0]) if found else _not_found(handler)
        return True
    if parts[0] == "templateversions":
        version = _version(handler, parts[1])
        handler.reply(200, version) if version else _not_found(handler)
        return True
    found = _template(handler, "t.id::text = %s", (parts[1],))
    if not found:
        _not_found(handler)
        return True
    template = found[0]
    if shape == ("GET", "templates", "*"):
        handler.reply(200, template)
    elif shape == ("GET", "templates", "*", "versions"):
        rows = store.query("SELECT %s FROM standin_template_versions v JOIN standin_users u ON u.id = v.created_by"
                           " WHERE v.template_id = %%s ORDER BY v.created_at" % TPL_VERSION_COLS, (template["id"],))
        handler.reply(200, [_version_json(r) for r in rows])
    elif shape == ("PATCH", "templates", "*", "versions"):
        body = _json_body(handler)
        if body is None:
            return True
        version = _version(handler, str(body.get("id") or ""))
        if version is None or version["template_id"] != template["id"]:
            handler.reply(400, {"message": "The provided template version doesn't belong to the specified template."})
            return True
        refused = _ready(version)
        if refused:
            handler.reply(400, {"message": refused})
            return True
        store.query("UPDATE standin_templates SET active_version_id = %s, updated_at = now() WHERE id = %s",
                    (version["id"], template["id"]))
        handler.reply(200, {"message": "Updated the active template version!"})
    else:
        _patch_template(handler, template)
    return True


def _post_version(handler, user, org):
    body = _json_body(handler)
    if body is None:
        return
    bad = []
    if body.get("storage_method") != "file":
        bad.append({"field": "storage_method", "detail": 'Validation failed for tag "oneof" with value: "%s"'
                    % body.get("storage_method", "")})
    if body.get("provisioner") not in ("terraform", "echo"):
        bad.append({"field": "provisioner", "detail": 'Validation failed for tag "oneof" with value: "%s"'
                    % body.get("provisioner", "")})
    name = body.get("name") or ""
    if name and (len(name) > 64 or not TPL_VERSION_NAME.match(name)):
        bad.append({"field": "name", "detail": 'Validation failed for tag "template_version_name" with value: "%s"' % name})
    values = body.get("user_variable_values") or []
    if not isinstance(values, list) or not all(isinstance(v, dict) and isinstance(v.get("value", ""), str)
                                               for v in values):
        bad.append({"field": "user_variable_values", "detail": "a list of {\"name\", \"value\"} with string values"})
    if bad:
        return handler.reply(400, {"message": "Validation failed.", "validations": bad})
    if not handler.store.query("SELECT 1 FROM standin_files WHERE id::text = %s", (str(body.get("file_id") or ""),)):
        return handler.reply(404, {"message": "File not found."})
    template_id = body.get("template_id") or None
    if template_id and not _template(handler, "t.id::text = %s AND t.organization_id = %s", (template_id, str(org[0]))):
        return handler.reply(404, {"message": 'Template with ID "%s" not found.' % template_id})
    if not name:
        name = "%s_%s%d" % (secrets.choice(TPL_ADJECTIVES), secrets.choice(TPL_NAMES), secrets.randbelow(10))
    if template_id and handler.store.query(
            "SELECT 1 FROM standin_template_versions WHERE template_id = %s AND name = %s", (template_id, name)):
        return handler.reply(409, {"message": 'A template version with name "%s" already exists for this template.' % name,
                                   "validations": [{"field": "name", "detail": "This value is already in use and should be unique."}]})
    vid = str(uuid.uuid4())
    handler.store.query(
        "INSERT INTO standin_template_versions (id, template_id, organization_id, name, message, file_id,"
        " user_variable_values, job_id, job_status, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s)",
        (vid, template_id, str(org[0]), name, body.get("message") or "", str(body["file_id"]), json.dumps(values),
         str(uuid.uuid4()), str(user[0])))
    response = _version(handler, vid)
    threading.Thread(target=_run_import, args=(handler.store, vid), daemon=True).start()
    return handler.reply(201, response)


def _meta_validations(body):
    bad = []
    if "name" in body and not (isinstance(body["name"], str) and len(body["name"]) <= 32 and TPL_NAME.match(body["name"])):
        bad.append({"field": "name", "detail": 'Validation failed for tag "template_name" with value: "%s"' % body["name"]})
    display = body.get("display_name") or ""
    if display and (len(display) > 64 or not TPL_DISPLAY_NAME.match(display)):
        bad.append({"field": "display_name",
                    "detail": 'Validation failed for tag "template_display_name" with value: "%s"' % display})
    if len(body.get("description") or "") > 128:
        bad.append({"field": "description", "detail": "Validation failed for tag \"lt\" with value: \"...\""})
    return bad


def _post_template(handler, user, org):
    body = _json_body(handler)
    if body is None:
        return
    bad = _meta_validations(dict(body, name=body.get("name", "")))
    if bad:
        return handler.reply(400, {"message": "Validation failed.", "validations": bad})
    if _template(handler, "t.organization_id = %s AND t.name = %s", (str(org[0]), body["name"])):
        return handler.reply(409, {"message": 'Template with name "%s" already exists.' % body["name"],
                                   "validations": [{"field": "name", "detail": "This value is already in use and should be unique."}]})
    version = _version(handler, str(body.get("template_version_id") or ""))
    if version is None:
        return handler.reply(404, {"message": 'Template version "%s" not found.' % body.get("template_version_id")})
    if version["template_id"]:
        return handler.reply(409, {"message": "Template version %s is already part of a template" % version["id"]})
    refused = _ready(version)
    if refused:
        return handler.reply(400, {"message": refused})
    tid = str(uuid.uuid4())
    settings = {k: body[k] for k in TPL_SETTINGS if k in body}
    handler.store.query(
        "INSERT INTO standin_templates (id, organization_id, name, display_name, description, icon, active_version_id,"
        " settings, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (tid, str(org[0]), body["name"], body.get("display_name") or "", body.get("description") or "",
         body.get("icon") or "", version["id"], json.dumps(settings), str(user[0])))
    handler.store.query("UPDATE standin_template_versions SET template_id = %s WHERE id = %s", (tid, version["id"]))
    return handler.reply(201, _template(handler, "t.id = %s", (tid,))[0])


def _patch_template(handler, template):
    """UpdateTemplateMeta: empty strings and absent fields keep the current value; 304 when nothing changes."""
    body = _json_body(handler)
    if body is None:
        return
    bad = _meta_validations(body)
    if bad:
        return handler.reply(400, {"message": "Validation failed.", "validations": bad})
    new = dict(template)
    for key in ("name", "display_name", "description", "icon"):
        if body.get(key):
            new[key] = body[key]
    for key in TPL_SETTINGS:
        if key in body:
            new[key] = body[key]
    if new == template:
        handler.send_response(304)
        handler.end_headers()
        return None
    handler.store.query(
        "UPDATE standin_templates SET name = %s, display_name = %s, description = %s, icon = %s, settings = %s,"
        " updated_at = now() WHERE id = %s",
        (new["name"], new["display_name"], new["description"], new["icon"],
         json.dumps({k: new[k] for k in TPL_SETTINGS}), template["id"]))
    return handler.reply(200, _template(handler, "t.id = %s", (template["id"],))[0])


def _do_patch(self):
    if not template_api(self, "PATCH"):
        self.reply(404, {"message": "Route not found (Coder stand-in)."})


Handler.do_PATCH = _do_patch
# --- end of the template block ----------------------------------------------


# ---------------------------------------------------------------------------
# OIDC discovery and licences (g448.devenv.coder's coder_oidc_issuer_url and
# coder_license).
# OIDC: with CODER_OIDC_ISSUER_URL set, Coder builds its OIDC provider at start
# (cli/server.go createOIDCConfig -> go-oidc NewProvider): it fetches
# <issuer without its trailing slash>/.well-known/openid-configuration and
# exits when that fails or the document's "issuer" is not exactly the
# configured URL. The stand-in does the same, with the system's CA store.
# Licences (docs/reference/api/enterprise.md, enterprise/coderd/licenses.go):
#   GET  /api/v2/licenses    200 [License], an owner's session required
#   POST /api/v2/licenses    {"license": "<jwt>"} -> 201 License; 400 when it is no licence
# License: {"id": int, "uuid": the JWT's "jti" claim when it is a UUID (else a
# new one), "uploaded_at", "claims": the JWT's payload}. Stand-in behaviour:
# any three-part token whose middle part is base64url JSON is accepted (real
# Coder verifies the signature with Coder's key and reads the features).
# ---------------------------------------------------------------------------
def oidc_discovery():
    """None when OIDC is off or its discovery document is right, else Coder's error text."""
    import urllib.request

    issuer = os.environ.get("CODER_OIDC_ISSUER_URL", "")
    if not issuer:
        return None
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - the operator's issuer URL
            doc = json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        return 'Get "%s": %s %s' % (url, exc.code, exc.reason)
    except Exception as exc:  # unreachable, TLS, not JSON
        return 'Get "%s": %s' % (url, exc)
    got = doc.get("issuer") if isinstance(doc, dict) else None
    if got != issuer:
        return 'oidc: issuer did not match the issuer returned by provider, expected "%s" got "%s"' % (issuer, got)
    return None


# Coder's JSON-valued options (serpent.Struct flags): a value that is no JSON
# of the right shape stops `coder server` while it reads its options.
JSON_OPTIONS = {"CODER_OIDC_GROUP_MAPPING": dict, "CODER_OIDC_USER_ROLE_MAPPING": dict,
                "CODER_OIDC_AUTH_URL_PARAMS": dict, "CODER_SUPPORT_LINKS": list}


def json_options_error():
    """None when every JSON-valued option set in the environment parses, else Coder-like error text."""
    for name, kind in JSON_OPTIONS.items():
        raw = os.environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            value = json.loads(raw)
        except ValueError as exc:
            return "parse %s: %s" % (name, exc)
        if not isinstance(value, kind):
            return "parse %s: json: cannot unmarshal into %s" % (name, kind.__name__)
    return None


def licence_setup(store):
    store.query(
        "CREATE TABLE IF NOT EXISTS standin_licenses ("
        " id serial PRIMARY KEY, uuid uuid NOT NULL, jwt text UNIQUE NOT NULL, claims text NOT NULL,"
        " uploaded_at timestamptz NOT NULL DEFAULT now())")


def _licence_claims(token):
    import base64

    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or not all(parts):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def _licence_json(row):
    return {"id": row[0], "uuid": str(row[1]), "uploaded_at": _ts(row[3]), "claims": json.loads(row[2])}


def licence_api(handler, method):
    """Answer /api/v2/licenses; False for any other path."""
    if handler.path.split("?")[0] != "/api/v2/licenses" or method not in ("GET", "POST"):
        return False
    if _session(handler) is None:
        return True
    store = handler.store
    if method == "GET":
        rows = store.query("SELECT id, uuid, claims, uploaded_at FROM standin_licenses ORDER BY id")
        handler.reply(200, [_licence_json(row) for row in rows])
        return True
    body = handler.body() or {}
    claims = _licence_claims(body.get("license"))
    if claims is None:
        handler.reply(400, {"message": "Invalid license", "detail": "license must be a JWT"})
        return True
    try:
        lid = str(uuid.UUID(str(claims.get("jti", ""))))
    except ValueError:
        lid = str(uuid.uuid4())
    if store.query("SELECT 1 FROM standin_licenses WHERE jwt = %s", (body["license"],)):
        handler.reply(409, {"message": "License already exists."})
        return True
    rows = store.query("INSERT INTO standin_licenses (uuid, jwt, claims) VALUES (%s, %s, %s)"
                       " RETURNING id, uuid, claims, uploaded_at", (lid, body["license"], json.dumps(claims)))
    log("licence %s added" % lid)
    handler.reply(201, _licence_json(rows[0]))
    return True
# --- end of the OIDC and licence block --------------------------------------


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# Seconds between two refreshes of the active-users gauge (Coder's loop ticks
# every few minutes; shorter here so that a scenario sees its own logins).
ACTIVE_USERS_REFRESH_SECONDS = 15.0


class MetricsServer(Server):
    """The metrics server; active_users is the gauge's last value, read from the database in the
    background (refresh_active_users), never during a scrape."""
    active_users = 0


def refresh_active_users(httpd, store):
    """One refresh of the active-users gauge. A query that fails (PostgreSQL down) leaves the last
    value, as Coder's loop skips a failed tick; False then."""
    try:
        users = int(store.query("SELECT count(DISTINCT user_id) FROM standin_api_keys")[0][0])
    except Exception as exc:  # any database error: keep the last value
        log(f"metrics: active users not refreshed: {type(exc).__name__}: {str(exc).strip()}")
        return False
    with METRICS_LOCK:
        httpd.active_users = users
    return True


def _refresh_loop(httpd, store, stop):
    while not stop.wait(ACTIVE_USERS_REFRESH_SECONDS):
        refresh_active_users(httpd, store)


class MetricsHandler(http.server.BaseHTTPRequestHandler):
    """CODER_PROMETHEUS_ADDRESS: Prometheus's text exposition format on every GET path, from memory
    (no database query: it answers while PostgreSQL is down, as Coder's does)."""
    server_version = "coder-standin"

    def log_message(self, fmt, *args):
        pass  # one line per scrape would drown the journal

    def do_GET(self):
        with METRICS_LOCK:
            requests, concurrent, users = sorted(REQUESTS.items()), CONCURRENT, self.server.active_users
        lines = ["# HELP coderd_api_active_users_duration_hour The number of users that have been active within the last hour.",
                 "# TYPE coderd_api_active_users_duration_hour gauge",
                 "coderd_api_active_users_duration_hour %d" % users,
                 "# HELP coderd_api_concurrent_requests The number of concurrent API requests.",
                 "# TYPE coderd_api_concurrent_requests gauge",
                 "coderd_api_concurrent_requests %d" % concurrent,
                 "# HELP coderd_api_requests_processed_total The total number of processed API requests",
                 "# TYPE coderd_api_requests_processed_total counter"]
        lines += ['coderd_api_requests_processed_total{code="%s",method="%s",path="%s"} %d'
                  % (_label(code), _label(method), _label(path), count) for (code, method, path), count in requests]
        data = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def metrics_server(store):
    """Start the metrics server when CODER_PROMETHEUS_ENABLE is true; None when off."""
    if os.environ.get("CODER_PROMETHEUS_ENABLE", "false").strip().lower() != "true":
        return None
    address = os.environ.get("CODER_PROMETHEUS_ADDRESS", "127.0.0.1:2112")
    host, _, port = address.rpartition(":")
    httpd = MetricsServer((host.strip("[]") or "0.0.0.0", int(port)), MetricsHandler)
    refresh_active_users(httpd, store)
    httpd.refresh_stop = threading.Event()
    threading.Thread(target=_refresh_loop, args=(httpd, store, httpd.refresh_stop), daemon=True).start()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    log(f"serving Prometheus metrics on http://{address}")
    return httpd


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
    option_error = json_options_error()  # the OIDC and licence block
    if option_error:
        log(option_error)
        return 1
    oidc_error = oidc_discovery()  # the OIDC and licence block
    if oidc_error:
        log(f"create oidc config: configure oidc provider: {oidc_error}")
        return 1
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
    template_setup(store)
    licence_setup(store)
    host, _, port = address.rpartition(":")
    Handler.store = store
    Handler.access_url = access_url
    Handler.app_host = app_host_pattern(os.environ.get("CODER_WILDCARD_ACCESS_URL", ""))
    httpd = Server((host.strip("[]") or "0.0.0.0", int(port)), Handler)
    metrics_server(store)
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
