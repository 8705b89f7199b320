# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""One definition of the Molecule platforms: the systemd one and the nested-Docker one.

Molecule has no include, and a scenario's `platforms` list replaces the base config's. The
nested-Docker lists (capabilities, security options, volumes) are defined once in .env.yml and
substituted by Molecule for ``${G448_NESTED_DOCKER_*}``; the remaining keys of a platform are
written in each scenario (one YAML anchor per file). These tests read every molecule.yml the way
Molecule does (its interpolation, with .env.yml) and hold each platform to one of the two
definitions, and tools/demo/demo.sh to .env.yml.
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

REPO = Path(__file__).resolve().parents[3]
BASE = REPO / ".config/molecule/config.yml"
SCENARIOS = sorted(REPO.glob("molecule/*/molecule.yml"))
ENV = yaml.safe_load((REPO / ".env.yml").read_text())
# What each platform says for itself; everything else is the shared definition.
OWN_KEYS = {"name", "image", "groups", "networks", "docker_networks"}
NESTED_KEYS = {"capabilities": "CAPABILITIES", "security_opts": "SECURITY_OPTS", "volumes": "VOLUMES"}


def platforms(path, env=ENV):
    """The platforms of a Molecule config file (none: the base config's), interpolated as Molecule
    does with the environment and `env` (MOLECULE_* kept)."""
    mapping = {k: v for k, v in os.environ.items() if not k.startswith("G448_NESTED_DOCKER_")} | env
    text = Interpolator(TemplateWithDefaults, mapping).interpolate(path.read_text(), "MOLECULE_")
    return yaml.safe_load(text).get("platforms", [])


def shared(platform):
    return {k: v for k, v in platform.items() if k not in OWN_KEYS}


SYSTEMD = shared(platforms(BASE)[0])
NESTED = {**SYSTEMD, "keep_volumes": False,
          **{key: yaml.safe_load(ENV["G448_NESTED_DOCKER_" + name]) for key, name in NESTED_KEYS.items()}}


def test_env_file_holds_the_nested_docker_lists():
    caps = NESTED["capabilities"]
    assert set(ENV) >= {"G448_NESTED_DOCKER_" + name for name in NESTED_KEYS.values()}
    assert len(caps) == len(set(caps)) > 30
    # A superset of the systemd platform, without the one capability the sandbox lacks.
    assert set(SYSTEMD["capabilities"]) <= set(caps)
    assert "SYS_RESOURCE" not in caps
    assert set(SYSTEMD["volumes"]) <= set(NESTED["volumes"])
    assert "/var/lib/docker" in NESTED["volumes"]
    assert NESTED["security_opts"] == ["seccomp=unconfined", "apparmor=unconfined"]


@pytest.mark.parametrize("path", [BASE, *SCENARIOS], ids=lambda p: str(p.relative_to(REPO)))
def test_every_platform_is_the_systemd_or_the_nested_docker_one(path):
    for platform in platforms(path):
        assert shared(platform) in (SYSTEMD, NESTED), f"{platform['name']} in {path}: {shared(platform)}"


@pytest.mark.parametrize("path", [BASE, *SCENARIOS], ids=lambda p: str(p.relative_to(REPO)))
def test_nested_docker_lists_come_from_the_env_file_only(path):
    """A nested-Docker platform names the .env.yml variables; no scenario keeps a copy of a list."""
    raw = yaml.safe_load(path.read_text()).get("platforms", [])
    for platform, resolved in zip(raw, platforms(path)):
        if shared(resolved) != NESTED:
            continue
        for key, name in NESTED_KEYS.items():
            assert re.fullmatch(r"\$\{G448_NESTED_DOCKER_%s(:-[^}]*)?\}" % name, str(platform[key])), (
                f"{platform['name']} in {path}: {key} must be ${{G448_NESTED_DOCKER_{name}}}, not a copy")


def test_a_scenario_read_without_the_env_file_fails_molecule_s_schema():
    """Run from elsewhere, Molecule does not read .env.yml: the lists must not silently be empty."""
    uses = [p for p in SCENARIOS if "G448_NESTED_DOCKER_" in p.read_text()]
    assert uses
    for path in uses:
        for platform in platforms(path, env={}):
            if "security_opts" in platform:
                assert not isinstance(platform["capabilities"], list), path


def test_demo_container_uses_the_env_file():
    demo = (REPO / "tools/demo/demo.sh").read_text()
    assert ".env.yml" in demo and "G448_NESTED_DOCKER_" in demo
    assert not any(cap in demo for cap in NESTED["capabilities"] if cap not in ("SYS_ADMIN",)), (
        "tools/demo/demo.sh names capabilities itself; read them from .env.yml")
