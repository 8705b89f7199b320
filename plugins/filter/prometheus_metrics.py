# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.prometheus_metrics filter: a Prometheus text-format file as a dict of metrics.

The implementation is plugins/plugin_utils/_report_parsers.py.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: prometheus_metrics
author:
  - g448 platform team (@g448)
version_added: 1.0.0
short_description: Samples of a Prometheus text-format file
description:
  - Reads a Prometheus exposition-format text, such as a node_exporter textfile-collector C(.prom) file,
    into a dict. Comments and malformed lines are skipped; values are floats.
options:
  _input:
    description: The file's text.
    type: str
    required: true
  labels:
    description: Return every sample with its labels instead of the last value of each metric.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the backup status
  ansible.builtin.debug:
    msg: "{{ (__status.content | b64decode | g448.devenv.prometheus_metrics).g448_backup_last_success_timestamp_seconds }}"
"""

RETURN = r"""
_value:
  description: "C({name: value}), or with O(labels=true) C({name: [{labels: {...}, value: v}, ...]})."
  type: dict
"""

from ansible_collections.g448.devenv.plugins.plugin_utils._report_parsers import prometheus_metrics


class FilterModule:
    """The prometheus_metrics filter."""

    def filters(self):
        return {"prometheus_metrics": prometheus_metrics}
