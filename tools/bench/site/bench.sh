#!/usr/bin/env bash
# `make bench-site`: how long the whole deployment takes, against a floor, on
# fresh containers of the Debian 12 test image. A benchmark, not a test: it
# prints numbers and the targets next to them; it fails only if a run fails.
#
#   1. deploy   playbooks/site.yml on a fresh all-in-one container (the demo's,
#               made by tools/demo/demo.sh server; Coder 2.33.0, the stand-in
#               when no release is reachable), secrets from a seeded OpenBao
#   2. rerun    the same, again: a no-op, with its changed count
#   3. upgrade  site.yml --tags coder -e coder_version=2.34.0
#   4. floor    a second fresh container: apt-get install of exactly the
#               packages the deploy added (apt-mark showmanual, before/after)
#               and the Coder .deb, then starting PostgreSQL, Docker and Caddy.
#               No Ansible.
#   Vault: logins and reads OpenBao's audit log saw during the deploy.
#
# usage: bench.sh <report.md>     (the Markdown table is printed and written there)
set -euo pipefail
cd "$(dirname "$0")/../../.."
REPORT=${1:-.cache/bench.md}
WORK=$PWD/.cache/bench
NAME=g448-devenv-bench
FLOOR=g448-devenv-bench-floor
PY=.venv/bin/python
export G448_DEMO_NAME=$NAME G448_DEMO_STATE=$WORK G448_DEMO_PORT="" G448_DEMO_INVENTORY=$WORK/inventory
export G448_DEMO_STANDIN_VERSION=2.33.0
export ANSIBLE_NOCOLOR=1

cleanup() {  # containers and OpenBao servers; the logs in $WORK stay for reading
  local c
  for c in "$NAME" "$FLOOR"; do
    docker rm --force --volumes "$c" >/dev/null 2>&1 || true
    docker volume rm "$c-docker" >/dev/null 2>&1 || true
  done
  for d in "$WORK/openbao" "$WORK/floor/openbao"; do
    if [[ -f $d/state.json ]]; then "$PY" tools/harness/openbao-seed.py stop --dir "$d"; fi
  done
}
trap cleanup EXIT
cleanup
rm -rf "$WORK"
inventory() {  # inventory <dir> <container> <openbao dir>: the demo inventory's settings for that container
  mkdir -p "$1/host_vars"
  ln -sfn "$PWD/inventories/demo/group_vars" "$1/group_vars"
  cat >"$1/hosts.yml" <<YAML
all:
  children:
    coder_db: {hosts: {$2: }}
    coder_server: {hosts: {$2: }}
    coder_proxy: {hosts: {$2: }}
    coder_workspace_hosts: {hosts: {$2: }}
    coder_backup: {hosts: {$2: }}
YAML
  echo "g448_demo_openbao_dir: $3" >"$1/host_vars/$2.yml"
}
inventory "$WORK/inventory" "$NAME" "$WORK/openbao"
inventory "$WORK/floor/inventory" "$FLOOR" "$WORK/floor/openbao"

