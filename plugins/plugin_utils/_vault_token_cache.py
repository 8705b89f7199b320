# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is a private helper of the g448.devenv.vault
# lookup. It is not a public API and may change without notice.
"""Private on-disk cache shared by the forked workers of one controller.

Ansible runs every task of every host in a freshly forked worker process, so a
token kept in memory dies with the task. The cache keeps two kinds of records,
never a secret value, in 0600 files inside a private 0700 directory owned by
the controller user:

* the *login token* of an approle or jwt login, one file per login identity
  and per run, with the expiry computed from the lease duration returned by
  the login. A token is reused only while more than ``EXPIRY_MARGIN`` of its
  lifetime is left, and only by the run that logged in: the record names the
  run's process (pid and start time, see ``run_identity``), and a record whose
  run has ended is dropped, never reused. Tokens limited to a number of uses
  are not shared. The lookup revokes every token it logged in with when its
  run ends (``_vault_revoker``).
* the *KV mounts* detected on one address and namespace (mount path and KV
  version, which are not secret), each for ``MOUNT_TTL`` seconds.

File names are SHA-256 digests over the address, namespace, auth method, auth
mount, role and a hash of the credential, so they reveal none of them.

The directory is opened once with ``O_NOFOLLOW | O_DIRECTORY`` and checked on
the open descriptor: it must be owned by the current user and closed to group
and others, else the cache is disabled (and ``reason`` says why). Every file
operation then goes through that descriptor (``dir_fd``), so swapping a path
component afterwards cannot redirect it. Records are created with
``O_CREAT | O_EXCL | O_NOFOLLOW`` under a random name, then renamed into place;
they are read with ``O_NOFOLLOW`` and only when they are regular files owned
by us and closed to others. An ``flock`` per record serialises the first login
(or mount detection), so workers that start together still do it once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import multiprocessing
import os
import secrets
import stat
import tempfile
import time

DIR_NAME = "g448-devenv-vault"
# Keep a margin so a token never expires between the cache check and its use.
EXPIRY_MARGIN = 30.0
# How long a detected KV mount (path and version) is trusted from disk.
MOUNT_TTL = 600.0
MAX_RECORD = 64 * 1024

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _private_dir(path):
    """True when ``path`` is a real directory of ours, closed to group and others."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077


def default_cache_dir():
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    # Only our own runtime dir: after `su`/`sudo -E` it may still name another user's.
    if runtime and _private_dir(runtime):
        return os.path.join(runtime, DIR_NAME)
    return os.path.join(tempfile.gettempdir(), "%s-%d" % (DIR_NAME, os.geteuid()))


def identity_key(*parts):
    """A stable, non-reversible file name for one login identity."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(("" if part is None else str(part)).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def credential_fingerprint(value):
    if value is None:
        return ""
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()


def _why(exc):
    return exc.strerror or type(exc).__name__


def process_start(pid):
    """The start time of ``pid`` (clock ticks since boot, from /proc), or None where /proc is missing.

    Together with the pid it names one process: a pid reused after the process ended has another start.
    """
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            stat_line = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # Field 2 is the command in parentheses (it may contain spaces); field 22 the start time.
    fields = stat_line[stat_line.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def process_alive(pid, start):
    """True while the process ``pid`` that started at ``start`` runs (a zombie has ended)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    except OSError:
        return False
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            stat_line = handle.read().decode("ascii", "replace")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc (not Linux): the kill probe is all there is
    fields = stat_line[stat_line.rfind(")") + 2:].split()
    if fields and fields[0] in ("Z", "X"):
        return False
    return start is None or process_start(pid) == start


def run_identity():
    """``[pid, start]`` of the process this run belongs to.

    Ansible templates (and so runs lookups) in worker processes forked by the
    controller for each task; the run is that controller process. A lookup
    called in the controller process itself (or outside Ansible) belongs to
    the calling process.
    """
    parent = multiprocessing.parent_process()
    pid = parent.pid if parent is not None and parent.pid else os.getpid()
    return [pid, process_start(pid)]


