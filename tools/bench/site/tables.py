#!/usr/bin/env python
# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""`make bench-site`'s tables, from the runs bench.sh recorded and the logs of those runs.

bench.sh appends one JSON object per line to its results file:
  {"transport": "ssh", "what": "deploy", "ms": 95100, "log": "...", "host": "..."}   a timed run
  {"transport": "floor", "what": "floor", "ms": 17200}                               the floor
  {"transport": "ssh", "what": "vault-deploy", "requests": {...}}                    OpenBao's count

  tables.py report RESULTS --budget budget.yml --output bench.md [--standin] [--upgrade "A -> B"]
      prints the Markdown report and writes it: one table per transport (the targets are
      judged on SSH only; the mitogen transport, SSH with the mitogen_linear strategy, side
      by side with plain SSH when it ran), the operator runs, the tasks per role of the SSH no-op rerun
      against the budget file, and the slowest tasks (profile_tasks).
  tables.py tasks LOG
      the tasks per role of one ansible-playbook log, in the budget file's YAML form.

Only the default stdout callback's text is read: "TASK [role : name]" headers, each
host's result lines, the PLAY RECAP and profile_tasks' closing list.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

PLAYBOOK = "(playbook)"
OURS = "g448.devenv."
HEADER = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?P<name>.*)\] \**\s*$")
# A result line that says the task ran on a host: skipping does not count.
RAN = re.compile(r"^(?:ok|changed|fatal|failed|included):? ")
ROLE = re.compile(r"^(?P<role>[A-Za-z0-9_]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+) : ")
RECAP_FIELD = re.compile(r"(\w+)=(\d+)")
# profile_tasks' closing list: "<task> ------- 4.02s".
PROFILE = re.compile(r"^(?P<task>\S.*?) -{2,} (?P<secs>\d+(?:\.\d+)?)s\s*$")
TARGETS = {"deploy": 2.5, "rerun": 0.25, "upgrade": 0.5}


def role_of(task_name):
    """The budget key of a task: the role's short name for g448.devenv roles, another
    collection's role by its full name, and (playbook) for a play's own tasks."""
    match = ROLE.match(task_name)
    if not match:
        return PLAYBOOK
    role = match.group("role")
    return role[len(OURS):] if role.startswith(OURS) else role


def tasks_per_role(text):
    """Tasks that ran (ok, changed, failed or included on some host; a loop counts once),
    per role, in the order the roles first ran."""
    counts = {}
    current, ran = None, False

    def close():
        if current is not None and ran:
            counts[role_of(current)] = counts.get(role_of(current), 0) + 1

    for line in text.splitlines():
        header = HEADER.match(line)
        if header:
            close()
            current, ran = header.group("name"), False
        elif line.startswith(("PLAY [", "PLAY RECAP")):
            close()
            current, ran = None, False
        elif current is not None and RAN.match(line):
            ran = True
    close()
    return counts


def recap(text, host):
    """The host's fields in the log's last PLAY RECAP line for it (ok, changed, ...), as integers."""
    lines = re.findall(r"^%s\s+:\s+(ok=.*)$" % re.escape(host), text, re.MULTILINE)
    if not lines:
        raise ValueError("no PLAY RECAP line for %s" % host)
    return {k: int(v) for k, v in RECAP_FIELD.findall(lines[-1])}


def slowest(text, count=8):
    """The first lines of profile_tasks' closing list (slowest first)."""
    return [line.strip() for line in text.splitlines() if PROFILE.match(line)][:count]


def budget_rows(counts, budgets):
    """(role, tasks run, budget, verdict) for every role that ran or has a budget."""
    rows = []
    for role in list(counts) + [r for r in budgets if r not in counts]:
        run, budget = counts.get(role, 0), budgets.get(role)
        if budget is None:
            verdict = "**no budget**"
        elif run > budget:
            verdict = "**over budget** by %d" % (run - budget)
        elif run < budget:
            verdict = "within (%d under: lower the budget)" % (budget - run)
        else:
            verdict = "within"
        rows.append((role, str(run), "" if budget is None else str(budget), verdict))
    total_budget = sum(budgets.values())
    rows.append(("total", str(sum(counts.values())), str(total_budget), ""))
    return rows


