#!/usr/bin/python
# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.apt_preflight module: make a Debian host's package manager usable before a role's apt tasks."""

from __future__ import annotations

DOCUMENTATION = r"""
module: apt_preflight
author:
  - g448 platform team (@g448)
version_added: 1.1.0
short_description: Finish a dpkg run a crash interrupted, and tell whether apt holds a package index
description:
  - A crash during an earlier package install (power loss, OOM kill) leaves dpkg interrupted, with its journal
    in C(/var/lib/dpkg/updates) or packages left C(unpacked), C(half-configured), C(triggers-awaited) or
    C(triggers-pending); every later apt run refuses to start until C(dpkg --configure -a) finishes it. This
    module finds that state and runs C(dpkg --force-confdef --force-confold --configure -a) (noninteractive),
    once, before a role's package tasks.
  - It also returns whether C(/var/lib/apt/lists) holds any package index (C(*_Packages*)). A fresh image may
    carry an empty but recent lists directory, which C(cache_valid_time) of M(ansible.builtin.apt) would trust;
    a role refreshes the cache whatever its age when RV(package_index) is V(false).
  - Every role of the collection opens its install step with this one task, so each role stays standalone.
    Without O(packages), the action plugin checks a host once per C(ansible-playbook) run. A check that found dpkg
    healthy and a package index present is recorded as the host fact C(g448_apt_preflight) with the run's id, and a later call with the
    same options in the same run returns that (RV(cached)) without a round trip. A repair, a repair due in check
    mode or a missing package index is never recorded, so the next call checks again.
options:
  dpkg_updates_dir:
    description: dpkg's journal directory (tests point it elsewhere).
    type: path
    default: /var/lib/dpkg/updates
  apt_lists_dir:
    description: apt's package lists directory.
    type: path
    default: /var/lib/apt/lists
  apt_extended_states:
    description: apt's record of automatically installed packages (tests point it elsewhere).
    type: path
    default: /var/lib/apt/extended_states
  packages:
    description:
      - The packages the role's next apt task installs with C(state=present). The module returns those of them
        that dpkg does not have fully installed, or that apt marks as automatically installed (RV(missing)), from
        the same C(dpkg-query) run, so a role whose packages are all installed skips its apt task on a rerun (apt
        loads its whole cache even when it has nothing to do). M(ansible.builtin.apt) marks every package it names
        as manually installed; a package that came in as another's dependency is reported missing so the apt
        task runs once and marks it, and C(apt autoremove) never takes it away.
      - A name without an architecture means the host's own (the architecture of the installed dpkg package) or
        C(all); a name may
        carry one (V(libc6:i386)) or an exact version (V(jq=1.7.1-3)). A name with a wildcard or a version
        relation dpkg cannot compare is always reported missing, so apt decides.
      - With packages the module always runs (installs between two roles change the answer); without, the
        action plugin may answer from this run's earlier check.
    type: list
    elements: str
    default: []
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reports C(changed) when a repair is due, without running dpkg.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: debian
notes:
  - Needs root (C(become)) to repair.
seealso:
  - module: ansible.builtin.apt
"""

EXAMPLES = r"""
- name: Ensure dpkg is usable and learn whether apt holds a package index
  g448.devenv.apt_preflight:
  register: __myrole_apt

- name: Ensure the role's packages are installed
  ansible.builtin.apt:
    name: [jq]
    update_cache: true
    cache_valid_time: "{{ 3600 if __myrole_apt.package_index else 0 }}"

- name: Ensure dpkg is usable and learn which of the role's packages are missing
  g448.devenv.apt_preflight:
    packages: [restic, jq]
  register: __myrole_apt

- name: Ensure the role's packages are installed (skipped on a rerun where all are)
  ansible.builtin.apt:
    name: [restic, jq]
    update_cache: true
    cache_valid_time: "{{ 3600 if __myrole_apt.package_index else 0 }}"
  when: __myrole_apt.missing | length > 0
"""

RETURN = r"""
repaired:
  description: Whether dpkg needed C(--configure -a) (in check mode, whether it would have run).
  returned: always
  type: bool
  sample: false
reasons:
  description: What showed that dpkg was interrupted (journal entries, packages and their states).
  returned: always
  type: list
  elements: str
  sample: ["journal entry 0003", "half-configured g448-dpkg-crash"]
package_index:
  description: Whether the apt lists directory holds at least one package index.
  returned: always
  type: bool
  sample: true
cached:
  description: Whether the answer came from this run's earlier check of the host (no module call).
  returned: always
  type: bool
  sample: false
missing:
  description:
    - The names of O(packages) that dpkg does not have fully installed (or not at the version asked for), or
      that apt marks as automatically installed, in the order given; empty when O(packages) is empty. In check
      mode after a repair that would run, every package is reported missing.
  returned: always
  type: list
  elements: str
  sample: [restic]
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule

STATUS_FORMAT = "${db:Status-Status} ${binary:Package} ${Architecture} ${Version}\\n"
UNFINISHED_STATES = ("unpacked", "half-configured", "triggers-awaited", "triggers-pending")
_JOURNAL_ENTRY = re.compile(r"^[0-9]+$")


def journal_entries(names):
    """The names of dpkg journal files (all digits) among a directory's entries, sorted."""
    return sorted(name for name in names if _JOURNAL_ENTRY.match(name))


