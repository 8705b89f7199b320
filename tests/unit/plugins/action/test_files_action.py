# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The g448.devenv.files action plugin in a real ansible-playbook run on localhost (the running pytest's
ansible-core): templates rendered with the task's variables exactly as ansible.builtin.template renders them,
check mode, diff output, notify, and no secret in the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.release import __version__ as ANSIBLE_VERSION

ANSIBLE_CORE = tuple(int(part) for part in ANSIBLE_VERSION.split(".")[:2])

TEMPLATE = """{{ ansible_managed | comment }}
# {{ template_path | basename }} for {{ inventory_hostname }}
name={{ greeting }}
{% for port in ports %}
port={{ port }}
{% endfor %}
{% include 'part.j2' %}
"""

ROLE_TASKS = """
- name: Ensure the reference file is rendered by ansible.builtin.template
  ansible.builtin.template:
    src: app.conf.j2
    dest: "{{ out }}/reference.conf"
    mode: "0644"
  when: not ansible_check_mode

- name: Ensure the batch is in place
  g448.devenv.files:
    items:
      - {dest: "{{ out }}/etc", state: directory, mode: "0750"}
      - {src: app.conf.j2, dest: "{{ out }}/etc/app.conf", mode: "0640"}
      - {content: "{{ secret }}", dest: "{{ out }}/etc/secret", mode: "0600", diff: false}
  register: batch
  notify: batch changed

- name: Ensure the batch's result is kept for the test
  ansible.builtin.copy:
    content: "{{ batch | ansible.builtin.to_json }}"
    dest: "{{ out }}/result-{{ run_name }}.json"
    mode: "0600"
  changed_when: false
  when: not ansible_check_mode
"""

HANDLERS = """
- name: Batch changed
  ansible.builtin.debug:
    msg: HANDLER-RAN
  listen: batch changed
"""

PLAYBOOK = """
- name: Exercise g448.devenv.files
  hosts: localhost
  gather_facts: false
  vars:
    greeting: hello
    ports: [80, 443]
    secret: hunter2-secret
  roles: [r]
"""


@pytest.fixture
def project(tmp_path):
    role = tmp_path / "roles" / "r"
    for sub in ("tasks", "handlers", "templates"):
        (role / sub).mkdir(parents=True)
    (role / "tasks" / "main.yml").write_text(ROLE_TASKS)
    (role / "handlers" / "main.yml").write_text(HANDLERS)
    (role / "templates" / "app.conf.j2").write_text(TEMPLATE)
    (role / "templates" / "part.j2").write_text("part={{ greeting | upper }}\n")
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    (tmp_path / "out").mkdir()
    return tmp_path


# Loaded by every Python process of the run, the module's on the target included (-c local passes the
# environment on): syslog.syslog appends to a file instead, so a test can read what the module logged.
SYSLOG_CAPTURE = """import os
import syslog


def _capture(*args):
    with open(os.environ["G448_SYSLOG_CAPTURE"], "a", encoding="utf-8") as handle:
        handle.write(repr(args) + "\\n")


syslog.syslog = _capture
"""


def playbook(project, collections_root, run_name, *args, succeed=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections_root), ANSIBLE_CONFIG=str(project / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(project / "tmp"), HOME=str(project))
    capture = project / "syslog-capture"
    if capture.is_dir():
        env.update(PYTHONPATH=str(capture), G448_SYSLOG_CAPTURE=str(capture / "log"))
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "out=%s" % (project / "out"),
               "-e", "run_name=%s" % run_name, "play.yml", *args]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert (done.returncode == 0) is succeed, done.stdout + done.stderr
    return done.stdout + done.stderr  # ansible-core 2.19 prints a task's error on stderr


def recap(stdout):
    return stdout[stdout.index("PLAY RECAP"):]


def test_templates_render_as_ansible_builtin_template_renders_them(project, collections_root):
    out = project / "out"
    first = playbook(project, collections_root, "first", "--diff")
    assert (out / "etc" / "app.conf").read_bytes() == (out / "reference.conf").read_bytes()
    rendered = (out / "etc" / "app.conf").read_text()
    assert "name=hello\nport=80\nport=443\npart=HELLO\n" in rendered
    assert "# app.conf.j2 for localhost" in rendered and "Ansible managed" in rendered
    assert (out / "etc" / "secret").read_text() == "hunter2-secret"
    assert "HANDLER-RAN" in first
    assert "hunter2" not in first
    result = json.loads((out / "result-first.json").read_text())
    assert [f["changed"] for f in result["files"]] == [True, True, True]
    assert "hunter2" not in json.dumps(result.get("invocation", {}))

    second = playbook(project, collections_root, "second", "--diff", "-vvv")
    assert "HANDLER-RAN" not in second
    assert "changed=0" in recap(second)
    assert not json.loads((out / "result-second.json").read_text())["changed"]
    assert "hunter2" not in second
    assert "app.conf.j2" in second  # the invocation names the template, not its content


def test_check_mode_shows_the_diff_and_writes_nothing(project, collections_root):
    stdout = playbook(project, collections_root, "check", "--check", "--diff")
    assert not (project / "out" / "etc").exists()
    assert "+name=hello" in stdout and "+part=HELLO" in stdout
    assert "hunter2" not in stdout
    assert "HANDLER-RAN" in stdout


