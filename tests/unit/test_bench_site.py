# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""`make bench-site`'s tables (tools/bench/site/tables.py): the tasks counted per role in an
ansible-playbook log, the PLAY RECAP read, the budget verdicts, and the report's verdicts
(judged on the SSH rows only), and the mitogen rows side by side with plain SSH's."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("bench_site_tables", REPO / "tools/bench/site/tables.py")
tables = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tables)

HOST = "g448-devenv-bench-ssh"
STAMP = "Monday 07 December 2026  16:00:00 +0000 (0:00:00.101)       0:00:01.234 ******"


def log(*blocks, changed=0):
    """An ansible-playbook log as the default callback and profile_tasks write it."""
    lines = ["", "PLAY [PostgreSQL (group coder_db)] " + "*" * 40, ""]
    for header, results in blocks:
        lines += [header + " " + "*" * 30, STAMP] + list(results) + [""]
    lines += ["PLAY RECAP " + "*" * 40,
              "%s : ok=9    changed=%d    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0" % (HOST, changed),
              "", STAMP, "=" * 79,
              "g448.devenv.backup : Ensure the units ----------------------------------- 4.02s",
              "Gathering Facts --------------------------------------------------------- 1.10s", ""]
    return "\n".join(lines)


RERUN = log(
    ("TASK [Gathering Facts]", ["ok: [%s]" % HOST]),
    ("TASK [Resolve the run's secrets : a play task whose name has a colon]", ["ok: [%s]" % HOST]),
    ("TASK [g448.devenv.postgres : Reject bad input before any change (preflight)]",
     ["included: /roles/postgres/tasks/preflight.yml for %s" % HOST]),
    ("TASK [g448.devenv.postgres : Ensure the packages]", ["ok: [%s]" % HOST]),
    ("TASK [g448.devenv.postgres : Ensure the replication slot]", ["skipping: [%s]" % HOST]),
    ("TASK [g448.devenv.backup : Ensure the units]",
     ["ok: [%s] => (item=g448-backup.service)" % HOST, "ok: [%s] => (item=g448-backup.timer)" % HOST]),
    ("TASK [g448.devenv.backup : Ensure the skipped loop]",
     ["skipping: [%s] => (item=a)" % HOST, "skipping: [%s]" % HOST]),
    ("TASK [g448.devenv.backup : Probe that may fail]",
     ["fatal: [%s]: FAILED! => changed=false" % HOST, "...ignoring"]),
    ("RUNNING HANDLER [g448.devenv.coder : Restart Coder]", ["changed: [%s]" % HOST]),
    ("TASK [community.general.thing : Some task]", ["ok: [%s]" % HOST]),
)


def test_tasks_per_role_counts_tasks_that_ran_once_each():
    assert tables.tasks_per_role(RERUN) == {
        "(playbook)": 2, "postgres": 2, "backup": 2, "coder": 1, "community.general.thing": 1}


def test_a_task_after_the_recap_is_not_counted_and_a_header_without_results_is_not_either():
    text = RERUN + "\nTASK [g448.devenv.caddy_proxy : Only a header] ****\n\nPLAY RECAP ****\n"
    assert "caddy_proxy" not in tables.tasks_per_role(text)


def test_recap_reads_the_hosts_fields_of_the_last_recap():
    earlier = log(changed=5)
    assert tables.recap(earlier + "\n" + log(changed=0), HOST)["changed"] == 0
    assert tables.recap(earlier, HOST) == {
        "ok": 9, "changed": 5, "unreachable": 0, "failed": 0, "skipped": 2, "rescued": 0, "ignored": 0}
    with pytest.raises(ValueError, match="no PLAY RECAP line for other-host"):
        tables.recap(earlier, "other-host")


def test_slowest_reads_profile_tasks_closing_list():
    assert tables.slowest(RERUN) == [
        "g448.devenv.backup : Ensure the units ----------------------------------- 4.02s",
        "Gathering Facts --------------------------------------------------------- 1.10s"]


def test_budget_rows_name_every_verdict():
    rows = tables.budget_rows({"(playbook)": 3, "postgres": 5, "backup": 4, "newrole": 1},
                              {"(playbook)": 3, "postgres": 4, "backup": 6, "caddy_proxy": 2})
    assert rows == [
        ("(playbook)", "3", "3", "within"),
        ("postgres", "5", "4", "**over budget** by 1"),
        ("backup", "4", "6", "within (2 under: lower the budget)"),
        ("newrole", "1", "", "**no budget**"),
        ("caddy_proxy", "0", "2", "within (2 under: lower the budget)"),
        ("total", "13", "15", ""),
    ]


