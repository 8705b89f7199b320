# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The secret map (playbooks/vars/secret_map.yml) is the one definition of the deployment's secrets.

Every consumer reads it: playbooks/secrets.yml (resolution and the role variables, proven against a
real OpenBao by tests/integration/test_secrets_playbook.py), the report (report.yml's metadata reads
and the service card's rows), the OpenBao seed of the tests and the demo. These tests fail when a
consumer names a path of its own again, or when an entry added only to the map does not reach them.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MAP_FILE = REPO / "playbooks" / "vars" / "secret_map.yml"
SECRET_MAP = yaml.safe_load(MAP_FILE.read_text())["g448_secret_map"]
NEW_SECRET = {"path": "secret/coder/new", "required": False, "card": "A new secret",
              "fields": {"token": "text"}, "feeds": [{"field": "token", "var": "g448_new_token"}]}

# Where a consumer would retype a path: every tracked file under these (the map aside).
CONSUMERS = ("playbooks/", "plugins/plugin_utils/", "plugins/filter/", "inventories/", "tools/harness/",
             "tools/demo/", "molecule/production/group_vars/", "molecule/shared/openbao.yml")


def seed_module():
    spec = importlib.util.spec_from_file_location("openbao_seed", REPO / "tools" / "harness" / "openbao-seed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tracked(prefixes):
    out = subprocess.run(["git", "ls-files", "--", *prefixes], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / name for name in out.stdout.split() if (REPO / name).is_file()]


def test_every_entry_is_complete_and_every_field_feeds_a_variable():
    formats = set(seed_module().FORMATS)
    assert SECRET_MAP, "the map is empty"
    for key, entry in SECRET_MAP.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key), key
        assert re.fullmatch(r"secret/[a-z0-9_/-]+", entry["path"]), (key, entry["path"])
        assert isinstance(entry["required"], bool), key
        assert set(entry["fields"].values()) <= formats, (key, entry["fields"])
        fed = set()
        for feed in entry["feeds"]:
            assert feed["field"] in entry["fields"], (key, feed)
            assert set(feed) <= {"field", "var", "split", "where", "key"}, (key, feed)
            assert ("where" in feed) == ("key" in feed), (key, feed)
            fed.add(feed["field"])
        assert fed == set(entry["fields"]), "%s: a field feeds nothing: %s" % (key, set(entry["fields"]) - fed)
    paths = [entry["path"] for entry in SECRET_MAP.values()]
    assert len(paths) == len(set(paths))


def test_no_consumer_names_a_path_of_its_own():
    """Only the map names the deployment's paths; a retyped one (or a new coder/ path) fails here."""
    pattern = re.compile(r"secret/coder/[a-z0-9_-]+|(?:%s)\b" % "|".join(re.escape(e["path"]) for e in SECRET_MAP.values()))
    found = []
    for path in tracked(CONSUMERS):
        if path == MAP_FILE:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if pattern.search(line):
                found.append("%s:%d: %s" % (path.relative_to(REPO), number, line.strip()))
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Vault paths\n", 1)[1].split("\n## ", 1)[0]
    found += ["README.md (Vault paths): " + m for m in pattern.findall(section)]
    assert not found, "paths retyped outside playbooks/vars/secret_map.yml:\n" + "\n".join(found)


def test_the_playbooks_read_the_map():
    for name in ("secrets.yml", "report.yml"):
        plays = yaml.safe_load((REPO / "playbooks" / name).read_text())
        assert any("vars/secret_map.yml" in play.get("vars_files", []) for play in plays), name
    assert "playbooks/vars/secret_map.yml" in (REPO / "README.md").read_text()


def test_a_new_secret_in_the_map_is_seeded(tmp_path):
    secret_map = dict(copy.deepcopy(SECRET_MAP), new=NEW_SECRET)
    values = seed_module().fresh_secrets("coder.test", secret_map)
    assert sorted(values) == sorted(entry["path"].partition("/")[2] for entry in secret_map.values())
    assert set(values["coder/new"]) == {"token"} and len(values["coder/new"]["token"]) > 16
    assert all(set(values[e["path"].partition("/")[2]]) == set(e["fields"]) for e in secret_map.values())


@pytest.fixture
def secret_map_module(collections_root, monkeypatch):
    module = importlib.import_module("ansible_collections.g448.devenv.plugins.plugin_utils._secret_map")
    monkeypatch.setattr(module, "_LOADED", {})
    return module


def test_the_card_reports_every_secret_of_the_map_with_a_card_row(secret_map_module):
    rows = secret_map_module.card_rows()
    assert rows == tuple((e["card"], e["path"]) for e in SECRET_MAP.values() if e.get("card"))
    moved = secret_map_module.card_rows({"db": "secret/other/db"})
    assert (SECRET_MAP["db"]["card"], "secret/other/db") in moved


def test_a_new_secret_in_the_map_reaches_the_service_card(secret_map_module, monkeypatch):
    card = importlib.import_module("ansible_collections.g448.devenv.plugins.plugin_utils._service_card")
    secret_map = dict(copy.deepcopy(SECRET_MAP), new=NEW_SECRET)
    monkeypatch.setitem(secret_map_module._LOADED, secret_map_module.SECRET_MAP_FILE, secret_map)
    evidence = {"vault": {"configured": True, "secrets": {"secret/coder/new": None}}}
    rows = {row["path"]: row for row in card._secret_rows(evidence)}
    assert "secret/coder/new" in rows and "does not exist in Vault" in str(rows["secret/coder/new"])
    evidence["vault"]["paths"] = {"new": "secret/elsewhere/new"}
    assert "secret/elsewhere/new" in {row["path"] for row in card._secret_rows(evidence)}
