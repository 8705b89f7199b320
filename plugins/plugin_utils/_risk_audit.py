# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is part of the private implementation of the report
# filters (plugins/filter/<name>.py, one file per filter). It is not a public
# API and may change without notice.
"""The ``risk_audit`` filter's implementation: the six risks of the service card's section 10,
each PASS, WARN or FAIL with the evidence behind the verdict (N/A when the host holds none of
the risk's components).
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.g448.devenv.plugins.plugin_utils._report_common import (
    M_CHECK_OK, M_CHECK_TIME, M_LAST_RUN, M_LAST_RUN_OK, M_LAST_SUCCESS, WORKSPACE_LABEL, _age, _container_name, _d,
    _docker, _env, _groups, _iso, _l, _not_here, _now, _policy, _s, _size, _workspace_containers,
)
from ansible_collections.g448.devenv.plugins.plugin_utils._report_parsers import go_duration_hours


# Coder's own default when CODER_MAX_TOKEN_LIFETIME is not set: 100 years
# (https://coder.com/docs/reference/cli/server#--max-token-lifetime).
CODER_DEFAULT_MAX_TOKEN_LIFETIME_HOURS = 876000.0
CODER_DEFAULT_MAX_ADMIN_TOKEN_LIFETIME_HOURS = 168.0

# The restore drill's metrics in backup_status.metrics (g448.devenv.backup's status entry point).
M_DRILL_TIME = "drill_last_run"
M_DRILL_OK = "drill_ok"
M_DRILL_SUCCESS = "drill_last_success"
M_DRILL_TABLES = "drill_tables_compared"
M_DRILL_FILES = "drill_files_compared"
M_DRILL_CHANGED = "drill_files_changed"

# A workspace risk is PASS only on the evidence of a workspace container; without one it is unknown.
NO_WORKSPACE = "unknown: no workspace container on this host to inspect"

RISKS = (
    ("workspace_persistence", "Workspace persistence", "coder_workspace_hosts"),
    ("resource_exhaustion", "Resource exhaustion", "coder_workspace_hosts"),
    ("shared_host", "Source code on shared host", "coder_workspace_hosts"),
    ("pat_proliferation", "PAT proliferation", "coder_server"),
    ("backups", "Backup of workspace state", "coder_backup"),
    ("alerting", "On-call alerting", "coder_monitoring"),
)


def _fmt_hours(hours):
    if hours is None:
        return "?"
    if hours >= 48 and hours % 24 == 0:
        return "%dh (%d days)" % (hours, hours // 24)
    return ("%dh" % hours) if float(hours).is_integer() else ("%.2fh" % hours)


def _slice(evidence):
    return _d(_docker(evidence).get("slice"))


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
    checks.extend(_unsafe_record_checks(docker.get("unsafe"), _s(docker.get("unsafe_record")) or "its record file"))
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


def _unsafe_record_checks(record, where):
    """One FAIL per isolation-weakening setting the workspace_host role was told to accept, naming it.

    ``record`` is workspace_host_status.unsafe, read from ``where`` (workspace_host_status.unsafe_record):
    ``{"accepted": [{"id", "setting", "risk"}, ...]}``."""
    record = _d(record)
    accepted = record.get("accepted")
    if not isinstance(accepted, list):
        return [(None, "the record of accepted isolation-weakening settings (%s) was not read (%s)" % (
            where, _s(record.get("error")) or "no record"))]
    if not accepted:
        return [(True, "no isolation-weakening setting is accepted (workspace_host_allow_unsafe is empty, %s)"
                 % where)]
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
    policy = _policy(ev, "max_token_lifetime_hours")
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
    status = _d(b.get("metrics"))
    now = _now(ev)
    checks = []
    units = _l(b.get("timer_units")) or list(_d(b.get("timers")))
    if not units:
        checks.append((False, "no backup timer was read"))
    for unit in units:
        state = _d(_d(b.get("timers")).get(unit))
        if not state or state.get("LoadState") == "not-found":
            checks.append((False, "%s is not installed" % unit))
        else:
            ok = state.get("ActiveState") == "active" and state.get("UnitFileState") in ("enabled", "enabled-runtime")
            checks.append((ok, "%s is %s and %s" % (unit, state.get("ActiveState", "?"), state.get("UnitFileState", "?"))))
    max_hours = _policy(ev, "backup_max_age_hours")
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
    max_days = _policy(ev, "check_max_age_days")
    if status and check_time:
        fresh = (now - check_time) / 86400.0 <= max_days if isinstance(max_days, (int, float)) else True
        checks.append((False if check_ok != 1 else (True if fresh else None),
                       "last restic check %s (%s ago): %s%s" % (
                           _iso(check_time), _age(check_time, now), "passed" if check_ok == 1 else "FAILED",
                           "" if fresh else ", older than the %d-day policy" % max_days)))
    elif status:
        checks.append((None, "restic check has not run yet"))
    if status:
        checks.append(_drill_check(b, status, now, _policy(ev, "drill_max_age_days")))
        checks.extend(_drill_coverage(status))
    return checks


def _drill_coverage(status):
    """A passed drill that compared no table and no file (a drill before these gauges has none) proves
    little: unknown, with the counts."""
    tables, files = status.get(M_DRILL_TABLES), status.get(M_DRILL_FILES)
    if status.get(M_DRILL_OK) != 1 or tables is None or files is None or tables or files:
        return []
    return [(None, "the last drill compared no table and no file (%d sampled files changed during the backup)" % (
        status.get(M_DRILL_CHANGED) or 0))]


def _drill_check(backup, status, now, max_days):
    """The restore drill: PASS only when the last drill passed within the policy's days; a failed last
    drill or none passed within them is FAIL, no drill yet or no policy is unknown."""
    run, ok, success = status.get(M_DRILL_TIME), status.get(M_DRILL_OK), status.get(M_DRILL_SUCCESS)
    snapshot = _s(backup.get("drill_snapshot_id"))[:12] or "?"
    if not run:
        return None, "the restore drill has not run yet (g448-backup-drill.timer)"
    if ok != 1:
        return False, "the last restore drill, %s (%s ago), failed on snapshot %s" % (_iso(run), _age(run, now), snapshot)
    if not isinstance(max_days, (int, float)):
        return None, "last restore drill %s (%s ago) passed on snapshot %s; no drill age policy is set" % (
            _iso(success or run), _age(success or run, now), snapshot)
    last = success or run
    return ((now - last) / 86400.0 <= max_days,
            "last restore drill %s (%s ago) passed on snapshot %s, policy at most %d days" % (
                _iso(last), _age(last, now), snapshot, max_days))


def _alerting_checks(ev):
    """The monitoring of the coder_monitoring host (monitoring_status of g448.devenv.monitoring's status entry
    point): its units running, and Prometheus sending its alerts to an Alertmanager. With none
    (monitoring_alertmanager_targets: [], the default) the alerts show on Prometheus's /alerts page only and
    page nobody: unknown (WARN), not FAIL, naming the variable to set."""
    mon = _d(ev.get("monitoring"))
    if not mon:
        return [(None, "the monitoring status was not read (g448.devenv.monitoring, entry point status)")]
    checks = []
    units = _d(mon.get("units"))
    if not units:
        checks.append((None, "no monitoring unit was read"))
    for unit, state in sorted(units.items()):
        state = _d(state)
        if not state or state.get("LoadState") == "not-found":
            checks.append((False, "%s is not installed" % unit))
        else:
            checks.append((state.get("ActiveState") == "active", "%s is %s" % (unit, state.get("ActiveState", "?"))))
    if mon.get("prometheus_enabled") is not True:
        checks.append((None, "Prometheus does not run on this host (monitoring_prometheus_enabled is false), so no "
                             "alert is evaluated here"))
        return checks
    error, managers = _s(mon.get("prometheus_error")), mon.get("alertmanagers")
    if error or not isinstance(managers, list):
        checks.append((None, "Prometheus's API was not read (%s), so where its alerts go is unknown" % (
            error or "no Alertmanager list")))
    elif not managers:
        checks.append((None, "Prometheus sends its alerts to no Alertmanager, so they page nobody (they show on its "
                             "/alerts page only): set monitoring_alertmanager_targets to the on-call's Alertmanager "
                             "(host:port) and run site.yml --tags monitoring"))
    else:
        checks.append((True, "Prometheus sends its alerts to %s" % ", ".join(_s(m) for m in managers)))
    return checks


def _monitoring_hosts(ev):
    """The inventory's coder_monitoring hosts, as the report gathered them."""
    return list(_l(_d(ev.get("inventory")).get("coder_monitoring")))


