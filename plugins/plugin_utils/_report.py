# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is the private implementation of the report
# filters (plugins/filter/<name>.py, one file per filter). It is not a public
# API and may change without notice.
"""The report filters of playbooks/report.yml: the company's service card and its risk audit,
from the evidence the playbook gathers on the live hosts.

The playbook only collects raw facts (command output, module results, file contents) into
one ``evidence`` dict per host; every judgement is made here, so it is unit tested:

* ``coder_env_summary``: the non-secret settings of Coder's env file, and the names (never the
  values) of entries that look like long-lived tokens.
* ``prometheus_metrics``: a Prometheus text-format file (node_exporter's textfile collector)
  as ``{name: value}`` or ``{name: [{labels, value}, ...]}``.
* ``systemctl_show``: ``systemctl show`` output of one unit as a dict.
* ``service_card``: the card's fields, each filled with evidence or "unknown: <reason>".
* ``risk_audit``: the five risks of the card's section 10, each PASS, WARN or FAIL with the
  evidence behind the verdict (N/A when the host holds none of the risk's components).

The shape of ``evidence`` is documented in playbooks/report.yml, which builds it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import re
import time
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

# Coder's own default when CODER_MAX_TOKEN_LIFETIME is not set: 100 years
# (https://coder.com/docs/reference/cli/server#--max-token-lifetime).
CODER_DEFAULT_MAX_TOKEN_LIFETIME_HOURS = 876000.0
CODER_DEFAULT_MAX_ADMIN_TOKEN_LIFETIME_HOURS = 168.0

# Settings of the env file that are not secret and that the card or the audit needs.
ENV_PLAIN_KEYS = (
    "CODER_ACCESS_URL", "CODER_WILDCARD_ACCESS_URL", "CODER_HTTP_ADDRESS", "CODER_OIDC_ISSUER_URL",
    "CODER_OIDC_EMAIL_DOMAIN", "CODER_OIDC_ALLOW_SIGNUPS", "CODER_OIDC_SIGN_IN_TEXT", "CODER_DISABLE_PASSWORD_AUTH",
    "CODER_MAX_TOKEN_LIFETIME", "CODER_DEFAULT_TOKEN_LIFETIME", "CODER_MAX_ADMIN_TOKEN_LIFETIME",
    "CODER_PROMETHEUS_ENABLE", "CODER_PROMETHEUS_ADDRESS", "CODER_TELEMETRY_ENABLE", "CODER_SECURE_AUTH_COOKIE",
    "CODER_STRICT_TRANSPORT_SECURITY", "CODER_DISABLE_PATH_APPS",
)
ENV_EXTERNAL_AUTH = re.compile(r"^CODER_EXTERNAL_AUTH_(\d+)_(ID|TYPE|DISPLAY_NAME|AUTH_URL|TOKEN_URL|VALIDATE_URL|REGEX)$")
# Names of entries that hold a credential by design (the values are never read here).
ENV_KNOWN_SECRETS = re.compile(
    r"^(CODER_PG_CONNECTION_URL|CODER_OIDC_CLIENT_SECRET|CODER_OIDC_CLIENT_ID|CODER_EXTERNAL_TOKEN_ENCRYPTION_KEYS"
    r"|CODER_EXTERNAL_AUTH_\d+_CLIENT_(ID|SECRET))$")
# Entry names that suggest a stored token, and value prefixes of long-lived tokens:
# GitLab (glpat-, gloas-, gldt-, glrt-, glptt-), GitHub (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_),
# Bitbucket app passwords (ATBB), Coder API keys are "<10 chars>-<22 chars>".
TOKEN_NAME = re.compile(r"(TOKEN|_PAT$|_PAT_|PERSONAL_ACCESS|API_KEY|APIKEY|PASSWORD|SESSION)", re.I)
TOKEN_NAME_ALLOWED = re.compile(
    r"^CODER_(MAX_TOKEN_LIFETIME|DEFAULT_TOKEN_LIFETIME|MAX_ADMIN_TOKEN_LIFETIME|EXTERNAL_TOKEN_ENCRYPTION_KEYS"
    r"|EXTERNAL_AUTH_\d+_TOKEN_URL|DISABLE_PASSWORD_AUTH|DISABLE_SESSION_EXPIRY_REFRESH|SESSION_DURATION)$")
TOKEN_VALUE = re.compile(r"(glpat-|gloas-|gldt-|glrt-|glptt-|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|ATBB)[A-Za-z0-9_\-]{8,}")
CODER_API_KEY = re.compile(r"^[A-Za-z0-9]{10}-[A-Za-z0-9]{22}$")

GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)")
GO_UNIT_HOURS = {"ns": 1e-9 / 3600, "us": 1e-6 / 3600, "\u00b5s": 1e-6 / 3600, "ms": 1e-3 / 3600, "s": 1 / 3600.0,
                 "m": 1 / 60.0, "h": 1.0}

# The backup job's status file (g448.devenv.backup, Prometheus textfile format).
M_LAST_SUCCESS = "g448_backup_last_success_timestamp_seconds"
M_LAST_RUN = "g448_backup_last_run_timestamp_seconds"
M_LAST_RUN_OK = "g448_backup_last_run_success"
M_SIZE = "g448_backup_last_snapshot_size_bytes"
M_ADDED = "g448_backup_last_snapshot_added_bytes"
M_CHECK_TIME = "g448_backup_check_last_run_timestamp_seconds"
M_CHECK_OK = "g448_backup_check_last_success"

# The workspace_host role's record of the isolation-weakening settings it was told to accept
# (workspace_host_allow_unsafe): {"accepted": [{"id", "setting", "risk"}, ...]}.
UNSAFE_RECORD = "/etc/g448/workspace-host-unsafe.json"

GROUPS = ("coder_db", "coder_server", "coder_proxy", "coder_workspace_hosts", "coder_backup")
WORKSPACE_LABEL = "coder.workspace_id"
# A workspace risk is PASS only on the evidence of a workspace container; without one it is unknown.
NO_WORKSPACE = "unknown: no workspace container on this host to inspect"

# The deployment's Vault paths (README, "Interfaces between the roles") and the card rows they back.
VAULT_ROWS = (
    ("Coder admin login", "secret/coder/admin"),
    ("Database password", "secret/coder/db"),
    ("Workspace template Git tokens (GitLab OAuth app of external auth)", "secret/coder/gitlab"),
    ("OIDC client (Authentik)", "secret/coder/oidc"),
    ("Database encryption keys (external tokens)", "secret/coder/dbcrypt"),
    ("TLS certificate and key", "secret/coder/tls"),
    ("Backup repository password", "secret/coder/backup"),
)

RISKS = (
    ("workspace_persistence", "Workspace persistence", "coder_workspace_hosts"),
    ("resource_exhaustion", "Resource exhaustion", "coder_workspace_hosts"),
    ("shared_host", "Source code on shared host", "coder_workspace_hosts"),
    ("pat_proliferation", "PAT proliferation", "coder_server"),
    ("backups", "Backup of workspace state", "coder_backup"),
)


# --------------------------------------------------------------------------- helpers
def _d(value):
    return value if isinstance(value, dict) else {}


def _l(value):
    return list(value) if isinstance(value, (list, tuple)) else []


def _s(value):
    return "" if value is None else str(value)


def _num(value):
    """A policy number as a float, whether it came as a number or as its text (ansible-core 2.17
    templates "{{ 26 | float }}" nested in a dict var to the string "26.0"); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(_s(value).strip())
    except ValueError:
        return None


