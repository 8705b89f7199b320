# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.coder_env_summary filter: the non-secret settings of Coder's env file and the names of token-like entries.

The implementation is plugins/plugin_utils/_report_parsers.py.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: coder_env_summary
author:
  - g448 platform team (@g448)
version_added: 1.0.0
short_description: The non-secret settings of Coder's env file
description:
  - Parses Coder's C(NAME=value) env file (C(/etc/coder.d/coder.env)) and keeps only what is not secret -
    access URLs, OIDC issuer, password-auth switch, token lifetimes, external auth ids, types and URLs, and
    the database host, port, name, user and sslmode (never its password).
  - Entries that look like stored long-lived tokens (GitLab C(glpat-), GitHub C(ghp_)/C(github_pat_), Coder API
    keys, or names such as C(*_TOKEN)) are listed by name only, never by value.
options:
  _input:
    description: The file's text, its base64 (with O(encoding=base64)), or a whole C(ansible.builtin.slurp) result.
    type: raw
    required: true
  encoding:
    description: V(base64) when the input is base64 text.
    type: str
"""

EXAMPLES = r"""
- name: Read Coder's env file without showing it
  ansible.builtin.slurp:
    src: /etc/coder.d/coder.env
  register: __env
  no_log: true

- name: Keep the safe part
  ansible.builtin.set_fact:
    __coder_env: "{{ __env | g448.devenv.coder_env_summary }}"
"""

RETURN = r"""
_value:
  description: C(settings), C(external_auth), C(database), C(token_like) (entry names) and C(keys) (every entry name).
  type: dict
"""

from ansible_collections.g448.devenv.plugins.plugin_utils._report_parsers import coder_env_summary


class FilterModule:
    """The coder_env_summary filter."""

    def filters(self):
        return {"coder_env_summary": coder_env_summary}
