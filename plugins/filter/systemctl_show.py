# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.systemctl_show filter: the output of systemctl show for one unit as a dict.

The implementation is plugins/plugin_utils/_report_parsers.py.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: systemctl_show
author:
  - g448 platform team (@g448)
version_added: 1.0.0
short_description: The properties printed by systemctl show for one unit
description:
  - Turns the C(Name=value) lines of C(systemctl show <unit>) into a dict (the first unit's block only).
options:
  _input:
    description: The command's standard output.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read a timer's state
  ansible.builtin.command:
    argv: [systemctl, show, "--property=ActiveState,UnitFileState", g448-backup.timer]
  register: __timer
  changed_when: false

- name: Use it
  ansible.builtin.debug:
    msg: "{{ (__timer.stdout | g448.devenv.systemctl_show).ActiveState }}"
"""

RETURN = r"""
_value:
  description: Property name to value (strings).
  type: dict
"""

from ansible_collections.g448.devenv.plugins.plugin_utils._report_parsers import systemctl_show


class FilterModule:
    """The systemctl_show filter."""

    def filters(self):
        return {"systemctl_show": systemctl_show}
