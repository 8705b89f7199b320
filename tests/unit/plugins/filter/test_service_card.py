# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Unit tests of the service-card report filters (plugins/filter/service_card.py).

The evidence below has the shape playbooks/report.yml builds on an all-in-one host; each test
breaks one thing and checks the verdict and the text an operator reads in the card.
"""

from __future__ import annotations

import base64
import copy
import math
import time
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

REPO = Path(__file__).resolve().parents[4]
TEMPLATE = (REPO / "roles/coder/files/coder_templates/docker/main.tf").read_text()
NOW = 1796000000.0  # 2026-11-30 UTC
DAY = 86400.0
ALL_GROUPS = ["coder_db", "coder_server", "coder_proxy", "coder_workspace_hosts", "coder_backup", "coder_monitoring"]
ALERTMANAGER = "http://alertmanager.448.global:9093/api/v2/alerts"

SECRETS = ["pg/pass:w@rd?#1", "oidc-secret-value", "gitlab-secret-value", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]
ENV_FILE = """\
# Ansible managed
CODER_ACCESS_URL=https://coder.448.global
CODER_WILDCARD_ACCESS_URL=*.coder.448.global
CODER_HTTP_ADDRESS=127.0.0.1:3000
CODER_PG_CONNECTION_URL=postgres://coder:pg%2Fpass%3Aw%40rd%3F%231@127.0.0.1:5432/coder?sslmode=disable
# Keep these keys with the backups
CODER_EXTERNAL_TOKEN_ENCRYPTION_KEYS=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
CODER_OIDC_ISSUER_URL=https://auth.448.global/application/o/coder/
CODER_OIDC_CLIENT_ID=coder-client
CODER_OIDC_CLIENT_SECRET=oidc-secret-value
CODER_OIDC_EMAIL_DOMAIN=448.global
CODER_DISABLE_PASSWORD_AUTH=true
CODER_MAX_TOKEN_LIFETIME=720h
CODER_DEFAULT_TOKEN_LIFETIME=168h
CODER_MAX_ADMIN_TOKEN_LIFETIME=168h

