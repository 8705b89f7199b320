# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Static checks of the Coder Docker workspace template.

Parses roles/coder/files/coder_templates/docker/main.tf with python-hcl2 and asserts
what the service card needs from it: a persistent home volume, Coder labels,
bounded limits, no privileged mode, no Docker socket, and Git through Coder's
GitLab external auth instead of personal access tokens.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import hcl2
import pytest

TEMPLATE = Path(__file__).resolve().parents[3] / "roles/coder/files/coder_templates/docker/main.tf"
LABELS = {"coder.owner", "coder.owner_id", "coder.workspace_id", "coder.workspace_name"}
# The label whose value the workspace host applies as the container's pids limit (g448.devenv.workspace_host).
PIDS_LABEL = "g448.devenv.pids_limit"


def _unquote(value):
    """python-hcl2 8.x keeps HCL string quotes; strip them for comparisons."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _blocks(doc, kind):
    """Map 'type.name' (or 'name' for variables/data) to the block body."""
    found = {}
    for entry in doc.get(kind, []):
        for first, body in entry.items():
            first = _unquote(first)
            if kind in ("resource", "data"):
                for name, inner in body.items():
                    found[f"{first}.{_unquote(name)}"] = inner
            else:
                found[first] = body
    return found


@pytest.fixture(scope="module")
def doc():
    with TEMPLATE.open(encoding="utf-8") as handle:
        return hcl2.load(handle)


@pytest.fixture(scope="module")
def resources(doc):
    return _blocks(doc, "resource")


@pytest.fixture(scope="module")
def data(doc):
    return _blocks(doc, "data")


@pytest.fixture(scope="module")
def variables(doc):
    return _blocks(doc, "variable")


@pytest.fixture(scope="module")
def container(resources):
    return resources["docker_container.workspace"]


def _label_names(block, doc):
    """Labels of a resource, whether written as blocks or through a dynamic block over a local map."""
    names = {_unquote(item["label"]) for item in block.get("labels", [])}
    local_maps = {}
    for entry in doc.get("locals", []):
        local_maps.update(entry)
    for dynamic in block.get("dynamic", []):
        for kind, body in dynamic.items():
            if _unquote(kind) != "labels":
                continue
            match = re.fullmatch(r"\$\{local\.(\w+)\}", body["for_each"])
            assert match, f"dynamic labels must iterate a local map, got {body['for_each']}"
            names |= {_unquote(key) for key in local_maps[match.group(1)]}
    return names


def test_home_volume_survives_container_changes(resources, container):
    volume = resources["docker_volume.home"]
    assert "data.coder_workspace.me.id" in volume["name"], "one home volume per workspace"
    assert volume["lifecycle"][0]["ignore_changes"] == "all"
    mounts = container["volumes"]
    home = [m for m in mounts if _unquote(m["container_path"]) == "/home/coder"]
    assert home, "the home volume is mounted at /home/coder"
    assert home[0]["volume_name"] == "${docker_volume.home.name}"
    assert home[0].get("read_only") is False


@pytest.mark.parametrize("address", ["docker_volume.home", "docker_container.workspace"])
def test_coder_labels(doc, resources, address):
    assert LABELS <= _label_names(resources[address], doc)


def test_container_not_privileged_and_no_docker_socket(container):
    assert container.get("privileged") is False
    text = json.dumps(container)
    assert "docker.sock" not in text
    assert "/var/run/docker" not in text and "/run/docker" not in text
    for mount in container.get("volumes", []):
        assert "host_path" not in mount, "no host paths in a workspace"
    for mount in container.get("mounts", []):
        assert _unquote(mount.get("type")) != "bind"
    assert "devices" not in container
    assert not any(_unquote(cap) for block in container.get("capabilities", []) for cap in block.get("add", []))
    assert _unquote(container.get("network_mode", '"bridge"')) != "host"
    assert "pid_mode" not in container and "ipc_mode" not in container
    assert "userns_mode" not in container, "workspaces stay in the host's userns-remap"


@pytest.mark.parametrize(
    ("parameter", "maximum", "container_attr"),
    [
        ("memory_mb", "var.memory_max_mb", "memory"),
        ("cpus", "var.cpus_max", "cpus"),
        ("pids", "var.pids_max", None),
    ],
)
def test_limits_are_parameters_with_maxima(data, variables, resources, container, parameter, maximum, container_attr):
    param = data[f"coder_parameter.{parameter}"]
    assert _unquote(param["type"]) == "number"
    validation = param["validation"][0]
    assert maximum in str(validation["max"]), f"{parameter} is bounded by {maximum}"
    assert validation["min"] > 0
    assert maximum.removeprefix("var.") in variables
    reference = f"data.coder_parameter.{parameter}.value"
    if container_attr:
        assert reference in str(container[container_attr])
    else:
        # kreuzwerker/docker has no pids_limit: the container carries the chosen
        # value as a label, which the workspace host applies (capped at its maximum).
        labels = {_unquote(item["label"]): str(item["value"]) for item in container.get("labels", [])}
        assert reference in labels.get(PIDS_LABEL, ""), f"{PIDS_LABEL} carries {reference}"


def test_nothing_needs_a_host_side_cli(doc, resources):
    """Builds work where Terraform runs without Docker's CLI (the official Coder image, a cluster's
    Coder server): no provisioner blocks and no resource type that runs commands on the provisioner."""
    runners = [a for a in resources if a.split(".", 1)[0] in ("terraform_data", "null_resource")]
    assert not runners, f"resources that exist to run a command: {runners}"
    provisioners = [a for a, body in resources.items() if body.get("provisioner")]
    assert not provisioners, f"resources with provisioner blocks: {provisioners}"
    text = TEMPLATE.read_text(encoding="utf-8")
    assert not re.search(r'provisioner\s+"(local|remote)-exec"', text)
    assert not re.search(r'data\s+"external"', text), "the external data source runs a program on the provisioner"


def test_memory_swap_equals_memory(container):
    assert container["memory_swap"] == container["memory"], "no swap beyond the memory limit"


def test_image_is_a_variable(container, variables):
    assert container["image"] == "${var.workspace_image}"
    assert "workspace_image" in variables


def test_git_through_gitlab_external_auth_without_tokens(doc, data, resources):
    auth = data["coder_external_auth.gitlab"]
    assert _unquote(auth["id"]) == "gitlab"
    agent_env = resources["coder_agent.main"]["env"]
    assert "data.coder_external_auth.gitlab" in json.dumps(agent_env)
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "access_token" not in text, "tokens stay out of env and Terraform state"
    assert not re.search(r"glpat-|PRIVATE[-_]TOKEN|GITLAB_TOKEN", text), "no personal access tokens"


def test_gitlab_link_is_optional_unless_the_inventory_requires_it(data, variables):
    """Issue 14: without optional = true every user must link GitLab before creating any workspace."""
    auth = data["coder_external_auth.gitlab"]
    assert auth["optional"] == "${!var.gitlab_link_required}"
    assert variables["gitlab_link_required"]["default"] is False


def test_limit_variables_match_the_workspace_host_export():
    """The template's limit variables carry the keys workspace_host writes to its defaults file."""
    vars_main = (Path(__file__).resolve().parents[3] / "roles/workspace_host/vars/main.yml").read_text(encoding="utf-8")
    section = vars_main.split("_workspace_host_workspace_defaults:", 1)[1]
    keys = set(re.findall(r"^  (\w+):", section, flags=re.MULTILINE)) - {"slice"}
    with TEMPLATE.open(encoding="utf-8") as handle:
        variables = _blocks(hcl2.load(handle), "variable")
    assert keys and keys <= set(variables)
