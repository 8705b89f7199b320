#!/usr/bin/env bash
# The release checks of the built tarball, run by `make lint`:
#
#   tools/harness/galaxy-import.sh .cache/build/g448-devenv-<version>.tar.gz
#
# 1. The tarball ships nothing site-specific or dev-only (galaxy.yml build_ignore):
#    no inventory, ansible.cfg, dev requirements, tooling, Molecule or pytest suite.
# 2. galaxy-importer (Galaxy's own import, default settings, with its ansible-lint
#    pass) imports it with no error and lists each plugin, role and playbook once.
# 3. ansible-builder introspect gives an execution environment the floors of
#    requirements.txt (meta/execution-environment.yml), never an exact pin.
set -euo pipefail
tarball=$(realpath "$1")
build=$(dirname "$tarball")
bin=$(cd "$(dirname "$0")/../.." && pwd)/.venv/bin

leaked=$(tar -tzf "$tarball" | grep -E '^(ansible\.cfg|inventories/|requirements-dev\.txt|Makefile|mk/|tools/|\.ci/|molecule/|tests/(unit|integration)/|reports/|\.venv|\.cache/)' || true)
if [[ -n $leaked ]]; then
  echo "galaxy-import: the tarball ships files users must not get:" >&2
  echo "$leaked" >&2
  exit 1
fi

log=$build/galaxy-importer.log
rm -f "$build/importer_result.json"
status=0
(cd "$build" && "$bin/python" -m galaxy_importer.main "$tarball") >"$log" 2>&1 || status=$?
cat "$log"
if [[ $status -ne 0 ]] || grep -q '^ERROR' "$log" || ! grep -q '^Importer processing completed successfully' "$log"; then
  echo "galaxy-import: galaxy-importer failed (exit $status), see $log" >&2
  exit 1
fi
twice=$(grep '^Loading ' "$log" | sort | uniq -d)
if [[ -n $twice ]]; then
  echo "galaxy-import: galaxy-importer lists content more than once:" >&2
  echo "$twice" >&2
  exit 1
fi
echo "galaxy-import: $(grep -c '^Loading ' "$log") content items, each once"

installed=$build/installed
deps=$("$bin/ansible-builder" introspect --sanitize "$installed")
echo "$deps"
if ! grep -q "hvac>=.*# from collection g448.devenv" <<<"$deps" || grep -q '==' <<<"$deps"; then
  echo "galaxy-import: ansible-builder introspect does not show the requirements.txt floors" >&2
  exit 1
fi
