#!/bin/bash
# Two "workspace" volume directories as Docker's local driver lays them out,
# plus one that must NOT be backed up (tests only). Idempotent through the
# marker file Ansible passes as `creates`.
#   coder-<id>-home  matched by the name pattern coder-*-home
#   g448-home-bob    matched only by its coder.workspace_id label (docker stand-in)
#   unrelated-cache  neither
set -euo pipefail
root=/var/lib/docker/volumes
alice=$root/coder-3f1c0a52-7d4e-4b8e-9a55-2b7a3c1d0e01-home/_data
bob=$root/g448-home-bob/_data
other=$root/unrelated-cache/_data
mkdir -p "$alice/project/src" "$alice/empty dir" "$bob/.config/app" "$other"
# shellcheck disable=SC2016 # the line .bashrc holds, expanded by alice's shell
printf 'export PATH="$HOME/bin:$PATH"\n' >"$alice/.bashrc"
printf 'package main\n\nfunc main() { println("g448-backup-marker-alice") }\n' >"$alice/project/src/main.go"
head -c 262144 /dev/urandom >"$alice/project/data.bin"
printf 'uncommitted work\n' >"$alice/project/notes with spaces.txt"
ln -s src/main.go "$alice/project/main-link.go"
printf 'secret=%s\n' "g448-backup-marker-bob" >"$bob/.config/app/settings.ini"
head -c 65536 /dev/urandom >"$bob/blob.bin"
head -c 4096 /dev/urandom >"$other/cache.bin"
chmod 0600 "$bob/.config/app/settings.ini"
chmod 0700 "$bob/.config"
# A userns-remapped workspace's root is an unprivileged host uid.
chown -R 100000:100000 "$alice" "$bob"
chown 101000:101000 "$alice/project/notes with spaces.txt"
