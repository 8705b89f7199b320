# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is part of the private implementation of the report
# filters (plugins/filter/<name>.py, one file per filter). It is not a public
# API and may change without notice.
"""The ``service_card`` filter's implementation: the company's service card for one host.

Every field is filled with evidence or reads "unknown: <reason>"; the infrastructure rows are
in _service_card_infra.py, the PAT verdict the credentials section cites is the risk audit's
(_risk_audit.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

from ansible_collections.g448.devenv.plugins.plugin_utils._report_common import (
    M_ADDED, M_CHECK_OK, M_CHECK_TIME, M_LAST_SUCCESS, M_SIZE, _age, _d, _env, _env_settings, _groups, _iso, _l,
    _not_here, _now, _policy, _row, _s, _size,
)
from ansible_collections.g448.devenv.plugins.plugin_utils._report_parsers import parse_time
from ansible_collections.g448.devenv.plugins.plugin_utils._risk_audit import _pat_checks
from ansible_collections.g448.devenv.plugins.plugin_utils._secret_map import card_rows, secret_path
from ansible_collections.g448.devenv.plugins.plugin_utils._service_card_infra import (
    _card_coder_version, _card_database, _card_ports, _card_provisioner, _card_proxy, _card_public_ips, _card_tls,
    _card_workspaces,
)


# The rows of the card's authentication section, in the card's order.
AUTH_ROWS = ("End-user login", "Admin login", "Password login", "MFA", "Token lifetimes", "Workspace SSH keys")


def _truthy(value):
    return _s(value).strip().lower() in ("1", "true", "yes", "on")


def _secret_rows(ev):
    vault = _d(ev.get("vault"))
    max_days = _policy(ev, "secret_max_age_days")
    now = _now(ev)
    rows = []
    # The secrets with a card row in the secret map (playbooks/vars/secret_map.yml), at their paths.
    for label, path in card_rows(_d(vault.get("paths"))):
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
    admin_path = secret_path("admin", _d(_d(ev.get("vault")).get("paths")))
    admin_meta = _d(_d(_d(ev.get("vault")).get("secrets")).get(admin_path))
    admin = "Coder owner account with a password%s; owners keep password login even when it is disabled" % (
        " from Vault " + admin_path if admin_meta else "")
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
    status = _d(b.get("metrics"))
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
            _s(b.get("status_error")) or "no last success in the status file")))
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
    unit = _s((_l(b.get("timer_units")) or list(timers) or ["the backup timer"])[0])
    timer = _d(timers.get(unit))
    if timer and timer.get("LoadState") != "not-found":
        rows.append(_row("Schedule", "%s %s and %s; next run %s" % (
            unit, timer.get("ActiveState", "?"), timer.get("UnitFileState", "?"),
            _s(timer.get("NextElapseUSecRealtime")) or "none"), "systemctl show"))
    else:
        rows.append(_row("Schedule", None, "systemctl show", "%s is not installed" % unit))
    return rows