# --- External auth 0
CODER_EXTERNAL_AUTH_0_ID=gitlab
CODER_EXTERNAL_AUTH_0_TYPE=gitlab
CODER_EXTERNAL_AUTH_0_CLIENT_ID=gitlab-client
CODER_EXTERNAL_AUTH_0_CLIENT_SECRET=gitlab-secret-value
CODER_EXTERNAL_AUTH_0_AUTH_URL=https://git.448.global/oauth/authorize
CODER_EXTERNAL_AUTH_0_TOKEN_URL=https://git.448.global/oauth/token
CODER_TELEMETRY_ENABLE=false
"""


def env_with(**changes):
    lines = []
    for line in ENV_FILE.splitlines():
        name = line.split("=", 1)[0]
        if name in changes:
            if changes[name] is not None:
                lines.append("%s=%s" % (name, changes.pop(name)))
            else:
                changes.pop(name)
            continue
        lines.append(line)
    lines += ["%s=%s" % kv for kv in changes.items() if kv[1] is not None]
    return "\n".join(lines) + "\n"


def container(name="coder-alice-dev", privileged=False, memory=4096 * 1048576, nano_cpus=2 * 10**9, pids=2048,
              running=True, home_volume=True, socket=False):
    ident = (name * 8)[:64]
    mounts = []
    if home_volume:
        mounts.append({"Type": "volume", "Name": "coder-%s-home" % name, "Source": "/var/lib/docker/100000.100000/volumes/x",
                       "Destination": "/home/coder", "RW": True})
    else:
        mounts.append({"Type": "bind", "Source": "/tmp/x", "Destination": "/home/coder"})
    if socket:
        mounts.append({"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock"})
    return {
        "Id": ident, "Name": "/" + name, "Image": "codercom/enterprise-base:ubuntu",
        "State": {"Status": "running" if running else "exited", "Running": running, "Pid": 4242 if running else 0},
        "HostConfig": {"Privileged": privileged, "Memory": memory, "NanoCpus": nano_cpus, "CpuQuota": 0,
                       "PidsLimit": pids, "CgroupParent": "", "CapAdd": None, "SecurityOpt": ["no-new-privileges:true"]},
        "Mounts": mounts,
    }


def metrics(last=NOW - 3600, check_time=NOW - 2 * DAY, check_ok=1, run_ok=1, drill_time=NOW - 2 * DAY + 3600,
            drill_ok=1, drill_success="run"):
    """backup_status.metrics: the job's status file as g448.devenv.backup's status entry point parses it
    (roles/backup/tasks/status.yml; a metric the file lacks has no key). drill_success "run": the drill's
    last success is its last run."""
    out = {"last_run": float(NOW - 1800), "last_run_ok": float(run_ok)}
    if last is not None:
        out.update(last_success=float(last), snapshot_size_bytes=12582912.0, snapshot_added_bytes=1048576.0)
    if check_time is not None:
        out.update(check_last_run=float(check_time), check_ok=float(check_ok))
    if drill_time is not None:
        out.update(drill_last_run=float(drill_time), drill_ok=float(drill_ok), drill_duration_seconds=42.0)
        success = drill_time if drill_success == "run" else drill_success
        if success is not None:
            out.update(drill_last_success=float(success))
    return out


def service(active="active", load="loaded"):
    return {"LoadState": load, "ActiveState": active, "SubState": "running" if active == "active" else "dead",
            "UnitFileState": "enabled"}


def timer(active="active", enabled="enabled", load="loaded"):
    return {"LoadState": load, "ActiveState": active, "SubState": "waiting", "UnitFileState": enabled,
            "NextElapseUSecRealtime": "Mon 2026-12-01 02:30:00 UTC"}


@pytest.fixture
def healthy(filters):
    """The evidence of a healthy all-in-one host, as report.yml gathers it."""
    ws = container()
    return {
        "now": NOW,
        "host": {"name": "coder.448.global", "fqdn": "coder.448.global", "hostname": "coder", "groups": list(ALL_GROUPS),
                 "os": "Debian 12.8", "addresses": ["93.184.216.34", "172.17.0.1", "fe80::1"]},
        "inventory": {g: ["coder.448.global"] for g in ALL_GROUPS},
        "site": {"host": "coder.448.global", "wildcard": "*.coder.448.global", "access_url": "https://coder.448.global",
                 "resolved": ["93.184.216.34"]},
        "listen": [
            {"protocol": "tcp", "address": "0.0.0.0", "port": 443, "name": "caddy", "pid": 10},
            {"protocol": "tcp6", "address": "::", "port": 443, "name": "caddy", "pid": 10},
            {"protocol": "tcp", "address": "0.0.0.0", "port": 80, "name": "caddy", "pid": 10},
            {"protocol": "tcp", "address": "127.0.0.1", "port": 3000, "name": "coder", "pid": 11},
            {"protocol": "tcp", "address": "127.0.0.1", "port": 2112, "name": "coder", "pid": 11},
            {"protocol": "tcp", "address": "127.0.0.1", "port": 5432, "name": "postgres", "pid": 12},
            {"protocol": "tcp", "address": "0.0.0.0", "port": 22, "name": "sshd", "pid": 13},
        ],
        "coder": {"package_version": "", "container": {"image": "ghcr.io/coder/coder:v2.34.3", "status": "running"},
                  "buildinfo": {"version": "v2.34.3+abc1234"},
                  "env": filters["coder_env_summary"](ENV_FILE)},
        "proxy": {"version": "v2.6.2 h1:abc", "service_state": "active"},
        "tls": {"cert": {"issuer": {"commonName": "R11", "organizationName": "Let's Encrypt"},
                         "subject": {"commonName": "coder.448.global"},
                         "subject_alt_name": ["DNS:coder.448.global", "DNS:*.coder.448.global"],
                         "not_after": "20270228000000Z", "expired": False}},
        "docker": {"info": {"ServerVersion": "26.1.5", "CgroupDriver": "systemd",
                            "SecurityOptions": ["name=seccomp,profile=builtin", "name=userns", "name=cgroupns"]},
                   "daemon": {"userns-remap": "default", "cgroup-parent": "workspaces.slice", "no-new-privileges": True,
                              "icc": False},
                   "unsafe": {"accepted": []}, "unsafe_record": "/etc/g448/workspace-host-unsafe.json",
                   "containers": [ws],
                   "container_cgroups": {ws["Id"]: "0::/workspaces.slice/docker-%s.scope\n" % ws["Id"]},
                   "volumes": [{"Name": "coder-coder-alice-dev-home", "Labels": "coder.workspace_id=1"}],
                   "slice_name": "workspaces.slice",
                   "slice": {"LoadState": "loaded", "ActiveState": "active", "MemoryMax": str(6 * 1024**3),
                             "CPUQuotaPerSecUSec": "3s", "TasksMax": "65536"},
                   "iptables": {"DOCKER-USER": "-N DOCKER-USER\n-A DOCKER-USER -j G448-WS-FORWARD\n-A DOCKER-USER -j RETURN\n",
                                "INPUT": "-P INPUT ACCEPT\n-A INPUT -i docker0 -j G448-WS-HOST\n"},
                   "forward_chain": "G448-WS-FORWARD", "host_chain": "G448-WS-HOST"},
        "template": {"source": "roles/coder/files/coder_templates/docker/main.tf", "text": TEMPLATE},
        "postgres": {"version": "15.10", "database": "coder",
                     "databases": {"coder": {"size": 8 * 1048576, "owner": "coder"}, "postgres": {"size": 7 * 1048576}},
                     "hba": [{"type": "local", "database": ["all"], "user_name": ["postgres"], "auth_method": "peer"},
                             {"type": "host", "database": ["coder"], "user_name": ["coder"], "address": "127.0.0.1",
                              "auth_method": "scram-sha-256"},
                             {"type": "host", "database": ["replication"], "user_name": ["all"], "address": "127.0.0.1",
                              "auth_method": "reject"}],
                     "password_encryption": "scram-sha-256"},
        "backup": {"status_file": "/var/lib/prometheus/node-exporter/g448_backup.prom",
                   "metrics": metrics(),
                   "snapshots": 12, "repository": "/var/backups/g448-restic", "snapshot_id": "0123abcd4567ef89",
                   "drill_snapshot_id": "89abcdef01234567",
                   "timer_units": ["g448-backup.timer", "g448-backup-check.timer", "g448-backup-drill.timer"],
                   "timers": {"g448-backup.timer": timer(), "g448-backup-check.timer": timer(),
                              "g448-backup-drill.timer": timer()}},
        "monitoring": {"units": {"prometheus-node-exporter.service": service(), "prometheus.service": service(),
                                 "prometheus-blackbox-exporter.service": service(),
                                 "g448-workspace-slice-metrics.timer": timer()},
                       "node_exporter_address": "127.0.0.1:9100", "prometheus_enabled": True,
                       "targets": [], "alerts_firing": [], "alertmanagers": [ALERTMANAGER], "prometheus_error": ""},
        "vault": {"configured": True, "address": "https://vault.448.global:8200",
                  "secrets": {p: {"current_version": 2, "updated_time": "2026-11-20T10:00:00.123456789Z",
                                  "created_time": "2026-01-01T00:00:00Z"}
                              for p in ("secret/coder/admin", "secret/coder/db", "secret/coder/gitlab", "secret/coder/oidc",
                                        "secret/coder/dbcrypt", "secret/coder/tls", "secret/coder/backup")}},
        "policy": {"max_token_lifetime_hours": 720.0, "backup_max_age_hours": 26.0, "check_max_age_days": 8.0,
                   "drill_max_age_days": 8.0, "secret_max_age_days": 90},
    }


def risks(filters, evidence):
    return {r["id"]: r for r in filters["risk_audit"](evidence)}


def verdicts(filters, evidence):
    return {k: r["verdict"] for k, r in risks(filters, evidence).items()}


def text_of(risk):
    return "\n".join(risk["evidence"])


def judged(filters, evidence, key, verdict, expect):
    """The risk ``key``, asserted to be ``verdict`` with an evidence line that starts with ``expect``."""
    risk = risks(filters, evidence)[key]
    assert risk["verdict"] == verdict
    assert any(e.startswith(expect) for e in risk["evidence"]), risk["evidence"]
    return risk


def rows(card):
    out = {}
    for section in ("header", "infrastructure", "credentials", "authentication", "backup", "dependencies"):
        for row in card[section]:
            out[row["item"]] = row
    return out


# ------------------------------------------------------------------ the healthy host
def test_a_healthy_all_in_one_host_passes_every_risk_in_the_cards_order(filters, healthy):
    out = filters["risk_audit"](healthy)
    assert [r["title"] for r in out] == ["Workspace persistence", "Resource exhaustion", "Source code on shared host",
                                         "PAT proliferation", "Backup of workspace state", "On-call alerting"]
    assert {r["id"]: r["verdict"] for r in out} == dict.fromkeys(
        ["workspace_persistence", "resource_exhaustion", "shared_host", "pat_proliferation", "backups", "alerting"],
        "PASS"), out
    assert all(r["evidence"] and not any(e.startswith("[") for e in r["evidence"]) for r in out)


def test_counts_given_as_text_fill_the_card_like_numbers(filters, healthy):
    # ansible-core 2.17 templates report.yml's "{{ ... | length }}" inside the evidence dict to text.
    as_text = dict(healthy, backup=dict(healthy["backup"], snapshots="12"))
    assert rows(filters["service_card"](as_text, owner="", maturity=""))["Snapshots"]["value"] == "12"


def test_policy_numbers_given_as_text_judge_like_numbers(filters, healthy):
    # ansible-core 2.17 templates report.yml's "{{ 26 | float }}" inside the policy dict to "26.0".
    as_text = dict(healthy, policy={k: str(v) for k, v in healthy["policy"].items()})
    assert verdicts(filters, as_text) == verdicts(filters, healthy)
    assert [text_of(r) for r in filters["risk_audit"](as_text)] == [text_of(r) for r in filters["risk_audit"](healthy)]


def test_a_healthy_card_fills_every_field_the_system_knows(filters, healthy):
    card = filters["service_card"](healthy, owner="", maturity="")
    assert card["unknown"] == ["MFA", "Maturity", "Owner"]
    r = rows(card)
    assert r["Public URL"]["value"] == "https://coder.448.global"
    assert r["Public IP(s)"]["value"] == "93.184.216.34"
    assert r["Open ports"]["value"] == ("exposed: 22/tcp sshd, 80/tcp caddy, 443/tcp caddy; "
                                        "loopback only: 2112/tcp coder, 3000/tcp coder, 5432/tcp postgres")
    assert r["TLS cert"]["value"].startswith("issuer R11; subject coder.448.global; SANs coder.448.global, "
                                             "*.coder.448.global; wildcard *.coder.448.global covered; expires 2027-02-28")
    assert r["Reverse proxy"]["value"] == "Caddy v2.6.2 (service active), in front of Coder on 127.0.0.1:3000"
    assert r["Container image / version"]["value"] == ("container image ghcr.io/coder/coder:v2.34.3 (running); "
                                                       "running v2.34.3+abc1234")
    assert r["Workspace provisioner"]["value"] == ("Docker 26.1.5, userns-remap on (default), cgroup driver systemd, "
                                                   "containers in workspaces.slice")
    assert r["Active workspaces"]["value"] == "1 running (1 workspace containers, 1 home volumes)"
    assert r["Database"]["value"] == ("PostgreSQL 15.10; database coder 8.0 MiB, owner coder; auth: peer (local); "
                                      "scram-sha-256 (host 127.0.0.1); password_encryption scram-sha-256")
    assert r["Host server name"]["value"] == "coder.448.global"
    assert r["End-user login"]["value"] == ("OIDC, issuer https://auth.448.global/application/o/coder/, "
                                            "email domains 448.global")
    assert r["Password login"]["value"].startswith("disabled")
    assert r["Token lifetimes"]["value"] == "max 720h, default 168h, admin max 168h"
    assert r["MFA"]["value"] == ("unknown: Coder has no MFA of its own; with OIDC it is whatever the identity provider "
                                 "(auth.448.global) enforces")
    assert r["Owner"]["value"] == "unknown: not recorded on any system; set report_owner"
    assert r["Database password"]["path"] == "secret/coder/db"
    assert r["Database password"]["value"] == ("2026-11-20 10:00 UTC (9 days ago, version 2; "
                                               "within the 90-day rotation policy)")
    assert r["Per-user GitLab/GitHub PATs (in workspaces)"]["value"].startswith(
        "none stored: Git credentials come from external auth (gitlab/gitlab)")
    assert r["Last backup"]["value"] == "2026-11-29 23:53 UTC (1.0 h ago), snapshot 0123abcd4567, 12.0 MiB (1.0 MiB new)"
    assert r["Snapshots"]["value"] == "12"
    assert r["Last repository check"]["value"].endswith("(2 days ago): passed")
    assert r["Git host (external auth gitlab)"]["value"] == "git.448.global, type gitlab"


def test_owner_and_maturity_come_from_the_operator(filters, healthy):
    card = filters["service_card"](healthy, owner="Platform team (#platform)", maturity="production")
    assert card["unknown"] == ["MFA"]
    assert rows(card)["Owner"]["value"] == "Platform team (#platform)"


def test_the_card_never_carries_a_secret_of_the_env_file(filters, healthy):
    card = filters["service_card"](healthy)
    audit = filters["risk_audit"](healthy)
    text = repr(card) + repr(audit) + repr(healthy["coder"]["env"])
    for secret in SECRETS + ["pg%2Fpass"]:
        assert secret not in text


# ------------------------------------------------------------------- backups risk
def test_a_stopped_backup_timer_fails_the_backup_risk(filters, healthy):
    healthy["backup"]["timers"]["g448-backup.timer"] = timer(active="inactive")
    risk = risks(filters, healthy)["backups"]
    assert risk["verdict"] == "FAIL"
    assert "[FAIL] g448-backup.timer is inactive and enabled" in risk["evidence"]
    assert verdicts(filters, healthy)["pat_proliferation"] == "PASS"


@pytest.mark.parametrize("unit, state, expect", [
    ("g448-backup.timer", timer(enabled="disabled"), "[FAIL] g448-backup.timer is active and disabled"),
    ("g448-backup-check.timer", timer(load="not-found"), "[FAIL] g448-backup-check.timer is not installed"),
    ("g448-backup.timer", None, "[FAIL] g448-backup.timer is not installed"),
])
def test_backup_timers_must_be_active_and_enabled(filters, healthy, unit, state, expect):
    if state is None:
        del healthy["backup"]["timers"][unit]
    else:
        healthy["backup"]["timers"][unit] = state
    risk = risks(filters, healthy)["backups"]
    assert (risk["verdict"], expect in risk["evidence"]) == ("FAIL", True), risk


def test_the_backup_risk_fails_when_no_timer_was_read(filters, healthy):
    healthy["backup"].update(timer_units=[], timers={})
    risk = risks(filters, healthy)["backups"]
    assert (risk["verdict"], "[FAIL] no backup timer was read" in risk["evidence"]) == ("FAIL", True), risk


@pytest.mark.parametrize("status, verdict, expect", [
    (metrics(last=NOW - 30 * 3600), "FAIL", "[FAIL] last successful backup 2026-11-28 18:53 UTC (30.0 h ago), "
                                            "policy at most 26h"),
    (metrics(last=None), "FAIL", "[FAIL] no successful backup is recorded in"),
    ({}, "FAIL", "[FAIL] no backup status: "),
    (metrics(check_ok=0), "FAIL", "[FAIL] last restic check 2026-11-28 00:53 UTC (2 days ago): FAILED"),
    (metrics(check_time=None), "WARN", "[WARN] restic check has not run yet"),
    (metrics(run_ok=0), "WARN", "[WARN] the last backup run, 2026-11-30 00:23 UTC (30 min ago), failed"),
    (metrics(check_time=NOW - 10 * DAY), "WARN", "[WARN] last restic check 2026-11-20 00:53 UTC (10 days ago): "
                                                 "passed, older than the 8-day policy"),
])
def test_backup_age_and_check_result(filters, healthy, status, verdict, expect):
    healthy["backup"]["metrics"] = status
    judged(filters, healthy, "backups", verdict, expect)


# The restore drill (issue 19): Backups is PASS only with a drill that passed within the policy's days.
@pytest.mark.parametrize("status, verdict, expect", [
    (metrics(), "PASS", "last restore drill 2026-11-28 01:53 UTC (47.0 h ago) passed on snapshot 89abcdef0123, "
                        "policy at most 8 days"),
    (metrics(drill_time=None), "WARN", "[WARN] the restore drill has not run yet (g448-backup-drill.timer)"),
    (metrics(drill_time=NOW - 9 * DAY), "FAIL",
     "[FAIL] last restore drill 2026-11-21 00:53 UTC (9 days ago) passed on snapshot 89abcdef0123, policy at most 8 days"),
    (metrics(drill_time=NOW - 3600, drill_ok=0, drill_success=NOW - 2 * DAY), "FAIL",
     "[FAIL] the last restore drill, 2026-11-29 23:53 UTC (1.0 h ago), failed on snapshot 89abcdef0123"),
    (metrics(drill_time=NOW - 3600, drill_ok=0, drill_success=None), "FAIL",
     "[FAIL] the last restore drill, 2026-11-29 23:53 UTC (1.0 h ago), failed on snapshot 89abcdef0123"),
])
def test_the_restore_drill_decides_the_backup_risk(filters, healthy, status, verdict, expect):
    healthy["backup"]["metrics"] = status
    judged(filters, healthy, "backups", verdict, expect)


# A passed drill that compared nothing (no table, no file) is WARN; one that compared either, or a drill
# from before the counts were recorded, is judged by its age alone.
@pytest.mark.parametrize("counts, verdict, expect", [
    ({"drill_tables_compared": 0.0, "drill_files_compared": 0.0, "drill_files_changed": 3.0}, "WARN",
     "[WARN] the last drill compared no table and no file (3 sampled files changed during the backup)"),
    ({"drill_tables_compared": 2.0, "drill_files_compared": 0.0, "drill_files_changed": 0.0}, "PASS",
     "last restore drill 2026-11-28 01:53 UTC (47.0 h ago) passed"),
    ({"drill_tables_compared": 0.0, "drill_files_compared": 20.0, "drill_files_changed": 0.0}, "PASS",
     "last restore drill 2026-11-28 01:53 UTC (47.0 h ago) passed"),
    ({}, "PASS", "last restore drill 2026-11-28 01:53 UTC (47.0 h ago) passed"),
])
def test_a_passed_drill_that_compared_nothing_is_unknown(filters, healthy, counts, verdict, expect):
    healthy["backup"]["metrics"] = dict(metrics(), **counts)
    risk = judged(filters, healthy, "backups", verdict, expect)
    assert any(e.startswith("[WARN] the last drill compared") for e in risk["evidence"]) == (verdict == "WARN")


def test_a_failed_drill_that_compared_nothing_is_only_failed(filters, healthy):
    healthy["backup"]["metrics"] = dict(metrics(drill_time=NOW - 3600, drill_ok=0, drill_success=None),
                                        drill_tables_compared=0.0, drill_files_compared=0.0)
    risk = judged(filters, healthy, "backups", "FAIL", "[FAIL] the last restore drill")
    assert not any("compared no table" in e for e in risk["evidence"]), risk["evidence"]


def test_a_drill_without_an_age_policy_is_unknown(filters, healthy):
    del healthy["policy"]["drill_max_age_days"]
    judged(filters, healthy, "backups", "WARN", "[WARN] last restore drill 2026-11-28 01:53 UTC (47.0 h ago) passed on "
                                                "snapshot 89abcdef0123; no drill age policy is set")


# ------------------------------------------------------------------------ PAT risk
@pytest.mark.parametrize("changes, expect", [
    ({"CODER_MAX_TOKEN_LIFETIME": "8760h"}, "[FAIL] CODER_MAX_TOKEN_LIFETIME is 8760h (365 days), policy at most 720h (30 days)"),
    ({"CODER_MAX_TOKEN_LIFETIME": None}, "[FAIL] CODER_MAX_TOKEN_LIFETIME is 876000h (36500 days) (unset: Coder's default)"),
    ({"CODER_MAX_TOKEN_LIFETIME": "forever"}, "[FAIL] CODER_MAX_TOKEN_LIFETIME=forever is not a duration"),
    ({"CODER_MAX_ADMIN_TOKEN_LIFETIME": "2000h"}, "[FAIL] CODER_MAX_ADMIN_TOKEN_LIFETIME is 2000h"),
    ({"CODER_EXTERNAL_AUTH_0_ID": None, "CODER_EXTERNAL_AUTH_0_TYPE": None, "CODER_EXTERNAL_AUTH_0_CLIENT_ID": None,
      "CODER_EXTERNAL_AUTH_0_CLIENT_SECRET": None, "CODER_EXTERNAL_AUTH_0_AUTH_URL": None,
      "CODER_EXTERNAL_AUTH_0_TOKEN_URL": None}, "[FAIL] external auth providers: none"),
    ({"GITLAB_TOKEN": "glpat-AAAAAAAAAAAAAAAAAAAA"}, "[FAIL] long-lived tokens stored in the env file: GITLAB_TOKEN (names only)"),
    ({"CODER_EXTRA": "ghp_0123456789abcdefghij0123456789abcdef"}, "[FAIL] long-lived tokens stored in the env file: CODER_EXTRA"),
    ({"CODER_SESSION_TOKEN": "abcdefghij-0123456789abcdefghijkl"}, "[FAIL] long-lived tokens stored in the env file: "
                                                                   "CODER_SESSION_TOKEN"),
])
def test_pat_proliferation_fails_on_long_lifetimes_missing_external_auth_or_stored_tokens(filters, healthy, changes, expect):
    healthy["coder"]["env"] = filters["coder_env_summary"](env_with(**changes))
    risk = judged(filters, healthy, "pat_proliferation", "FAIL", expect)
    for value in ("glpat-AAAA", "ghp_0123", "abcdefghij-0123"):
        assert value not in text_of(risk)


def test_pat_policy_is_a_variable(filters, healthy):
    healthy["policy"]["max_token_lifetime_hours"] = 168.0
    risk = risks(filters, healthy)["pat_proliferation"]
    assert risk["verdict"] == "FAIL"
    assert "[FAIL] CODER_MAX_TOKEN_LIFETIME is 720h (30 days), policy at most 168h (7 days)" in risk["evidence"]


def test_an_unreadable_env_file_makes_the_pat_risk_warn(filters, healthy):
    healthy["coder"]["env"] = {"error": "cannot read /etc/coder.d/coder.env: file not found"}
    risk = risks(filters, healthy)["pat_proliferation"]
    assert risk["verdict"] == "WARN"
    card = rows(filters["service_card"](healthy))
    assert card["End-user login"]["value"].startswith("unknown: Coder's env file was not read (cannot read")


# ------------------------------------------------------------- shared host risk
@pytest.mark.parametrize("change, expect", [
    (lambda e: e["docker"]["info"].update(SecurityOptions=["name=seccomp,profile=builtin"]),
     "[FAIL] userns-remap is OFF"),
    (lambda e: e["docker"]["containers"].append(container("coder-bob-x", privileged=True)),
     "[FAIL] privileged workspace containers: coder-bob-x"),
    (lambda e: e["docker"]["containers"].append(container("coder-eve-x", socket=True)),
     "[FAIL] workspace containers with the Docker socket: coder-eve-x"),
    (lambda e: e["docker"]["iptables"].update({"DOCKER-USER": "-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n"}),
     "[FAIL] DOCKER-USER: -A DOCKER-USER -j RETURN"),
    (lambda e: e["docker"]["iptables"].update({"INPUT": "-P INPUT ACCEPT\n"}),
     "[FAIL] INPUT jumps to G448-WS-HOST for workspace traffic to the host: NO"),
])
def test_shared_host_isolation_failures(filters, healthy, change, expect):
    change(healthy)
    judged(filters, healthy, "shared_host", "FAIL", expect)


# Settings the workspace_host role refuses unless accepted by name (workspace_host_allow_unsafe):
# once accepted, the role records them and the audit fails the risk, naming each setting.
@pytest.mark.parametrize("accepted, expect", [
    ([{"id": "userns_remap_off", "setting": "workspace_host_userns_remap: false",
       "risk": "root in a workspace container is root on the host"}],
     ["[FAIL] workspace_host_userns_remap: false is accepted as unsafe (workspace_host_allow_unsafe: userns_remap_off): "
      "root in a workspace container is root on the host"]),
    ([{"id": "metadata_reachable", "setting": 'workspace_host_isolation_denied_destinations: []',
       "risk": "workspaces reach the cloud metadata address 169.254.169.254 (instance credentials)"},
      {"id": "docker_ssh_key_unrestricted", "setting": 'workspace_host_docker_ssh_key_options: ""', "risk": "a shell"}],
     ["[FAIL] workspace_host_isolation_denied_destinations: [] is accepted as unsafe "
      "(workspace_host_allow_unsafe: metadata_reachable): workspaces reach the cloud metadata address 169.254.169.254 "
      "(instance credentials)",
      '[FAIL] workspace_host_docker_ssh_key_options: "" is accepted as unsafe '
      "(workspace_host_allow_unsafe: docker_ssh_key_unrestricted): a shell"]),
], ids=["userns", "metadata-and-key"])
def test_accepted_unsafe_settings_fail_the_shared_host_risk_naming_them(filters, healthy, accepted, expect):
    healthy["docker"]["unsafe"] = {"accepted": accepted}
    risk = risks(filters, healthy)["shared_host"]
    assert risk["verdict"] == "FAIL"
    assert [e for e in risk["evidence"] if e.startswith("[FAIL]")] == expect
    # The other risks are not touched by it.
    assert verdicts(filters, healthy)["resource_exhaustion"] == "PASS"


def test_no_accepted_unsafe_setting_says_so(filters, healthy):
    risk = risks(filters, healthy)["shared_host"]
    assert ("no isolation-weakening setting is accepted (workspace_host_allow_unsafe is empty, "
            "/etc/g448/workspace-host-unsafe.json)") in risk["evidence"]


@pytest.mark.parametrize("record", [{"error": "file not found"}, {}, {"accepted": "userns_remap_off"}])
def test_an_unreadable_unsafe_record_makes_the_shared_host_risk_warn(filters, healthy, record):
    healthy["docker"]["unsafe"] = record
    judged(filters, healthy, "shared_host", "WARN", "[WARN] the record of accepted isolation-weakening settings "
           "(/etc/g448/workspace-host-unsafe.json) was not read")


@pytest.mark.parametrize("change, expect", [
    (lambda d: d.update({"no-new-privileges": False}),
     "[FAIL] no-new-privileges is OFF in daemon.json (workspace_host_docker_no_new_privileges)"),
    (lambda d: d.pop("no-new-privileges"),
     "[FAIL] no-new-privileges is OFF in daemon.json (workspace_host_docker_no_new_privileges)"),
    (lambda d: d.update({"icc": True}),
     "[FAIL] inter-container communication on the default bridge is ON (daemon.json icc true), see workspace_host_docker_icc"),
    (lambda d: d.pop("icc"),
     "[FAIL] inter-container communication on the default bridge is ON (daemon.json icc unset: Docker's default is true)"),
    (lambda d: d.update({"hosts": ["unix:///run/docker.sock", "tcp://0.0.0.0:2375"]}),
     "[FAIL] Docker's API (root on the host) listens on tcp://0.0.0.0:2375 without tlsverify"),
    (lambda d: d.update({"iptables": False}), "[FAIL] daemon.json iptables is false"),
])
def test_daemon_settings_that_weaken_isolation_fail(filters, healthy, change, expect):
    change(healthy["docker"]["daemon"])
    judged(filters, healthy, "shared_host", "FAIL", expect)


def test_docker_api_on_tcp_with_tlsverify_passes(filters, healthy):
    healthy["docker"]["daemon"].update({"hosts": ["fd://", "tcp://10.0.0.5:2376"], "tlsverify": True})
    risk = risks(filters, healthy)["shared_host"]
    assert risk["verdict"] == "PASS"
    assert "Docker's API listens on fd://, tcp://10.0.0.5:2376" in risk["evidence"]


def test_unreadable_iptables_makes_the_shared_host_risk_warn(filters, healthy):
    healthy["docker"]["iptables"] = {}
    risk = risks(filters, healthy)["shared_host"]
    assert risk["verdict"] == "WARN" and "[WARN] the DOCKER-USER chain was not read (iptables failed)" in risk["evidence"]


# ---------------------------------------------------------- resource exhaustion
@pytest.mark.parametrize("change, expect", [
    (lambda e: e["docker"].update(slice={"LoadState": "not-found", "ActiveState": "inactive"}),
     "[FAIL] the workspace slice workspaces.slice is not installed"),
    (lambda e: e["docker"]["slice"].update(MemoryMax="infinity"), "[FAIL] workspaces.slice is active with MemoryMax=infinity"),
    (lambda e: e["docker"]["slice"].update(ActiveState="inactive"), "[FAIL] workspaces.slice is inactive"),
    (lambda e: e["docker"]["daemon"].pop("cgroup-parent"), "[FAIL] daemon.json cgroup-parent is unset"),
    (lambda e: e["docker"]["slice"].update(TasksMax="infinity"),
     "[FAIL] workspaces.slice caps the processes of all workspaces together at TasksMax=infinity (NO CAP"),
    (lambda e: e["docker"]["containers"][0]["HostConfig"].update(PidsLimit=0),
     "[FAIL] coder-alice-dev: memory 4.0 GiB, cpus 2.00, pids UNLIMITED"),
    (lambda e: e["docker"]["containers"][0]["HostConfig"].update(Memory=0, NanoCpus=0),
     "[FAIL] coder-alice-dev: memory UNLIMITED, cpus UNLIMITED, pids 2048"),
    (lambda e: e["docker"]["container_cgroups"].update({e["docker"]["containers"][0]["Id"]: "0::/system.slice/docker-x\n"}),
     "[FAIL] coder-alice-dev: memory 4.0 GiB, cpus 2.00, pids 2048, OUTSIDE workspaces.slice"),
])
def test_resource_limits_failures(filters, healthy, change, expect):
    change(healthy)
    judged(filters, healthy, "resource_exhaustion", "FAIL", expect)


def test_an_unread_slice_tasks_max_makes_resource_exhaustion_warn(filters, healthy):
    healthy["docker"]["slice"].pop("TasksMax")
    risk = risks(filters, healthy)["resource_exhaustion"]
    assert risk["verdict"] == "WARN"
    assert "[WARN] workspaces.slice's TasksMax was not read, so the process cap of all workspaces is unknown" in risk["evidence"]


def test_limits_without_workspaces_check_the_slice_and_say_so(filters, healthy):
    healthy["docker"]["containers"] = []
    risk = risks(filters, healthy)["resource_exhaustion"]
    assert risk["verdict"] == "WARN"
    assert ("[WARN] unknown: no running workspace container to inspect, so its limits are unproven"
            in risk["evidence"])
    assert risk["evidence"][0] == "workspaces.slice is active with MemoryMax=6442450944 (6.0 GiB) and CPUQuota 3s/s"


@pytest.mark.parametrize("containers", [[], [container(running=False)]], ids=["none", "stopped"])
def test_workspace_risks_are_never_pass_without_a_workspace_to_inspect(filters, healthy, containers):
    healthy["docker"]["containers"] = containers
    out = risks(filters, healthy)
    assert out["resource_exhaustion"]["verdict"] == "WARN", out["resource_exhaustion"]
    if not containers:
        for key in ("workspace_persistence", "shared_host"):
            assert out[key]["verdict"] == "WARN", out[key]
            assert "[WARN] unknown: no workspace container on this host to inspect" in out[key]["evidence"]
    assert out["pat_proliferation"]["verdict"] == "PASS" and out["backups"]["verdict"] == "PASS"


def test_cgroupfs_parent_paths_count_as_the_slice(filters, healthy):
    healthy["docker"]["daemon"]["cgroup-parent"] = "/system.slice/docker-abc.scope/workspaces.slice"
    assert verdicts(filters, healthy)["resource_exhaustion"] == "PASS"


# ------------------------------------------------------------ persistence risk
def test_the_collections_template_has_a_persistent_home(filters, healthy):
    risk = risks(filters, healthy)["workspace_persistence"]
    assert risk["evidence"][0].endswith("docker_volume.home is mounted at the home directory and kept across rebuilds "
                                        "(lifecycle ignore_changes = all)")


@pytest.mark.parametrize("edit, verdict, expect", [
    (lambda t: t.replace("ignore_changes = all", "ignore_changes = []"), "FAIL",
     "docker_volume.home is the home directory but has no lifecycle ignore_changes = all"),
    (lambda t: t.replace('container_path = "/home/coder"', 'container_path = "/data"'), "FAIL",
     "no docker_volume of the template is mounted at a /home/ path"),
    (lambda t: t.replace('resource "docker_volume"', 'resource "docker_image"'), "FAIL",
     "the template declares no docker_volume resource"),
    (lambda t: "", "WARN", "the workspace template was not read"),
])
def test_template_without_a_persistent_home(filters, healthy, edit, verdict, expect):
    healthy["template"]["text"] = edit(TEMPLATE)
    risk = risks(filters, healthy)["workspace_persistence"]
    assert risk["verdict"] == verdict
    assert expect in text_of(risk)


def test_a_workspace_whose_home_is_not_a_volume_fails(filters, healthy):
    healthy["docker"]["containers"].append(container("coder-carol-tmp", home_volume=False))
    risk = risks(filters, healthy)["workspace_persistence"]
    assert risk["verdict"] == "FAIL"
    assert ("[FAIL] coder-carol-tmp: the home directory is not on a named volume; it is lost with the container"
            in risk["evidence"])


def test_a_home_volume_without_the_label_warns(filters, healthy):
    healthy["docker"]["volumes"] = []
    risk = risks(filters, healthy)["workspace_persistence"]
    assert risk["verdict"] == "WARN"
    assert "the volume has no coder.workspace_id label" in text_of(risk)


# ------------------------------------------------------------------ on-call alerting
NO_ALERTMANAGER = ("[WARN] Prometheus sends its alerts to no Alertmanager, so they page nobody (they show on its "
                   "/alerts page only): set monitoring_alertmanager_targets to the on-call's Alertmanager (host:port) "
                   "and run site.yml --tags monitoring")


def test_alerts_sent_to_an_alertmanager_pass_naming_it(filters, healthy):
    risk = judged(filters, healthy, "alerting", "PASS", "Prometheus sends its alerts to " + ALERTMANAGER)
    assert "prometheus.service is active" in risk["evidence"]


def test_prometheus_without_an_alertmanager_warns_naming_the_variable(filters, healthy):
    """monitoring_alertmanager_targets: [] (the default, production's [INFO NEEDED]): alerts page nobody.
    A WARN with the reason and the variable, never a FAIL (report_fail_on_risk must not stop on it)."""
    healthy["monitoring"]["alertmanagers"] = []
    risk = judged(filters, healthy, "alerting", "WARN", NO_ALERTMANAGER)
    assert [line for line in risk["evidence"] if line.startswith("[")] == [NO_ALERTMANAGER]
    assert {r["id"]: r["verdict"] for r in filters["risk_audit"](healthy)}["backups"] == "PASS"


@pytest.mark.parametrize("change, verdict, expect", [
    ({"prometheus_error": "Status code was -1: Connection refused", "alertmanagers": []}, "WARN",
     "[WARN] Prometheus's API was not read (Status code was -1: Connection refused), so where its alerts go is unknown"),
    ({"alertmanagers": None}, "WARN", "[WARN] Prometheus's API was not read (no Alertmanager list)"),
    ({"prometheus_enabled": False, "alertmanagers": []}, "WARN",
     "[WARN] Prometheus does not run on this host (monitoring_prometheus_enabled is false)"),
    ({"units": {"prometheus.service": service(active="failed")}}, "FAIL", "[FAIL] prometheus.service is failed"),
    ({"units": {"prometheus.service": service(load="not-found")}}, "FAIL", "[FAIL] prometheus.service is not installed"),
    ({"units": {}}, "WARN", "[WARN] no monitoring unit was read"),
])
def test_alerting_evidence(filters, healthy, change, verdict, expect):
    healthy["monitoring"].update(change)
    judged(filters, healthy, "alerting", verdict, expect)


def test_an_unread_monitoring_status_warns(filters, healthy):
    del healthy["monitoring"]
    judged(filters, healthy, "alerting", "WARN",
           "[WARN] the monitoring status was not read (g448.devenv.monitoring, entry point status)")


def test_a_host_outside_coder_monitoring_has_no_alerting_risk(filters, healthy):
    healthy["host"]["groups"] = [g for g in ALL_GROUPS if g != "coder_monitoring"]
    healthy["inventory"]["coder_monitoring"] = ["mon1"]
    assert risks(filters, healthy)["alerting"] == {
        "id": "alerting", "title": "On-call alerting", "verdict": "N/A",
        "evidence": ["this host is not in group coder_monitoring (see the report of mon1)"]}


def test_an_inventory_without_coder_monitoring_warns_on_the_coder_server(filters, healthy):
    healthy["host"]["groups"] = [g for g in ALL_GROUPS if g != "coder_monitoring"]
    healthy["inventory"].pop("coder_monitoring", None)
    risk = risks(filters, healthy)["alerting"]
    assert risk["verdict"] == "WARN"
    assert risk["evidence"][0].startswith("[WARN] no host is in group coder_monitoring")
    # A host that holds no Coder server leaves it to the Coder server's report.
    healthy["host"]["groups"] = ["coder_db"]
    assert risks(filters, healthy)["alerting"]["verdict"] == "N/A"


# -------------------------------------------------------- hosts of a multi-node layout
def test_a_db_only_host_judges_only_what_it_holds(filters, healthy):
    healthy["host"]["groups"] = ["coder_db", "coder_backup"]
    healthy["inventory"] = {"coder_db": ["db1"], "coder_backup": ["db1"], "coder_server": ["app1"],
                            "coder_proxy": ["app1"], "coder_workspace_hosts": ["ws1", "ws2"]}
    out = risks(filters, healthy)
    assert {k: r["verdict"] for k, r in out.items()} == {
        "workspace_persistence": "N/A", "resource_exhaustion": "N/A", "shared_host": "N/A",
        "pat_proliferation": "N/A", "backups": "PASS", "alerting": "N/A"}
    assert out["shared_host"]["evidence"] == [
        "this host is not in group coder_workspace_hosts (see the report of ws1, ws2)"]
    card = rows(filters["service_card"](healthy))
    assert card["Reverse proxy"]["value"] == "unknown: this host is not in group coder_proxy (see the report of app1)"
    assert card["Database"]["known"]


# --------------------------------------------------------------------- card fields
def test_vault_not_configured_gives_unknown_no_vault_address(filters, healthy):
    healthy["vault"] = {"configured": False, "reason": "no Vault address (g448_vault_url is not set)"}
    card = filters["service_card"](healthy)
    creds = [r for r in card["credentials"] if r["path"].startswith("secret/")]
    assert len(creds) == 7
    assert {r["value"] for r in creds} == {"unknown: no Vault address (g448_vault_url is not set)"}
    assert rows(card)["Vault"]["value"] == "unknown: no Vault address (g448_vault_url is not set)"


def test_vault_errors_absent_and_overdue_secrets(filters, healthy):
    healthy["vault"]["secrets"]["secret/coder/oidc"] = None
    healthy["vault"]["secrets"]["secret/coder/tls"]["updated_time"] = "2026-05-01T00:00:00Z"
    r = rows(filters["service_card"](healthy))
    assert r["OIDC client (Authentik)"]["value"] == "unknown: the secret does not exist in Vault"
    assert r["TLS certificate and key"]["value"] == ("2026-05-01 00:00 UTC (213 days ago, version 2; "
                                                     "OVERDUE: older than the 90-day rotation policy)")
    assert r["TLS certificate and key"]["overdue"] is True
    healthy["vault"] = {"configured": True, "address": "https://v", "error": "g448.devenv.vault: permission denied"}
    r = rows(filters["service_card"](healthy))
    assert r["Database password"]["value"] == "unknown: Vault could not be read: g448.devenv.vault: permission denied"


@pytest.mark.parametrize("sans, covered", [
    (["DNS:coder.448.global", "DNS:*.coder.448.global"], True),
    (["DNS:coder.448.global"], False),
    (["DNS:*.448.global"], False),
])
def test_tls_wildcard_coverage(filters, healthy, sans, covered):
    healthy["tls"]["cert"]["subject_alt_name"] = sans
    value = rows(filters["service_card"](healthy))["TLS cert"]["value"]
    assert ("wildcard *.coder.448.global covered" in value) is covered
    assert ("wildcard *.coder.448.global NOT covered" in value) is not covered


def test_tls_without_an_answer_is_unknown_with_the_reason(filters, healthy):
    healthy["tls"] = {"error": "ConnectionRefusedError: [Errno 111] Connection refused"}
    assert rows(filters["service_card"](healthy))["TLS cert"]["value"] == (
        "unknown: no certificate was read (ConnectionRefusedError: [Errno 111] Connection refused)")


def test_public_ip_of_a_host_behind_nat(filters, healthy):
    healthy["host"]["addresses"] = ["172.17.0.3"]
    assert rows(filters["service_card"](healthy))["Public IP(s)"]["value"] == "93.184.216.34"
    healthy["site"]["resolved"] = []
    assert rows(filters["service_card"](healthy))["Public IP(s)"]["value"] == (
        "unknown: the host has no global address (172.17.0.3) and coder.448.global does not resolve from the host")


def test_package_install_and_a_silent_coder(filters, healthy):
    healthy["coder"].update(container=None, package_version="2.33.0", buildinfo={"error": "Connection refused"})
    assert rows(filters["service_card"](healthy))["Container image / version"]["value"] == (
        "Debian package coder 2.33.0; not answering /api/v2/buildinfo (Connection refused)")
    healthy["coder"].update(package_version="")
    assert rows(filters["service_card"](healthy))["Container image / version"]["value"] == (
        "unknown: neither the coder package nor a Coder container is installed")


def test_local_accounts_without_oidc(filters, healthy):
    healthy["coder"]["env"] = filters["coder_env_summary"](env_with(CODER_OIDC_ISSUER_URL=None,
                                                                    CODER_DISABLE_PASSWORD_AUTH="false"))
    r = rows(filters["service_card"](healthy))
    assert r["End-user login"]["value"] == "local accounts (no OIDC issuer is set)"
    assert r["MFA"]["value"] == "none: Coder's password login has no second factor"
    assert r["Password login"]["value"] == "enabled (CODER_DISABLE_PASSWORD_AUTH=false)"


def test_empty_evidence_is_refused(filters):
    with pytest.raises(AnsibleFilterError, match="evidence must be a dict"):
        filters["risk_audit"]({})
    with pytest.raises(AnsibleFilterError, match="evidence must be a dict"):
        filters["service_card"](None)


# ------------------------------------------------------------- coder_env_summary
def test_env_summary_keeps_settings_and_drops_every_secret(filters):
    out = filters["coder_env_summary"](ENV_FILE)
    assert out["settings"]["CODER_MAX_TOKEN_LIFETIME"] == "720h"
    assert out["settings"]["CODER_OIDC_ISSUER_URL"] == "https://auth.448.global/application/o/coder/"
    assert out["database"] == {"host": "127.0.0.1", "port": 5432, "database": "coder", "user": "coder",
                               "sslmode": "disable"}
    assert out["external_auth"] == [{"id": "gitlab", "type": "gitlab", "auth_url": "https://git.448.global/oauth/authorize",
                                     "token_url": "https://git.448.global/oauth/token", "index": 0}]
    assert out["token_like"] == []
    assert "CODER_OIDC_CLIENT_SECRET" in out["keys"]
    for secret in SECRETS + ["coder-client", "gitlab-client"]:
        assert secret not in repr(out)


def test_env_summary_reads_a_slurp_result_and_base64(filters):
    encoded = base64.b64encode(ENV_FILE.encode()).decode()
    slurp = {"content": encoded, "encoding": "base64", "source": "/etc/coder.d/coder.env"}
    assert filters["coder_env_summary"](slurp) == filters["coder_env_summary"](ENV_FILE)
    assert filters["coder_env_summary"](encoded, "base64")["settings"]["CODER_HTTP_ADDRESS"] == "127.0.0.1:3000"
    with pytest.raises(AnsibleFilterError, match="not valid base64"):
        filters["coder_env_summary"]("%%%", "base64")


def test_env_summary_quoted_and_exported_values(filters):
    out = filters["coder_env_summary"]('export CODER_MAX_TOKEN_LIFETIME="24h"\nCODER_ACCESS_URL=\'https://x.y\'\n')
    assert out["settings"] == {"CODER_MAX_TOKEN_LIFETIME": "24h", "CODER_ACCESS_URL": "https://x.y"}


# ---------------------------------------------------------------- small parsers
@pytest.mark.parametrize("text, hours", [
    ("720h", 720.0), ("168h0m0s", 168.0), ("90m", 1.5), ("1h30m", 1.5), ("0", 0.0), ("1.5h", 1.5),
    ("3600s", 1.0), ("-1h", -1.0), ("30d", None), ("", None), ("h", None), ("720", None),
])
def test_go_durations(module, text, hours):
    assert module.go_duration_hours(text) == hours


@pytest.mark.parametrize("text, epoch", [
    ("2026-11-28T10:00:00Z", 1795860000.0),
    ("2026-11-28T10:00:00.5Z", 1795860000.5),
    ("2026-11-28T10:00:00.123456789Z", 1795860000.123456789),
    ("2026-11-28T11:00:00+01:00", 1795860000.0),
    (1795860000, 1795860000.0),
    ("1795860000", 1795860000.0),
    ("yesterday", None),
    (None, None),
])
def test_parse_time(module, text, epoch):
    result = module.parse_time(text)
    assert result == epoch if epoch is None else math.isclose(result, epoch, abs_tol=1e-6)


def test_prometheus_metrics(filters):
    text = ('# HELP x y\n# TYPE g448_backup_last_success_timestamp_seconds gauge\n'
            'g448_backup_last_success_timestamp_seconds 1.7958600e+09\n'
            'g448_backup_last_snapshot_info{id="0123abcd",host="a \\"b\\""} 1\n'
            'g448_backup_check_success 0 1795860000000\nbroken line here\nnan_metric NaN\n')
    out = filters["prometheus_metrics"](text)
    assert out["g448_backup_last_success_timestamp_seconds"] == 1795860000.0
    assert out["g448_backup_check_success"] == 0.0
    assert math.isnan(out["nan_metric"])
    assert "broken" not in out
    labelled = filters["prometheus_metrics"](text, labels=True)
    assert labelled["g448_backup_last_snapshot_info"] == [{"labels": {"id": "0123abcd", "host": 'a "b"'}, "value": 1.0}]


def test_systemctl_show(filters):
    out = filters["systemctl_show"]("LoadState=loaded\nActiveState=active\nMemoryMax=infinity\nExecStart={ path=/x ; }\n"
                                    "Empty=\n\nLoadState=other-unit\n")
    assert out == {"LoadState": "loaded", "ActiveState": "active", "MemoryMax": "infinity",
                   "ExecStart": "{ path=/x ; }", "Empty": ""}
    assert filters["systemctl_show"]("") == {}


def test_the_evidence_is_not_modified(filters, healthy):
    before = copy.deepcopy(healthy)
    filters["risk_audit"](healthy)
    filters["service_card"](healthy)
    assert healthy == before


def test_now_defaults_to_the_current_time(filters, healthy):
    del healthy["now"]
    healthy["backup"]["metrics"] = metrics(last=time.time() - 60, check_time=time.time() - DAY,
                                           drill_time=time.time() - DAY)
    assert verdicts(filters, healthy)["backups"] == "PASS"


def test_backup_rows_say_what_was_not_read(filters, healthy):
    healthy["backup"].update(snapshots=None, snapshots_error="Fatal: unable to open repository at /srv/restic",
                             repository="", repository_error="file not found", metrics={},
                             status_error="file not found: /var/lib/prometheus/node-exporter/g448_backup.prom")
    del healthy["backup"]["timers"]["g448-backup.timer"]
    r = rows(filters["service_card"](healthy))
    assert r["Snapshots"]["value"] == "unknown: Fatal: unable to open repository at /srv/restic"
    assert r["Repository"]["value"] == "unknown: file not found"
    assert r["Last backup"]["value"] == ("unknown: no successful backup is recorded "
                                         "(file not found: /var/lib/prometheus/node-exporter/g448_backup.prom)")
    assert r["Last repository check"]["value"] == "unknown: restic check has not run yet"
    assert r["Schedule"]["value"] == "unknown: g448-backup.timer is not installed"
    assert verdicts(filters, healthy)["backups"] == "FAIL"


def test_a_healthy_backup_schedule_row(filters, healthy):
    r = rows(filters["service_card"](healthy))
    assert r["Schedule"]["value"] == ("g448-backup.timer active and enabled; next run Mon 2026-12-01 02:30:00 UTC")
    assert r["Repository"]["value"] == "/var/backups/g448-restic"


def test_groups_are_listed_in_the_designs_order(filters, healthy):
    healthy["host"]["groups"] = list(reversed(ALL_GROUPS)) + ["molecule", "debian12"]
    assert filters["service_card"](healthy)["groups"] == ALL_GROUPS