def risk_audit(evidence):
    """The card's six risks, in its order: ``[{id, title, verdict, evidence: [...]}, ...]``.

    A check that failed makes the risk FAIL; one that could not be evaluated makes it WARN;
    all checks passing make it PASS. A risk whose components are on other hosts is N/A.
    """
    ev = _d(evidence)
    if not ev:
        raise AnsibleFilterError("risk_audit: the evidence must be a dict, got %s" % type(evidence).__name__)
    groups = _groups(ev)
    builders = {"workspace_persistence": _persistence_checks, "resource_exhaustion": _limit_checks,
                "shared_host": _isolation_checks, "pat_proliferation": _pat_checks, "backups": _backup_checks,
                "alerting": _alerting_checks}
    out = []
    for key, title, group in RISKS:
        if key == "alerting" and group not in groups and "coder_server" in groups and not _monitoring_hosts(ev):
            # No host evaluates alerts at all: the Coder server's report says so, as it says what else is missing.
            out.append({"id": key, "title": title, "verdict": "WARN", "evidence": [
                "[WARN] no host is in group coder_monitoring, so no alert is evaluated for this deployment (Coder "
                "down, backups, certificate, disk): add the Coder server to coder_monitoring and run site.yml "
                "--tags monitoring"]})
            continue
        if group not in groups:
            out.append({"id": key, "title": title, "verdict": "N/A", "evidence": [_not_here(group, ev)]})
            continue
        checks = builders[key](ev)
        out.append({"id": key, "title": title, "verdict": _verdict(checks),
                    "evidence": [("" if ok else "[%s] " % ("FAIL" if ok is False else "WARN")) + text
                                 for ok, text in checks]})
    return out
