# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The bad-input cases of every scenario (molecule/<scenario>/vars/bad_input.yml) hold what
molecule/shared/tasks/bad_input.yml reads from them, and nothing the one-process runner
(molecule/shared/bad_input_cases.yml) could silently ignore.

The runner gives each case's variables to its host as play vars_files: above inventory variables and
gathered facts, below a role's vars/ files. A case that set a name a role's vars/ file defines would
run with the role's value and fail (or pass) for another reason, so no case may set one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CASE_FILES = sorted(REPO.glob("molecule/*/vars/bad_input.yml"))
KEYS = {"name", "vars", "expect", "task"}


def ids(path):
    return str(path.relative_to(REPO))


def role_vars(role):
    """Every name the role's vars/ files define."""
    names = set()
    for path in (REPO / "roles" / role / "vars").glob("*.yml"):
        names |= set(yaml.safe_load(path.read_text()) or {})
    return names


def case_names(case):
    """The variable names a case sets: its dict's keys, or the quoted keys of the dict its template
    builds (a case may combine shared test values with its own)."""
    if isinstance(case["vars"], dict):
        return set(case["vars"])
    return set(re.findall(r"'(\w+)'\s*:", case["vars"]))


def preflight_task_names(role):
    """The names of the tasks of roles/<role>/tasks/preflight.yml, top level and in blocks."""
    text = (REPO / "roles" / role / "tasks" / "preflight.yml").read_text()
    return {match.strip().strip("'\"") for match in re.findall(r"^(?:    )?- name: (.+)$", text, re.M)}


@pytest.mark.parametrize("path", CASE_FILES, ids=ids)
def test_each_case_names_what_the_runner_reads(path):
    data = yaml.safe_load(path.read_text())
    assert (REPO / "roles" / data["bad_input_role"]).is_dir(), "bad_input_role %r is not a role" % data["bad_input_role"]
    names = [case["name"] for case in data["bad_input_cases"]]
    assert len(names) == len(set(names)), "case names repeat: %s" % sorted(n for n in names if names.count(n) > 1)
    for case in data["bad_input_cases"]:
        assert set(case) <= KEYS and {"name", "vars", "expect"} <= set(case), case["name"]
        assert isinstance(case["vars"], dict) or "{{" in case["vars"], case["name"]
        assert case_names(case), "%s: sets no variable" % case["name"]


@pytest.mark.parametrize("path", CASE_FILES, ids=ids)
def test_no_case_sets_a_name_of_the_roles_vars_files(path):
    data = yaml.safe_load(path.read_text())
    shadowed = {case["name"]: sorted(case_names(case) & role_vars(data["bad_input_role"]))
                for case in data["bad_input_cases"]}
    assert not {name: keys for name, keys in shadowed.items() if keys}


@pytest.mark.parametrize("path", CASE_FILES, ids=ids)
def test_each_named_task_is_a_task_of_the_roles_preflight(path):
    data = yaml.safe_load(path.read_text())
    tasks = preflight_task_names(data["bad_input_role"])
    missing = [case["task"] for case in data["bad_input_cases"] if "task" in case and case["task"] not in tasks]
    assert not missing, "not a task of roles/%s/tasks/preflight.yml: %s" % (data["bad_input_role"], missing)


def test_a_case_setting_a_roles_vars_name_is_found(tmp_path):
    """The check above can fail: a vars/ name of the postgres role, set by a case, is reported."""
    name = sorted(role_vars("postgres"))[0]
    assert name in case_names({"name": "x", "vars": {name: 1}})
    assert name in case_names({"name": "x", "vars": "{{ base | combine({'%s': 1}) }}" % name})


@pytest.mark.parametrize("path", CASE_FILES, ids=ids)
def test_cases_whose_values_read_host_facts_have_them_gathered(path):
    """Case values are rendered on the controller before the run; one that reads the host's facts
    (ansible_facts[...] in a template) needs `bad_input_facts: true`, or rendering fails."""
    data = yaml.safe_load(path.read_text())
    reading = [case["name"] for case in data["bad_input_cases"] if "ansible_facts" in yaml.safe_dump(case["vars"])
               and "{{" in yaml.safe_dump(case["vars"])]
    assert not reading or data.get("bad_input_facts") is True, "set bad_input_facts: true for %s" % reading
