# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""One definition of the Molecule platform: G448_PLATFORM in .env.yml.

Molecule has no include, and a scenario's `platforms` list replaces the base config's. Every
platform key but a platform's own (name, image, groups, networks) is defined once, as the inside of
a YAML flow mapping, G448_PLATFORM in .env.yml, which Molecule substitutes as text before it reads
a molecule.yml; each platform merges it: ``- <<: {$G448_PLATFORM:-capabilities: .env.yml not read}``.
These tests read every molecule.yml the way Molecule does (its interpolation, with .env.yml, then
its merge over .config/molecule/config.yml) and hold each platform to that definition, and
tools/demo/demo.sh to .env.yml.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

# Molecule is in the project's main venv (make unit runs this there); the ansible-core 2.17
# controller venv holds ansible alone, so the module is skipped in that run only.
interpolation = pytest.importorskip("molecule.interpolation")
Interpolator, TemplateWithDefaults = interpolation.Interpolator, interpolation.TemplateWithDefaults
merge_dicts = pytest.importorskip("molecule.util").merge_dicts

REPO = Path(__file__).resolve().parents[3]
BASE = REPO / ".config/molecule/config.yml"
SCENARIOS = sorted(REPO.glob("molecule/*/molecule.yml"))
ENV = yaml.safe_load((REPO / ".env.yml").read_text())
PLATFORM = yaml.safe_load("{%s}" % ENV["G448_PLATFORM"])
# How a platform names it, as YAML before interpolation (what ansible-lint reads).
MERGE = {"$G448_PLATFORM:-capabilities": ".env.yml not read"}
# What each platform says for itself; everything else is G448_PLATFORM.
OWN_KEYS = {"name", "image", "groups", "networks", "docker_networks"}
# Scenarios whose hosts are not <scenario>-<distro> (MOLECULE_DISTRO does not apply).
FIXED_HOSTS = {"cluster"}


def ids(path):
    """A test id: the path relative to the checkout."""
    return str(path.relative_to(REPO))


def load(path, env=ENV):
    """A Molecule config file interpolated as Molecule does, with the environment and `env`
    (G448_* taken from `env` only)."""
    mapping = {k: v for k, v in os.environ.items() if not k.startswith("G448_")} | env
    text = Interpolator(TemplateWithDefaults, mapping).interpolate(path.read_text(), "MOLECULE_")
    return yaml.safe_load(text)


def config(path):
    """The scenario's config as Molecule merges it over the base config."""
    return merge_dicts(load(BASE) if path != BASE else {}, load(path))


def shared(platform):
    return {k: v for k, v in platform.items() if k not in OWN_KEYS}


def test_env_file_holds_the_platform():
    caps = PLATFORM["capabilities"]
    assert len(caps) == len(set(caps)) > 30
    # systemd as PID 1 needs SYS_ADMIN; the sandbox lacks SYS_RESOURCE (so not ALL, no privileged).
    assert "SYS_ADMIN" in caps and "SYS_RESOURCE" not in caps
    assert "privileged" not in PLATFORM
    assert PLATFORM["command"] == "/lib/systemd/systemd" and PLATFORM["cgroupns_mode"] == "host"
    assert PLATFORM["security_opts"] == ["seccomp=unconfined", "apparmor=unconfined"]
    assert PLATFORM["volumes"] == ["/sys/fs/cgroup:/sys/fs/cgroup:rw", "/var/lib/docker"]
    assert PLATFORM["keep_volumes"] is False
    assert PLATFORM["tmpfs"] == ["/run", "/run/lock", "/tmp"]


@pytest.mark.parametrize("path", [BASE, *SCENARIOS], ids=ids)
def test_every_platform_is_the_one_platform(path):
    platforms = config(path)["platforms"]
    assert platforms
    for platform in platforms:
        assert shared(platform) == PLATFORM, f"{platform['name']} in {path}: {shared(platform)}"


