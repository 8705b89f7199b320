# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""g448.devenv.apt_preflight run as Ansible runs it (JSON arguments on stdin), with stand-in dpkg-query and
dpkg executables on PATH and a scratch journal and lists directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[4] / "plugins" / "modules" / "apt_preflight.py"

INSTALLED = "installed base-files amd64 13.8\ninstalled dpkg amd64 1.22.21\n"


@pytest.fixture
def host(tmp_path):
    """A fake host: bin/ with dpkg-query (prints status.txt) and dpkg (logs its argv and env, exits with
    dpkg_rc.txt), a dpkg journal directory and an apt lists directory."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (tmp_path / "updates").mkdir()
    (tmp_path / "lists").mkdir()
    (tmp_path / "status.txt").write_text(INSTALLED)
    (tmp_path / "dpkg_rc.txt").write_text("0")
    (bindir / "dpkg-query").write_text('#!/bin/sh\ncat "%s"\n' % (tmp_path / "status.txt"))
    # dpkg logs its call; a status_after.txt becomes dpkg-query's answer once it ran (what the repair fixed).
    # The host's architecture is the dpkg package's in the status (amd64).
    (bindir / "dpkg").write_text(
        '#!/bin/sh\necho "$* frontend=$DEBIAN_FRONTEND" >> "%s"\n[ -f "%s" ] && cp "%s" "%s"\nexit $(cat "%s")\n'
        % (tmp_path / "dpkg.log", tmp_path / "status_after.txt", tmp_path / "status_after.txt",
           tmp_path / "status.txt", tmp_path / "dpkg_rc.txt")
    )
    for tool in bindir.iterdir():
        tool.chmod(0o755)
    return tmp_path


def run(host, check_mode=False, packages=None):
    args = {
        "dpkg_updates_dir": str(host / "updates"),
        "apt_lists_dir": str(host / "lists"),
        "apt_extended_states": str(host / "extended_states"),
        "_ansible_check_mode": check_mode,
    }
    if packages is not None:
        args["packages"] = packages
    env = dict(os.environ, PATH="%s:%s" % (host / "bin", os.environ["PATH"]))
    done = subprocess.run(
        [sys.executable, str(MODULE)], input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
        capture_output=True, text=True, env=env, check=False,
    )
    return json.loads(done.stdout)


def dpkg_calls(host):
    log = host / "dpkg.log"
    return log.read_text().splitlines() if log.exists() else []


def test_a_healthy_host_changes_nothing(host):
    (host / "lists" / "deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages").write_text("")
    result = run(host)
    assert (result["changed"], result["reasons"], result["package_index"]) == (False, [], True)
    assert dpkg_calls(host) == []


def test_an_empty_lists_directory_has_no_package_index(host):
    (host / "lists" / "lock").write_text("")
    assert run(host)["package_index"] is False


@pytest.mark.parametrize("state", ["unpacked", "half-configured", "triggers-awaited", "triggers-pending"])
def test_an_unfinished_package_is_configured_once(host, state):
    (host / "status.txt").write_text(INSTALLED + "%s g448-dpkg-crash\n" % state)
    result = run(host)
    assert result["changed"] and result["repaired"]
    assert result["reasons"] == ["%s g448-dpkg-crash" % state]
    assert dpkg_calls(host) == ["--force-confdef --force-confold --configure -a frontend=noninteractive"]


def test_a_journal_entry_alone_triggers_the_repair(host):
    (host / "updates" / "0003").write_text("")
    (host / "updates" / "tmp.i").write_text("")
    result = run(host)
    assert result["reasons"] == ["journal entry 0003"]
    assert len(dpkg_calls(host)) == 1


def test_check_mode_reports_the_repair_without_running_dpkg(host):
    (host / "status.txt").write_text(INSTALLED + "half-configured g448-dpkg-crash\n")
    result = run(host, check_mode=True)
    assert result["changed"] is True
    assert dpkg_calls(host) == []


def test_a_failed_repair_fails_with_dpkg_s_message(host):
    (host / "status.txt").write_text(INSTALLED + "half-configured g448-dpkg-crash\n")
    (host / "dpkg_rc.txt").write_text("1")
    result = run(host)
    assert result["failed"] is True
    assert result["msg"].startswith("dpkg --configure -a failed")


STATUS = INSTALLED + (
    "installed jq amd64 1.7.1-6\n"
    "installed libc6:amd64 amd64 2.41-12\n"
    "installed python3-requests all 2.32.3+dfsg-5\n"
    "installed libstdc++6:i386 i386 14.2.0-19\n"
    "config-files restic amd64 0.16.4-1\n"
    "not-installed caddy  \n"
)


@pytest.mark.parametrize("packages, missing", [
    (["jq", "dpkg"], []),
    (["jq", "restic", "caddy", "prometheus"], ["restic", "caddy", "prometheus"]),
    (["libc6", "libc6:amd64"], []),
    (["libc6:i386"], ["libc6:i386"]),
    (["python3-requests", "python3-requests:all"], []),
    # Only another architecture's build is installed: the host's own is missing.
    (["libstdc++6", "libstdc++6:i386"], ["libstdc++6"]),
    (["jq=1.7.1-6"], []),
    (["jq=1.6-2"], ["jq=1.6-2"]),
    (["jq=1.7*", "j*", "jq>=1.0"], ["jq=1.7*", "j*", "jq>=1.0"]),
])
def test_missing_names_what_dpkg_has_not_fully_installed(host, packages, missing):
    (host / "status.txt").write_text(STATUS)
    result = run(host, packages=packages)
    assert (result["changed"], result["missing"]) == (False, missing)


def test_without_packages_nothing_is_missing(host):
    (host / "status.txt").write_text(STATUS)
    assert run(host)["missing"] == []


def test_after_a_repair_missing_is_what_dpkg_reports_then(host):
    (host / "status.txt").write_text(STATUS + "half-configured g448-dpkg-crash amd64 1.0\n")
    (host / "status_after.txt").write_text(STATUS + "installed g448-dpkg-crash amd64 1.0\n")
    result = run(host, packages=["g448-dpkg-crash", "jq", "restic"])
    assert result["repaired"] is True
    assert result["missing"] == ["restic"]


def test_check_mode_with_a_repair_due_reports_every_package_missing(host):
    (host / "status.txt").write_text(STATUS + "half-configured g448-dpkg-crash amd64 1.0\n")
    result = run(host, check_mode=True, packages=["jq", "restic"])
    assert result["missing"] == ["jq", "restic"]
    assert dpkg_calls(host) == []


def test_a_package_apt_installed_as_a_dependency_is_missing_until_the_apt_task_marks_it(host):
    """ansible.builtin.apt marks what it names as manually installed; a skipped apt task would leave a
    dependency-installed package to apt autoremove."""
    (host / "status.txt").write_text(STATUS)
    (host / "extended_states").write_text(
        "Package: jq\nArchitecture: amd64\nAuto-Installed: 1\n\n"
        "Package: libc6\nArchitecture: amd64\nAuto-Installed: 0\n\n"
        "Package: python3-requests\nArchitecture: amd64\nAuto-Installed: 1\n")
    result = run(host, packages=["jq", "libc6", "python3-requests", "dpkg"])
    assert result["missing"] == ["jq", "python3-requests"]
