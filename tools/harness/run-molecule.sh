#!/usr/bin/env bash
# Run `molecule test` for each named scenario and report the outcome per
# scenario. Up to MOLECULE_JOBS scenarios (default 2) run at once: much of a
# scenario's time is spent waiting on containers, apt and services, so two
# overlap well on two cores. Logs go to .cache/molecule-logs/<scenario>.log; a
# failed scenario's tail is printed. Ends with the line "molecule: N passed,
# N failed" and exits non-zero when any scenario failed.
#
# env: MOLECULE_DISTRO=debian12|debian13 runs only that platform of each scenario.
#      MOLECULE_JOBS=N how many scenarios run at once.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
logs=.cache/molecule-logs
mkdir -p "$logs"
jobs=${MOLECULE_JOBS:-2}
declare -A pid_of=() start_of=()
passed=0 failed=0 failed_names=()

stop_openbao() {  # the OpenBao dev server a scenario may start (molecule/shared/openbao.yml)
  if [[ -f ".cache/openbao/$1/state.json" ]]; then
    python3 tools/harness/openbao-seed.py stop --dir ".cache/openbao/$1" || true
  fi
}

finish() {  # finish <scenario> <exit code>
  local scenario=$1 rc=$2 took=$((SECONDS - start_of[$1]))
  stop_openbao "$scenario"
  if ((rc == 0)); then
    passed=$((passed + 1))
    echo "=== molecule $scenario: PASSED in ${took}s"
  else
    failed=$((failed + 1)); failed_names+=("$scenario")
    echo "=== molecule $scenario: FAILED in ${took}s; last lines of $logs/$scenario.log:"
    sed 's/\x1b\[[0-9;]*m//g' "$logs/$scenario.log" | tail -60 | sed 's/^/    /'
  fi
}

reap() {  # wait for any one running scenario to end
  local scenario
  while :; do
    for scenario in "${!pid_of[@]}"; do
      if ! kill -0 "${pid_of[$scenario]}" 2>/dev/null; then
        wait "${pid_of[$scenario]}"
        finish "$scenario" $?
        unset "pid_of[$scenario]"
        return
      fi
    done
    sleep 2
  done
}

for scenario in "$@"; do
  if [[ ! -f "molecule/$scenario/molecule.yml" ]]; then
    echo "run-molecule: no scenario '$scenario' under molecule/" >&2
    failed=$((failed + 1)); failed_names+=("$scenario"); continue
  fi
  while ((${#pid_of[@]} >= jobs)); do reap; done
  args=(test --scenario-name "$scenario")
  if [[ -n "${MOLECULE_DISTRO:-}" ]]; then
    args+=(--platform-name "$scenario-$MOLECULE_DISTRO")
  fi
  echo "=== molecule $scenario ${MOLECULE_DISTRO:-(debian12 + debian13)}: started $(date -u +%H:%M:%S)"
  start_of[$scenario]=$SECONDS
  stop_openbao "$scenario"
  molecule "${args[@]}" >"$logs/$scenario.log" 2>&1 </dev/null &
  pid_of[$scenario]=$!
done
while ((${#pid_of[@]})); do reap; done

if ((failed)); then
  echo "molecule: failed scenarios: ${failed_names[*]}"
fi
echo "molecule: $passed passed, $failed failed"
((failed == 0))
