#!/usr/bin/env bash
# `make test`: everything CI runs, in order: lint, unit and integration tests,
# then every Molecule scenario. Each stage runs even when an earlier one failed,
# so one CI run shows every failure. The output ends with the suite's wall
# time, the pytest summary line and the Molecule "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
start=$SECONDS
mkdir -p .cache
status=0
stage() {
  local name=$1; shift
  local t=$SECONDS
  echo "=== $name: started $(date -u +%H:%M:%S)"
  if "$@"; then
    echo "=== $name: ok in $((SECONDS - t))s"
  else
    echo "=== $name: FAILED in $((SECONDS - t))s"
    status=1
  fi
}

stage lint make --no-print-directory lint
stage unit bash -c 'set -o pipefail; make --no-print-directory unit 2>&1 | tee .cache/unit.log'
stage molecule bash -c 'set -o pipefail; make --no-print-directory molecule-all 2>&1 | tee .cache/molecule.log'

elapsed=$((SECONDS - start))
printf 'make test: wall time %dm%02ds\n' $((elapsed / 60)) $((elapsed % 60))
grep -E '^(=+ )?[0-9]+ (passed|failed|error).* in [0-9.]+s|no tests ran' .cache/unit.log || echo "pytest: no summary (unit stage failed early)"
grep -E '^molecule: [0-9]+ passed, [0-9]+ failed$' .cache/molecule.log | tail -1 || echo "molecule: 0 passed, 1 failed"
exit $status
