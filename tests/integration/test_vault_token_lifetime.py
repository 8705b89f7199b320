# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The login token of a run dies with the run: real ansible-playbook runs against a real OpenBao.

A token cached by one run must read nothing once that run has ended, however it ended, so that
the next job of a shared CI account cannot reuse it (issue 15).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import requests
from openbao_dev import BIN

HOSTS = ("h1", "h2", "h3")
# The watcher revokes as soon as the run's process has ended; this only bounds a failing test.
REVOKE_WITHIN = 15.0


def read_status(world, token, path="secret/data/coder/db"):
    return requests.get("%s/v1/%s" % (world.url, path), headers={"X-Vault-Token": token}, timeout=10).status_code


def cached_tokens(cache_dir):
    tokens = []
    for path in sorted(cache_dir.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if record.get("kind", "token") == "token" and record.get("token"):
            tokens.append(record["token"])
    return tokens


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def start_run(runner, world, flag):
    """ansible-playbook in the background: one lookup per host, then a task that waits for ``flag``."""
    play = runner.workdir / "hold.yml"
    play.write_text(runner.one_play("Read a secret, then hold the run open", """\
        - name: Read through the cached AppRole login
          ansible.builtin.assert:
            that:
              - lookup('g448.devenv.vault', 'secret/coder/db:username') == 'coder'
        - name: Hold the run open until the test says so
          ansible.builtin.wait_for:
            path: "%s"
            timeout: 120
          run_once: true
        """ % flag))
    cmd = [str(BIN / "ansible-playbook"), "-i", str(runner.inventory(HOSTS)), str(play)]
    return subprocess.Popen(cmd, cwd=runner.workdir, env=runner.env(world.approle_env()), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def token_of_running(runner, world, proc):
    """The token the running play cached, as any process of the same account can read it."""
    tokens = wait_until(lambda: cached_tokens(runner.cache_dir) if proc.poll() is None else ["<run ended>"], 120)
    assert tokens and tokens != ["<run ended>"], proc.stdout.read()[-3000:] if proc.poll() is not None else tokens
    assert len(tokens) == 1, "one login per run, shared by every worker"
    token = tokens[0]
    assert read_status(world, token) == 200, "the cached token reads while its run goes on"
    return token


def assert_dead_and_gone(runner, world, token):
    status = wait_until(lambda: read_status(world, token) == 403, REVOKE_WITHIN)
    assert status, "a token from a finished run still reads secret/data/coder/db (HTTP %d)" % read_status(world, token)
    assert read_status(world, token, "auth/token/lookup-self") == 403
    assert wait_until(lambda: not cached_tokens(runner.cache_dir), REVOKE_WITHIN), "the dead token stays on disk"


def test_a_token_from_a_finished_run_reads_nothing(world, runner):
    flag = runner.workdir / "release"
    proc = start_run(runner, world, flag)
    try:
        token = token_of_running(runner, world, proc)
        flag.touch()
        output = proc.communicate(timeout=180)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, output[-3000:]
    assert_dead_and_gone(runner, world, token)


def test_a_token_from_a_killed_run_reads_nothing(world, runner):
    flag = runner.workdir / "release"
    proc = start_run(runner, world, flag)
    try:
        token = token_of_running(runner, world, proc)
        proc.kill()  # the controller only, as an OOM kill or a cancelled CI job would
        proc.wait(60)
        assert_dead_and_gone(runner, world, token)
    finally:
        flag.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # The controller is gone, its orphaned workers are not: end the whole process group and wait
        # until it is empty, so that no orphan logs in while the next test counts OpenBao's audit log.
        kill_group(proc.pid)
        proc.stdout.close()


def kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return

    def gone():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        return False
    assert wait_until(gone, 30), "process group %d outlived SIGKILL" % pgid


def test_without_the_cache_each_worker_revokes_its_token_when_its_task_ends(world, runner):
    before = len(world.bao.audit_requests())
    result = runner.play("Read with the cache off", """\
        - name: Read once per host
          ansible.builtin.assert:
            that:
              - lookup('g448.devenv.vault', 'secret/coder/db:username') == 'coder'
        """, env=world.approle_env(G448_VAULT_TOKEN_CACHE="false"), hosts=HOSTS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    entries = world.bao.audit_requests()[before:]
    logins = [p for _op, p in entries if p == "auth/approle/login"]
    revokes = [p for _op, p in entries if p == "auth/token/revoke-self"]
    assert (len(logins), len(revokes)) == (3, 3), entries
    assert not list(runner.cache_dir.glob("*.json")), "the cache is off: nothing on disk"


def test_a_run_never_reuses_the_token_of_an_earlier_run(world, runner):
    tasks = """\
        - name: Read
          ansible.builtin.assert:
            that:
              - lookup('g448.devenv.vault', 'secret/coder/db:username') == 'coder'
        """
    before = len(world.bao.audit_requests())
    for _run in range(2):
        result = runner.play("Read once", tasks, env=world.approle_env())
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wait_until(lambda: sum(1 for _op, p in world.bao.audit_requests()[before:]
                           if p == "auth/token/revoke-self") >= 2, REVOKE_WITHIN)
    paths = [p for _op, p in world.bao.audit_requests()[before:]]
    counts = (paths.count("auth/approle/login"), paths.count("auth/token/revoke-self"))
    assert counts == (2, 2), "(logins, revocations) of two runs: %s" % (counts,)
