# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""ansible-doc renders the report filters and the lookup's metadata option (what an operator reads)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def ansible_doc(tmp_path, *args):
    root = tmp_path / "collections"
    link = root / "ansible_collections" / "g448" / "devenv"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(Path(__file__).resolve().parents[4])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(root), "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")})
    result = subprocess.run([str(BIN / "ansible-doc"), *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return re.sub(r"\s+", " ", result.stdout)


@pytest.mark.parametrize("name, parts", [
    ("risk_audit", ["Evaluates the risks of section 10", "[FAIL]", "N/A", "RETURN VALUES"]),
    ("service_card", ["unknown: <reason>", "owner", "maturity", "No secret value"]),
    ("coder_env_summary", ["never its password", "glpat-", "by name only"]),
    ("prometheus_metrics", ["textfile-collector", "labels"]),
    ("systemctl_show", ["systemctl show"]),
])
def test_filter_docs_render(tmp_path, name, parts):
    text = ansible_doc(tmp_path, "-t", "filter", "g448.devenv.%s" % name)
    for part in parts:
        assert part in text, part


def test_lookup_doc_describes_the_metadata_mode(tmp_path):
    text = ansible_doc(tmp_path, "-t", "lookup", "g448.devenv.vault")
    for part in ("Return the KV v2 metadata of the path", "needs `read' on `<mount>/metadata/<path>' only",
                 "metadata=true", "updated_time"):
        assert part in text, part