def unknown(reason):
    return "unknown: %s" % reason


def go_duration_hours(text):
    """Hours in a Go duration ("720h", "1h30m", "90m0s"); None when it is not one."""
    text = _s(text).strip()
    if not text:
        return None
    if text in ("0", "+0", "-0"):
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    parts = GO_DURATION.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        return None
    return sign * sum(float(n) * GO_UNIT_HOURS[u] for n, u in parts)


def _fmt_hours(hours):
    if hours is None:
        return "?"
    if hours >= 48 and hours % 24 == 0:
        return "%dh (%d days)" % (hours, hours // 24)
    return ("%dh" % hours) if float(hours).is_integer() else ("%.2fh" % hours)


def parse_time(value):
    """Epoch seconds from an RFC 3339 string (Vault's nanoseconds included) or a number; None otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = _s(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    match = re.match(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", text)
    if not match:
        return None
    day, clock, frac, zone = match.groups()
    stamp = datetime.datetime.fromisoformat("%sT%s" % (day, clock))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hh, mm = int(zone[1:3]), int(zone[-2:])
        stamp -= sign * datetime.timedelta(hours=hh, minutes=mm)
    seconds = stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
    return seconds + (float(frac) if frac else 0.0)


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _age(epoch, now):
    seconds = max(0.0, now - epoch)
    if seconds < 3600:
        return "%d min" % (seconds // 60)
    if seconds < 2 * 86400:
        return "%.1f h" % (seconds / 3600)
    return "%d days" % (seconds // 86400)


def _now(evidence):
    now = _d(evidence).get("now")
    return float(now) if isinstance(now, (int, float)) and not isinstance(now, bool) else time.time()


def _groups(evidence):
    mine = _l(_d(_d(evidence).get("host")).get("groups"))
    return [g for g in GROUPS if g in mine]


def _truthy(value):
    return _s(value).strip().lower() in ("1", "true", "yes", "on")


def _size(num):
    num = float(num)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if num < 1024 or unit == "TiB":
            return ("%d %s" % (num, unit)) if unit == "B" else ("%.1f %s" % (num, unit))
        num /= 1024.0
    return "%.1f TiB" % num  # pragma: no cover


# --------------------------------------------------------------------- coder_env_summary
def coder_env_summary(content, encoding=None):
    """The safe part of Coder's env file (NAME=value lines).

    ``content`` is the file's text, or its base64 (slurp) with ``encoding='base64'``. Returns
    ``settings`` (plain keys only), ``external_auth`` (id/type/URLs per provider), ``database``
    (host, port, name, user, sslmode: never the password), ``token_like`` (names of entries that
    look like stored tokens) and ``keys`` (every entry name). No secret value is ever returned.
    """
    if isinstance(content, dict):  # a whole slurp result
        encoding = content.get("encoding", encoding)
        content = content.get("content", "")
    text = _s(content)
    if encoding == "base64":
        try:
            text = base64.b64decode(text.strip(), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            raise AnsibleFilterError("coder_env_summary: the content is not valid base64") from None
    settings, providers, names, token_like = {}, {}, [], []
    database = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _sep, value = line.partition("=")
        name = name.strip()
        if name.startswith("export "):
            name = name[len("export "):].strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        names.append(name)
        auth = ENV_EXTERNAL_AUTH.match(name)
        if name in ENV_PLAIN_KEYS:
            settings[name] = value
        elif auth:
            providers.setdefault(int(auth.group(1)), {})[auth.group(2).lower()] = value
        elif name == "CODER_PG_CONNECTION_URL":
            database = _pg_url(value)
        if ENV_KNOWN_SECRETS.match(name) or TOKEN_NAME_ALLOWED.match(name):
            continue
        if TOKEN_VALUE.search(value) or CODER_API_KEY.match(value) or (TOKEN_NAME.search(name) and value):
            token_like.append(name)
    return {
        "settings": settings,
        "external_auth": [dict(providers[i], index=i) for i in sorted(providers)],
        "database": database,
        "token_like": sorted(set(token_like)),
        "keys": names,
    }


def _pg_url(url):
    try:
        parts = urlsplit(url)
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        return {"host": parts.hostname or "", "port": parts.port or 5432, "database": parts.path.lstrip("/"),
                "user": parts.username or "", "sslmode": query.get("sslmode", "")}
    except ValueError:
        return {"error": "the connection URL does not parse"}


# -------------------------------------------------------------------- prometheus_metrics
_PROM_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$")
_PROM_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def prometheus_metrics(content, labels=False):
    """Samples of a Prometheus text-format file.

    Returns ``{name: value}`` (the last sample of each name, labels ignored), or with
    ``labels=True`` ``{name: [{"labels": {...}, "value": v}, ...]}``. Values are floats
    (NaN and +Inf included); comments and malformed lines are skipped.
    """
    out = {}
    for raw in _s(content).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PROM_LINE.match(line)
        if not match:
            continue
        name, label_text, value = match.group(1), match.group(3), match.group(4)
        try:
            number = float(value)
        except ValueError:
            continue
        if labels:
            found = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                     for k, v in _PROM_LABEL.findall(label_text or "")}
            out.setdefault(name, []).append({"labels": found, "value": number})
        else:
            out[name] = number
    return out


# ------------------------------------------------------------------------- systemctl_show
def systemctl_show(content):
    """``systemctl show`` output (``Name=value`` lines) of one unit as a dict; empty values kept."""
    out = {}
    for raw in _s(content).splitlines():
        if not raw.strip():
            if out:
                break  # one unit: the first block
            continue
        name, sep, value = raw.partition("=")
        if sep and re.match(r"^[A-Za-z][A-Za-z0-9]*$", name):
            out[name] = value
    return out


# ----------------------------------------------------------------------- evidence readers
def _listen(evidence):
    return [p for p in _l(_d(evidence).get("listen")) if isinstance(p, dict)]


def _is_loopback(address):
    try:
        return ipaddress.ip_address(_s(address).split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return _s(address) in ("localhost",)


def _open_ports(evidence):
    """(exposed, loopback) lists of "port/proto process" strings."""
    exposed, local = {}, {}
    for item in _listen(evidence):
        port = item.get("port")
        proto = _s(item.get("protocol") or "tcp").replace("6", "")
        owner = _s(item.get("name") or "?")
        key = (int(port) if _s(port).isdigit() else 0, proto)
        target = local if _is_loopback(item.get("address")) else exposed
        target.setdefault(key, set()).add(owner)
    # A port also bound on a public address is exposed, whatever else it binds.
    for key in list(local):
        if key in exposed:
            exposed[key] |= local.pop(key)

    def fmt(found):
        return ["%d/%s %s" % (port, proto, ",".join(sorted(owners))) for (port, proto), owners in sorted(found.items())]
    return fmt(exposed), fmt(local)


def _env(evidence):
    return _d(_d(_d(evidence).get("coder")).get("env"))


def _env_settings(evidence):
    return _d(_env(evidence).get("settings"))


def _docker(evidence):
    return _d(_d(evidence).get("docker"))


def _workspace_containers(evidence):
    return [c for c in _l(_docker(evidence).get("containers")) if isinstance(c, dict)]


def _container_name(container):
    return _s(container.get("Name") or container.get("Id", "")[:12]).lstrip("/")


def _slice(evidence):
    return _d(_docker(evidence).get("slice"))


def _cert(evidence, key="cert"):
    return _d(_d(_d(evidence).get("tls")).get(key))


def _sans(cert):
    return [_s(s).lower() for s in _l(cert.get("subject_alt_name"))]


def _covers(sans, name):
    """Does a SAN list (``DNS:x`` entries) cover ``name`` (one wildcard label allowed)?"""
    name = _s(name).lower().rstrip(".")
    for san in sans:
        if not san.startswith("dns:"):
            continue
        pattern = san[4:]
        if pattern == name:
            return True
        if pattern.startswith("*.") and name.count(".") >= 2 and name.split(".", 1)[1] == pattern[2:]:
            return True
        if pattern.startswith("*.") and name.startswith("*.") and name[2:] == pattern[2:]:
            return True
    return False


def _name_of(dn):
    if isinstance(dn, dict):
        for key in ("commonName", "CN", "organizationName", "O"):
            if dn.get(key):
                return _s(dn[key])
        return ", ".join("%s=%s" % kv for kv in sorted(dn.items())) or "?"
    return _s(dn) or "?"


# ------------------------------------------------------------------------- service_card
def _row(item, value=None, evidence="", reason=None):
    if value is None or value == "" or value == []:
        return {"item": item, "value": unknown(reason or "no evidence gathered"), "evidence": evidence, "known": False}
    return {"item": item, "value": value, "evidence": evidence, "known": True}


def _not_here(group, evidence):
    others = list(_l(_d(_d(evidence).get("inventory")).get(group)))
    where = (" (see the report of %s)" % ", ".join(others)) if others else ""
    return "this host is not in group %s%s" % (group, where)


def _card_public_ips(ev):
    host = _d(ev.get("host"))
    addresses = []
    for address in _l(host.get("addresses")):
        try:
            addresses.append(ipaddress.ip_address(_s(address).split("%", maxsplit=1)[0]))
        except ValueError:
            continue
    public = [str(a) for a in addresses if a.is_global]
    private = [str(a) for a in addresses if not a.is_global and not a.is_loopback and not a.is_link_local]
    resolved = [_s(a) for a in _l(_d(ev.get("site")).get("resolved"))]
    site = _s(_d(ev.get("site")).get("host"))
    bits = []
    if resolved:
        bits.append("%s resolves to %s" % (site, ", ".join(resolved)))
    if public:
        return _row("Public IP(s)", ", ".join(public),
                    "; ".join(bits + ["global addresses on the host's interfaces"]))
    if resolved and any(ipaddress.ip_address(r).is_global for r in resolved if _valid_ip(r)):
        return _row("Public IP(s)", ", ".join(resolved),
                    "; ".join(bits + ["the host itself has only %s (NAT in front)" % (", ".join(private) or "none")]))
    reason = "the host has no global address (%s) and %s" % (
        ", ".join(private) or "none", ("%s resolves to %s" % (site, ", ".join(resolved))) if resolved
        else ("%s does not resolve from the host" % site if site else "no site host is set"))
    return _row("Public IP(s)", None, "interfaces and getent on the host", reason)


def _valid_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _card_tls(ev, groups):
    if "coder_proxy" not in groups:
        return _row("TLS cert", None, reason=_not_here("coder_proxy", ev))
    tls = _d(ev.get("tls"))
    cert = _cert(ev)
    if not cert:
        return _row("TLS cert", None, "TLS handshake on 127.0.0.1:443",
                    "no certificate was read (%s)" % (_s(tls.get("error")) or "no answer on port 443"))
    site = _s(_d(ev.get("site")).get("host"))
    wildcard = _s(_d(ev.get("site")).get("wildcard")) or ("*." + site if site else "")
    sans = _sans(cert)
    app_sans = _sans(_cert(ev, "app_cert")) or sans
    not_after = parse_time(cert.get("not_after_epoch")) or _x509_time(cert.get("not_after"))
    days = "?" if not_after is None else "%d days left" % ((not_after - _now(ev)) // 86400)
    value = "issuer %s; subject %s; SANs %s; wildcard %s %s; expires %s (%s)" % (
        _name_of(cert.get("issuer")), _name_of(cert.get("subject")),
        ", ".join(s[4:] if s.startswith("dns:") else s for s in sans) or "none",
        wildcard or "?", "covered" if wildcard and _covers(app_sans, wildcard) else "NOT covered",
        _iso(not_after) if not_after else "?", days)
    return _row("TLS cert", value, "certificate served for %s on 127.0.0.1:443%s" % (
        site or "the site host", "" if not _cert(ev, "app_cert") else " and for a workspace-app name"))


def _x509_time(text):
    """community.crypto's ASN.1 time "20270101000000Z" as epoch seconds."""
    match = re.match(r"^(\d{14})Z$", _s(text))
    if not match:
        return parse_time(text)
    stamp = datetime.datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


def _card_coder_version(ev, groups):
    if "coder_server" not in groups:
        return _row("Container image / version", None, reason=_not_here("coder_server", ev))
    coder = _d(ev.get("coder"))
    container = _d(coder.get("container"))
    package = _s(coder.get("package_version"))
    running = _s(_d(coder.get("buildinfo")).get("version"))
    bits = []
    if container.get("image"):
        bits.append("container image %s (%s)" % (container["image"], container.get("status") or "?"))
    if package:
        bits.append("Debian package coder %s" % package)
    if not bits:
        return _row("Container image / version", None, "dpkg-query and docker inspect on the host",
                    "neither the coder package nor a Coder container is installed")
    value = "; ".join(bits) + ("; running %s" % running if running else "; not answering /api/v2/buildinfo (%s)"
                               % (_s(_d(coder.get("buildinfo")).get("error")) or "no answer"))
    return _row("Container image / version", value, "dpkg-query / docker inspect and GET /api/v2/buildinfo")


def _card_proxy(ev, groups):
    if "coder_proxy" not in groups:
        return _row("Reverse proxy", None, reason=_not_here("coder_proxy", ev))
    proxy = _d(ev.get("proxy"))
    version = _s(proxy.get("version")).split(" ", maxsplit=1)[0]
    if not version:
        return _row("Reverse proxy", None, "caddy version on the host",
                    "caddy does not answer (%s)" % (_s(proxy.get("error")) or "not installed"))
    upstream = _s(_env_settings(ev).get("CODER_HTTP_ADDRESS"))
    value = "Caddy %s (service %s)%s" % (version, _s(proxy.get("service_state")) or "?",
                                         ", in front of Coder on %s" % upstream if upstream else "")
    return _row("Reverse proxy", value, "caddy version, systemctl")


def _card_provisioner(ev, groups):
    if "coder_workspace_hosts" not in groups:
        return _row("Workspace provisioner", None, reason=_not_here("coder_workspace_hosts", ev))
    docker = _docker(ev)
    info = _d(docker.get("info"))
    if not info.get("ServerVersion"):
        return _row("Workspace provisioner", None, "docker info on the host",
                    "Docker does not answer (%s)" % (_s(docker.get("error")) or "not installed"))
    userns = any("name=userns" in _s(o) for o in _l(info.get("SecurityOptions")))
    remap = _s(_d(docker.get("daemon")).get("userns-remap"))
    value = "Docker %s, userns-remap %s, cgroup driver %s, containers in %s" % (
        info["ServerVersion"], ("on (%s)" % remap if remap else "on") if userns else "OFF",
        info.get("CgroupDriver") or "?", _s(_d(docker.get("daemon")).get("cgroup-parent")) or "Docker's default cgroup")
    return _row("Workspace provisioner", value, "docker info, /etc/docker/daemon.json")


def _card_workspaces(ev, groups):
    if "coder_workspace_hosts" not in groups:
        return _row("Active workspaces", None, reason=_not_here("coder_workspace_hosts", ev))
    docker = _docker(ev)
    if not _d(docker.get("info")).get("ServerVersion"):
        return _row("Active workspaces", None, "docker ps on the host", "Docker does not answer")
    containers = _workspace_containers(ev)
    running = [c for c in containers if _d(c.get("State")).get("Running")]
    volumes = _l(docker.get("volumes"))
    value = "%d running (%d workspace containers, %d home volumes)" % (len(running), len(containers), len(volumes))
    return _row("Active workspaces", value, "containers and volumes labelled %s" % WORKSPACE_LABEL)


def _card_database(ev, groups):
    if "coder_db" not in groups:
        return _row("Database", None, reason=_not_here("coder_db", ev))
    pg = _d(ev.get("postgres"))
    version = _s(pg.get("version"))
    if not version:
        return _row("Database", None, "postgresql_info on the host",
                    "PostgreSQL does not answer (%s)" % (_s(pg.get("error")) or "not installed"))
    name = _s(pg.get("database")) or "coder"
    db = _d(_d(pg.get("databases")).get(name))
    methods = {}
    for rule in _l(pg.get("hba")):
        rule = _d(rule)
        if rule.get("error"):
            continue
        dbs = _l(rule.get("database"))
        if dbs and not any(d in (name, "all", "sameuser") for d in dbs):
            continue
        where = "local" if rule.get("type") == "local" else ("%s %s" % (rule.get("type"), rule.get("address") or "")).strip()
        methods.setdefault(_s(rule.get("auth_method")), []).append(where)
    auth = "; ".join("%s (%s)" % (m, ", ".join(w)) for m, w in sorted(methods.items())) or "no pg_hba rule read"
    size = db.get("size")
    value = "PostgreSQL %s; database %s %s, owner %s; auth: %s; password_encryption %s" % (
        version, name, _size(size) if isinstance(size, (int, float)) or _s(size).isdigit() else "(absent)",
        db.get("owner") or "?", auth, _s(pg.get("password_encryption")) or "?")
    return _row("Database", value, "postgresql_info, pg_hba_file_rules")


def _card_ports(ev):
    exposed, local = _open_ports(ev)
    if not exposed and not local:
        return _row("Open ports", None, "ss on the host", _s(_d(ev).get("listen_error")) or "no listening socket was read")
    value = "exposed: %s; loopback only: %s" % (", ".join(exposed) or "none", ", ".join(local) or "none")
    return _row("Open ports", value, "listening sockets and their processes (ss -tulpn)")


def _secret_rows(ev):
    vault = _d(ev.get("vault"))
    policy = _d(ev.get("policy"))
    max_days = _num(policy.get("secret_max_age_days"))
    now = _now(ev)
    rows = []
    for label, path in VAULT_ROWS:
        if not vault.get("configured"):
            rows.append(dict(_row(label, None, reason=_s(vault.get("reason")) or "no Vault address"), path=path))
            continue
        if vault.get("error"):
            rows.append(dict(_row(label, None, reason="Vault could not be read: %s" % vault["error"]), path=path))
            continue
        meta = _d(vault.get("secrets")).get(path)
        if meta is None:
            rows.append(dict(_row(label, None, reason="the secret does not exist in Vault"), path=path))
            continue
        updated = parse_time(_d(meta).get("updated_time"))
        if updated is None:
            rows.append(dict(_row(label, None, reason="the metadata has no updated_time"), path=path))
            continue
        age_days = (now - updated) / 86400.0
        state = ""
        if isinstance(max_days, (int, float)) and not isinstance(max_days, bool):
            state = "; within the %d-day rotation policy" % max_days if age_days <= max_days else \
                "; OVERDUE: older than the %d-day rotation policy" % max_days
        value = "%s (%s ago, version %s%s)" % (
            _iso(updated), _age(updated, now), _d(meta).get("current_version", "?"), state)
        rows.append(dict(_row(label, value, "KV v2 metadata updated_time"), path=path,
                         overdue=bool(state.startswith("; OVERDUE"))))
    pat = _pat_checks(ev)
    if "coder_server" in _groups(ev):
        providers = _l(_env(ev).get("external_auth"))
        value = None
        if providers:
            value = "none stored: Git credentials come from external auth (%s) as short-lived OAuth tokens" % ", ".join(
                "%s/%s" % (p.get("id", "?"), p.get("type", "?")) for p in providers)
            if any(ok is False for ok, _evidence in pat):
                value += "; but see the PAT proliferation risk"
        rows.append(dict(_row("Per-user GitLab/GitHub PATs (in workspaces)", value, "Coder env file",
                              "no external auth provider is configured, so developers must bring their own tokens"),
                         path="(none: external auth)"))
    else:
        rows.append(dict(_row("Per-user GitLab/GitHub PATs (in workspaces)", None,
                              reason=_not_here("coder_server", ev)), path="(none: external auth)"))
    return rows


# The rows of the card's authentication section, in the card's order.
AUTH_ROWS = ("End-user login", "Admin login", "Password login", "MFA", "Token lifetimes", "Workspace SSH keys")


def _auth_rows(ev, groups):
    if "coder_server" not in groups:
        reason = _not_here("coder_server", ev)
        return [_row(i, None, reason=reason) for i in AUTH_ROWS]
    env = _env(ev)
    if env.get("error") or not env.get("keys"):
        reason = "Coder's env file was not read (%s)" % (_s(env.get("error")) or "empty")
        return [_row(i, None, reason=reason) for i in AUTH_ROWS]
    s = _d(env.get("settings"))
    issuer = _s(s.get("CODER_OIDC_ISSUER_URL"))
    disabled = _truthy(s.get("CODER_DISABLE_PASSWORD_AUTH"))
    if issuer:
        domains = s.get("CODER_OIDC_EMAIL_DOMAIN")
        login = "OIDC, issuer %s%s" % (issuer, ", email domains %s" % domains if domains else "")
    else:
        login = "local accounts (no OIDC issuer is set)"
    admin_meta = _d(_d(_d(ev.get("vault")).get("secrets")).get("secret/coder/admin"))
    admin = "Coder owner account with a password%s; owners keep password login even when it is disabled" % (
        " from Vault secret/coder/admin" if admin_meta else "")
    password = ("disabled for members (CODER_DISABLE_PASSWORD_AUTH=true)" if disabled
                else "enabled (CODER_DISABLE_PASSWORD_AUTH=%s)" % (s.get("CODER_DISABLE_PASSWORD_AUTH") or "unset"))
    if issuer:
        mfa = _row("MFA", None, "Coder env file",
                   "Coder has no MFA of its own; with OIDC it is whatever the identity provider (%s) enforces"
                   % (urlsplit(issuer).hostname or issuer))
    else:
        mfa = _row("MFA", "none: Coder's password login has no second factor", "Coder env file (no OIDC issuer)")
    lifetimes = "max %s, default %s, admin max %s" % (
        s.get("CODER_MAX_TOKEN_LIFETIME") or "unset (Coder's default: 100 years)",
        s.get("CODER_DEFAULT_TOKEN_LIFETIME") or "unset", s.get("CODER_MAX_ADMIN_TOKEN_LIFETIME") or "unset")
    return [
        _row("End-user login", login, "CODER_OIDC_ISSUER_URL in the Coder env file"),
        _row("Admin login", admin, "Coder env file, Vault metadata"),
        _row("Password login", password, "CODER_DISABLE_PASSWORD_AUTH"),
        mfa,
        _row("Token lifetimes", lifetimes, "CODER_*_TOKEN_LIFETIME"),
        _row("Workspace SSH keys", "generated by Coder per user (coder publickey); Git over HTTPS uses external auth"
             if env.get("external_auth") else "generated by Coder per user (coder publickey)",
             "Coder's documented behaviour; external auth from the env file"),
    ]


def service_card(evidence, owner=None, maturity=None):
    """The card's fields for one host: ``{section: [row, ...]}``.

    Each row is ``{item, value, evidence, known}``; an unknown value reads
    "unknown: <reason>". ``owner`` and ``maturity`` come from the operator (no system
    knows them) and stay unknown when not given.
    """
    ev = _d(evidence)
    if not ev:
        raise AnsibleFilterError("service_card: the evidence must be a dict, got %s" % type(evidence).__name__)
    groups = _groups(ev)
    host = _d(ev.get("host"))
    site = _d(ev.get("site"))
    settings = _env_settings(ev)
    access_url = _s(settings.get("CODER_ACCESS_URL")) or _s(site.get("access_url"))
    header = [
        _row("Public URL", access_url, "CODER_ACCESS_URL in the Coder env file" if settings.get("CODER_ACCESS_URL")
             else "inventory (coder_access_url)", "no access URL is set"),
        _row("Owner", _s(owner) or None, "report_owner", "not recorded on any system; set report_owner"),
        _row("Maturity", _s(maturity) or None, "report_maturity", "not recorded on any system; set report_maturity"),
    ]
    infra = [
        _row("Public hostname", _s(site.get("host")) or (urlsplit(access_url).hostname if access_url else None),
             "caddy_proxy_site_host / CODER_ACCESS_URL", "no site host is set"),
        _card_public_ips(ev),
        _card_ports(ev),
        _card_tls(ev, groups),
        _card_proxy(ev, groups),
        _card_coder_version(ev, groups),
        _row("Host server name", _s(host.get("fqdn")) or _s(host.get("hostname")) or None,
             "hostname -f (inventory name %s)" % _s(host.get("name")), "no host facts"),
        _card_provisioner(ev, groups),
        _card_workspaces(ev, groups),
        _card_database(ev, groups),
    ]
    backup = _backup_summary(ev, groups)
    return {
        "header": header,
        "infrastructure": infra,
        "credentials": _secret_rows(ev),
        "authentication": _auth_rows(ev, groups),
        "backup": backup,
        "dependencies": _dependency_rows(ev, groups),
        "groups": groups,
        "unknown": sorted({r["item"] for rows in (header, infra, _secret_rows(ev), _auth_rows(ev, groups), backup)
                           for r in rows if not r["known"]}),
    }


def _dependency_rows(ev, groups):
    rows = []
    env = _env(ev)
    if "coder_server" in groups and env.get("keys"):
        providers = _l(env.get("external_auth"))
        if providers:
            for p in providers:
                host = urlsplit(_s(p.get("auth_url"))).hostname or "the provider's public service"
                rows.append(_row("Git host (external auth %s)" % p.get("id", "?"), "%s, type %s" % (host, p.get("type", "?")),
                                 "CODER_EXTERNAL_AUTH_%s_*" % p.get("index", "?")))
        else:
            rows.append(_row("Git host (external auth)", "none configured", "Coder env file"))
        issuer = _s(_env_settings(ev).get("CODER_OIDC_ISSUER_URL"))
        rows.append(_row("Identity provider (OIDC)", urlsplit(issuer).hostname if issuer else "none: local accounts",
                         "CODER_OIDC_ISSUER_URL"))
    inv = _d(ev.get("inventory"))
    if inv.get("coder_workspace_hosts"):
        rows.append(_row("Workspace hosts", ", ".join(inv["coder_workspace_hosts"]), "inventory group coder_workspace_hosts"))
    vault = _d(ev.get("vault"))
    rows.append(_row("Vault", vault.get("address") if vault.get("configured") else None, "g448_vault_url",
                     _s(vault.get("reason")) or "no Vault address"))
    return rows


def _backup_summary(ev, groups):
    items = ("Last backup", "Snapshots", "Repository", "Last repository check", "Schedule")
    if "coder_backup" not in groups:
        reason = _not_here("coder_backup", ev)
        return [_row(i, None, reason=reason) for i in items]
    b = _d(ev.get("backup"))
    status = _d(b.get("status"))
    now = _now(ev)
    last = status.get(M_LAST_SUCCESS)
    where = "status file %s" % b.get("status_file", "?")
    rows = []
    if last:
        bits = []
        if b.get("snapshot_id"):
            bits.append("snapshot %s" % _s(b["snapshot_id"])[:12])
        if status.get(M_SIZE) is not None:
            bits.append("%s%s" % (_size(status[M_SIZE]), " (%s new)" % _size(status[M_ADDED])
                                  if status.get(M_ADDED) is not None else ""))
        rows.append(_row("Last backup",
                         "%s (%s ago)%s" % (_iso(last), _age(last, now), "".join(", " + x for x in bits)), where))
    else:
        rows.append(_row("Last backup", None, where, "no successful backup is recorded (%s)" % (
            _s(b.get("status_error")) or "no %s in the status file" % M_LAST_SUCCESS)))
    count = b.get("snapshots")
    if isinstance(count, str) and count.strip().isdigit():  # ansible-core 2.17 templates the count as text
        count = int(count)
    rows.append(_row("Snapshots", "%d" % count if isinstance(count, int) and not isinstance(count, bool) else None,
                     "restic snapshots (read-only, no lock)",
                     _s(b.get("snapshots_error")) or "the snapshot list was not read"))
    rows.append(_row("Repository", _s(b.get("repository")) or None, "RESTIC_REPOSITORY of the backup job",
                     _s(b.get("repository_error")) or "the backup job's configuration was not found"))
    check_time = status.get(M_CHECK_TIME)
    if check_time:
        rows.append(_row("Last repository check", "%s (%s ago): %s" % (
            _iso(check_time), _age(check_time, now), "passed" if status.get(M_CHECK_OK) == 1 else "FAILED"), where))
    else:
        rows.append(_row("Last repository check", None, where, "restic check has not run yet"))
    timers = _d(b.get("timers"))
    unit = "g448-backup.timer"
    timer = _d(timers.get(unit))
    if timer and timer.get("LoadState") != "not-found":
        rows.append(_row("Schedule", "%s %s and %s; next run %s" % (
            unit, timer.get("ActiveState", "?"), timer.get("UnitFileState", "?"),
            _s(timer.get("NextElapseUSecRealtime")) or "none"), "systemctl show"))
    else:
        rows.append(_row("Schedule", None, "systemctl show", "%s is not installed" % unit))
    return rows


# --------------------------------------------------------------------------- risk_audit
def _verdict(checks):
    if any(ok is False for ok, _evidence in checks):
        return "FAIL"
    if any(ok is None for ok, _evidence in checks):
        return "WARN"
    return "PASS"


def _template_home_volume(text):
    """(ok, evidence) for a Terraform template: a docker_volume kept across rebuilds, mounted at /home/coder."""
    text = _s(text)
    volumes = re.findall(r'resource\s+"docker_volume"\s+"([^"]+)"\s*\{', text)
    if not volumes:
        return False, "the template declares no docker_volume resource"
    for name in volumes:
        body = _block_after(text, r'resource\s+"docker_volume"\s+"%s"\s*\{' % re.escape(name))
        kept = re.search(r"lifecycle\s*\{[^}]*ignore_changes\s*=\s*all", body) is not None
        mount = re.search(r'volumes\s*\{[^}]*container_path\s*=\s*"/home/[^"]*"[^}]*volume_name\s*=\s*docker_volume\.%s\.name'
                          % re.escape(name), text) or re.search(
            r'volumes\s*\{[^}]*volume_name\s*=\s*docker_volume\.%s\.name[^}]*container_path\s*=\s*"/home/[^"]*"'
            % re.escape(name), text)
        if mount and kept:
            return True, ("docker_volume.%s is mounted at the home directory and kept across rebuilds "
                          "(lifecycle ignore_changes = all)" % name)
        if mount:
            return False, "docker_volume.%s is the home directory but has no lifecycle ignore_changes = all" % name
    return False, "no docker_volume of the template is mounted at a /home/ path"


def _block_after(text, opener):
    match = re.search(opener, text)
    if not match:
        return ""
    depth, start = 1, match.end()
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start:index]
    return text[start:]


