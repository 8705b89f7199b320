#!/usr/bin/env bash
# `make bench-site`: how long the whole deployment takes, against a floor, on
# fresh containers of the Debian 12 test image, over three transports. A
# benchmark, not a test: it prints numbers and the targets next to them; it
# fails only if a run fails.
#
# Each transport gets its own fresh all-in-one container (the demo's, made by
# tools/demo/demo.sh server; Coder 2.33.0, the stand-in when no release is
# reachable; secrets from a seeded OpenBao) and the same timed sequence:
#   1. deploy   playbooks/site.yml on the fresh container
#   2. rerun    the same, again: a no-op, with its changed count
#   3. upgrade  site.yml --tags coder -e coder_version=2.34.0
# The transports:
#   docker  the community.docker.docker connection (docker exec), as the demo runs
#   ssh     the production transport: root key auth into sshd in the container
#           (openssh-server installed in the untimed set-up, through the
#           machine's apt cache), the container's address on its Docker network,
#           pipelining, ControlMaster=auto + ControlPersist=60s, a ControlPath,
#           a key pair and a known_hosts of its own under .cache/bench/ssh.
#           The targets are judged on these rows.
#   ssh+mitogen (mitogen in the tables) the same SSH set-up on a container of its
#           own, run with mitogen's mitogen_linear strategy (the opt-in
#           accelerator of the README; requirements-dev.txt pins it):
#           ANSIBLE_STRATEGY=mitogen_linear, ANSIBLE_STRATEGY_PLUGINS = the
#           strategy directory of the venv's ansible_mitogen.
# On the SSH container, after the rerun (a backup and a repository check run
# first, untimed, as the timers would): playbooks/secrets.yml alone,
# playbooks/check.yml, playbooks/report.yml and report.yml --tags audit.
# Then the floor, on a third fresh container: apt-get install of exactly the
# packages the SSH deploy added (apt-mark showmanual, before/after) and the
# Coder .deb, then starting PostgreSQL, Docker and Caddy. No Ansible.
# Vault: logins and reads OpenBao's audit log saw during each deploy and
# during secrets.yml. Tasks per role: counted in the SSH rerun's log, against
# tools/bench/site/budget.yml (printed, never failing).
#
# usage: bench.sh <report.md>     (the Markdown tables are printed and written there)
# Logs and the results stay in .cache/bench/<transport>/ for reading.
set -euo pipefail
cd "$(dirname "$0")/../../.."
REPORT=${1:-.cache/bench.md}
WORK=$PWD/.cache/bench
PREFIX=g448-devenv-bench
TRANSPORTS=(docker ssh mitogen floor)
RESULTS=$WORK/results.jsonl
PY=.venv/bin/python
MITOGEN_STRATEGY_PLUGINS=$("$PY" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("ansible_mitogen").origin), "plugins", "strategy"))') \
  || { echo "bench: mitogen is not installed in .venv (requirements-dev.txt pins it: make venv)" >&2; exit 1; }
export G448_DEMO_PORT="" G448_DEMO_STANDIN_VERSION=2.33.0
export ANSIBLE_NOCOLOR=1

remove() {  # remove <transport>: its container, volume and OpenBao server; its logs stay
  local c=$PREFIX-$1 s
  for s in "$WORK/$1"/cm-*; do  # the SSH master, before its peer goes away
    if [[ -S $s ]]; then ssh -o ControlPath="$s" -O exit "$c" >/dev/null 2>&1 || true; fi
  done
  docker rm --force --volumes "$c" >/dev/null 2>&1 || true
  docker volume rm "$c-docker" >/dev/null 2>&1 || true
  if [[ -f $WORK/$1/openbao/state.json ]]; then "$PY" tools/harness/openbao-seed.py stop --dir "$WORK/$1/openbao"; fi
}
cleanup() {
  local t
  for t in "${TRANSPORTS[@]}"; do remove "$t"; done
}
trap cleanup EXIT
cleanup
rm -rf "$WORK"
mkdir -p "$WORK"

ms() { echo $(($(date +%s%N) / 1000000)); }
fail() { tail -40 "$1" >&2; echo "bench: $2 failed (log: $1)" >&2; exit 1; }

