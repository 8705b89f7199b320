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

INSTALLED = "installed base-files\ninstalled dpkg\n"


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
    (bindir / "dpkg").write_text(
        '#!/bin/sh\necho "$* frontend=$DEBIAN_FRONTEND" >> "%s"\nexit $(cat "%s")\n'
        % (tmp_path / "dpkg.log", tmp_path / "dpkg_rc.txt")
    )
    for tool in bindir.iterdir():
        tool.chmod(0o755)
    return tmp_path


def run(host, check_mode=False):
    args = {
        "dpkg_updates_dir": str(host / "updates"),
        "apt_lists_dir": str(host / "lists"),
        "_ansible_check_mode": check_mode,
    }
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
