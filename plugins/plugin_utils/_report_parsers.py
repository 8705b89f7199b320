# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is part of the private implementation of the report
# filters (plugins/filter/<name>.py, one file per filter). It is not a public
# API and may change without notice.
"""The generic parsers of the report filters: the text the playbook reads on a host, as data.

* ``coder_env_summary``: the non-secret settings of Coder's env file, and the names (never the
  values) of entries that look like long-lived tokens.
* ``prometheus_metrics``: a Prometheus text-format file (node_exporter's textfile collector)
  as ``{name: value}`` or ``{name: [{labels, value}, ...]}``.
* ``systemctl_show``: ``systemctl show`` output of one unit as a dict.
* ``go_duration_hours`` and ``parse_time``: Go durations and RFC 3339 times.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

from ansible_collections.g448.devenv.plugins.plugin_utils._report_common import _s


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

_PROM_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$")
_PROM_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


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