@pytest.mark.parametrize("text", ["budgets: [1, 2]\n", "budgets: {postgres: -1}\n", "budgets: {postgres: many}\n", "other: {}\n"])
def test_load_budgets_refuses_what_is_not_a_count_per_role(tmp_path, text):
    path = tmp_path / "budget.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match="budgets must map roles to counts of tasks"):
        tables.load_budgets(path)


def test_the_shipped_budget_names_only_roles_of_the_collection():
    budgets = tables.load_budgets(REPO / "tools/bench/site/budget.yml")
    roles = {p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir()}
    assert budgets
    assert set(budgets) <= roles | {"(playbook)"}


def results(tmp_path, secs, rerun_changed=0, changed=None):
    """A results file as bench.sh writes it, with a log per run; secs: (transport, what) -> seconds;
    changed: (transport, what) -> the changed count of that run's recap (else rerun_changed for
    a rerun, 0 for the others)."""
    lines = []
    for (transport, what), value in secs.items():
        entry = {"transport": transport, "what": what, "ms": int(value * 1000)}
        if transport != "floor":
            path = tmp_path / ("%s-%s.log" % (transport, what))
            count = (changed or {}).get((transport, what), rerun_changed if what == "rerun" else 0)
            path.write_text((RERUN if what == "rerun" else log()).replace(HOST, "host-" + transport)
                            .replace("changed=0", "changed=%d" % count))
            entry.update(log=str(path), host="host-" + transport)
        lines.append(json.dumps(entry))
    requests = {"logins": 1, "reads": 7, "requests": 9, "paths_read": ["secret/data/coder/%d" % n for n in range(7)]}
    lines.append(json.dumps({"transport": "ssh", "what": "vault-deploy", "requests": requests}))
    lines.append(json.dumps({"transport": "ssh", "what": "vault-secrets", "requests": requests}))
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return tables.load_results(path)


RUNS = {("floor", "floor"): 20.0,
        ("docker", "deploy"): 100.0, ("docker", "rerun"): 60.0, ("docker", "upgrade"): 20.0,
        ("ssh", "deploy"): 45.0, ("ssh", "rerun"): 10.0, ("ssh", "upgrade"): 4.0,
        ("ssh", "secrets"): 1.5, ("ssh", "check"): 3.0, ("ssh", "report"): 6.0, ("ssh", "audit"): 4.0}


MITOGEN = {("mitogen", "deploy"): 30.0, ("mitogen", "rerun"): 3.0, ("mitogen", "upgrade"): 2.0}
MITOGEN_HEADING = "#### Over SSH with mitogen"


def sections(text):
    """The report's sections: SSH, docker, operators, budget (the mitogen section, when there is
    one, is cut out of SSH's: mitogen_section reads it)."""
    ssh, rest = text.split("#### Over the docker connection", 1)
    ssh = ssh.split(MITOGEN_HEADING, 1)[0]
    docker, rest = rest.split("#### What operators run often", 1)
    operators, budget = rest.split("#### Tasks run per role", 1)
    return ssh, docker, operators, budget


def test_the_targets_are_judged_on_the_ssh_rows_only(tmp_path):
    runs, vault = results(tmp_path, RUNS)
    ssh, docker, operators, budget = sections(tables.render(runs, vault, {"postgres": 2}, standin=True))
    assert "(Coder: the test stand-in)" in ssh
    assert "| full deploy (site.yml, fresh host), 0 tasks | 45.0 s | 2.25x floor | <= 2.5x floor: met |" in ssh
    assert "| no-op rerun (changed=0), 8 tasks | 10.0 s | 0.22x deploy | <= 0.25x deploy, changed=0: met |" in ssh
    assert "| --tags coder upgrade 2.33.0 -> 2.34.0 (changed=0) | 4.0 s | 0.40x rerun | <= 0.5x full rerun: met |" in ssh
    assert "| Vault during the deploy | 1 login(s), 7 read(s) | 7 distinct path(s) | <= 1 login, <= 1 read per path: met |" in ssh
    # The docker rows: ratios that would miss every target, and no verdict at all.
    assert "| full deploy (site.yml, fresh host), 0 tasks | 100.0 s | 5.00x floor |\n" in docker
    assert "met" not in docker and "missed" not in docker and "target" not in docker
    assert "| playbooks/secrets.yml alone | 1.5 s | 0 | 0 tasks; Vault: 1 login(s), 7 read(s) |" in operators
    assert "| playbooks/report.yml --tags audit | 4.0 s | 0 | 0 tasks |" in operators
    assert "| postgres | 2 | 2 | within |" in budget
    assert "| backup | 2 |  | **no budget** |" in budget
    assert "Slowest tasks of the SSH deploy (profile_tasks):" in budget
    assert "mitogen" not in ssh + docker + operators + budget