def _persistence_checks(ev):
    checks = []
    template = _d(ev.get("template"))
    if template.get("text"):
        ok, why = _template_home_volume(template["text"])
        checks.append((ok, "template %s: %s" % (template.get("source", "?"), why)))
    else:
        checks.append((None, "the workspace template was not read (%s)" % (_s(template.get("error")) or "no path")))
    containers = _workspace_containers(ev)
    volumes = {_s(_d(v).get("Name")) for v in _l(_docker(ev).get("volumes"))}
    if not containers:
        checks.append((None, NO_WORKSPACE))
    for c in containers:
        homes = [m for m in _l(c.get("Mounts")) if _s(_d(m).get("Destination")).startswith("/home/")]
        named = [m for m in homes if _d(m).get("Type") == "volume"]
        if named:
            labelled = all(_s(m.get("Name")) in volumes for m in named)
            checks.append((True if labelled else None, "%s: home %s on volume %s%s" % (
                _container_name(c), named[0].get("Destination"), named[0].get("Name"),
                "" if labelled else " (the volume has no %s label, so backups may miss it)" % WORKSPACE_LABEL)))
        else:
            checks.append((False, "%s: the home directory is not on a named volume; it is lost with the container"
                           % _container_name(c)))
    return checks


def _limit_checks(ev):
    checks = []
    docker = _docker(ev)
    slice_name = _s(docker.get("slice_name")) or "workspaces.slice"
    sl = _slice(ev)
    if not sl or sl.get("LoadState") == "not-found":
        checks.append((False, "the workspace slice %s is not installed" % slice_name))
    else:
        mem, cpu = _s(sl.get("MemoryMax")), _s(sl.get("CPUQuotaPerSecUSec"))
        capped = mem not in ("", "infinity") and cpu not in ("", "infinity")
        active = sl.get("ActiveState") == "active"
        checks.append((capped and active, "%s is %s with MemoryMax=%s (%s) and CPUQuota %s/s" % (
            slice_name, sl.get("ActiveState", "?"), mem or "?",
            _size(int(mem)) if mem.isdigit() else "no cap", cpu or "?")))
        tasks = _s(sl.get("TasksMax"))
        if not tasks:
            checks.append((None, "%s's TasksMax was not read, so the process cap of all workspaces is unknown" % slice_name))
        else:
            checks.append((tasks.isdigit(), "%s caps the processes of all workspaces together at TasksMax=%s" % (
                slice_name, tasks if tasks.isdigit() else "%s (NO CAP: a fork bomb can exhaust the host)" % tasks)))
    parent = _s(_d(docker.get("daemon")).get("cgroup-parent"))
    if _d(docker.get("info")).get("ServerVersion"):
        checks.append((parent.rstrip("/").endswith(slice_name), "daemon.json cgroup-parent is %s" % (parent or "unset")))
    else:
        checks.append((None, "Docker does not answer, so its cgroup parent is unknown"))
    cgroups = _d(docker.get("container_cgroups"))
    for c in _workspace_containers(ev):
        if not _d(c.get("State")).get("Running"):
            continue
        hc = _d(c.get("HostConfig"))
        missing = [n for n, v in (("memory", hc.get("Memory")), ("cpus", hc.get("NanoCpus") or hc.get("CpuQuota")),
                                  ("pids", hc.get("PidsLimit"))) if not v or v <= 0]
        cgroup = _s(cgroups.get(_s(c.get("Id"))))
        in_slice = None if not cgroup else slice_name in cgroup
        ok = (not missing) and in_slice is not False
        if ok and in_slice is None:
            ok = None
        checks.append((ok, "%s: memory %s, cpus %s, pids %s%s" % (
            _container_name(c), _size(hc["Memory"]) if hc.get("Memory") else "UNLIMITED",
            ("%.2f" % (hc["NanoCpus"] / 1e9)) if hc.get("NanoCpus") else (
                "quota %s" % hc["CpuQuota"] if hc.get("CpuQuota") else "UNLIMITED"),
            hc.get("PidsLimit") if hc.get("PidsLimit") and hc["PidsLimit"] > 0 else "UNLIMITED",
            "" if in_slice else (", cgroup unknown" if in_slice is None else ", OUTSIDE %s" % slice_name))))
    if not any(_d(c.get("State")).get("Running") for c in _workspace_containers(ev)):
        checks.append((None, "unknown: no running workspace container to inspect, so its limits are unproven"))
    return checks