def parse_status(status_text):
    """(state, package, architecture, version) for each line of dpkg-query's output (STATUS_FORMAT)."""
    rows = []
    for line in status_text.splitlines():
        state, package, arch, version = (line.strip().split(" ", 3) + ["", "", ""])[:4]
        if package:
            rows.append((state, package, arch, version))
    return rows


def unfinished_packages(rows):
    """'state package' for each package in a state an interrupted run leaves behind."""
    return ["%s %s" % (state, package) for state, package, _arch, _version in rows if state in UNFINISHED_STATES]


def parse_extended_states(text):
    """The (package, architecture) pairs apt marks Auto-Installed: 1 in its extended_states file."""
    auto = set()
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        if fields.get("auto-installed") == "1" and fields.get("package"):
            auto.add((fields["package"], fields.get("architecture", "")))
    return auto


def _wanted(name, native):
    """(package, architectures, version) of a name as apt reads it: no architecture means the host's or all."""
    spec, _sep, version = name.partition("=")
    package, _sep, arch = spec.partition(":")
    return package, ({arch} if arch else {native, "all"}), version


def missing_packages(wanted, rows, native, auto=frozenset()):
    """The names in `wanted` that dpkg's rows do not show fully installed (at the exact version for name=version),
    or that apt marks automatically installed (`auto`, from parse_extended_states). A name with a wildcard or a
    relation (apt's own syntax) is always missing: apt decides."""
    installed = {}
    for state, package, arch, version in rows:
        if state == "installed":
            installed[(package.partition(":")[0], arch)] = version
    missing = []
    for name in wanted:
        if any(char in name for char in "*?[<>") or "==" in name:
            missing.append(name)
            continue
        package, archs, version = _wanted(name, native)
        found = [(arch, installed[(package, arch)]) for arch in sorted(archs) if (package, arch) in installed]
        if not found or (version and all(have != version for _arch, have in found)):
            missing.append(name)
        elif any((package, arch) in auto for arch in archs | {""}):
            # apt records an Architecture: all package under the host's architecture.
            missing.append(name)
    return missing


def has_package_index(names):
    """Whether apt's lists directory entries include a package index."""
    return any("_Packages" in name for name in names)


def _listdir(path):
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def dpkg_status(module, dpkg_query):
    """dpkg-query's rows for every package dpkg knows."""
    rc, out, err = module.run_command([dpkg_query, "--show", "--showformat=" + STATUS_FORMAT])
    if rc != 0:
        module.fail_json(msg="dpkg-query could not list the packages: %s" % (err.strip() or out.strip()), rc=rc)
    return parse_status(out)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dpkg_updates_dir=dict(type="path", default="/var/lib/dpkg/updates"),
            apt_lists_dir=dict(type="path", default="/var/lib/apt/lists"),
            apt_extended_states=dict(type="path", default="/var/lib/apt/extended_states"),
            packages=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    dpkg_query = module.get_bin_path("dpkg-query", required=True)
    rows = dpkg_status(module, dpkg_query)
    wanted = module.params["packages"]

    reasons = ["journal entry %s" % name for name in journal_entries(_listdir(module.params["dpkg_updates_dir"]))]
    reasons += unfinished_packages(rows)
    result = dict(changed=bool(reasons), repaired=bool(reasons), reasons=reasons)
    # The host's architecture is dpkg's own (what dpkg --print-architecture prints), already in the rows.
    native = next((arch for _state, package, arch, _version in rows if package == "dpkg"), "")
    auto = parse_extended_states(_read(module.params["apt_extended_states"])) if wanted else frozenset()
    # In check mode the repair does not run, so what it would leave installed is unknown: apt decides.
    result["missing"] = list(wanted) if reasons and module.check_mode else missing_packages(wanted, rows, native, auto)

    if reasons and not module.check_mode:
        dpkg = module.get_bin_path("dpkg", required=True)
        rc, out, err = module.run_command(
            [dpkg, "--force-confdef", "--force-confold", "--configure", "-a"],
            environ_update={"DEBIAN_FRONTEND": "noninteractive"},
        )
        if rc != 0:
            module.fail_json(msg="dpkg --configure -a failed: %s" % (err.strip() or out.strip()), rc=rc, **result)
        if wanted:
            result["missing"] = missing_packages(wanted, dpkg_status(module, dpkg_query), native, auto)

    result["package_index"] = has_package_index(_listdir(module.params["apt_lists_dir"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
