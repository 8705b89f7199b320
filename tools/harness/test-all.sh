#!/usr/bin/env bash
# `make test`: everything CI runs: lint, unit and integration tests, and every
# Molecule scenario. Molecule's prerequisites (the venvs, Docker, apt cache,
# images, the stand-in) are made first; then the scenarios run in the background while
# lint and the unit tests run in the foreground (much of a scenario's time is
# spent waiting on containers, so the lint and unit stages cost little wall
# time beside them). Each stage runs even when another failed, so one CI run
# shows every failure. The Molecule log is printed when it ends. The output
# ends with the suite's wall time, the pytest summary line and the Molecule
# "N passed, N failed" line.
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

stage prerequisites make --no-print-directory venv venv-core2.17 collections-path images standin
echo "=== molecule: started $(date -u +%H:%M:%S) in the background (log: .cache/molecule.log)"
molecule_start=$SECONDS
make --no-print-directory molecule-all >.cache/molecule.log 2>&1 </dev/null &
molecule_pid=$!
stage lint make --no-print-directory lint
stage unit bash -c 'set -o pipefail; make --no-print-directory unit 2>&1 | tee .cache/unit.log'
echo "=== molecule: waiting for the scenarios"
if wait "$molecule_pid"; then molecule_rc=0; else molecule_rc=$?; fi
cat .cache/molecule.log
if ((molecule_rc == 0)); then
  echo "=== molecule: ok in $((SECONDS - molecule_start))s"
else
  echo "=== molecule: FAILED in $((SECONDS - molecule_start))s"
  status=1
fi

elapsed=$((SECONDS - start))
printf 'make test: wall time %dm%02ds\n' $((elapsed / 60)) $((elapsed % 60))
grep -E '^(=+ )?[0-9]+ (passed|failed|error).* in [0-9.]+s|no tests ran' .cache/unit.log || echo "pytest: no summary (unit stage failed early)"
grep -E '^molecule: [0-9]+ passed, [0-9]+ failed$' .cache/molecule.log | tail -1 || echo "molecule: 0 passed, 1 failed"
exit $status
