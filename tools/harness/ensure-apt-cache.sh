#!/usr/bin/env bash
# Start an apt cache proxy (Debian's apt-cacher-ng) on port 3142 so that the
# test containers and debootstrap fetch each Debian package from the mirror
# once per machine rather than once per scenario. It runs with its own config
# (the packaged one remaps Debian to a mirror that may not resolve here).
set -euo pipefail
port=${G448_APT_CACHE_PORT:-3142}
if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
  exit 0
fi
if ! command -v apt-cacher-ng >/dev/null; then
  echo "ensure-apt-cache: installing apt-cacher-ng"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends apt-cacher-ng >/dev/null
  # The package starts its own daemon with the packaged config where it can.
  pkill -x apt-cacher-ng 2>/dev/null || true
  sleep 1
fi
state=${G448_APT_CACHE_DIR:-/var/cache/g448-apt-cache}
mkdir -p "$state/cache" "$state/log" "$state/conf"
cat >"$state/conf/acng.conf" <<CONF
CacheDir: $state/cache
LogDir: $state/log
SupportDir: /usr/lib/apt-cacher-ng
Port: $port
BindAddress: 0.0.0.0
ExThreshold: 4
PassThroughPattern: .*
CONF
if id apt-cacher-ng >/dev/null 2>&1; then
  chown -R apt-cacher-ng: "$state"
  runas=(runuser -u apt-cacher-ng --)
else
  runas=()
fi
"${runas[@]}" apt-cacher-ng -c "$state/conf" ForeGround=0 >>"$state/log/start.log" 2>&1
for _ in $(seq 1 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
    echo "ensure-apt-cache: apt-cacher-ng on :$port, cache in $state/cache"
    exit 0
  fi
  sleep 0.2
done
echo "ensure-apt-cache: apt-cacher-ng did not start; see $state/log" >&2
exit 1