class TokenCache:
    """A private directory of ``<key>.json`` records plus ``<key>.lock`` files."""

    def __init__(self, directory=None, clock=time.time):
        self.directory = directory or default_cache_dir()
        self._clock = clock
        self._dir_fd = None
        self.reason = None
        self.usable = self._prepare()

    # ------------------------------------------------------------ directory
    def _prepare(self):
        try:
            os.mkdir(self.directory, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            self.reason = "it cannot be created (%s)" % _why(exc)
            return False
        try:
            fd = os.open(self.directory, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                self.reason = "it is a symlink or not a directory"
            else:
                self.reason = "it cannot be opened (%s)" % _why(exc)
            return False
        st = os.fstat(fd)
        if not stat.S_ISDIR(st.st_mode):
            self.reason = "it is not a directory"
        elif st.st_uid != os.geteuid():
            self.reason = "it belongs to uid %d, not to uid %d" % (st.st_uid, os.geteuid())
        elif st.st_mode & 0o077:
            self.reason = "it is open to group or others (mode %04o, needs 0700)" % stat.S_IMODE(st.st_mode)
        if self.reason:
            os.close(fd)
            return False
        self._dir_fd = fd
        return True

    def close(self):
        if self._dir_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._dir_fd)
            self._dir_fd = None
            self.usable = False

    def __del__(self):
        self.close()

    # ----------------------------------------------------------- primitives
    @contextlib.contextmanager
    def locked(self, key):
        """Serialise a login (or a mount detection) for one record across processes.

        Not re-entrant: never nest two ``locked()`` on the same key in one process.
        """
        fd = None
        if self.usable:
            try:
                fd = os.open(key + ".lock", os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o600,
                             dir_fd=self._dir_fd)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                if fd is not None:
                    os.close(fd)
                fd = None  # no lock: at worst two workers do the same request
        try:
            yield
        finally:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)

    def _read(self, key):
        if not self.usable:
            return None
        try:
            fd = os.open(key + ".json", os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK, dir_fd=self._dir_fd)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
                return None
            data = os.read(fd, MAX_RECORD + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        if len(data) > MAX_RECORD:
            return None
        try:
            record = json.loads(data.decode("utf-8"))
        except ValueError:
            return None
        return record if isinstance(record, dict) else None

    def _write(self, key, record):
        if not self.usable:
            return
        tmp = ".tmp-%d-%s.json" % (os.getpid(), secrets.token_hex(8))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600,
                         dir_fd=self._dir_fd)
        except OSError:
            return
        try:
            try:
                os.fchmod(fd, 0o600)
                payload = json.dumps(record).encode("utf-8")
                while payload:
                    payload = payload[os.write(fd, payload):]
            finally:
                os.close(fd)
            os.replace(tmp, key + ".json", src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self._dir_fd)

    def discard(self, key):
        if not self.usable:
            return
        with contextlib.suppress(OSError):
            os.unlink(key + ".json", dir_fd=self._dir_fd)

    def _live(self, expires_at):
        if expires_at is None:
            return True
        return isinstance(expires_at, (int, float)) and expires_at - EXPIRY_MARGIN > self._clock()

    # --------------------------------------------------------------- tokens
    def get(self, key):
        """Return ``(token, expires_at)`` or ``None`` when absent, too old or left by a run that ended."""
        record = self._read(key)
        if record is None or record.get("kind", "token") != "token":
            return None
        token = record.get("token")
        expires_at = record.get("expires_at")
        if not isinstance(token, str) or not token:
            return None
        run = record.get("run")
        ended = not (isinstance(run, list) and len(run) == 2 and process_alive(run[0], run[1]))
        if ended or not self._live(expires_at):
            self.discard(key)
            return None
        return token, expires_at

    def shareable(self, lease_duration, num_uses=0):
        """Whether ``put`` would store a token of this lease and use limit."""
        if not self.usable or num_uses:
            return False
        return not lease_duration or float(lease_duration) > EXPIRY_MARGIN

    def put(self, key, token, lease_duration, num_uses=0, run=None):
        """Store a token of the run ``run`` (``run_identity()``); ``lease_duration`` 0 means no expiry.

        A token limited to ``num_uses`` uses is not shared: workers would use it up.
        """
        if not self.shareable(lease_duration, num_uses):
            return
        expires_at = (self._clock() + float(lease_duration)) if lease_duration else None
        self._write(key, {"kind": "token", "token": token, "expires_at": expires_at,
                          "run": list(run) if run is not None else run_identity()})
        self.prune(keep=key)

    def discard_token(self, key, token):
        """Drop the record ``key`` if it still holds ``token`` (the revoker's last step)."""
        record = self._read(key)
        if record is not None and record.get("token") == token:
            self.discard(key)

    # --------------------------------------------------------------- mounts
    def get_mounts(self, key):
        """``{mount: kv_version}`` of the unexpired mounts recorded under ``key``."""
        record = self._read(key)
        if record is None or record.get("kind") != "mounts" or not isinstance(record.get("mounts"), dict):
            return {}
        out = {}
        for mount, entry in record["mounts"].items():
            if (isinstance(mount, str) and mount.endswith("/") and isinstance(entry, dict)
                    and entry.get("kv") in (1, 2) and self._live(entry.get("expires_at"))):
                out[mount] = entry["kv"]
        return out

    def put_mount(self, key, mount, kv_version, ttl=MOUNT_TTL):
        """Record one mount (call under ``locked(key)``: read-modify-write)."""
        self._set_mounts(key, {mount: {"kv": int(kv_version), "expires_at": self._clock() + float(ttl)}})

    def drop_mount(self, key, mount):
        """Forget one mount (call under ``locked(key)``)."""
        self._set_mounts(key, {mount: None})

    def _set_mounts(self, key, changes):
        if not self.usable:
            return
        record = self._read(key) or {}
        mounts = record.get("mounts") if record.get("kind") == "mounts" else None
        mounts = {m: e for m, e in (mounts or {}).items()
                  if isinstance(e, dict) and self._live(e.get("expires_at"))}
        for mount, entry in changes.items():
            if entry is None:
                mounts.pop(mount, None)
            else:
                mounts[mount] = entry
        if mounts:
            self._write(key, {"kind": "mounts", "mounts": mounts})
        else:
            self.discard(key)

    # ---------------------------------------------------------------- prune
    def prune(self, keep=None):
        """Drop the token records of other identities that expired or whose run ended."""
        if not self.usable:
            return
        try:
            names = os.listdir(self._dir_fd)
        except OSError:
            return
        for name in names:
            if name.endswith(".json") and not name.startswith(".") and name[:-5] != keep:
                self.get(name[:-5])  # get() discards an expired token record
