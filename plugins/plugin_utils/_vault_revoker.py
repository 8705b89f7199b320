# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is a private helper of the g448.devenv.vault
# lookup. It is not a public API and may change without notice.
"""Revoke the login tokens of the g448.devenv.vault lookup when the run ends.

A lookup has no end-of-run hook, and Ansible runs it in worker processes that
end with ``os._exit`` (no ``atexit``). Two ways cover every login:

* A token shared with the other workers through the token cache outlives the
  worker that logged in, so before it is written to the cache, ``spawn``
  starts a small watcher: this file run as a script by the controller's
  Python, in its own session (a Ctrl-C of the terminal does not reach it), its
  standard streams on /dev/null, the token on a pipe (never in argv or the
  environment). It waits until the run's process (``run_identity``) ends,
  through a pidfd where the kernel has one (polling the pid otherwise),
  revokes the token (``auth/token/revoke-self``) and deletes its cache record.
  It also revokes at once on SIGTERM, and ends by itself when the token
  expires. The token is only cached once the watcher has said it is ready.
* A token kept in one process only (no cache, a use-limited or short-lived
  token, or a watcher that did not start) is revoked by ``revoke`` at the end
  of the lookup call that logged in: Ansible terminates workers still alive
  when a play ends, so nothing may wait for a worker's exit.

Nothing here ever prints or logs a token.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

READY = b"ready\n"
# How long the worker waits for the watcher to start (Python start-up and the requests import).
SPAWN_TIMEOUT = 15.0
POLL_INTERVAL = 0.2
REVOKE_PATH = "/v1/auth/token/revoke-self"
# A revocation at the end of a lookup call delays the task: keep it short.
EXIT_REVOKE_TIMEOUT = 10


def revoke(url, token, namespace=None, verify=True, timeout=EXIT_REVOKE_TIMEOUT, session=None):
    """POST auth/token/revoke-self with ``token``; return the HTTP status, or None when no answer came.

    204 is revoked, 403 means the token was already invalid (revoked or expired).
    """
    headers = {"X-Vault-Token": token}
    if namespace:
        headers["X-Vault-Namespace"] = namespace
    try:
        if session is None:
            import requests  # pylint: disable=import-outside-toplevel  # the watcher needs nothing else

            session = requests.Session()
        response = session.post(url.rstrip("/") + REVOKE_PATH, headers=headers, verify=verify, timeout=timeout)
    except Exception:  # noqa: BLE001 - best effort: the text may quote the token
        return None
    return response.status_code


def spawn(job, executable=None, timeout=SPAWN_TIMEOUT):
    """Start the watcher for one cached token; True once it said it is ready.

    ``job``: url, token, namespace, verify, timeout, run ([pid, start]), expires_at,
    cache_dir, cache_key. On any failure the watcher is killed and False returned:
    the caller then keeps the token to itself and revokes it at its own exit.
    """
    executable = executable or sys.executable
    if not executable:
        return False
    try:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with  # it outlives this call on purpose
            [executable, "-B", os.path.abspath(__file__)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            close_fds=True, start_new_session=True, cwd="/",
        )
    except OSError:
        return False
    ready = b""
    try:
        proc.stdin.write(json.dumps(job).encode("utf-8"))
        proc.stdin.close()
        deadline = time.monotonic() + timeout
        fd = proc.stdout.fileno()
        while not ready.endswith(b"\n") and len(ready) < 64:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 64)
            if not chunk:
                break
            ready += chunk
    except OSError:
        ready = b""
    finally:
        proc.stdout.close()
    if ready != READY:
        try:
            proc.kill()
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        return False
    # Not waited for: it ends after the run; init (or the nearest subreaper) collects it.
    proc.returncode = 0  # tell subprocess it needs no warning or reaping from us
    return True


def wait_for_end(pid, start, expires_at, alive, clock=time.time, sleep=time.sleep):
    """Block until the process ``pid`` (started at ``start``) ends, or until ``expires_at`` (None: no limit).

    Returns True when the process ended, False when the token expired first.
    """
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = None
    try:
        # Checked after the pidfd exists: the pid cannot be reused under it any more.
        if not alive(pid, start):
            return True
        while True:
            left = None if expires_at is None else expires_at - clock()
            if left is not None and left <= 0:
                return False
            if pidfd is not None:
                wait = None if left is None else left
                if select.select([pidfd], [], [], wait)[0]:
                    return True
            else:
                sleep(POLL_INTERVAL if left is None else min(POLL_INTERVAL, left))
                if not alive(pid, start):
                    return True
    finally:
        if pidfd is not None:
            os.close(pidfd)


class _RevokeNow(Exception):
    pass


def _on_term(signum, frame):
    raise _RevokeNow()


def main(stdin=None, stdout=None, token_cache=None):
    """The watcher: read the job, say ready, wait for the run to end, revoke, drop the cache record."""
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout.buffer
    job = json.loads(stdin.read().decode("utf-8"))
    stdin.close()
    if token_cache is None:
        # Run as a script: the cache module is the file next to this one (standard library only).
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _vault_token_cache as token_cache  # pylint: disable=import-outside-toplevel,import-error
    import requests  # pylint: disable=import-outside-toplevel  # fail before "ready", not after the run

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_term)
    pid, start = job["run"]
    stdout.write(READY)
    stdout.flush()
    stdout.close()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        ended = wait_for_end(pid, start, job.get("expires_at"), token_cache.process_alive)
    except _RevokeNow:
        ended = True
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if ended:
        revoke(job["url"], job["token"], job.get("namespace"), job.get("verify", True),
               min(int(job.get("timeout") or 30), 30), requests.Session())
    if job.get("cache_dir") and job.get("cache_key"):
        cache = token_cache.TokenCache(job["cache_dir"])
        if cache.usable:
            cache.discard_token(job["cache_key"], job["token"])
            cache.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
