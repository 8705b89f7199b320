# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""g448.devenv.files run as Ansible runs it (JSON arguments on stdin) against a scratch directory: what it
writes, what check mode and diff mode report, and how it writes (atomically, attributes before the rename)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[4] / "plugins" / "modules" / "files.py"
NOBODY = 65534


def run(items, check_mode=False, diff=False, **extra):
    args = dict(items=items, _ansible_check_mode=check_mode, _ansible_diff=diff, **extra)
    done = subprocess.run(
        [sys.executable, str(MODULE)], input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
        capture_output=True, text=True, check=False,
    )
    return json.loads(done.stdout)


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def leftovers(directory):
    """Temporary files the module may have left behind."""
    return [name for name in os.listdir(directory) if name.endswith(".g448tmp")]


@pytest.fixture
def batch(tmp_path):
    return [
        dict(dest=str(tmp_path / "etc"), state="directory", mode="0750"),
        dict(dest=str(tmp_path / "etc" / "job.conf"), content="a = 1\n", mode="0640"),
        dict(dest=str(tmp_path / "etc" / "secret"), content="hunter2\n", mode="0600", diff=False),
    ]


def test_a_batch_is_written_once_then_left_alone(tmp_path, batch):
    first = run(batch)
    assert first["changed"] is True
    assert [(f["created"], f["changed"]) for f in first["files"]] == [(True, True)] * 3
    assert (tmp_path / "etc" / "job.conf").read_text() == "a = 1\n"
    assert (mode_of(tmp_path / "etc"), mode_of(tmp_path / "etc" / "job.conf"), mode_of(tmp_path / "etc" / "secret")) == (
        0o750, 0o640, 0o600)

    second = run(batch, diff=True)
    assert second["changed"] is False
    assert [f["changed"] for f in second["files"]] == [False, False, False]
    assert "diff" not in second


def test_check_mode_writes_nothing_and_reports_what_would_change(tmp_path, batch):
    result = run(batch, check_mode=True, diff=True)
    assert result["changed"] is True
    assert not (tmp_path / "etc").exists()
    # The file inside the directory the same batch would create is reported created, not failed.
    assert [f["created"] for f in result["files"]] == [True, True, True]
    assert result["diff"][1]["after"] == "a = 1\n"


def test_check_mode_on_a_converged_batch_reports_no_change(batch):
    run(batch)
    assert run(batch, check_mode=True, diff=True)["changed"] is False


def test_diff_shows_content_except_for_items_marked_diff_false(tmp_path, batch):
    run(batch)
    batch[1]["content"] = "a = 2\n"
    batch[2]["content"] = "hunter3\n"
    result = run(batch, diff=True)
    diffs = {d["before_header"]: d for d in result["diff"]}
    assert diffs[batch[1]["dest"]]["before"] == "a = 1\n"
    assert diffs[batch[1]["dest"]]["after"] == "a = 2\n"
    # The module echoes its arguments as "invocation"; the action plugin replaces that echo (its own test).
    assert "hunter" not in json.dumps({key: value for key, value in result.items() if key != "invocation"})
    assert diffs[batch[2]["dest"]]["after"] == "(content not shown, changed)\n"
    assert (tmp_path / "etc" / "secret").read_text() == "hunter3\n"


def test_no_diff_outside_diff_mode(batch):
    assert "diff" not in run(batch)


def test_a_mode_change_alone_changes_the_mode_in_place(tmp_path, batch):
    run(batch)
    conf = tmp_path / "etc" / "job.conf"
    inode = conf.stat().st_ino
    conf.chmod(0o644)
    result = run(batch, diff=True)
    entry = result["files"][1]
    assert (entry["changed"], entry["content_changed"], entry["attributes_changed"]) == (True, False, ["mode"])
    assert (mode_of(conf), conf.stat().st_ino) == (0o640, inode)
    assert result["diff"] == [dict(before_header="%s (attributes)" % conf, after_header="%s (attributes)" % conf,
                                   before="mode: 0644\n", after="mode: 0640\n")]


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_an_owner_and_group_change_alone_is_made_and_reported(tmp_path, batch):
    run(batch)
    conf = tmp_path / "etc" / "job.conf"
    os.chown(conf, NOBODY, NOBODY)
    batch[1].update(owner="0", group="0")
    result = run(batch, check_mode=True)
    assert result["files"][1]["attributes_changed"] == ["owner", "group"]
    assert (conf.stat().st_uid, conf.stat().st_gid) == (NOBODY, NOBODY)
    result = run(batch)
    assert (result["files"][1]["content_changed"], result["files"][1]["attributes_changed"]) == (False, ["owner", "group"])
    assert (conf.stat().st_uid, conf.stat().st_gid) == (0, 0)


