#!/usr/bin/env bash
# Make sure a Docker engine answers. On a fresh Debian machine with no engine,
# install Debian's docker.io (and debootstrap, which builds the base images)
# and start dockerd in the background (no systemd on CI machines).
set -euo pipefail
log=${G448_DOCKERD_LOG:-/var/log/g448-dockerd.log}

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  echo "ensure-docker: installing ${need[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi
echo "ensure-docker: no engine answers; starting dockerd (log: $log)"
nohup dockerd >>"$log" 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "ensure-docker: dockerd is up"
    exit 0
  fi
  sleep 1
done
echo "ensure-docker: dockerd did not answer within 60s; last log lines:" >&2
tail -20 "$log" >&2
exit 1
