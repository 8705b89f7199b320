#!/usr/bin/env bash
# ansible-test sanity --venv on the collection, run by `make lint`.
#
#   tools/harness/sanity.sh <collection-root>...
#
# Each argument is a directory laid out as .../ansible_collections/g448/devenv, or
# `checkout`: `make lint` passes `checkout` (a copy of the files git tracks or
# would track, so never .venv or .cache) and the collection installed from the
# built tarball. ANSIBLE_TEST_CONTENT_ROOT pins the collection root: ansible-test
# would otherwise find the checkout's git repository above .cache and see no file.
#
# ansible-test --venv bootstraps pip into each test virtualenv with a get-pip
# script from ci-files.testing.ansible.com, which is not reachable here. It
# looks for ~/.ansible/test/cache/get_pip_<version>.py first: this script puts
# a small stand-in there that installs the same pip release from its PyPI
# wheel. shellcheck comes from Debian (ansible-test skips the test without it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$here/../../.venv/bin/python}
ansible_test=$(dirname "$python")/ansible-test
python_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# The pip release ansible-test wants (24.2 for ansible-core 2.19).
pip_version=$("$python" - <<'PY'
import ansible_test._internal.python_requirements as r
import inspect, re
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(r.get_venv_packages)).group(1))
PY
)
cache=$HOME/.ansible/test/cache
stub=$cache/get_pip_${pip_version//./_}.py
wheel=$cache/pip-$pip_version-py3-none-any.whl
if [[ ! -f $wheel ]]; then
  mkdir -p "$cache"
  "$python" -m pip download -q --disable-pip-version-check --no-deps \
    --only-binary :all: --dest "$cache" "pip==$pip_version"
fi
# get-pip.py's arguments are pip install's, plus --no-setuptools/--no-wheel; the
# packages ansible-test asks for (pip==<version>, and setuptools and wheel for
# older ansible-test releases) come from the cached wheel or the package index.
cat >"$stub.tmp" <<PY
# Stand-in for get-pip.py $pip_version, written by g448.devenv's
# tools/harness/sanity.sh: runs pip $pip_version from its PyPI wheel.
import runpy
import sys

WHEEL = '$wheel'
sys.path.insert(0, WHEEL)
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
sys.argv = ['pip', 'install', '--find-links', '$cache'] + args
runpy.run_module('pip', run_name='__main__', alter_sys=True)
PY
if cmp -s "$stub.tmp" "$stub"; then rm "$stub.tmp"; else mv "$stub.tmp" "$stub"; fi

if ! command -v shellcheck >/dev/null; then
  echo "sanity: installing shellcheck"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends shellcheck >/dev/null
fi

# `checkout` stands for a copy of what git tracks (or would track) in this
# checkout, staged under .cache/sanity: never .venv or .cache. molecule/ stays
# out: its fixtures run inside the test containers (whose Debian has python3 and
# no `python`, so ansible-test's shebang rules do not fit), the tarball leaves
# it out, and yamllint and ansible-lint check it in `make lint`.
stage_checkout() {
  local repo stage
  repo=$(cd "$here/../.." && pwd)
  stage=$repo/.cache/sanity/ansible_collections/g448/devenv
  rm -rf "$repo/.cache/sanity" && mkdir -p "$stage"
  git -C "$repo" ls-files -z --cached --others --exclude-standard | grep -zv '^molecule/' |
    tar -C "$repo" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$stage" -xf -
  echo "$stage"
}

status=0
for root in "$@"; do
  if [[ $root == checkout ]]; then root=$(stage_checkout); fi
  root=$(cd "$root" && pwd)
  echo "== ansible-test sanity: $root"
  (cd "$root" && ANSIBLE_TEST_CONTENT_ROOT=$root "$ansible_test" sanity --venv --python "$python_version" --color no) || status=1
done
exit "$status"
