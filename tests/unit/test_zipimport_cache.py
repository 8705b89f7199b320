"""The test images' bytecode cache for Ansible's module payloads
(tools/harness/image-files/g448_zipimport_cache.py): a module imported from a
zip compiles once, every later zip with the same source is served from the
cache with its own file name, and nothing stale, foreign or unsafe is used."""

import importlib
import importlib.util
import os
import sys
import traceback
import zipfile
import zipimport
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "tools/harness/image-files/g448_zipimport_cache.py"
PROBE = "def fail():\n    raise RuntimeError('probe {version}')\n"


@pytest.fixture(name="cache")
def cache_fixture(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("g448_zipimport_cache_under_test", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # CACHE_DIR does not exist here: nothing is installed yet
    assert zipimport._compile_source is not module.cached_compile
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir(mode=0o755)
    calls = []
    original = zipimport._compile_source

    def counting(pathname, source):
        calls.append(pathname)
        return original(pathname, source)

    monkeypatch.setattr(zipimport, "_compile_source", counting)
    assert module.install(str(cache_dir))
    yield module, cache_dir, calls
    module.uninstall()
    assert zipimport._compile_source is counting


def import_from_zip(tmp_path, name, version):
    """Import a fresh module `g448probe` from a zip of its own under tmp_path/name."""
    archive = tmp_path / name / "payload.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("g448probe.py", PROBE.format(version=version))
    sys.path.insert(0, str(archive))
    try:
        sys.modules.pop("g448probe", None)
        importlib.invalidate_caches()
        return importlib.import_module("g448probe"), str(archive)
    finally:
        sys.path.remove(str(archive))
        sys.modules.pop("g448probe", None)


def failing_file(module):
    with pytest.raises(RuntimeError) as caught:
        module.fail()
    return traceback.extract_tb(caught.value.__traceback__)[-1].filename


def test_a_source_compiles_once_and_later_zips_keep_their_own_file_name(cache, tmp_path):
    _module, cache_dir, calls = cache
    first, first_zip = import_from_zip(tmp_path, "run1", 1)
    second, second_zip = import_from_zip(tmp_path, "run2", 1)
    assert len(calls) == 1
    assert len(list(cache_dir.iterdir())) == 1
    assert failing_file(first) == os.path.join(first_zip, "g448probe.py")
    assert failing_file(second) == os.path.join(second_zip, "g448probe.py")


def test_an_edited_source_is_compiled_again(cache, tmp_path):
    _module, cache_dir, calls = cache
    import_from_zip(tmp_path, "run1", 1)
    edited, _zip = import_from_zip(tmp_path, "run2", 2)
    assert len(calls) == 2
    assert len(list(cache_dir.iterdir())) == 2
    with pytest.raises(RuntimeError, match="probe 2"):
        edited.fail()


def test_a_corrupt_entry_is_compiled_again_and_replaced(cache, tmp_path):
    _module, cache_dir, calls = cache
    import_from_zip(tmp_path, "run1", 1)
    (entry,) = cache_dir.iterdir()
    entry.write_bytes(b"not marshal data")
    again, _zip = import_from_zip(tmp_path, "run2", 1)
    assert len(calls) == 2
    with pytest.raises(RuntimeError, match="probe 1"):
        again.fail()
    import_from_zip(tmp_path, "run3", 1)
    assert len(calls) == 2


def test_only_root_writes_entries(cache, tmp_path, monkeypatch):
    _module, cache_dir, calls = cache
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    import_from_zip(tmp_path, "run1", 1)
    compiled_once = len(calls)
    import_from_zip(tmp_path, "run2", 1)
    assert compiled_once > 0
    assert len(calls) == 2 * compiled_once
    assert not list(cache_dir.iterdir())


@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_a_directory_others_may_write_is_not_used(tmp_path, mode):
    spec = importlib.util.spec_from_file_location("g448_zipimport_cache_unsafe", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    assert not module.usable(str(shared))
    assert not module.usable(str(tmp_path / "missing"))
    plain_file = tmp_path / "file"
    plain_file.write_text("")
    plain_file.chmod(0o644)
    assert not module.usable(str(plain_file))
    assert not module.install(str(shared))
    assert zipimport._compile_source is not module.cached_compile
