"""Bytecode cache for Ansible's module payloads, in the test images only.

tools/harness/build-image.sh installs this file and a .pth line that imports it
into the Molecule images (and so the demo's and the bench's containers);
nothing of it reaches a role or a production host.

Why: Ansible runs every module from a zip it sends with the task (AnsiballZ).
Python's zipimport compiles each module_utils source of that zip on every
task, because the zip carries no bytecode: about 0.1 s of CPU per task here,
a third of a small module's run on the target, repeated ~20,000 times in
`make test`. With the cache, a source compiles once per container.

How: zipimport's compile step is wrapped. The key is the interpreter's bytecode
magic number and the sha256 of the source, so another Python or an edited
module_utils file never meets a stale entry; the cached code object is given
the file name of the zip it is imported from, so tracebacks still name it.
Only root writes entries; any user reads them. The cache is on only while
CACHE_DIR exists, is owned by root and is writable by root alone: removing
the directory turns it off (`make bench-site` does, to measure as production
hosts run).
"""

import os
import stat
import zipimport

CACHE_DIR = "/var/cache/g448-zipimport"

_state = {"compile": None, "dir": None}


def _retarget(code, filename):
    """Return code (and the code objects it holds) with co_filename set to filename."""
    consts = tuple(
        _retarget(const, filename) if isinstance(const, type(code)) else const
        for const in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)


def _entry(source):
    import hashlib
    import importlib.util

    digest = hashlib.sha256(importlib.util.MAGIC_NUMBER + source).hexdigest()
    return os.path.join(_state["dir"], digest)


def _read(path, code_type):
    import marshal

    try:
        with open(path, "rb") as handle:
            code = marshal.loads(handle.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, code_type) else None


def _write(path, code):
    import marshal

    if os.geteuid() != 0:
        return
    partial = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(partial, "wb") as handle:
            handle.write(marshal.dumps(code))
        os.replace(partial, path)
    except OSError:
        try:
            os.unlink(partial)
        except OSError:
            pass


def cached_compile(pathname, source):
    """zipimport's compile step, served from the cache when it holds this source."""
    compile_source = _state["compile"]
    path = _entry(source)
    code_type = type(cached_compile.__code__)
    code = _read(path, code_type)
    if code is not None:
        return _retarget(code, pathname)
    code = compile_source(pathname, source)
    _write(path, code)
    return code


def usable(cache_dir):
    """True when cache_dir is a directory owned by root that only root may write."""
    try:
        info = os.stat(cache_dir)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022


def install(cache_dir=CACHE_DIR):
    """Wrap zipimport's compile step when cache_dir is usable; return whether it is on."""
    if _state["compile"] is not None:
        return True
    if not hasattr(zipimport, "_compile_source") or not usable(cache_dir):
        return False
    _state["compile"] = zipimport._compile_source
    _state["dir"] = cache_dir
    zipimport._compile_source = cached_compile
    return True


def uninstall():
    """Put zipimport's own compile step back."""
    if _state["compile"] is not None:
        zipimport._compile_source = _state["compile"]
        _state["compile"] = None
        _state["dir"] = None


install()