@pytest.mark.parametrize("path", [BASE, *SCENARIOS], ids=ids)
def test_a_platform_merges_the_env_file_value_and_adds_only_its_own_keys(path):
    """No platform keeps a copy of a shared key (BaseLoader keeps `<<` as written)."""
    for platform in yaml.load(path.read_text(), Loader=yaml.BaseLoader).get("platforms", []):
        assert platform.get("<<") == MERGE, f"{platform.get('name')} in {path}: `<<: {{$G448_PLATFORM...}}` missing"
        assert set(platform) - {"<<"} <= OWN_KEYS, f"{platform['name']} in {path}: {set(platform) - OWN_KEYS}"


@pytest.mark.parametrize("path", [p for p in SCENARIOS if p.parent.name not in FIXED_HOSTS], ids=ids)
def test_molecule_distro_names_each_platform(path):
    """tools/harness/run-molecule.sh narrows a run with --platform-name <scenario>-$MOLECULE_DISTRO
    (Molecule keeps $MOLECULE_* for its own later pass)."""
    for platform in config(path)["platforms"]:
        name = re.fullmatch(r"(\$MOLECULE_SCENARIO_NAME|%s)-(debian\d+)" % path.parent.name, platform["name"])
        assert name, platform["name"]
        distro = name[2]
        assert platform["image"].endswith(f"/{distro}:latest"), platform


@pytest.mark.parametrize("scenario", ["production", "site"])
def test_the_all_in_one_host_is_in_every_group_of_the_production_inventory(scenario):
    inventory = yaml.safe_load((REPO / "inventories/production/hosts.yml").read_text())
    (platform,) = config(REPO / "molecule" / scenario / "molecule.yml")["platforms"]
    assert platform["groups"] == ["molecule", *inventory["all"]["children"]]


def test_a_config_read_without_the_env_file_fails_molecule_s_schema():
    """Run from elsewhere, Molecule does not read .env.yml: every platform's capabilities are then
    a string, which Molecule's schema refuses, naming .env.yml."""
    uses = [p for p in [BASE, *SCENARIOS] if "platforms" in load(p)]
    assert BASE in uses
    for path in uses:
        for platform in load(path, env={})["platforms"]:
            assert platform["capabilities"] == ".env.yml not read", (path, platform)


@pytest.mark.parametrize("path", SCENARIOS, ids=ids)
def test_no_scenario_restates_the_base_group_vars(path):
    """The nested-Docker workspace_host settings are written once, in the base config."""
    base = load(BASE)["provisioner"]["inventory"]["group_vars"]["all"]
    assert base["workspace_host_docker_cgroup_driver"] == "cgroupfs"
    own = (load(path).get("provisioner") or {}).get("inventory", {}).get("group_vars", {})
    for group, values in own.items():
        same = {k for k, v in (values or {}).items() if k in base and base[k] == v}
        assert not same, f"{path} group_vars.{group} restates the base config's {sorted(same)}"


def test_the_nested_docker_settings_are_the_demo_inventory_s():
    """Molecule writes no inline group_vars for a scenario with inventory.links: molecule/production
    links the demo inventory's, which the base config's must equal (one machine shape)."""
    demo = REPO / "inventories/demo/group_vars/coder_workspace_hosts"
    link = REPO / "molecule/production/group_vars/coder_workspace_hosts"
    assert link.is_symlink() and link.resolve() == demo.resolve()
    assert "links" in load(REPO / "molecule/production/molecule.yml")["provisioner"]["inventory"]
    assert load(BASE)["provisioner"]["inventory"]["group_vars"]["all"] == yaml.safe_load((demo / "main.yml").read_text())
    for path in (REPO / "molecule/production/group_vars").rglob("*.yml"):
        assert not {k for k in yaml.safe_load(path.read_text()) or {} if k.startswith("workspace_host_docker")}, path


def test_demo_container_uses_the_env_file():
    demo = (REPO / "tools/demo/demo.sh").read_text()
    assert ".env.yml" in demo and "G448_PLATFORM" in demo
    assert not any(cap in demo for cap in PLATFORM["capabilities"] if cap not in ("SYS_ADMIN",)), (
        "tools/demo/demo.sh names capabilities itself; read them from .env.yml")
