# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is part of the private implementation of the report
# filters (plugins/filter/<name>.py, one file per filter). It is not a public
# API and may change without notice.
"""The secret map (playbooks/vars/secret_map.yml, shipped with the collection) for the report's Python.

The map is the one definition of the deployment's secrets; the service card reports the age of each
secret that has a ``card`` row, at its path, or at the path the evidence's ``vault.paths`` gives (the
inventory's g448_secret_paths applied, as playbooks/report.yml passes them).
"""

from __future__ import annotations

import os

from ansible.module_utils.common.yaml import yaml_load

SECRET_MAP_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                               "playbooks", "vars", "secret_map.yml")

_LOADED = {}


def secret_map(path=SECRET_MAP_FILE):
    """key -> the map's entry (path, required, card, fields, feeds), in the map's order."""
    if path not in _LOADED:
        with open(path, encoding="utf-8") as handle:
            _LOADED[path] = yaml_load(handle)["g448_secret_map"]
    return _LOADED[path]


def secret_path(key, paths=None):
    """The Vault path of secret ``key``: ``paths[key]`` when given, else the map's."""
    return (paths or {}).get(key) or secret_map()[key]["path"]


def card_rows(paths=None):
    """(card row label, Vault path) of every secret the card reports, in the map's order."""
    return tuple((entry["card"], secret_path(key, paths)) for key, entry in secret_map().items() if entry.get("card"))