def test_a_changed_variable_changes_only_its_file(project, collections_root):
    playbook(project, collections_root, "first")
    stdout = playbook(project, collections_root, "second", "--diff", "-e", "greeting=bye")
    result = json.loads((project / "out" / "result-second.json").read_text())
    assert [f["changed"] for f in result["files"]] == [False, True, False]
    assert "-name=hello" in stdout and "+name=bye" in stdout
    assert "HANDLER-RAN" in stdout


def test_a_missing_template_fails_naming_it(project, collections_root):
    tasks = project / "roles" / "r" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text().replace("src: app.conf.j2, dest", "src: nothere.j2, dest"))
    stdout = playbook(project, collections_root, "missing", "--check", succeed=False)
    assert "nothere.j2" in stdout


def test_the_module_never_logs_the_content_on_the_target(project, collections_root):
    capture = project / "syslog-capture"
    capture.mkdir()
    (capture / "sitecustomize.py").write_text(SYSLOG_CAPTURE)
    playbook(project, collections_root, "logged")
    logged = (capture / "log").read_text()
    assert "Invoked with" in logged  # the capture works: other modules of the run log their arguments
    assert "hunter2" not in logged and "name=hello" not in logged
    assert "Invoked with items=" not in logged


def test_no_log_with_diff_shows_no_content(project, collections_root):
    tasks = project / "roles" / "r" / "tasks" / "main.yml"
    text = tasks.read_text().replace("  register: batch\n", "  register: batch\n  no_log: true\n")
    text = text.replace("  when: not ansible_check_mode\n", "  when: not ansible_check_mode\n  diff: false\n", 1)
    # The test's own copy of the registered result holds the diff: out of the output as well.
    tasks.write_text(text.replace("  changed_when: false\n", "  changed_when: false\n  no_log: true\n"))
    first = playbook(project, collections_root, "first", "--diff")
    second = playbook(project, collections_root, "second", "--diff", "-vvv", "-e", "greeting=bye")
    assert (project / "out" / "etc" / "app.conf").read_text().count("name=bye") == 1  # the second run changed it
    for stdout in first, second:
        assert "hunter2" not in stdout and "name=hello" not in stdout and "name=bye" not in stdout
    assert "censored" in second


def test_an_undefined_variable_fails_the_task_naming_it_and_the_template(project, collections_root):
    template = project / "roles" / "r" / "templates" / "app.conf.j2"
    template.write_text(template.read_text().replace("name={{ greeting }}", "name={{ greeting }}\nx={{ nope_g448 }}"))
    stdout = playbook(project, collections_root, "undefined", "--check", succeed=False)
    failure = stdout[stdout.index("TASK [r : Ensure the batch is in place]"):]
    assert "nope_g448" in failure and "app.conf.j2" in failure
    if ANSIBLE_CORE >= (2, 19):  # the template's own origin, as ansible.builtin.template reports it
        assert "Origin: %s" % template in failure
    assert "hunter2" not in stdout


@pytest.mark.parametrize("args, named", [
    ("items: [{content: x, dest: \"{{ out }}/x\"}]\n    mode: \"0600\"", "unknown arguments mode"),
    ("items: [{content: x, dest: \"{{ out }}/x\"}]\n    max_sise: 10", "unknown arguments max_sise"),
    ("items: [{content: x, dest: \"{{ out }}/x\", mdoe: \"0600\"}]", "unknown keys mdoe"),
    ("items: [{content: x, dest: \"{{ out }}/x\"}, {dest: \"{{ out }}/y\", state: absent, mode: \"0600\"}]",
     "/y: an absent item takes no mode"),
], ids=["task-level mode", "misspelt max_size", "misspelt item key", "absent item with a mode"])
def test_unknown_arguments_fail_the_task_naming_them(project, collections_root, args, named):
    (project / "roles" / "r" / "tasks" / "main.yml").write_text(
        "- name: Ensure a misspelt batch fails\n  g448.devenv.files:\n    %s\n" % args)
    stdout = playbook(project, collections_root, "unknown", succeed=False)
    assert named in stdout
    assert not (project / "out" / "x").exists()


ABSENT_TASKS = """
- name: Ensure the old files are gone
  g448.devenv.files:
    items:
      - {dest: "{{ out }}/old.list", state: absent}
      - {dest: "{{ out }}/old.link", state: absent}
  register: removed
  notify: batch changed
"""


def test_absent_items_remove_once_and_notify_only_then(project, collections_root):
    out = project / "out"
    (project / "roles" / "r" / "tasks" / "main.yml").write_text(ABSENT_TASKS)
    (out / "old.list").write_text("deb hunter2-secret\n")
    (out / "old.link").symlink_to(out / "old.list")
    checked = playbook(project, collections_root, "check", "--check", "--diff")
    assert os.path.lexists(out / "old.link") and (out / "old.list").exists()
    assert "HANDLER-RAN" in checked and "+state: absent" in checked and "-state: link" in checked
    first = playbook(project, collections_root, "first", "--diff")
    assert not os.path.lexists(out / "old.link") and not (out / "old.list").exists()
    assert "HANDLER-RAN" in first and "changed=1" in recap(first)
    assert "hunter2" not in checked + first
    second = playbook(project, collections_root, "second", "--diff")
    assert "HANDLER-RAN" not in second and "changed=0" in recap(second)
