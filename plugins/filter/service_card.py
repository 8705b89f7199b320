# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.service_card filter: the fields of Coder's service card from a host's evidence.

The implementation is plugins/plugin_utils/_service_card.py.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: service_card
author:
  - g448 platform team (@g448)
version_added: 1.0.0
short_description: The fields of Coder's service card, filled from a host's evidence
description:
  - Builds the card's fields (header, infrastructure map, credentials in Vault with their age, backups,
    external dependencies, authentication and access) from the evidence C(playbooks/report.yml) gathers.
  - "Every field is filled with a value and the evidence behind it, or reads C(unknown: <reason>), for
    example C(unknown: no Vault address) or C(unknown: this host is not in group coder_proxy)."
  - No secret value is ever part of the result; Vault secrets are described by their KV v2 metadata only.
options:
  _input:
    description: The evidence dict of one host, as built by C(playbooks/report.yml).
    type: dict
    required: true
  owner:
    description: The card's owner, which no system records. Empty leaves it unknown.
    type: str
    default: ""
  maturity:
    description: The card's maturity assessment, which no system records. Empty leaves it unknown.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Write the card
  ansible.builtin.template:
    src: templates/service_card.md.j2
    dest: "reports/{{ inventory_hostname }}.md"
    mode: "0644"
  vars:
    __report_card: "{{ __report_evidence | g448.devenv.service_card(owner='Platform team') }}"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description:
    - C(header), C(infrastructure), C(credentials), C(authentication), C(backup), C(dependencies)
      (lists of C(item), C(value), C(evidence), C(known); credentials also C(path)), C(groups) and
      C(unknown) (the names of the fields left unknown).
  type: dict
"""

from ansible_collections.g448.devenv.plugins.plugin_utils._service_card import service_card


class FilterModule:
    """The service_card filter."""

    def filters(self):
        return {"service_card": service_card}
