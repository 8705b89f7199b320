#!/usr/bin/env bash
# `make demo` / `make demo-down`: the whole deployment on this machine.
#
#   demo.sh up     Docker engine, the Debian 12 base image, a systemd container
#                  (g448-devenv-demo) standing in for the server, an OpenBao dev
#                  server on the loopback seeded with generated secrets, then
#                  playbooks/site.yml against inventories/demo. Rerunnable.
#   demo.sh down   removes the container, its Docker volume, OpenBao and .cache/demo.
#   demo.sh server      only the container, OpenBao and the prepare step (for tools/bench/site)
#
# env (for tools/bench/site): G448_DEMO_NAME (container), G448_DEMO_STATE (state
# directory), G448_DEMO_PORT (published HTTPS port; empty publishes nothing),
# G448_DEMO_INVENTORY (inventory naming the container).
#
# Coder: the real release (GitHub's .deb, checked against its checksums file)
# when it is reachable from here; otherwise the test STAND-IN from
# molecule/shared/coder-standin/, announced at the start and in the summary.
set -euo pipefail
cd "$(dirname "$0")/../.."
NAME=${G448_DEMO_NAME:-g448-devenv-demo}
STATE=${G448_DEMO_STATE:-.cache/demo}
BAO_DIR=$STATE/openbao
SITE_HOST=coder.localhost
PORT=${G448_DEMO_PORT-8443}
INVENTORY=${G448_DEMO_INVENTORY:-inventories/demo}
IMAGE=${G448_DEMO_IMAGE:-g448-devenv/debian12:latest}
PY=.venv/bin/python

banner() { printf '\n%s\n%s\n%s\n\n' "$(printf '!%.0s' {1..78})" "$1" "$(printf '!%.0s' {1..78})"; }

down() {
  docker rm --force --volumes "$NAME" >/dev/null 2>&1 || true
  docker volume rm "$NAME-docker" >/dev/null 2>&1 || true
  if [[ -f $BAO_DIR/state.json ]]; then "$PY" tools/harness/openbao-seed.py stop --dir "$BAO_DIR"; fi
  rm -rf "$STATE"
  echo "demo: removed the container, its volume, OpenBao and $STATE"
}

STANDIN=""
EXTRA=()

server() {
  mkdir -p "$STATE"
  local version
  version=$(sed -n 's/^coder_version: "\(.*\)"/\1/p' roles/coder/defaults/main.yml)
  local deb="https://github.com/coder/coder/releases/download/v$version/coder_${version}_linux_amd64.deb"
  if curl -fsSIL --max-time 10 -o /dev/null "$deb"; then
    echo "demo: Coder v$version is reachable; deploying the real release"
  else
    STANDIN=1
    banner "demo: Coder's release is NOT reachable from here ($deb).
      Deploying the TEST STAND-IN instead (molecule/shared/coder-standin/):
      a small program that answers the few Coder endpoints the roles use.
      It is NOT Coder: no workspaces, no web UI."
  fi

  tools/harness/ensure-docker.sh
  tools/harness/ensure-apt-cache.sh
  tools/harness/build-image.sh debian12
  if [[ -n $STANDIN ]]; then
    molecule/shared/coder-standin/build.sh >/dev/null
    local sdir=$PWD/.cache/coder-standin sver=${G448_DEMO_STANDIN_VERSION:-2.34.0}
    EXTRA=(--extra-vars "{\"coder_version\": \"$sver\",
      \"coder_package_src\": \"/var/cache/coder-standin/coder_${sver}_all.deb\",
      \"coder_package_sha256\": \"$(cat "$sdir/coder_${sver}_all.deb.sha256")\",
      \"demo_standin_dir\": \"$sdir\"}")
  fi

  if [[ -z $(docker ps --quiet --filter "name=^$NAME\$") ]]; then
    docker rm --force "$NAME" >/dev/null 2>&1 || true
    # A systemd container that can run Docker itself (the workspaces): the
    # capabilities and security options of the Molecule scenarios' platform
    # (G448_PLATFORM in .env.yml), a named volume for /var/lib/docker. No --privileged.
    # The site's name resolves to the container itself, as it does for a browser
    # (*.localhost), so the monitoring's probe of <access URL>/healthz reaches Caddy.
    local nested
    mapfile -t nested < <("$PY" -c '
import yaml
platform = yaml.safe_load("{%s}" % yaml.safe_load(open(".env.yml"))["G448_PLATFORM"])
for flag, key in (("--cap-add=", "capabilities"), ("--security-opt=", "security_opts")):
    for value in platform[key]:
        print(flag + value)')
    ((${#nested[@]})) || { echo "demo: no nested-Docker flags read from .env.yml" >&2; exit 1; }
    docker run --detach --name "$NAME" --hostname "$NAME" \
      --cap-drop ALL "${nested[@]}" \
      --cgroupns host --volume /sys/fs/cgroup:/sys/fs/cgroup:rw \
      --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
      --volume "$NAME-docker:/var/lib/docker" \
      --add-host "$SITE_HOST:127.0.0.1" \
      --stop-signal SIGRTMIN+3 \
      ${PORT:+--publish "127.0.0.1:$PORT:443"} \
      "$IMAGE" /lib/systemd/systemd >/dev/null
    echo "demo: started container $NAME from $IMAGE"
  fi

  "$PY" tools/harness/openbao-seed.py start --dir "$BAO_DIR" --site-host "$SITE_HOST" >/dev/null
  echo "demo: OpenBao dev server $(sed -n 's/.*"url": "\([^"]*\)".*/\1/p' "$BAO_DIR/state.json") holds the generated secrets"

  ansible-playbook -i "$INVENTORY" tools/demo/prepare.yml "${EXTRA[@]}"
}

up() {
  server
  ansible-playbook -i "$INVENTORY" playbooks/site.yml "${EXTRA[@]}"

  local info
  info=$(curl -fsS --max-time 10 --cacert <("$PY" tools/harness/openbao-seed.py show --dir "$BAO_DIR" tls cert) \
    --resolve "$SITE_HOST:$PORT:127.0.0.1" "https://$SITE_HOST:$PORT/api/v2/buildinfo")
  echo
  echo "demo: up. $info"
  echo "  URL:      https://$SITE_HOST:$PORT   (self-signed certificate; *.localhost is the loopback)"
  echo "  login:    $("$PY" tools/harness/openbao-seed.py show --dir "$BAO_DIR" admin email), password:"
  echo "            BAO_ADDR=$(sed -n 's/.*"url": "\([^"]*\)".*/\1/p' "$BAO_DIR/state.json") BAO_TOKEN=\$(cat $BAO_DIR/token) .venv/bin/bao kv get -field=password $("$PY" tools/harness/openbao-seed.py path admin)"
  echo "  shell:    docker exec -it $NAME bash"
  echo "  remove:   make demo-down"
  if [[ -n $STANDIN ]]; then
    banner "demo: this deployment runs the Coder TEST STAND-IN, NOT Coder
      (no Coder release was reachable). Everything around it is real:
      PostgreSQL, Caddy, Docker, restic backups, OpenBao secrets."
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  server) server; declare -p EXTRA >"$STATE/extra-vars.sh" ;;
  *) echo "usage: $0 up|down|server" >&2; exit 2 ;;
esac