server() {  # server <transport>: a fresh container with OpenBao and the prepare step (not timed)
  local t=$1 c=$PREFIX-$1 dir=$WORK/$1
  mkdir -p "$dir/inventory/host_vars"
  ln -sfn "$PWD/inventories/demo/group_vars" "$dir/inventory/group_vars"
  cat >"$dir/inventory/hosts.yml" <<YAML
all:
  children:
    coder_db: {hosts: {$c: }}
    coder_server: {hosts: {$c: }}
    coder_proxy: {hosts: {$c: }}
    coder_workspace_hosts: {hosts: {$c: }}
    coder_backup: {hosts: {$c: }}
YAML
  echo "g448_demo_openbao_dir: $dir/openbao" >"$dir/inventory/host_vars/$c.yml"
  echo "bench: fresh container $c (not timed: container start, OpenBao, prepare)"
  G448_DEMO_NAME=$c G448_DEMO_STATE=$dir G448_DEMO_INVENTORY=$dir/inventory \
    tools/demo/demo.sh server >"$dir/server.log" 2>&1 || fail "$dir/server.log" "the $t container's set-up"
  # Off here: the test images' bytecode cache for module payloads
  # (tools/harness/image-files/g448_zipimport_cache.py); a production host has none.
  docker exec "$c" rm -rf /var/cache/g448-zipimport
}

ssh_setup() {  # ssh_setup <transport>: sshd in its container, and the inventory's SSH settings for it (not timed)
  local c=$PREFIX-$1 dir=$WORK/$1 ip _
  ssh-keygen -q -t ed25519 -N '' -C "$c" -f "$dir/id_ed25519"
  docker exec -i "$c" bash -ec '
    install -d -m 0700 /root/.ssh
    cat >/root/.ssh/authorized_keys
    chmod 0600 /root/.ssh/authorized_keys
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server </dev/null >/dev/null
    systemctl enable --now ssh.service
    systemctl is-active ssh.service' <"$dir/id_ed25519.pub" >"$dir/sshd.log" 2>&1 || fail "$dir/sshd.log" "sshd in $c"
  ip=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c")
  [[ -n $ip ]] || { echo "bench: $c has no address on a Docker network" >&2; exit 1; }
  # The host key is recorded here, on the first connection (accept-new), untimed.
  SSH_OPTS=(-o IdentitiesOnly=yes -o "UserKnownHostsFile=$dir/known_hosts" -o StrictHostKeyChecking=accept-new)
  for _ in $(seq 1 30); do
    if ssh "${SSH_OPTS[@]}" -i "$dir/id_ed25519" -o BatchMode=yes -o ConnectTimeout=2 -o ControlPath=none \
      "root@$ip" true 2>>"$dir/sshd.log"; then
      break
    fi
    sleep 1
  done
  ssh "${SSH_OPTS[@]}" -i "$dir/id_ed25519" -o BatchMode=yes -o ControlPath=none "root@$ip" true 2>>"$dir/sshd.log" \
    || fail "$dir/sshd.log" "ssh root@$ip"
  cat >>"$dir/inventory/host_vars/$c.yml" <<YAML
# SSH, as production runs (tools/bench/site/bench.sh): these win over the demo's docker connection.
ansible_connection: ssh
ansible_host: $ip
ansible_user: root
ansible_ssh_private_key_file: $dir/id_ed25519
ansible_pipelining: true
ansible_host_key_checking: true
ansible_ssh_args: '-C -o ControlMaster=auto -o ControlPersist=60s -o ControlPath=$dir/cm-%r@%h:%p'
ansible_ssh_common_args: '${SSH_OPTS[*]}'
YAML
  echo "bench: sshd in $c answers at root@$ip (key auth)"
}

timed() {  # timed <transport> <what> <playbook> [ansible-playbook args...]: one timed run, recorded
  local t=$1 what=$2 book=$3 log=$WORK/$1/$2.log t0 t1 strategy=(); shift 3
  if [[ $t == mitogen ]]; then
    strategy=(ANSIBLE_STRATEGY=mitogen_linear "ANSIBLE_STRATEGY_PLUGINS=$MITOGEN_STRATEGY_PLUGINS")
  fi
  echo "bench: $t: $what (playbooks/$book)"
  t0=$(ms)
  env "${strategy[@]}" ansible-playbook -i "$WORK/$t/inventory" "playbooks/$book" "$@" >"$log" 2>&1 || fail "$log" "$t $what"
  t1=$(ms)
  printf '{"transport": "%s", "what": "%s", "ms": %d, "log": "%s", "host": "%s"}\n' \
    "$t" "$what" $((t1 - t0)) "$log" "$PREFIX-$t" >>"$RESULTS"
}