secs() { date +%s.%N; }
elapsed() { "$PY" -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$1" "$2"; }
recap() {  # recap <log> <field>: the field's value in the PLAY RECAP line
  sed -n "s/^$NAME .*$2=\([0-9]*\).*/\1/p" "$1" | tail -1
}
run_site() {  # run_site <log> [ansible-playbook args...]; prints the wall time
  local log=$1 t0 t1; shift
  t0=$(secs)
  ansible-playbook -i "$WORK/inventory" playbooks/site.yml "${EXTRA[@]}" "$@" >"$log" 2>&1 \
    || { tail -40 "$log" >&2; echo "bench: $log failed" >&2; exit 1; }
  t1=$(secs)
  elapsed "$t0" "$t1"
}

echo "bench: fresh container $NAME (not timed: container start, OpenBao, prepare)"
tools/demo/demo.sh server >"$WORK/server.log" 2>&1 || { tail -40 "$WORK/server.log"; exit 1; }
source "$WORK/extra-vars.sh"   # EXTRA: the stand-in's extra vars when no release is reachable
if [[ ${#EXTRA[@]} -gt 0 ]]; then
  standin=" (Coder: the test stand-in)"
else
  standin="" EXTRA=(--extra-vars '{"coder_version": "2.34.2"}')  # the real release, one behind
fi
docker exec "$NAME" apt-mark showmanual | sort >"$WORK/manual-before.txt"

"$PY" tools/harness/openbao-seed.py requests --dir "$WORK/openbao" --mark >/dev/null
echo "bench: deploy"
t_deploy=$(run_site "$WORK/deploy.log")
vault=$("$PY" tools/harness/openbao-seed.py requests --dir "$WORK/openbao")
echo "bench: no-op rerun"
t_rerun=$(run_site "$WORK/rerun.log")
rerun_changed=$(recap "$WORK/rerun.log" changed)
echo "bench: --tags coder upgrade"
if [[ -n $standin ]]; then
  upgrade=$(printf '{"coder_version": "2.34.0", "coder_package_src": "/var/cache/coder-standin/coder_2.34.0_all.deb", "coder_package_sha256": "%s"}' \
    "$(cat .cache/coder-standin/coder_2.34.0_all.deb.sha256)")
else
  upgrade='{"coder_version": "2.34.3"}'
fi
t_upgrade=$(run_site "$WORK/upgrade.log" --tags coder --extra-vars "$upgrade")
upgrade_changed=$(recap "$WORK/upgrade.log" changed)
docker exec "$NAME" apt-mark showmanual | sort >"$WORK/manual-after.txt"
mapfile -t packages < <(comm -13 "$WORK/manual-before.txt" "$WORK/manual-after.txt" | grep -v '^coder$')

echo "bench: floor (${packages[*]} + the Coder .deb, no Ansible)"
G448_DEMO_NAME=$FLOOR G448_DEMO_STATE=$WORK/floor G448_DEMO_INVENTORY=$WORK/floor/inventory tools/demo/demo.sh server >"$WORK/floor-server.log" 2>&1 \
  || { tail -40 "$WORK/floor-server.log"; exit 1; }
t0=$(secs)
docker exec "$FLOOR" bash -ec "
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq ${packages[*]} >/dev/null
  deb=\$(ls /var/cache/coder-standin/coder_2.33.0_all.deb 2>/dev/null || true)
  if [ -n \"\$deb\" ]; then apt-get install -y -qq \"\$deb\" >/dev/null; fi
  systemctl start postgresql docker caddy
  systemctl is-active postgresql docker caddy >/dev/null"
t1=$(secs)
t_floor=$(elapsed "$t0" "$t1")
slowest=$(grep -E '^[A-Za-z0-9.]+ : .* -+ [0-9.]+s$|^.* -+ [0-9.]+s$' "$WORK/deploy.log" | head -8 || true)

"$PY" - "$REPORT" "$t_floor" "$t_deploy" "$t_rerun" "$rerun_changed" "$t_upgrade" "$upgrade_changed" "$vault" "$standin" "$slowest" <<'PY'
import json, sys
(report, floor, deploy, rerun, rerun_changed, upgrade, upgrade_changed, vault, standin, slowest) = sys.argv[1:]
floor, deploy, rerun, upgrade = map(float, (floor, deploy, rerun, upgrade))
vault = json.loads(vault)
paths = len(vault["paths_read"])
def ok(good):
    return "met" if good else "**missed**"
rows = [
    ("floor: same packages + services, no Ansible", f"{floor:.1f} s", "", ""),
    ("full deploy (site.yml, fresh host)", f"{deploy:.1f} s", f"{deploy / floor:.2f}x floor", f"<= 2.5x floor: {ok(deploy <= 2.5 * floor)}"),
    (f"no-op rerun (changed={rerun_changed})", f"{rerun:.1f} s", f"{rerun / deploy:.2f}x deploy",
     f"<= 0.25x deploy, changed=0: {ok(rerun <= 0.25 * deploy and rerun_changed == '0')}"),
    (f"--tags coder upgrade 2.33.0 -> 2.34.0 (changed={upgrade_changed})", f"{upgrade:.1f} s", f"{upgrade / rerun:.2f}x rerun",
     f"<= 0.5x full rerun: {ok(upgrade <= 0.5 * rerun)}"),
    ("Vault during the deploy", f"{vault['logins']} login(s), {vault['reads']} read(s)", f"{paths} distinct path(s)",
     f"<= 1 login, <= 1 read per path: {ok(vault['logins'] <= 1 and vault['reads'] <= paths)}"),
]
out = [f"### make bench-site: g448.devenv on one Debian 12 container{standin}", "",
       "| what | time | ratio | target |", "|---|---|---|---|"]
out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
if slowest.strip():
    out += ["", "Slowest tasks of the deploy (profile_tasks):", "", "```", slowest.strip(), "```"]
text = "\n".join(out) + "\n"
open(report, "w").write(text)
print(text)
PY
