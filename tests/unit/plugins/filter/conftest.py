# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Fixtures for the filter tests: filters loaded by FQCN (the collection on the plugin path is
tests/conftest.py's collections_root)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def filters(collections_root):
    """``{short name: function}`` of the g448.devenv filters, loaded through Ansible's filter loader."""
    from ansible.plugins.loader import filter_loader

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