def mitogen_section(text):
    return text.split(MITOGEN_HEADING, 1)[1].split("#### Over the docker connection", 1)[0]


def test_the_mitogen_rows_stand_next_to_sshs_with_their_ratios_and_no_verdict(tmp_path):
    runs, vault = results(tmp_path, {**RUNS, **MITOGEN})
    text = tables.render(runs, vault, {})
    ssh, mitogen = sections(text)[0], mitogen_section(text)
    assert text.index("#### Over SSH (the production") < text.index(MITOGEN_HEADING) < text.index("#### Over the docker")
    assert ("| what | SSH | SSH + mitogen | mitogen vs floor | mitogen vs SSH deploy | mitogen vs SSH, same run |"
            in mitogen)
    assert "| full deploy (site.yml, fresh host) | 45.0 s | 30.0 s | 1.50x floor | 0.67x SSH deploy | 0.67x SSH |" in mitogen
    assert ("| no-op rerun | 10.0 s (changed=0) | 3.0 s (changed=0) | 0.15x floor | 0.07x SSH deploy | 0.30x SSH |"
            in mitogen)
    assert ("| --tags coder upgrade 2.33.0 -> 2.34.0 | 4.0 s (changed=0) | 2.0 s (changed=0) | 0.10x floor "
            "| 0.04x SSH deploy | 0.50x SSH |") in mitogen
    assert "met" not in mitogen and "missed" not in mitogen
    # The SSH table and its verdicts are the same with or without the mitogen rows.
    assert "| full deploy (site.yml, fresh host), 0 tasks | 45.0 s | 2.25x floor | <= 2.5x floor: met |" in ssh
    assert "SSH + mitogen" not in ssh


def test_a_mitogen_rerun_that_changes_something_shows_its_count_beside_sshs(tmp_path):
    runs, vault = results(tmp_path, {**RUNS, **MITOGEN}, changed={("mitogen", "rerun"): 2})
    mitogen = mitogen_section(tables.render(runs, vault, {}))
    assert "| no-op rerun | 10.0 s (changed=0) | 3.0 s (changed=2) |" in mitogen


def test_a_slow_or_changing_ssh_rerun_misses_its_target(tmp_path):
    runs, vault = results(tmp_path, {**RUNS, ("ssh", "deploy"): 60.0}, rerun_changed=1)
    ssh = sections(tables.render(runs, vault, {}))[0]
    assert "<= 2.5x floor: **missed**" in ssh
    assert "| no-op rerun (changed=1), 8 tasks | 10.0 s | 0.17x deploy | <= 0.25x deploy, changed=0: **missed** |" in ssh
    assert "(Coder: the test stand-in)" not in ssh


def test_main_report_writes_the_file_and_tasks_prints_a_budget(tmp_path, capsys):
    results(tmp_path, RUNS)
    budget = tmp_path / "budget.yml"
    budget.write_text("---\nbudgets:\n  postgres: 2\n")
    output = tmp_path / "bench.md"
    assert tables.main(["report", str(tmp_path / "results.jsonl"), "--budget", str(budget), "--output", str(output),
                        "--upgrade", "2.34.2 -> 2.34.3"]) == 0
    assert output.read_text() == capsys.readouterr().out
    assert "--tags coder upgrade 2.34.2 -> 2.34.3" in output.read_text()
    assert tables.main(["tasks", str(tmp_path / "ssh-rerun.log")]) == 0
    assert capsys.readouterr().out.startswith("budgets:\n  (playbook): 2\n  postgres: 2\n  backup: 2\n")
