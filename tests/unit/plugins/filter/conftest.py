# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Fixtures for the filter tests: the collection on the plugin path, filters loaded by FQCN."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="session")
def filters(tmp_path_factory):
    """``{short name: function}`` of the g448.devenv filters, loaded through Ansible's filter loader."""
    from ansible.plugins.loader import filter_loader, init_plugin_loader

    root = tmp_path_factory.mktemp("collections-filter")
    link = root / "ansible_collections" / "g448" / "devenv"
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO)
    # One collection finder per process: the lookup and integration suites may share a session.
    if not any(type(f).__name__ == "_AnsibleCollectionFinder" for f in sys.meta_path):
        init_plugin_loader([str(root)])
    out = {}
    for name in ("coder_env_summary", "prometheus_metrics", "systemctl_show", "service_card", "risk_audit"):
        plugin = filter_loader.get("g448.devenv.%s" % name)
        assert plugin is not None, name
        out[name] = plugin.j2_function if hasattr(plugin, "j2_function") else plugin
    return out


@pytest.fixture(scope="session")
def module(filters):
    import importlib

    return importlib.import_module("ansible_collections.g448.devenv.plugins.plugin_utils._report_parsers")
