# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Fixtures of every pytest suite (tests/unit, tests/integration): this checkout as the collection
g448.devenv on a collections path, on Ansible's plugin loader, and ansible-doc run against it.

The repository's pytest.ini anchors pytest's rootdir at the checkout, so these fixtures apply
wherever in it pytest starts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def collections_root(tmp_path_factory):
    """A collections path whose ansible_collections/g448/devenv is this checkout; the plugin loader
    finds the collection's plugins by FQCN and imports ``ansible_collections.g448.devenv.*``."""
    root = tmp_path_factory.mktemp("collections")
    link = root / "ansible_collections" / "g448" / "devenv"
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO)
    from ansible.plugins.loader import init_plugin_loader

    # One collection finder per process: the unit and integration suites may share a session.
    if not any(type(f).__name__ == "_AnsibleCollectionFinder" for f in sys.meta_path):
        init_plugin_loader([str(root)])
    return root


@pytest.fixture
def ansible_doc(collections_root, tmp_path):
    """Run the ansible-doc of the running pytest's virtualenv on the collection; its output with
    whitespace collapsed (what an operator reads, without the terminal's line breaks)."""

    def run(*args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update({"ANSIBLE_COLLECTIONS_PATH": str(collections_root), "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")})
        result = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), *args], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        return re.sub(r"\s+", " ", result.stdout)

    return run


@pytest.fixture
def vault_worker(vc, monkeypatch, tmp_path):
    """Makes this process a fresh worker of the g448.devenv.vault lookup, for the suite's ``lookup``
    fixture: no VAULT_*, BAO_* or G448_VAULT_* variable, HOME at tmp_path/"home" (empty), the token
    cache at tmp_path/"token-cache", the plugin's process caches empty (again after the test).
    ``vc`` is the suite's fixture: the collection's _vault_client module."""
    for name in list(os.environ):
        if name.startswith(("VAULT_", "BAO_", "G448_VAULT_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("G448_VAULT_TOKEN_CACHE_DIR", str(tmp_path / "token-cache"))
    vc.reset_process_caches()
    yield vc
    vc.reset_process_caches()
