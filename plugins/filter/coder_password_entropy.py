# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.coder_password_entropy filter: the entropy Coder estimates for a password.

The implementation is plugins/plugin_utils/_coder_password.py.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: coder_password_entropy
author:
  - g448 platform team (@g448)
version_added: 1.1.0
short_description: The entropy in bits that Coder's password policy estimates for a password
description:
  - Returns the estimate of go-password-validator (v0.3.0), the library Coder uses for its password policy.
    Coder refuses a user's password, the first admin's included (C(POST /api/v2/users/first)), when the estimate is
    below 52 bits or the password is longer than 64 bytes.
  - The base is the sum of the sizes of the character sets used (26 lowercase letters, 26 uppercase letters,
    10 digits, 5 characters C(!@$&*), 5 separators C(_-.,) and space, 22 other specials); every other distinct
    character adds 1.
  - The length discounts repeats and common sequences, each counted at most twice, so C(aaaa) counts 2 and
    C(12345), C(765432), C(abc) and C(qwerty) count 2 each.
  - The result is length times log2(base). No part of the password is ever part of an error message.
options:
  _input:
    description: The password.
    type: str
    required: true
seealso:
  - name: go-password-validator
    description: The library whose estimate this filter reproduces.
    link: https://github.com/wagslane/go-password-validator
"""

EXAMPLES = r"""
# Judge the secret in a no_log task, then assert on the boolean: no_log would also hide the
# assert's message, which should name the variable.
- name: Judge the first admin's password by Coder's policy
  ansible.builtin.set_fact:
    __strong: "{{ (coder_admin_password | g448.devenv.coder_password_entropy) >= 52 }}"
  no_log: true

- name: Ensure the first admin's password passes Coder's policy
  ansible.builtin.assert:
    that: __strong | bool
    fail_msg: coder_admin_password is too weak for Coder (entropy below 52 bits).
"""

RETURN = r"""
_value:
  description: The estimated entropy in bits (0.0 for an empty password).
  type: float
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.g448.devenv.plugins.plugin_utils._coder_password import password_entropy


def coder_password_entropy(password):
    """The entropy in bits of ``password`` as Coder estimates it."""
    if isinstance(password, bytes):
        password = to_text(password, errors="surrogate_or_strict")
    if not isinstance(password, str):
        raise AnsibleFilterError("coder_password_entropy expects a string, got %s" % type(password).__name__)
    return password_entropy(str(password))


class FilterModule:
    """The coder_password_entropy filter."""

    def filters(self):
        return {"coder_password_entropy": coder_password_entropy}
