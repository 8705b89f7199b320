# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.system_path filter: true when a path is / or a system directory (after normalising it)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: system_path
author:
  - g448 platform team (@g448)
version_added: 1.1.0
short_description: True when a path is C(/) or a system directory that a role must never chown, chmod or move
description:
  - Normalises the path as the kernel resolves its text (repeated slashes, C(.), C(..) and a trailing slash
    removed) and returns V(true) when the result is C(/), one of the system directories of a Debian host
    (C(/etc), C(/usr), C(/var), C(/boot), C(/root), C(/home), C(/bin), C(/sbin), C(/lib), C(/lib64), C(/opt),
    C(/srv), C(/tmp), C(/run), C(/var/lib), C(/var/log), C(/usr/local), C(/etc/systemd/system), ...), or any
    path under the kernel's pseudo file systems C(/proc), C(/sys) and C(/dev).
  - A directory below a system directory (C(/var/lib/postgresql), C(/etc/caddy)) is not a system directory.
  - The check is textual, on the controller; it does not follow symlinks on the host.
  - An empty value (or V(none)) is V(false), so optional paths can be checked as they are. A relative path is
    judged as if it were absolute (C(etc) like C(/etc)); roles refuse relative paths on their own.
  - Use it in a role's preflight for every path variable the role chowns, chmods, moves or deletes, with a
    C(fail_msg) naming the variable.
options:
  _input:
    description: The path.
    type: path
    required: true
  extra:
    description: More directories to treat as system directories (each normalised the same way).
    type: list
    elements: path
    default: []
seealso:
  - name: Filesystem Hierarchy Standard
    description: The directories this filter protects.
    link: https://refspecs.linuxfoundation.org/FHS_3.0/fhs/index.html
"""

EXAMPLES = r"""
- name: Ensure postgres_data_dir is not a system directory
  ansible.builtin.assert:
    that: not (postgres_data_dir | g448.devenv.system_path)
    fail_msg: >-
      postgres_data_dir ({{ postgres_data_dir }}) is / or a system directory; the role would chown it
      to postgres. Use a directory of its own, for example /var/lib/postgresql/15/main.

# "/var//lib/", "/srv/../etc" and "/usr/local/" are all system directories. A filter, not a test:
# pair each path with its verdict to name the ones refused.
- name: Check every path of a list
  ansible.builtin.assert:
    that: __refused | length == 0
    fail_msg: "backup_paths: / or a system directory: {{ __refused | join(', ') }}"
  vars:
    __refused: "{{ backup_paths | zip(backup_paths | map('g448.devenv.system_path')) | selectattr(1) | map(attribute=0) | list }}"
"""

RETURN = r"""
_value:
  description: V(true) when the normalised path is C(/), a system directory or under C(/proc), C(/sys) or C(/dev).
  type: bool
"""

import posixpath

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

# The top-level directories of a Debian host (FHS, plus usrmerge's links and multiarch's lib dirs).
_TOP = (
    "bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "lost+found", "media", "mnt",
    "opt", "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var",
)
# Directories below those whose loss or new owner breaks the host as badly.
_BELOW = (
    "/etc/apt", "/etc/default", "/etc/pam.d", "/etc/security", "/etc/ssh", "/etc/ssl", "/etc/ssl/certs",
    "/etc/ssl/private", "/etc/sudoers.d", "/etc/systemd", "/etc/systemd/system", "/etc/cron.d",
    "/etc/logrotate.d", "/etc/sysctl.d", "/etc/network",
    "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec", "/usr/libx32",
    "/usr/include", "/usr/share", "/usr/src", "/usr/local", "/usr/local/bin", "/usr/local/sbin",
    "/usr/local/lib", "/usr/local/share", "/usr/local/etc", "/usr/local/include", "/usr/local/src",
    "/usr/lib/systemd", "/usr/lib/systemd/system", "/lib/systemd", "/lib/systemd/system",
    "/var/backups", "/var/cache", "/var/lib", "/var/local", "/var/lock", "/var/log", "/var/mail", "/var/opt",
    "/var/run", "/var/spool", "/var/tmp", "/var/lib/apt", "/var/lib/dpkg", "/var/lib/systemd", "/var/cache/apt",
    "/run/systemd", "/run/lock",
)
# Pseudo file systems: nothing under them is a place for data.
_PSEUDO = ("/proc", "/sys", "/dev")

SYSTEM_DIRECTORIES = frozenset(("/",) + tuple("/" + top for top in _TOP) + _BELOW)


def normalise(path):
    """``path`` as an absolute, normalised text: one leading slash, no ``.``, ``..``, ``//`` or trailing slash."""
    text = "/" + path.strip("\t\n\r ")
    # normpath keeps a leading "//" (POSIX leaves it implementation-defined; Linux treats it as "/").
    text = posixpath.normpath(text)
    return "/" + text.lstrip("/")


def system_path(path, extra=None):
    """True when ``path`` is / or a system directory once normalised (see DOCUMENTATION)."""
    if path is None:
        return False
    if isinstance(path, bytes):
        path = to_text(path, errors="surrogate_or_strict")
    if not isinstance(path, str):
        raise AnsibleFilterError("system_path expects a path (a string), got %s" % type(path).__name__)
    if path.strip("\t\n\r ") == "":
        return False
    if extra is None:
        extra = []
    if isinstance(extra, (str, bytes)) or not isinstance(extra, (list, tuple)):
        raise AnsibleFilterError("system_path: extra must be a list of paths, got %s" % type(extra).__name__)
    text = normalise(str(path))
    protected = set(SYSTEM_DIRECTORIES)
    for item in extra:
        if not isinstance(item, str) or item.strip() == "":
            raise AnsibleFilterError("system_path: every item of extra must be a non-empty path")
        protected.add(normalise(item))
    if text in protected:
        return True
    return any(text == top or text.startswith(top + "/") for top in _PSEUDO)


class FilterModule:
    """The system_path filter."""

    def filters(self):
        return {"system_path": system_path}
