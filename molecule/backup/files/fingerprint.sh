#!/bin/bash
# Fingerprint of the scenario's workspace volumes (tests only): every entry's
# path, type, mode, owner, size and symlink target, then every file's sha256.
# Prepare records it before the role runs; verify compares after a restore.
set -euo pipefail
cd /var/lib/docker/volumes
# The _data directories only: a restore keeps the old ones beside them.
volumes=(coder-*-home/_data g448-home-bob/_data)
find "${volumes[@]}" \( -type d -printf '%p d %m %U:%G\n' \) -o -printf '%p %y %m %U:%G %s %l\n' | LC_ALL=C sort
find "${volumes[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
