#!/usr/bin/env bash
# make bench-backup: how much the g448.devenv.backup job costs over the raw
# commands an operator would type to back up the same data.
#
#   role job  systemctl start g448-backup.service: pg_dump -Fc into the staging
#             directory, volume selection (label + pattern), manifest, ONE
#             restic snapshot, restic forget --prune (retention), status file
#   raw       pg_dump -Fc | restic backup --stdin, then a plain restic backup
#             of the same paths (the volumes and paths of the job's snapshot)
#
# Both run in the same container, in the same run, each into its own
# repository that starts empty: first a full backup, then a second backup of
# the unchanged data (deduplicated: what most nightly runs are). The ratio is
# role job / raw.
#
# Where: the containers of the Molecule scenario molecule/backup (Debian 12
# with restic 0.14, Debian 13 with restic 0.18), brought up with
# `molecule create`, `prepare` and `converge`, then driven with docker exec.
# They are destroyed at the end; BENCH_BACKUP_KEEP=1 keeps them. Do not run
# this while `make molecule SCENARIO=backup` runs: both use the same
# container names.
#
# Data: the scenario's seed plus BENCH_BACKUP_ROWS rows (default 300000,
# about 100 MB in PostgreSQL) in Coder's database and BENCH_BACKUP_MB MiB
# (default 128) of files in a workspace volume, half random, half text.
#
# usage: tools/bench/backup/bench.sh [--output FILE]   (from the main Makefile)
set -euo pipefail
cd "$(dirname "$0")/../../.."
output=.cache/bench-backup.md
if [[ "${1:-}" == "--output" ]]; then output=$2; fi
rows=${BENCH_BACKUP_ROWS:-300000}
mb=${BENCH_BACKUP_MB:-128}
log=.cache/bench-backup.log
mkdir -p .cache "$(dirname "$output")"
: >"$log"

destroy() {
  if [[ "${BENCH_BACKUP_KEEP:-0}" != 1 ]]; then
    molecule destroy -s backup >>"$log" 2>&1 || true
  fi
}
trap destroy EXIT

echo "bench-backup: bringing up the molecule backup containers (log: $log)"
for step in destroy create prepare converge; do
  if ! molecule "$step" -s backup >>"$log" 2>&1; then
    echo "bench-backup: molecule $step failed; last lines of $log:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
done

# Seed the extra data (as root in the container).
# shellcheck disable=SC2016  # a script for the container: it expands there, not here
seed='
set -euo pipefail
cd /
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d coder <<SQL
CREATE TABLE bench_events (id bigserial PRIMARY KEY, workspace uuid NOT NULL,
  payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO bench_events (workspace, payload)
  SELECT gen_random_uuid(), repeat(md5(g::text), 8) FROM generate_series(1, $ROWS) AS g;
ALTER TABLE bench_events OWNER TO coder;
SQL
dir=$(ls -d /var/lib/docker/volumes/coder-*-home/_data | head -1)/bench
mkdir -p "$dir"
head -c $((MB / 2))M /dev/urandom >"$dir/random.bin"
seq -f "line %.0f of a workspace file: code, notes and build output" 1 $((MB * 1024 * 1024 / 2 / 60)) >"$dir/text.txt"
chown -R 100000:100000 "$dir"
sync
'
# Time one command in the container, in milliseconds.
time_ms() {  # time_ms <container> <script>
  docker exec "$1" bash -c 's=$(date +%s%N); ( '"$2"' ) >/tmp/bench-step.log 2>&1 || { tail -20 /tmp/bench-step.log >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))'
}

role_job='systemctl start g448-backup.service'
raw_setup='
set -euo pipefail
export RESTIC_REPOSITORY=/srv/bench-raw RESTIC_PASSWORD_FILE=/etc/g448-backup/restic.password RESTIC_CACHE_DIR=/var/cache/g448-backup/bench-raw
restic init >/dev/null
/usr/local/sbin/g448-restic dump latest /var/backups/g448-backup/staging/manifest.json \
  | jq -r ".volumes[].path, .paths[]" >/srv/bench-raw.paths
'
# shellcheck disable=SC2016  # a script for the container: it expands there, not here
raw_backup='
set -euo pipefail
cd /
export RESTIC_REPOSITORY=/srv/bench-raw RESTIC_PASSWORD_FILE=/etc/g448-backup/restic.password RESTIC_CACHE_DIR=/var/cache/g448-backup/bench-raw
runuser -u postgres -- pg_dump -Fc -d coder | restic backup --quiet --host bench --stdin --stdin-filename coder.pgc
mapfile -t paths </srv/bench-raw.paths
restic backup --quiet --host bench "${paths[@]}"
'

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
secs() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1000 }'; }

{
  echo "# bench-backup: g448.devenv.backup's job vs raw restic"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Data: the backup scenario's seed + ${rows} rows in Coder's database + ${mb} MiB in a workspace volume."
  echo "Role job: \`systemctl start g448-backup.service\` (dump to staging, volume selection, manifest, one snapshot, forget --prune, status file)."
  echo "Raw: \`pg_dump -Fc | restic backup --stdin\` + \`restic backup\` of the same paths. Each side has its own repository, empty at the first run."
  echo
  echo "| host (restic) | run | role job (s) | raw (s) | ratio role/raw | repository (MiB) role / raw |"
  echo "|---|---|---:|---:|---:|---|"
} >"$output.tmp"

for distro in debian12 debian13; do
  c="backup-$distro"
  version=$(docker exec "$c" restic version | awk '{print $2}')
  echo "bench-backup: $c (restic $version): seeding ${rows} rows and ${mb} MiB"
  docker exec -e ROWS="$rows" -e MB="$mb" "$c" bash -c "$seed" >>"$log" 2>&1 || { echo "seeding $c failed, see $log" >&2; exit 1; }
  for run in full again; do
    if [[ $run == full ]]; then
      # The job first: the raw side backs up the paths of its snapshot.
      role=$(time_ms "$c" "$role_job")
      docker exec "$c" bash -c "rm -rf /srv/bench-raw /srv/bench-raw.paths; ${raw_setup}" >>"$log" 2>&1
      raw=$(time_ms "$c" "$raw_backup")
    else
      # The other order, so neither side always finds a warmer page cache.
      raw=$(time_ms "$c" "$raw_backup")
      role=$(time_ms "$c" "$role_job")
    fi
    sizes=$(docker exec "$c" du -sm /srv/g448-restic /srv/bench-raw | awk '{print $1}' | paste -sd/ | sed 's|/| / |')
    echo "| $distro (restic $version) | $run | $(secs "$role") | $(secs "$raw") | $(ratio "$role" "$raw") | $sizes |" >>"$output.tmp"
    echo "bench-backup: $c $run: role job ${role} ms, raw ${raw} ms"
  done
done
mv "$output.tmp" "$output"
echo
cat "$output"
