# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The action side of g448.devenv.apt_preflight: the check runs on a host once per ansible-playbook run.

Every role opens its install step with the module, so a site.yml run would check the same host once per role.
The first check that finds dpkg healthy and a package index present is recorded as the host fact
``g448_apt_preflight`` with this run's id; a later call in the same run answers from it without a round trip,
unless it asks which of its packages are missing (that answer changes with each install, so it always reaches
the host; the call then replaces the role's apt task on a rerun, a larger saving).
A check that repaired dpkg, would repair it (check mode) or found no package index is not recorded, so the next
role checks again (after its apt update the index is there). A role run alone still checks once."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase

MODULE = "g448.devenv.apt_preflight"
FACT = "g448_apt_preflight"


def run_id():
    """This ansible-playbook run: the controller process that forked the worker, by pid and start time (a pid
    alone may come back in a later run when facts are cached on disk). None where /proc cannot tell."""
    parent = os.getppid()
    try:
        with open("/proc/%d/stat" % parent, "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # Field 22 of proc_pid_stat(5) is the start time; fields[0] here is field 3.
    return "%d:%s" % (parent, fields[19].decode("ascii")) if len(fields) > 19 else None


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp

        this_run = run_id()
        module_args = dict(self._task.args)
        # The check of dpkg is recorded per host and options; the packages asked about are not part of it (the
        # answer about them changes with every install, so a call with packages always reaches the host).
        check_args = {key: value for key, value in module_args.items() if key != "packages"}
        recorded = (task_vars.get("ansible_facts") or {}).get(FACT) or {}
        if (this_run is not None and not module_args.get("packages") and recorded.get("run") == this_run
                and recorded.get("args") == check_args and recorded.get("package_index") is True):
            result.update(changed=False, repaired=False, reasons=[], package_index=True, cached=True, missing=[],
                          msg="dpkg was checked on this host earlier in this run")
            return result

        # _execute_module adds Ansible's internal arguments to the dict it is given: pass it a copy.
        result.update(self._execute_module(module_name=MODULE, module_args=dict(module_args), task_vars=task_vars))
        result["cached"] = False
        if this_run is not None and not result.get("failed") and not result.get("reasons") \
                and result.get("package_index") is True:
            result["ansible_facts"] = {FACT: dict(run=this_run, args=check_args, package_index=True)}
        return result
