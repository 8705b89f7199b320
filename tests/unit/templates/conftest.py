# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Render roles/coder/templates/coder.env.j2 with the ansible-core the tests run on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROLE = Path(__file__).resolve().parents[3] / "roles" / "coder"


def _render(tmp, extra):
    """Apply the template module on localhost with the role's defaults and ``extra``; the env file's
    NAME=value lines as a dict (a value runs to the end of its line, as systemd and Docker read it)."""
    (tmp / "extra.json").write_text(json.dumps(extra))
    dest = tmp / "coder.env"
    ansible = Path(sys.executable).parent / "ansible"
    run = subprocess.run(
        [str(ansible), "localhost", "--connection", "local", "--inventory", "localhost,",
         "--extra-vars", "ansible_python_interpreter=%s" % sys.executable,
         "--extra-vars", "@%s" % (ROLE / "defaults" / "main.yml"),
         "--extra-vars", "@%s" % (tmp / "extra.json"),
         "--module-name", "ansible.builtin.template",
         "--args", "src=%s dest=%s mode=0600" % (ROLE / "templates" / "coder.env.j2", dest)],
        capture_output=True, text=True, cwd=tmp, check=False,
        env={"PATH": "/usr/bin:/bin", "ANSIBLE_NOCOLOR": "1", "HOME": str(tmp)},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [line for line in dest.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="session")
def render_coder_env():
    return _render