def _isolation_checks(ev):
    checks = []
    docker = _docker(ev)
    info = _d(docker.get("info"))
    if info.get("ServerVersion"):
        userns = any("name=userns" in _s(o) for o in _l(info.get("SecurityOptions")))
        checks.append((userns, "userns-remap is %s (docker info SecurityOptions: %s)" % (
            "on" if userns else "OFF", ", ".join(_s(o) for o in _l(info.get("SecurityOptions"))) or "none")))
    else:
        checks.append((None, "Docker does not answer, so userns-remap is unknown"))
    checks.extend(_daemon_isolation_checks(_d(docker.get("daemon"))))
    checks.extend(_unsafe_record_checks(docker.get("unsafe")))
    containers = _workspace_containers(ev)
    if containers:
        privileged = [_container_name(c) for c in containers if _d(c.get("HostConfig")).get("Privileged")]
        socket = [_container_name(c) for c in containers
                  if any(_s(_d(m).get("Source")).endswith("docker.sock") for m in _l(c.get("Mounts")))]
        checks.append((not privileged, "privileged workspace containers: %s" % (", ".join(privileged) or "none")))
        checks.append((not socket, "workspace containers with the Docker socket: %s" % (", ".join(socket) or "none")))
    else:
        checks.append((None, NO_WORKSPACE))
    rules = _d(docker.get("iptables"))
    chain = _s(docker.get("forward_chain"))
    user = rules.get("DOCKER-USER")
    if user is None:
        checks.append((None, "the DOCKER-USER chain was not read (%s)" % (_s(rules.get("error")) or "iptables failed")))
    else:
        lines = [r for r in _s(user).splitlines() if r.startswith("-A DOCKER-USER")]
        jumps = [r.split(" -j ", 1)[1] for r in lines if " -j " in r]
        filtering = [j for j in jumps if j != "RETURN"]
        ok = bool(filtering) and (not chain or chain in jumps)
        checks.append((ok, "DOCKER-USER: %s" % ("; ".join(lines) or "no rules")))
    host_chain = _s(docker.get("host_chain"))
    if host_chain and rules.get("INPUT") is not None:
        jumps = [r for r in _s(rules.get("INPUT")).splitlines() if r.endswith("-j " + host_chain)]
        checks.append((bool(jumps), "INPUT jumps to %s for workspace traffic to the host: %s" % (
            host_chain, "yes" if jumps else "NO")))
    return checks