def test_unset_attributes_of_an_existing_file_are_kept(tmp_path):
    target = tmp_path / "kept"
    target.write_text("old\n")
    target.chmod(0o604)
    result = run([dict(dest=str(target), content="new\n")])
    assert result["files"][0]["attributes_changed"] == []
    assert (target.read_text(), mode_of(target)) == ("new\n", 0o604)


def test_content_is_replaced_by_rename_with_attributes_set_before(tmp_path, batch):
    """The validate command sees the temporary file: in the destination's directory, already 0640; the
    destination gets a new inode (a rename, never a rewrite in place) and no temporary file stays."""
    run(batch)
    conf = tmp_path / "etc" / "job.conf"
    inode = conf.stat().st_ino
    seen = tmp_path / "seen"
    checker = tmp_path / "check.sh"
    checker.write_text('#!/bin/sh\nstat -c "%%a %%n" "$1" > "%s"\n' % seen)
    checker.chmod(0o755)
    batch[1].update(content="a = 2\n", validate="%s %%s" % checker)
    assert run(batch)["files"][1]["content_changed"] is True
    mode, path = seen.read_text().split()
    assert (mode, os.path.dirname(path)) == ("640", str(tmp_path / "etc"))
    assert path != str(conf)
    assert conf.read_text() == "a = 2\n"
    assert conf.stat().st_ino != inode
    assert leftovers(tmp_path / "etc") == []


def test_a_failed_validation_leaves_the_destination_and_no_temporary_file(tmp_path, batch):
    run(batch)
    batch[1].update(content="broken\n", validate="/bin/false %s")
    result = run(batch)
    assert result["failed"] is True
    assert batch[1]["dest"] in result["msg"] and "validate" in result["msg"]
    assert (tmp_path / "etc" / "job.conf").read_text() == "a = 1\n"
    assert leftovers(tmp_path / "etc") == []


def test_a_file_in_a_missing_directory_fails_naming_it(tmp_path):
    dest = tmp_path / "missing" / "job.conf"
    result = run([dict(dest=str(dest), content="x\n")])
    assert result["failed"] is True
    assert str(dest) in result["msg"] and "does not exist" in result["msg"]
    assert not (tmp_path / "missing").exists()


def test_check_mode_reports_a_file_in_a_missing_directory_as_created(tmp_path):
    """An earlier task of the play may create the directory: check mode must not fail on it."""
    dest = tmp_path / "missing" / "job.conf"
    result = run([dict(dest=str(dest), content="x\n")], check_mode=True, diff=True)
    assert (result.get("failed"), result["changed"], result["files"][0]["created"]) == (None, True, True)
    assert result["diff"][0]["after"] == "x\n"
    assert not (tmp_path / "missing").exists()


