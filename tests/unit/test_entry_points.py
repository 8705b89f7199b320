# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The roles' entry points are the only seam between the playbooks and the roles.

* every include_role / import_role of a collection role in playbooks/*.yml calls an entry point
  that the role declares in meta/argument_specs.yml, and every declared entry point has its
  tasks file;
* playbooks/check.yml, report.yml and restore.yml name none of the roles' files, units, paths,
  metric names or probes (they take them from the roles' ``status``, ``stop``, ``start`` and
  ``health`` entry points);
* each role's ``status`` entry point only reads: every task that runs a command reports
  changed=0 and runs in --check, and the entry point returns its one fact ``<role>_status``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yml"))
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())
INCLUDE_ACTIONS = ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role")

# The entry points the issue asks for; a role may declare more.
REQUIRED = {
    "coder": {"main", "stop", "start", "health", "status"},
    "postgres": {"main", "status"},
    "caddy_proxy": {"main", "status"},
    "workspace_host": {"main", "status"},
    "backup": {"main", "status"},
    "monitoring": {"main", "status"},
}

# Role internals the operational playbooks must not retype (each is owned by one role).
INTERNALS = (
    "/etc/coder.d",                    # coder: its env file's directory
    "coder.env",                       # coder: its env file
    "dpkg-query",                      # coder: the package probe
    "docker container inspect",        # coder, workspace_host: container probes
    "docker info",                     # workspace_host: Docker's state
    "CODER_HTTP_ADDRESS",              # coder: where its API listens
    "0\\.0\\.0\\.0",                   # coder: the bind-address regex of its API URL
    "default('package')",              # coder: coder_install_method's default
    "default('coder')",                # coder: coder_container_name's default
    "g448-backup",                     # backup: its units and directories
    "g448_backup",                     # backup: its metric names and status file
    ".prom",                           # backup: its status file
    "/var/lib/prometheus",             # backup: its status file's directory
    "workspaces.slice",                # workspace_host: the slice's default name
    "g448-workspace-isolation",        # workspace_host: the isolation unit
    "G448-WS-",                        # workspace_host: the isolation chains
    "/etc/g448",                       # workspace_host: the unsafe-settings record
    "/etc/docker",                     # workspace_host: daemon.json
    "caddy version",                   # caddy_proxy: its version probe
    "openssl",                         # caddy_proxy: the certificate probe
    "systemctl",                       # any role: unit probes
    "postgresql_ping",                 # postgres: its probes
    "postgresql_info",
    "pg_hba_file_rules",
)
OPERATIONAL = ("check.yml", "report.yml", "restore.yml")

# Modules that cannot change anything; every other task of a status entry point must say changed_when: false.
READ_ONLY_MODULES = ("ansible.builtin.set_fact", "ansible.builtin.slurp", "community.crypto.x509_certificate_info",
                     "community.postgresql.postgresql_info")


def _load(path):
    return yaml.safe_load(path.read_text()) or []


def _tasks(items):
    """Every task of a task list, blocks (block/rescue/always) opened."""
    for task in items or []:
        if not isinstance(task, dict):
            continue
        if "block" in task:
            for key in ("block", "rescue", "always"):
                yield from _tasks(task.get(key))
        else:
            yield task


def _playbook_tasks(path):
    for play in _load(path):
        if isinstance(play, dict):
            for key in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                yield from _tasks(play.get(key))


def _role_includes(path):
    """(role, tasks_from) of every include_role / import_role of a g448.devenv role in a playbook."""
    found = []
    for task in _playbook_tasks(path):
        for action in INCLUDE_ACTIONS:
            if action in task:
                args = task[action]
                name = str(args.get("name", ""))
                if name.startswith("g448.devenv."):
                    found.append((name.split(".", 2)[2], str(args.get("tasks_from", "main"))))
    return found


def _entry_points(role):
    return _load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]


def _module(task):
    """A task's module: its one key that is a fully qualified name (every module is written so)."""
    names = [k for k in task if k.count(".") >= 2]
    assert len(names) == 1, task
    return names[0]


def test_the_playbooks_include_roles():
    assert sum(len(_role_includes(p)) for p in PLAYBOOKS) > 0


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.name)
def test_every_role_include_is_a_declared_entry_point(playbook):
    undeclared = [(role, entry) for role, entry in _role_includes(playbook)
                  if role not in ROLES or entry not in _entry_points(role)]
    assert undeclared == [], "%s calls entry points its roles do not declare in meta/argument_specs.yml: %s" % (
        playbook.name, undeclared)


@pytest.mark.parametrize("role", ROLES)
def test_every_declared_entry_point_has_its_tasks_file(role):
    missing = [e for e in _entry_points(role) if not (ROOT / "roles" / role / "tasks" / ("%s.yml" % e)).is_file()]
    assert missing == []


@pytest.mark.parametrize("role, wanted", sorted(REQUIRED.items()))
def test_the_roles_declare_their_operations(role, wanted):
    assert wanted - set(_entry_points(role)) == set()


@pytest.mark.parametrize("name", OPERATIONAL)
def test_the_operational_playbooks_use_entry_points(name):
    included = _role_includes(ROOT / "playbooks" / name)
    assert included, "%s includes no role entry point" % name
    if name != "restore.yml":
        assert {entry for role, entry in included} == {"status"}


@pytest.mark.parametrize("name", OPERATIONAL)
def test_the_operational_playbooks_name_no_role_internals(name):
    text = (ROOT / "playbooks" / name).read_text()
    found = [needle for needle in INTERNALS if needle in text]
    assert found == [], "%s names role internals (take them from the role's entry points): %s" % (name, found)


def test_restore_runs_the_coder_entry_points_in_order():
    order = _role_includes(ROOT / "playbooks" / "restore.yml")
    assert order == [("backup", "restore_fetch"), ("coder", "stop"), ("backup", "restore_apply"),
                     ("coder", "start"), ("coder", "health")]
    assert all(play.get("any_errors_fatal") is True for play in _load(ROOT / "playbooks" / "restore.yml"))


@pytest.mark.parametrize("role", sorted(REQUIRED))
def test_status_only_reads_and_returns_one_fact(role):
    tasks = list(_tasks(_load(ROOT / "roles" / role / "tasks" / "status.yml")))
    writers = [t.get("name") for t in tasks
               if _module(t) not in READ_ONLY_MODULES
               and not (t.get("changed_when") is False and t.get("check_mode") is False)]
    assert writers == [], "tasks of %s's status that may change something or skip under --check: %s" % (role, writers)
    facts = [k for t in tasks for k in (t.get("ansible.builtin.set_fact") or {}) if not k.startswith("__")]
    assert facts == ["%s_status" % role]
    spec = _entry_points(role)["status"]
    assert "%s_status" % role in " ".join(spec["description"]) + spec["short_description"]