def load_budgets(path):
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    budgets = data.get("budgets")
    if not isinstance(budgets, dict) or not all(isinstance(v, int) and v >= 0 for v in budgets.values()):
        raise ValueError("%s: budgets must map roles to counts of tasks" % path)
    return {str(k): v for k, v in budgets.items()}


def load_results(path):
    runs, vault = {}, {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        key = (entry["transport"], entry["what"])
        if "requests" in entry:
            vault[key] = entry["requests"]
            continue
        entry["secs"] = entry["ms"] / 1000.0
        if "log" in entry:
            text = Path(entry["log"]).read_text(encoding="utf-8", errors="replace")
            entry["text"] = text
            entry["recap"] = recap(text, entry["host"])
            entry["tasks"] = sum(tasks_per_role(text).values())
        runs[key] = entry
    return runs, vault


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def verdict(good, text, judged):
    if not judged:
        return None
    return "%s: %s" % (text, "met" if good else "**missed**")


def vault_row(requests, label):
    paths = len(requests["paths_read"])
    good = requests["logins"] <= 1 and requests["reads"] <= paths
    return (label, "%d login(s), %d read(s)" % (requests["logins"], requests["reads"]), "%d distinct path(s)" % paths,
            "<= 1 login, <= 1 read per path: %s" % ("met" if good else "**missed**"))


def transport_rows(runs, vault, transport, upgrade_label, judged):
    """The deploy / rerun / upgrade rows of one transport against the floor; verdicts only when judged."""
    floor = runs[("floor", "floor")]["secs"]
    deploy, rerun, upgrade = (runs[(transport, w)] for w in ("deploy", "rerun", "upgrade"))
    rerun_changed = rerun["recap"]["changed"]
    rows = [
        ("floor: same packages + services, no Ansible", "%.1f s" % floor, "", None),
        ("full deploy (site.yml, fresh host), %d tasks" % deploy["tasks"], "%.1f s" % deploy["secs"],
         "%.2fx floor" % (deploy["secs"] / floor),
         verdict(deploy["secs"] <= TARGETS["deploy"] * floor, "<= 2.5x floor", judged)),
        ("no-op rerun (changed=%d), %d tasks" % (rerun_changed, rerun["tasks"]), "%.1f s" % rerun["secs"],
         "%.2fx deploy" % (rerun["secs"] / deploy["secs"]),
         verdict(rerun["secs"] <= TARGETS["rerun"] * deploy["secs"] and rerun_changed == 0,
                 "<= 0.25x deploy, changed=0", judged)),
        ("--tags coder upgrade %s (changed=%d)" % (upgrade_label, upgrade["recap"]["changed"]), "%.1f s" % upgrade["secs"],
         "%.2fx rerun" % (upgrade["secs"] / rerun["secs"]),
         verdict(upgrade["secs"] <= TARGETS["upgrade"] * rerun["secs"], "<= 0.5x full rerun", judged)),
    ]
    if judged:
        out = [row[:3] + (row[3] or "",) for row in rows]
        if (transport, "vault-deploy") in vault:
            out.append(vault_row(vault[(transport, "vault-deploy")], "Vault during the deploy"))
        return table(("what", "time", "ratio", "target"), out)
    return table(("what", "time", "ratio"), [row[:3] for row in rows])


def mitogen_rows(runs, upgrade_label):
    """The mitogen transport's deploy / rerun / upgrade next to plain SSH's: each time against
    the floor, against the SSH deploy and against the same run over plain SSH. No verdicts:
    the targets apply to plain SSH, the default; mitogen is an opt-in."""
    floor = runs[("floor", "floor")]["secs"]
    ssh_deploy = runs[("ssh", "deploy")]["secs"]
    rows = []
    for what, label in (("deploy", "full deploy (site.yml, fresh host)"), ("rerun", "no-op rerun"),
                        ("upgrade", "--tags coder upgrade %s" % upgrade_label)):
        ssh, mitogen = runs[("ssh", what)], runs[("mitogen", what)]
        cells = []
        for run in (ssh, mitogen):
            cell = "%.1f s" % run["secs"]
            if what != "deploy":
                cell += " (changed=%d)" % run["recap"]["changed"]
            cells.append(cell)
        rows.append((label, cells[0], cells[1], "%.2fx floor" % (mitogen["secs"] / floor),
                     "%.2fx SSH deploy" % (mitogen["secs"] / ssh_deploy),
                     "%.2fx SSH" % (mitogen["secs"] / ssh["secs"])))
    return table(("what", "SSH", "SSH + mitogen", "mitogen vs floor", "mitogen vs SSH deploy", "mitogen vs SSH, same run"),
                 rows)


OPERATOR_RUNS = (
    ("secrets", "playbooks/secrets.yml alone"),
    ("check", "playbooks/check.yml"),
    ("report", "playbooks/report.yml"),
    ("audit", "playbooks/report.yml --tags audit"),
)


def operator_rows(runs, vault, transport):
    rows = []
    for what, label in OPERATOR_RUNS:
        run = runs.get((transport, what))
        if run is None:
            continue
        note = "%d tasks" % run["tasks"]
        requests = vault.get((transport, "vault-" + what))
        if requests:
            note += "; Vault: %d login(s), %d read(s)" % (requests["logins"], requests["reads"])
        rows.append((label, "%.1f s" % run["secs"], str(run["recap"]["changed"]), note))
    return table(("what", "time", "changed", "notes"), rows)


def render(runs, vault, budgets, standin=False, upgrade_label="2.33.0 -> 2.34.0", budget_file="tools/bench/site/budget.yml"):
    title = "### make bench-site: g448.devenv on fresh Debian 12 containers"
    if standin:
        title += " (Coder: the test stand-in)"
    out = [title, "", "#### Over SSH (the production transport: pipelining, ControlPersist; the targets are judged here)", ""]
    out += transport_rows(runs, vault, "ssh", upgrade_label, judged=True)
    if ("mitogen", "deploy") in runs:
        out += ["", "#### Over SSH with mitogen (the mitogen_linear strategy, opt-in; not judged: the targets apply to plain SSH)",
                ""]
        out += mitogen_rows(runs, upgrade_label)
    out += ["", "#### Over the docker connection (docker exec; ratios only, no verdicts)", ""]
    out += transport_rows(runs, vault, "docker", upgrade_label, judged=False)
    out += ["", "#### What operators run often (SSH, after the no-op rerun)", ""]
    out += operator_rows(runs, vault, "ssh")
    out += ["", "#### Tasks run per role on the SSH no-op rerun, against %s" % budget_file, "",
            "A task counts once when it ran (ok, changed, failed or included); a skipped task does not.", ""]
    out += table(("role", "tasks run", "budget", "verdict"), budget_rows(tasks_per_role(runs[("ssh", "rerun")]["text"]), budgets))
    for what in ("deploy", "rerun"):
        lines = slowest(runs[("ssh", what)]["text"])
        if lines:
            out += ["", "Slowest tasks of the SSH %s (profile_tasks):" % what, "", "```"] + lines + ["```"]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_report = sub.add_parser("report")
    p_report.add_argument("results")
    p_report.add_argument("--budget", required=True)
    p_report.add_argument("--output", required=True)
    p_report.add_argument("--standin", action="store_true")
    p_report.add_argument("--upgrade", default="2.33.0 -> 2.34.0")
    p_tasks = sub.add_parser("tasks")
    p_tasks.add_argument("log")
    args = parser.parse_args(argv)
    if args.command == "tasks":
        counts = tasks_per_role(Path(args.log).read_text(encoding="utf-8", errors="replace"))
        sys.stdout.write(yaml.safe_dump({"budgets": counts}, sort_keys=False))
        return 0
    runs, vault = load_results(args.results)
    text = render(runs, vault, load_budgets(args.budget), args.standin, args.upgrade, args.budget)
    Path(args.output).write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