def test_a_directory_gets_its_missing_parents_with_its_attributes(tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    result = run([dict(dest=str(deep), state="directory", mode="0700")])
    assert result["files"][0]["created"] is True
    assert [mode_of(tmp_path / "a"), mode_of(tmp_path / "a" / "b"), mode_of(deep)] == [0o700] * 3


def test_content_over_max_size_fails(tmp_path):
    result = run([dict(dest=str(tmp_path / "big"), content="x" * 11)], max_size=10)
    assert result["failed"] is True and "max_size" in result["msg"]
    assert not (tmp_path / "big").exists()


@pytest.mark.parametrize("mode", ["u=rw", "0999", "true"])
def test_a_mode_that_is_not_octal_fails(tmp_path, mode):
    result = run([dict(dest=str(tmp_path / "f"), content="x\n", mode=mode)])
    assert result["failed"] is True and "octal" in result["msg"]


def test_src_without_the_action_plugin_fails(tmp_path):
    result = run([dict(dest=str(tmp_path / "f"), src="f.j2")])
    assert result["failed"] is True and "action plugin" in result["msg"]


def test_a_directory_item_follows_a_symlink_to_a_directory(tmp_path):
    """As ansible.builtin.file (follow: true) does: the link's target gets the attributes, the link stays."""
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    item = dict(dest=str(link), state="directory", mode="0750", owner=str(NOBODY))
    first = run([item], diff=True)
    assert first.get("failed") is None, first
    assert (first["changed"], first["files"][0]["created"], first["files"][0]["attributes_changed"]) == (
        True, False, ["owner", "mode"])
    assert first["diff"][0]["after"].endswith("mode: 0750\n") and first["diff"][0]["before"].endswith("mode: 0700\n")
    assert (mode_of(real), os.stat(real).st_uid) == (0o750, NOBODY)
    assert link.is_symlink() and os.lstat(link).st_uid == os.getuid()
    assert run([item])["changed"] is False


@pytest.mark.parametrize("target", ["file", "nothing"])
def test_a_directory_item_on_a_symlink_to_something_else_fails(tmp_path, target):
    if target == "file":
        (tmp_path / "target").write_text("x\n")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    result = run([dict(dest=str(tmp_path / "link"), state="directory", mode="0750")])
    assert result["failed"] is True and "is not a directory" in result["msg"]
    assert (tmp_path / "link").is_symlink()


def test_a_file_dest_that_is_a_symlink_is_replaced_and_the_diff_shows_what_it_pointed_to(tmp_path):
    """As copy and template with follow: no: the link becomes a file, its old target is left as it was."""
    target = tmp_path / "target"
    target.write_text("old\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    result = run([dict(dest=str(link), content="new\n", mode="0644")], diff=True)
    assert result["changed"] is True and result["files"][0]["content_changed"] is True
    assert result["diff"][-1]["before"] == "old\n" and result["diff"][-1]["after"] == "new\n"
    assert not link.is_symlink() and link.read_text() == "new\n"
    assert target.read_text() == "old\n"


def test_a_file_dest_that_is_a_directory_fails(tmp_path):
    (tmp_path / "d").mkdir()
    result = run([dict(dest=str(tmp_path / "d"), content="x\n")])
    assert result["failed"] is True and "is a directory" in result["msg"]
    assert (tmp_path / "d").is_dir()


def test_a_large_old_file_is_not_put_in_the_diff(tmp_path):
    dest = tmp_path / "big"
    dest.write_text("y" * 200000)
    result = run([dict(dest=str(dest), content="x\n", mode="0644")], diff=True)
    assert result["changed"] is True and dest.read_text() == "x\n"
    assert "yyyy" not in json.dumps(result)
    assert "diff skipped" in result["diff"][-1]["before"]


@pytest.mark.parametrize("bad", [dict(dest="relative/path", content="x\n"),
                                 dict(dest="/nonexistent-g448/f", content="x\n", validate="true")])
def test_a_bad_item_fails_before_any_item_is_applied(tmp_path, bad):
    first = dict(dest=str(tmp_path / "first"), content="x\n")
    result = run([first, bad])
    assert result["failed"] is True and bad["dest"] in result["msg"]
    assert not (tmp_path / "first").exists()


def test_default_modes_are_core_s_less_the_umask(tmp_path):
    """ansible.builtin.copy/template create a file 0666 & ~umask, ansible.builtin.file a directory 0777 & ~umask."""
    old = os.umask(0o002)
    try:
        run([dict(dest=str(tmp_path / "d"), state="directory"), dict(dest=str(tmp_path / "d" / "f"), content="x\n")])
    finally:
        os.umask(old)
    assert (mode_of(tmp_path / "d"), mode_of(tmp_path / "d" / "f")) == (0o775, 0o664)


def test_the_directory_is_synced_after_the_rename(tmp_path):
    """The rename is durable only once the directory is fsynced: the module run with os.fsync recorded."""
    record = tmp_path / "fsynced"
    wrapper = (
        "import os, runpy, stat, sys\n"
        "real = os.fsync\n"
        "def fsync(fd):\n"
        "    with open(%r, 'a') as out:\n"
        "        out.write(('dir' if stat.S_ISDIR(os.fstat(fd).st_mode) else 'file') + '\\n')\n"
        "    real(fd)\n"
        "os.fsync = fsync\n"
        "runpy.run_path(%r, run_name='__main__')\n" % (str(record), str(MODULE)))
    items = [dict(dest=str(tmp_path / "d"), state="directory"), dict(dest=str(tmp_path / "d" / "f"), content="x\n")]
    done = subprocess.run([sys.executable, "-c", wrapper], input=json.dumps({"ANSIBLE_MODULE_ARGS": dict(items=items)}),
                          capture_output=True, text=True, check=False)
    assert json.loads(done.stdout)["changed"] is True
    assert record.read_text().split() == ["file", "dir"]


def test_an_absent_item_removes_a_file_then_leaves_nothing_to_do(tmp_path):
    """state: absent removes the file; check mode reports it without removing; the diff is ansible.builtin.file's
    state: file -> state: absent, never the content."""
    dest = tmp_path / "old.list"
    dest.write_text("deb secret-content\n")
    item = dict(dest=str(dest), state="absent")
    checked = run([item], check_mode=True, diff=True)
    assert (checked["changed"], dest.exists()) == (True, True)
    assert checked["diff"] == [dict(before_header=str(dest), after_header=str(dest), before="state: file\n",
                                    after="state: absent\n")]
    removed = run([item], diff=True)
    assert removed["changed"] is True and not os.path.lexists(dest)
    assert removed["files"] == [dict(dest=str(dest), state="absent", changed=True, created=False,
                                     content_changed=False, attributes_changed=[])]
    assert "secret-content" not in json.dumps(removed)
    again = run([item], diff=True)
    assert (again["changed"], again["files"][0]["changed"]) == (False, False)
    assert "diff" not in again


def test_an_absent_item_removes_a_symlink_not_what_it_points_to(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "kept").write_text("x\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    result = run([dict(dest=str(link), state="absent")], diff=True)
    assert result["changed"] is True and result["diff"][0]["before"] == "state: link\n"
    assert not os.path.lexists(link)
    assert (target / "kept").read_text() == "x\n"


def test_an_absent_item_on_a_directory_fails_naming_it_and_removes_nothing(tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    (directory / "kept").write_text("x\n")
    result = run([dict(dest=str(directory), state="absent")])
    assert result["failed"] is True and str(directory) in result["msg"] and "is a directory" in result["msg"]
    assert (directory / "kept").read_text() == "x\n"


def test_an_absent_item_whose_parent_is_missing_or_a_file_is_already_absent(tmp_path):
    (tmp_path / "plain").write_text("x\n")
    items = [dict(dest=str(tmp_path / "missing" / "f"), state="absent"),
             dict(dest=str(tmp_path / "plain" / "f"), state="absent")]
    result = run(items)
    assert result.get("failed") is None, result
    assert (result["changed"], [f["changed"] for f in result["files"]]) == (False, [False, False])


def test_a_batch_writes_and_removes_in_one_call(tmp_path):
    """Present and absent items together: the task is changed when either changed, each item says which."""
    (tmp_path / "old").write_text("x\n")
    items = [dict(dest=str(tmp_path / "new"), content="y\n", mode="0644"), dict(dest=str(tmp_path / "old"), state="absent")]
    first = run(items)
    assert [f["changed"] for f in first["files"]] == [True, True]
    assert (tmp_path / "new").read_text() == "y\n" and not (tmp_path / "old").exists()
    assert run(items)["changed"] is False


def test_a_validate_command_that_is_not_there_fails_naming_the_file(tmp_path):
    """A checker whose package is not installed: the task fails naming the file and the command, and neither the
    destination nor a temporary file is written."""
    dest = tmp_path / "prometheus.yml"
    result = run([dict(dest=str(dest), content="x: 1\n", validate="/nonexistent-g448/promtool check config %s")])
    assert result["failed"] is True
    assert str(dest) in result["msg"] and "/nonexistent-g448/promtool" in result["msg"] and "could not run" in result["msg"]
    assert not dest.exists() and leftovers(tmp_path) == []
