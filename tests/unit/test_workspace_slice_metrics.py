# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The monitoring role's workspace slice metrics script (roles/monitoring/templates/
g448-workspace-slice-metrics.sh.j2), rendered as a host receives it and run against fake cgroup v2
and v1 (hybrid) trees in a temporary directory: the textfile it writes, metric by metric.

The test machines run cgroup v1 hybrid or v2, and no scenario can switch: these fake trees are the
only place both branches run. The script reads G448_SLICE_CGROUP_ROOT (the tree) and
G448_SLICE_SYSTEMCTL (a fake systemctl printing the slice's cgroup); the unit sets neither.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "monitoring"
SLICE = "workspaces.slice"
LABELS = '{slice="%s"}' % SLICE
GIB = 1024 ** 3

PSI = "some avg10=0.50 avg60=12.25 avg300=3.00 total=123456\nfull avg10=0.00 avg60=4.75 avg300=1.00 total=4567\n"


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """The script rendered with the role's defaults and constants by the template module; its textfile
    goes to <tmp>/textfile/g448_workspace_slice.prom."""
    tmp = tmp_path_factory.mktemp("slice-metrics")
    textfile_dir = tmp / "textfile"
    textfile_dir.mkdir()
    playbook = tmp / "render.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost",
        "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": [{"ansible.builtin.template": {
            "src": str(ROLE / "templates" / "g448-workspace-slice-metrics.sh.j2"),
            "dest": str(tmp / "g448-workspace-slice-metrics"), "mode": "0700"}}],
    }]))
    run = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "--connection", "local", "--inventory", "localhost,",
         "--extra-vars", "ansible_python_interpreter=%s" % sys.executable,
         "--extra-vars", json.dumps({"monitoring_node_exporter_textfile_dir": str(textfile_dir)}), str(playbook)],
        capture_output=True, text=True, cwd=tmp, check=False,
        env={"PATH": "/usr/bin:/bin", "ANSIBLE_NOCOLOR": "1", "HOME": str(tmp)},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return tmp / "g448-workspace-slice-metrics", textfile_dir / "g448_workspace_slice.prom"


def _write(base: Path, files: dict):
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _run(script, tree: Path, cgroup: str):
    """Run the rendered script on ``tree`` with a systemctl that prints ``cgroup`` for the slice; the
    textfile's samples as {name{labels}: value} and the arguments systemctl was given."""
    path, textfile = script
    fake = tree.parent / "systemctl"
    calls = tree.parent / "systemctl.args"
    fake.write_text('#!/bin/sh\nprintf \'%%s\\n\' "$*" >>"%s"\nprintf \'%%s\\n\' \'%s\'\n' % (calls, cgroup))
    fake.chmod(0o755)
    calls.write_text("")
    if textfile.exists():
        textfile.unlink()
    run = subprocess.run(["bash", str(path)], capture_output=True, text=True, check=False,
                         env={"PATH": "/usr/bin:/bin", "G448_SLICE_CGROUP_ROOT": str(tree),
                              "G448_SLICE_SYSTEMCTL": str(fake)})
    assert run.returncode == 0, run.stderr
    assert oct(os.stat(textfile).st_mode & 0o777) == "0o644"
    assert not list(textfile.parent.glob("*.prom.*")), "the temporary file was left behind"
    text = textfile.read_text()
    samples = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            assert line.endswith(" gauge"), line
        elif line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = value
    return samples, calls.read_text().splitlines()


def _expected(**values):
    return {"g448_workspace_slice_%s%s" % (name, LABELS): value for name, value in values.items()}


def _samples(script, tree):
    """The samples of one run while systemctl gives the slice's cgroup, asked as the script must ask."""
    samples, calls = _run(script, tree, "/" + SLICE)
    assert calls == ["show --property=ControlGroup --value " + SLICE]
    return samples


def _with_psi(current, working_set, limit):
    """Every sample, PSI from PSI above."""
    return _expected(up="1", memory_current_bytes=str(current), memory_working_set_bytes=str(working_set),
                     memory_max_bytes=str(limit), memory_pressure_some_avg60_percent="12.25",
                     memory_pressure_full_avg60_percent="4.75")


def test_cgroup_v2_slice(script, tmp_path):
    tree = tmp_path / "cgroup"
    _write(tree, {
        "cgroup.controllers": "cpu memory pids\n",
        SLICE + "/memory.current": "%d\n" % (3 * GIB),
        SLICE + "/memory.max": "%d\n" % (6 * GIB),
        SLICE + "/memory.stat": "anon 1073741824\nfile 2147483648\ninactive_anon 0\ninactive_file 805306368\n"
                                "active_file 1342177280\n",
        SLICE + "/memory.pressure": PSI,
    })
    assert _samples(script, tree) == _with_psi(3 * GIB, 3 * GIB - 805306368, 6 * GIB)


def test_cgroup_v2_slice_without_a_limit_or_psi(script, tmp_path):
    """memory.max "max" (MemoryMax=infinity) writes no limit; a kernel without PSI no pressure; an
    inactive cache larger than the usage gives a working set of 0, not a negative number."""
    tree = tmp_path / "cgroup"
    _write(tree, {
        "cgroup.controllers": "memory\n",
        SLICE + "/memory.current": "1000\n",
        SLICE + "/memory.max": "max\n",
        SLICE + "/memory.stat": "inactive_file 4096\n",
    })
    assert _samples(script, tree) == _expected(up="1", memory_current_bytes="1000", memory_working_set_bytes="0")


def test_cgroup_v1_hybrid_slice(script, tmp_path):
    """v1 (hybrid): usage and limit of the memory hierarchy, total_inactive_file, and PSI of the
    unified hierarchy; v1's 'no limit' (a page-rounded 2^63-1) writes no limit."""
    tree = tmp_path / "cgroup"
    _write(tree, {
        "memory/" + SLICE + "/memory.usage_in_bytes": "%d\n" % (2 * GIB),
        "memory/" + SLICE + "/memory.limit_in_bytes": "%d\n" % (4 * GIB),
        "memory/" + SLICE + "/memory.stat": "cache 1073741824\ninactive_file 1\ntotal_cache 1073741824\n"
                                            "total_inactive_file 536870912\n",
        "unified/" + SLICE + "/memory.pressure": PSI,
    })
    assert _samples(script, tree) == _with_psi(2 * GIB, 2 * GIB - 536870912, 4 * GIB)
    (tree / "memory" / SLICE / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (tree / "unified" / SLICE / "memory.pressure").unlink()
    assert _samples(script, tree) == _expected(up="1", memory_current_bytes=str(2 * GIB),
                                               memory_working_set_bytes=str(2 * GIB - 536870912))


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_no_cgroup_while_no_workspace_runs(script, tmp_path, version):
    """The slice has no cgroup until a workspace runs: systemctl prints nothing (or a path with no
    files yet), and the script writes only up 0."""
    tree = tmp_path / "cgroup"
    tree.mkdir()
    if version == "v2":
        (tree / "cgroup.controllers").write_text("memory\n")
    assert _run(script, tree, "")[0] == _expected(up="0")
    assert _run(script, tree, "/" + SLICE)[0] == _expected(up="0")
