# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is part of the private implementation of the report
# filters (plugins/filter/<name>.py, one file per filter). It is not a public
# API and may change without notice.
"""The infrastructure section of the service card (_service_card.py): public addresses, open
ports, the TLS certificate, the reverse proxy, Coder's version, the workspace provisioner, the
active workspaces and the database, each a row filled with evidence or "unknown: <reason>".
"""

from __future__ import annotations

import datetime
import ipaddress
import re

from ansible_collections.g448.devenv.plugins.plugin_utils._report_common import (
    WORKSPACE_LABEL, _d, _docker, _env_settings, _iso, _l, _not_here, _now, _row, _s, _size, _workspace_containers,
)
from ansible_collections.g448.devenv.plugins.plugin_utils._report_parsers import parse_time


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