def _daemon_isolation_checks(daemon):
    """daemon.json's isolation settings: what Docker applies to every container, named by the role's variables."""
    if not daemon:
        return [(None, "daemon.json was not read, so no-new-privileges, icc and Docker's API sockets are unknown")]
    checks = []
    nnp = daemon.get("no-new-privileges")
    checks.append((nnp is True, "no-new-privileges is %s in daemon.json%s" % (
        "on" if nnp is True else "OFF", "" if nnp is True else " (workspace_host_docker_no_new_privileges)")))
    icc = daemon.get("icc")
    icc_text = "false" if icc is False else ("unset: Docker's default is true" if icc is None else _s(icc).lower())
    checks.append((icc is False, "inter-container communication on the default bridge is %s (daemon.json icc %s)%s" % (
        "off" if icc is False else "ON", icc_text, "" if icc is False else ", see workspace_host_docker_icc")))
    hosts = daemon.get("hosts")
    hosts = [hosts] if isinstance(hosts, str) else _l(hosts)
    tcp = [_s(h) for h in hosts if _s(h).lower().startswith("tcp://")]
    if tcp and daemon.get("tlsverify") is not True:
        checks.append((False, "Docker's API (root on the host) listens on %s without tlsverify "
                              "(workspace_host_docker_extra_options hosts)" % ", ".join(tcp)))
    else:
        where = ", ".join(_s(h) for h in hosts) if hosts else "its default socket only (no hosts in daemon.json)"
        checks.append((True, "Docker's API listens on %s" % where))
    if daemon.get("iptables") is False:
        checks.append((False, "daemon.json iptables is false: forwarded workspace traffic never reaches DOCKER-USER "
                              "(workspace_host_docker_extra_options iptables)"))
    return checks


