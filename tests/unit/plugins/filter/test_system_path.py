# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Unit tests of the g448.devenv.system_path filter (plugins/filter/system_path.py)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError


@pytest.fixture(scope="module")
def system_path(filters):
    """The filter's function, loaded by FQCN (the ``filters`` fixture sets up the collection loader)."""
    from ansible.plugins.loader import filter_loader

    plugin = filter_loader.get("g448.devenv.system_path")
    assert plugin is not None
    return plugin.j2_function if hasattr(plugin, "j2_function") else plugin


SYSTEM = [
    "/", "//", "///", "/.", "/..", "/../..",
    "/etc", "/etc/", "/etc//", "//etc", "/./etc", "/etc/.", "/srv/../etc", "/var/lib/../../etc",
    "/usr", "/usr/local", "/usr/local/", "/usr//local", "/usr/local/bin", "/usr/bin", "/usr/lib",
    "/var", "/var/", "/var/lib", "/var//lib/", "/var/log", "/var/tmp", "/var/cache",
    "/boot", "/root", "/home", "/bin", "/sbin", "/lib", "/lib64", "/opt", "/srv", "/tmp", "/run", "/mnt",
    "/proc", "/sys", "/dev", "/proc/1", "/sys/fs/cgroup", "/dev/sda", "/dev/shm",
    "/etc/systemd/system", "/etc/ssl/private", "/lib/systemd/system",
    # judged as absolute
    "etc", "usr/local", ".",
    # surrounding blanks do not hide it
    " /etc ", "/etc\n",
]

NOT_SYSTEM = [
    "/var/lib/postgresql/15/main", "/var/lib/postgresql", "/etc/caddy", "/etc/caddy/tls", "/var/log/caddy",
    "/var/log/caddy/access.log", "/var/cache/coder", "/var/backups/coder", "/srv/coder", "/opt/coder",
    "/home/coder", "/etc/coder.d", "/var/lib/coder", "/tmp/x", "/etc/x.log", "/etcetera", "/usr2",
    "/var/lib/../lib/docker", "/var/libx", "/procs", "/devices", "/system",
]


@pytest.mark.parametrize("path", SYSTEM)
def test_system_directories_are_found(system_path, path):
    assert system_path(path) is True


@pytest.mark.parametrize("path", NOT_SYSTEM)
def test_other_directories_are_not(system_path, path):
    assert system_path(path) is False


@pytest.mark.parametrize("path", ["", "   ", None])
def test_an_empty_value_is_not_a_system_path(system_path, path):
    assert system_path(path) is False


def test_bytes_are_read_as_text(system_path):
    assert system_path(b"/etc/") is True
    assert system_path(b"/etc/caddy") is False


def test_extra_directories_are_protected_after_normalising(system_path):
    assert system_path("/srv/data/", extra=["/srv//data"]) is True
    assert system_path("/srv/data/x", extra=["/srv/data"]) is False
    assert system_path("/srv/other", extra=["/srv/data"]) is False


@pytest.mark.parametrize("value", [["/etc"], {"path": "/etc"}, 1])
def test_non_string_is_refused(system_path, value):
    with pytest.raises(AnsibleFilterError, match="expects a path"):
        system_path(value)


@pytest.mark.parametrize("extra", ["/srv", [""], [1]])
def test_bad_extra_is_refused(system_path, extra):
    with pytest.raises(AnsibleFilterError, match="extra"):
        system_path("/srv", extra=extra)


def test_through_jinja(filters):
    """The filter as a role uses it: in a template, by FQCN."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    try:  # ansible-core 2.19 renders only trusted template text
        from ansible.template import trust_as_template
    except ImportError:  # older ansible-core

        def trust_as_template(text):
            return text

    templar = Templar(loader=DataLoader(), variables={"paths": ["/var/lib/postgresql/15/main", "/var//lib/"]})
    assert templar.template(trust_as_template("{{ paths | map('g448.devenv.system_path') | list }}")) == [False, True]
    assert templar.template(trust_as_template("{{ '/usr/local/' | g448.devenv.system_path }}")) is True
