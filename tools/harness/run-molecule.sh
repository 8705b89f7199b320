#!/usr/bin/env bash
# Run `molecule test` for each named scenario and report the outcome per
# scenario. Logs go to .cache/molecule-logs/<scenario>.log; a failed
# scenario's tail is printed. Ends with the line "N passed, N failed" and exits
# non-zero when any scenario failed.
#
# env: MOLECULE_DISTRO=debian12|debian13 runs only that platform of each scenario.
set -uo pipefail
cd "$(dirname "$0")/../.."
logs=.cache/molecule-logs
mkdir -p "$logs"
passed=0 failed=0 failed_names=()
for scenario in "$@"; do
  if [[ ! -f "molecule/$scenario/molecule.yml" ]]; then
    echo "run-molecule: no scenario '$scenario' under molecule/" >&2
    failed=$((failed + 1)); failed_names+=("$scenario"); continue
  fi
  args=(test --scenario-name "$scenario")
  if [[ -n "${MOLECULE_DISTRO:-}" ]]; then
    args+=(--platform-name "$scenario-$MOLECULE_DISTRO")
  fi
  start=$SECONDS
  echo "=== molecule $scenario ${MOLECULE_DISTRO:-(all distros)}: started $(date -u +%H:%M:%S)"
  if molecule "${args[@]}" >"$logs/$scenario.log" 2>&1; then
    passed=$((passed + 1))
    echo "=== molecule $scenario: PASSED in $((SECONDS - start))s"
  else
    failed=$((failed + 1)); failed_names+=("$scenario")
    echo "=== molecule $scenario: FAILED in $((SECONDS - start))s; last lines of $logs/$scenario.log:"
    tail -60 "$logs/$scenario.log" | sed 's/^/    /'
  fi
done
if ((failed)); then
  echo "molecule: failed scenarios: ${failed_names[*]}"
fi
echo "molecule: $passed passed, $failed failed"
((failed == 0))