def _unsafe_record_checks(record):
    """One FAIL per isolation-weakening setting the workspace_host role was told to accept, naming it."""
    record = _d(record)
    accepted = record.get("accepted")
    if not isinstance(accepted, list):
        return [(None, "the record of accepted isolation-weakening settings (%s) was not read (%s)" % (
            UNSAFE_RECORD, _s(record.get("error")) or "no record"))]
    if not accepted:
        return [(True, "no isolation-weakening setting is accepted (workspace_host_allow_unsafe is empty, %s)"
                 % UNSAFE_RECORD)]
    return [(False, "%s is accepted as unsafe (workspace_host_allow_unsafe: %s): %s" % (
        _s(_d(item).get("setting")) or "?", _s(_d(item).get("id")) or "?", _s(_d(item).get("risk")) or "?"))
        for item in accepted]


def _pat_checks(ev):
    checks = []
    env = _env(ev)
    if env.get("error") or not env.get("keys"):
        return [(None, "Coder's env file was not read (%s)" % (_s(env.get("error")) or "empty"))]
    providers = _l(env.get("external_auth"))
    checks.append((bool(providers), "external auth providers: %s" % (", ".join(
        "%s (%s)" % (p.get("id", "?"), p.get("type", "?")) for p in providers) or "none")))
    policy = _num(_d(ev.get("policy")).get("max_token_lifetime_hours"))
    settings = _d(env.get("settings"))
    for key, default in (("CODER_MAX_TOKEN_LIFETIME", CODER_DEFAULT_MAX_TOKEN_LIFETIME_HOURS),
                         ("CODER_MAX_ADMIN_TOKEN_LIFETIME", CODER_DEFAULT_MAX_ADMIN_TOKEN_LIFETIME_HOURS)):
        raw = settings.get(key)
        hours = default if not raw else go_duration_hours(raw)
        if hours is None:
            checks.append((False, "%s=%s is not a duration" % (key, raw)))
        elif not isinstance(policy, (int, float)) or isinstance(policy, bool):
            checks.append((None, "%s is %s; no token lifetime policy is set" % (key, _fmt_hours(hours))))
        else:
            checks.append((hours <= policy, "%s is %s%s, policy at most %s" % (
                key, _fmt_hours(hours), "" if raw else " (unset: Coder's default)", _fmt_hours(policy))))
    token_like = _l(env.get("token_like"))
    checks.append((not token_like, "long-lived tokens stored in the env file: %s" % (
        ", ".join(token_like) + " (names only)" if token_like else "none")))
    return checks


