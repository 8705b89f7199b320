#!/usr/bin/env bash
# Build the Coder STAND-IN (tests only, not Coder) that g448.devenv's coder
# scenarios install instead of the real release, which no reachable registry
# carries. Outputs, under .cache/coder-standin/ of the checkout:
#   coder_<v>_all.deb              one per version in STANDIN_VERSIONS, laid out
#                                  like Coder's .deb: /usr/bin/coder, the
#                                  packaged coder.service reading
#                                  /etc/coder.d/coder.env, user `coder`
#   checksums.txt                  "<sha256>  <file>" lines (a release-style
#                                  checksums file); <deb>.sha256 holds one hash
#   coder-standin-image.tar        `docker save` of g448-devenv/coder-standin:<newest>
#                                  (only with --image), for the container method
# Rebuilt only when this directory changes (a hash stamp).
#
# usage: build.sh [--image]
# env:   STANDIN_VERSIONS (default "2.33.0 2.34.0"), MOLECULE_IMAGE_PREFIX
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out="$root/.cache/coder-standin"
versions=${STANDIN_VERSIONS:-2.33.0 2.34.0}
prefix=${MOLECULE_IMAGE_PREFIX:-g448-devenv}
want_image=false
[[ "${1:-}" == "--image" ]] && want_image=true

stamp=$( (cd "$here" && cat build.sh coder.py coder.service preinst coder.env; echo "$versions") | sha256sum | cut -c1-16)
mkdir -p "$out"

if [[ "$(cat "$out/.stamp" 2>/dev/null)" != "$stamp" ]]; then
  rm -f "$out"/*.deb "$out"/*.sha256 "$out/checksums.txt" "$out/coder-standin-image.tar"
  for v in $versions; do
    pkg=$(mktemp -d)
    chmod 0755 "$pkg"
    install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/coder.d"
    sed "s/@VERSION@/$v/" "$here/coder.py" >"$pkg/usr/bin/coder"
    chmod 0755 "$pkg/usr/bin/coder"
    install -m 0644 "$here/coder.service" "$pkg/lib/systemd/system/coder.service"
    install -m 0644 "$here/coder.env" "$pkg/etc/coder.d/coder.env"
    install -m 0755 "$here/preinst" "$pkg/DEBIAN/preinst"
    echo /etc/coder.d/coder.env >"$pkg/DEBIAN/conffiles"
    cat >"$pkg/DEBIAN/control" <<CONTROL
Package: coder
Version: $v-1
Architecture: all
Maintainer: g448 platform team <platform@448.global>
Depends: python3, python3-psycopg2
Suggests: postgresql
Section: devel
Priority: optional
Description: Coder STAND-IN for g448.devenv tests (not Coder)
 Implements only the parts of Coder's server that the g448.devenv coder role
 touches. Built by molecule/shared/coder-standin/build.sh.
CONTROL
    dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out/coder_${v}_all.deb" >/dev/null
    rm -rf "$pkg"
    (cd "$out" && sha256sum "coder_${v}_all.deb" >>checksums.txt)
    sha256sum "$out/coder_${v}_all.deb" | cut -d' ' -f1 >"$out/coder_${v}_all.deb.sha256"
  done
  echo "$stamp" >"$out/.stamp"
  echo "coder-standin: built $(cd "$out" && printf '%s ' ./*.deb)in $out"
else
  echo "coder-standin: packages are current ($stamp)"
fi

if $want_image && [[ ! -f "$out/coder-standin-image.tar" ]]; then
  newest=$(tr -s ' ' '\n' <<<"$versions" | sort -V | tail -1)
  image="$prefix/coder-standin:$newest"
  ctx=$(mktemp -d)
  cp "$out/coder_${newest}_all.deb" "$ctx/coder.deb"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
# Coder STAND-IN image (tests only): the stand-in .deb on the local Debian 12
# test image; no registry is contacted. Shaped like ghcr.io/coder/coder
# wherever g448.devenv.coder depends on it (coder/coder scripts/Dockerfile.base
# and scripts/Dockerfile): user and group coder with uid and gid 1000 and home
# /home/coder (made before the .deb, whose preinst then keeps it), curl for the
# healthcheck, no docker CLI, USER 1000:1000, HOME and WORKDIR /home/coder, no
# /home/coder/.cache in the image, ENTRYPOINT "coder server" with no
# CODER_HTTP_ADDRESS of its own (Coder's default is 127.0.0.1:3000).
FROM $prefix/debian12:latest
COPY coder.deb /tmp/coder.deb
RUN groupadd --gid 1000 coder \\
 && useradd --uid 1000 --gid 1000 --home-dir /home/coder --create-home --shell /bin/bash coder \\
 && apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl /tmp/coder.deb \\
 && rm -rf /var/lib/apt/lists/* /tmp/coder.deb \\
 && ! command -v docker
USER 1000:1000
ENV HOME=/home/coder
WORKDIR /home/coder
ENTRYPOINT ["/usr/bin/coder", "server"]
# Python as PID 1 ignores SIGTERM; the stand-in stops on SIGINT.
STOPSIGNAL SIGINT
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build -q -t "$image" "$ctx" >/dev/null
  rm -rf "$ctx"
  docker save -o "$out/coder-standin-image.tar" "$image"
  echo "coder-standin: built image $image and $out/coder-standin-image.tar"
fi