vault() {  # vault <transport> mark | vault <transport> <what>: OpenBao's count since the mark, recorded
  if [[ $2 == mark ]]; then
    "$PY" tools/harness/openbao-seed.py requests --dir "$WORK/$1/openbao" --mark >/dev/null
  else
    printf '{"transport": "%s", "what": "vault-%s", "requests": %s}\n' "$1" "$2" \
      "$("$PY" tools/harness/openbao-seed.py requests --dir "$WORK/$1/openbao" --mark)" >>"$RESULTS"
  fi
}

sequence() {  # sequence <transport>: deploy, no-op rerun (and, over SSH, the operator runs), upgrade
  local t=$1
  vault "$t" mark
  timed "$t" deploy site.yml "${EXTRA[@]}"
  vault "$t" deploy
  timed "$t" rerun site.yml "${EXTRA[@]}"
  if [[ $t == ssh ]]; then
    docker exec "$PREFIX-ssh" systemctl start g448-backup.service g448-backup-check.service \
      || { echo "bench: the backup or its check failed in $PREFIX-ssh" >&2; exit 1; }
    vault "$t" mark
    timed "$t" secrets secrets.yml "${EXTRA[@]}"
    vault "$t" secrets
    timed "$t" check check.yml "${EXTRA[@]}"
    timed "$t" report report.yml "${EXTRA[@]}" --extra-vars "report_dir=$WORK/$t/reports"
    timed "$t" audit report.yml "${EXTRA[@]}" --tags audit --extra-vars "report_dir=$WORK/$t/reports"
  fi
  timed "$t" upgrade site.yml "${EXTRA[@]}" --tags coder --extra-vars "$UPGRADE"
}

server docker
# shellcheck source=/dev/null
source "$WORK/docker/extra-vars.sh"   # EXTRA: the stand-in's extra vars when no release is reachable
if [[ ${#EXTRA[@]} -gt 0 ]]; then
  standin=(--standin) label="2.33.0 -> 2.34.0"
  UPGRADE=$(printf '{"coder_version": "2.34.0", "coder_package_src": "/var/cache/coder-standin/coder_2.34.0_all.deb", "coder_package_sha256": "%s"}' \
    "$(cat .cache/coder-standin/coder_2.34.0_all.deb.sha256)")
else
  standin=() label="2.34.2 -> 2.34.3" EXTRA=(--extra-vars '{"coder_version": "2.34.2"}')  # the real release, one behind
  UPGRADE='{"coder_version": "2.34.3"}'
fi
sequence docker
remove docker

server ssh
ssh_setup ssh
docker exec "$PREFIX-ssh" apt-mark showmanual | sort >"$WORK/ssh/manual-before.txt"
sequence ssh
docker exec "$PREFIX-ssh" apt-mark showmanual | sort >"$WORK/ssh/manual-after.txt"
remove ssh
mapfile -t packages < <(comm -13 "$WORK/ssh/manual-before.txt" "$WORK/ssh/manual-after.txt" | grep -v '^coder$')

server mitogen
ssh_setup mitogen
sequence mitogen
remove mitogen

server floor
echo "bench: floor (${packages[*]} + the Coder .deb, no Ansible)"
t0=$(ms)
docker exec "$PREFIX-floor" bash -ec "
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq ${packages[*]} >/dev/null
  deb=\$(ls /var/cache/coder-standin/coder_2.33.0_all.deb 2>/dev/null || true)
  if [ -n \"\$deb\" ]; then apt-get install -y -qq \"\$deb\" >/dev/null; fi
  systemctl start postgresql docker caddy
  systemctl is-active postgresql docker caddy >/dev/null"
t1=$(ms)
printf '{"transport": "floor", "what": "floor", "ms": %d}\n' $((t1 - t0)) >>"$RESULTS"
remove floor

"$PY" tools/bench/site/tables.py report "$RESULTS" --budget tools/bench/site/budget.yml --output "$REPORT" \
  --upgrade "$label" "${standin[@]}"