def _backup_checks(ev):
    b = _d(ev.get("backup"))
    status = _d(b.get("status"))
    policy = _d(ev.get("policy"))
    now = _now(ev)
    checks = []
    for unit in ("g448-backup.timer", "g448-backup-check.timer"):
        state = _d(_d(b.get("timers")).get(unit))
        if not state or state.get("LoadState") == "not-found":
            checks.append((False, "%s is not installed" % unit))
        else:
            ok = state.get("ActiveState") == "active" and state.get("UnitFileState") in ("enabled", "enabled-runtime")
            checks.append((ok, "%s is %s and %s" % (unit, state.get("ActiveState", "?"), state.get("UnitFileState", "?"))))
    max_hours = _num(policy.get("backup_max_age_hours"))
    last = status.get(M_LAST_SUCCESS)
    if not status:
        checks.append((False, "no backup status: %s" % (_s(b.get("status_error")) or "the status file is empty")))
    elif not last:
        checks.append((False, "no successful backup is recorded in %s" % b.get("status_file", "the status file")))
    else:
        age = (now - last) / 3600.0
        checks.append((age <= max_hours if isinstance(max_hours, (int, float)) else None,
                       "last successful backup %s (%s ago), policy at most %s" % (
                           _iso(last), _age(last, now), _fmt_hours(max_hours) if max_hours else "unset")))
        run = status.get(M_LAST_RUN)
        if status.get(M_LAST_RUN_OK) == 0 and run:
            checks.append((None, "the last backup run, %s (%s ago), failed" % (_iso(run), _age(run, now))))
    check_time = status.get(M_CHECK_TIME)
    check_ok = status.get(M_CHECK_OK)
    max_days = _num(policy.get("check_max_age_days"))
    if status and check_time:
        fresh = (now - check_time) / 86400.0 <= max_days if isinstance(max_days, (int, float)) else True
        checks.append((False if check_ok != 1 else (True if fresh else None),
                       "last restic check %s (%s ago): %s%s" % (
                           _iso(check_time), _age(check_time, now), "passed" if check_ok == 1 else "FAILED",
                           "" if fresh else ", older than the %d-day policy" % max_days)))
    elif status:
        checks.append((None, "restic check has not run yet"))
    return checks


def risk_audit(evidence):
    """The card's five risks, in its order: ``[{id, title, verdict, evidence: [...]}, ...]``.

    A check that failed makes the risk FAIL; one that could not be evaluated makes it WARN;
    all checks passing make it PASS. A risk whose components are on other hosts is N/A.
    """
    ev = _d(evidence)
    if not ev:
        raise AnsibleFilterError("risk_audit: the evidence must be a dict, got %s" % type(evidence).__name__)
    groups = _groups(ev)
    builders = {"workspace_persistence": _persistence_checks, "resource_exhaustion": _limit_checks,
                "shared_host": _isolation_checks, "pat_proliferation": _pat_checks, "backups": _backup_checks}
    out = []
    for key, title, group in RISKS:
        if group not in groups:
            out.append({"id": key, "title": title, "verdict": "N/A", "evidence": [_not_here(group, ev)]})
            continue
        checks = builders[key](ev)
        out.append({"id": key, "title": title, "verdict": _verdict(checks),
                    "evidence": [("" if ok else "[%s] " % ("FAIL" if ok is False else "WARN")) + text
                                 for ok, text in checks]})
    return out
