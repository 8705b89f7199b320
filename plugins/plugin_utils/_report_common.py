# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is part of the private implementation of the report
# filters (plugins/filter/<name>.py, one file per filter). It is not a public
# API and may change without notice.
"""What the report filters share: tolerant readers of the ``evidence`` dict that
playbooks/report.yml gathers on one host, and the formatting of times, ages and sizes.

The playbook only collects raw facts (command output, module results, file contents) into
one ``evidence`` dict per host; every judgement is made by the filters, so it is unit tested:
the parsers (_report_parsers.py), the service card (_service_card.py, _service_card_infra.py)
and the risk audit (_risk_audit.py). The shape of ``evidence`` is documented in
playbooks/report.yml, which builds it.
"""

from __future__ import annotations

import datetime
import time


# Keys of backup_status.metrics: g448.devenv.backup's status entry point parses the job's status
# file (its metric names are the role's own) and returns the samples under these keys.
M_LAST_SUCCESS = "last_success"
M_LAST_RUN = "last_run"
M_LAST_RUN_OK = "last_run_ok"
M_SIZE = "snapshot_size_bytes"
M_ADDED = "snapshot_added_bytes"
M_CHECK_TIME = "check_last_run"
M_CHECK_OK = "check_ok"

GROUPS = ("coder_db", "coder_server", "coder_proxy", "coder_workspace_hosts", "coder_backup", "coder_monitoring")
WORKSPACE_LABEL = "coder.workspace_id"


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


def _policy(evidence, key):
    """A number of the evidence's ``policy`` dict (see ``_num``); None when it is unset or not a number."""
    return _num(_d(_d(evidence).get("policy")).get(key))


def unknown(reason):
    return "unknown: %s" % reason


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


def _size(num):
    num = float(num)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if num < 1024 or unit == "TiB":
            return ("%d %s" % (num, unit)) if unit == "B" else ("%.1f %s" % (num, unit))
        num /= 1024.0
    return "%.1f TiB" % num  # pragma: no cover


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


def _row(item, value=None, evidence="", reason=None):
    if value is None or value == "" or value == []:
        return {"item": item, "value": unknown(reason or "no evidence gathered"), "evidence": evidence, "known": False}
    return {"item": item, "value": value, "evidence": evidence, "known": True}


def _not_here(group, evidence):
    others = list(_l(_d(_d(evidence).get("inventory")).get(group)))
    where = (" (see the report of %s)" % ", ".join(others)) if others else ""
    return "this host is not in group %s%s" % (group, where)
