# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.apt_preflight action plugin in real ansible-playbook runs on localhost: one check of a host
per run when it is healthy, a check per call while it is not, and a fresh check in the next run even with facts
cached on disk. A stand-in dpkg-query on PATH counts the module's calls."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PLAYBOOK = """
- name: Three roles' preflight on one host
  hosts: localhost
  gather_facts: false
  environment:
    PATH: "{{ bindir }}:{{ ansible_env_path }}"
  tasks:
    - name: Preflight of the first role
      g448.devenv.apt_preflight: &args
        dpkg_updates_dir: "{{ root }}/updates"
        apt_lists_dir: "{{ root }}/lists"
      register: first

    - name: Preflight of the second role
      g448.devenv.apt_preflight: *args
      register: second

- name: A later play of the same run
  hosts: localhost
  gather_facts: false
  environment:
    PATH: "{{ bindir }}:{{ ansible_env_path }}"
  tasks:
    - name: Preflight of the third role
      g448.devenv.apt_preflight:
        dpkg_updates_dir: "{{ root }}/updates"
        apt_lists_dir: "{{ root }}/lists"
      register: third

    - name: A role that asks which of its packages are missing
      g448.devenv.apt_preflight:
        dpkg_updates_dir: "{{ root }}/updates"
        apt_lists_dir: "{{ root }}/lists"
        apt_extended_states: "{{ root }}/extended_states"
        packages: [dpkg, jq]
      register: fourth

    - name: Show what each call answered
      ansible.builtin.debug:
        msg: >-
          CACHED={{ [first.cached, second.cached, third.cached, fourth.cached] | join(',') }}
          INDEX={{ third.package_index }} MISSING={{ second.missing | join(',') }}/{{ fourth.missing | join(',') }}
"""


@pytest.fixture
def host(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for sub in ("updates", "lists", "facts"):
        (tmp_path / sub).mkdir()
    (bindir / "dpkg-query").write_text('#!/bin/sh\necho call >> "%s"\necho "installed dpkg amd64 1.22.21"\n' % (tmp_path / "calls"))
    (bindir / "dpkg-query").chmod(0o755)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\nfact_caching = jsonfile\nfact_caching_connection = %s\n" % (tmp_path / "facts"))
    return tmp_path


def playbook(host, collections_root, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections_root), ANSIBLE_CONFIG=str(host / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", HOME=str(host))
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "root=%s" % host,
               "-e", "bindir=%s" % (host / "bin"), "-e", "ansible_env_path=%s" % os.environ["PATH"], "play.yml", *args]
    done = subprocess.run(command, cwd=host, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def calls(host):
    path = host / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_healthy_host_is_checked_once_per_run(host, collections_root):
    (host / "lists" / "deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages").write_text("")
    stdout = playbook(host, collections_root)
    # The call with packages reaches the host although dpkg was checked: the answer changes with installs.
    assert calls(host) == 2
    assert 'CACHED=False,True,True,False INDEX=True MISSING=/jq' in stdout
    # The next run checks again, though the fact from the first is cached on disk.
    playbook(host, collections_root)
    assert calls(host) == 4


def test_a_host_without_a_package_index_is_checked_every_time(host, collections_root):
    stdout = playbook(host, collections_root)
    assert calls(host) == 4
    assert "CACHED=False,False,False,False INDEX=False" in stdout


def test_a_repair_due_in_check_mode_is_not_recorded(host, collections_root):
    (host / "lists" / "deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages").write_text("")
    (host / "updates" / "0001").write_text("")
    stdout = playbook(host, collections_root, "--check")
    assert calls(host) == 4
    assert "CACHED=False,False,False,False" in stdout
