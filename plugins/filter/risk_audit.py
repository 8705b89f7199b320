# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.risk_audit filter: the six risks of Coder's service card from a host's evidence.

The implementation is plugins/plugin_utils/_risk_audit.py.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: risk_audit
author:
  - g448 platform team (@g448)
version_added: 1.0.0
short_description: Judge the six risks of Coder's service card from a host's evidence
description:
  - Evaluates the risks of section 10 of the company's service card (workspace persistence, resource
    exhaustion, source code on a shared host, PAT proliferation, backups, on-call alerting) from the evidence
    that C(playbooks/report.yml) gathers on one host.
  - On-call alerting is C(WARN) while Prometheus sends its alerts to no Alertmanager
    (C(monitoring_alertmanager_targets) is empty, the default), since the alerts then page nobody.
  - Each risk is C(PASS) when every check passed, C(FAIL) when one failed, C(WARN) when one could not be
    evaluated (for example a repository check that never ran, or a workspace risk on a host with no
    workspace container to inspect, which is never C(PASS) without one), and C(N/A) when the host is not in the
    inventory group that holds the risk's components (the evidence then names the hosts that are).
  - Evidence lines of failed checks start with C([FAIL]), of unknown ones with C([WARN]).
options:
  _input:
    description:
      - The evidence dict of one host, as built by C(playbooks/report.yml) (keys C(host), C(inventory),
        C(coder), C(docker), C(template), C(backup), C(monitoring), C(policy), ...).
      - C(policy) holds C(max_token_lifetime_hours), C(backup_max_age_hours), C(check_max_age_days) and
        C(drill_max_age_days).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Fail when a risk is FAIL
  ansible.builtin.assert:
    that: __risks | selectattr('verdict', 'equalto', 'FAIL') | list | length == 0
  vars:
    __risks: "{{ __report_evidence | g448.devenv.risk_audit }}"
"""

RETURN = r"""
_value:
  description: One item per risk, in the card's order, each with C(id), C(title), C(verdict) and C(evidence) (a list of strings).
  type: list
  elements: dict
"""

from ansible_collections.g448.devenv.plugins.plugin_utils._risk_audit import risk_audit


class FilterModule:
    """The risk_audit filter."""

    def filters(self):
        return {"risk_audit": risk_audit}
