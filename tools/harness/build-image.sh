#!/usr/bin/env bash
# Build a local systemd base image for Molecule from Debian's own packages.
#
# Nothing can be pulled from a container registry here, so the image is made
# with debootstrap and `docker import`. The image carries a label with the hash
# of this recipe; it is rebuilt only when the recipe changes.
#
# usage: build-image.sh debian12|debian13
# env:   MOLECULE_IMAGE_PREFIX (default g448-devenv)
#        G448_DEBIAN_MIRROR     (default http://deb.debian.org/debian)
#        G448_APT_PROXY         (default http://127.0.0.1:3142 when it answers)
#        G448_PULL_IMAGE_<DISTRO> a pullable image to tag instead of building
set -euo pipefail

distro=${1:?usage: build-image.sh debian12|debian13}
case "$distro" in
  debian12) suite=bookworm ;;
  debian13) suite=trixie ;;
  *) echo "build-image: unknown distro '$distro' (debian12 or debian13)" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
prefix=${MOLECULE_IMAGE_PREFIX:-g448-devenv}
image="$prefix/$distro:latest"
mirror=${G448_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps,gnupg

# A registry that is reachable may supply the image instead.
pull_var="G448_PULL_IMAGE_${distro^^}"
if [[ -n "${!pull_var:-}" ]]; then
  docker pull "${!pull_var}"
  docker tag "${!pull_var}" "$image"
  exit 0
fi

recipe=$( (cat "$0" "$here/image-files/"*; echo "$packages $mirror") | sha256sum | cut -c1-16)
current=$(docker image inspect --format '{{ index .Config.Labels "org.g448.recipe" }}' "$image" 2>/dev/null || true)
if [[ "$current" == "$recipe" ]]; then
  echo "build-image: $image is current (recipe $recipe)"
  exit 0
fi

proxy=${G448_APT_PROXY:-}
if [[ -z "$proxy" ]] && (exec 3<>/dev/tcp/127.0.0.1/3142) 2>/dev/null; then
  proxy=http://127.0.0.1:3142
fi

root=$(mktemp -d /var/tmp/g448-rootfs.XXXXXX)
cleanup() {
  # debootstrap may leave /proc, /sys or /dev mounted inside the root on failure:
  # unmount them before removing anything, never delete through a mount.
  local m
  while read -r m; do
    umount -l "$m" || true
  done < <(awk -v r="$root" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r)
  if awk -v r="$root" 'index($2, r) == 1 {found=1} END {exit !found}' /proc/mounts; then
    echo "build-image: $root still has mounts; not removing it" >&2
    return
  fi
  rm -rf --one-file-system "$root" "$root.log"
}
trap cleanup EXIT
echo "build-image: debootstrap $suite into $root (proxy: ${proxy:-none})"
start=$SECONDS
http_proxy=$proxy debootstrap --variant=minbase --include="$packages" \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -30 "$root.log" >&2; exit 1; }

# apt sources: the suite, its updates and its security archive, deb822 style.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# apt uses the harness's cache proxy on the Docker host when it answers.
install -m 0755 "$here/image-files/g448-apt-proxy" "$root/usr/local/sbin/g448-apt-proxy"
install -m 0644 "$here/image-files/00g448-proxy.conf" "$root/etc/apt/apt.conf.d/00g448-proxy"
# Ansible's module payloads compile once per container instead of once per task
# (test images only; image-files/g448_zipimport_cache.py says why and how).
install -m 0644 "$here/image-files/g448_zipimport_cache.py" "$root/usr/lib/python3/dist-packages/g448_zipimport_cache.py"
install -m 0644 "$here/image-files/g448-zipimport-cache.pth" "$root/usr/lib/python3/dist-packages/g448-zipimport-cache.pth"
install -d -m 0755 -o root -g root "$root/var/cache/g448-zipimport"
# Keep images small and tests honest: no docs, no recommends.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  >"$root/etc/apt/apt.conf.d/00g448-norecommends"

# systemd in a container: no getty, no udev triggers, a machine id per container.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
for unit in getty.target console-getty.service systemd-udevd.service \
    systemd-udev-trigger.service systemd-firstboot.service \
    systemd-networkd-wait-online.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
apt_clean() { rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*; }
apt_clean

tar -C "$root" -c . | docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  --change "LABEL org.g448.recipe=$recipe org.g448.distro=$distro" \
  - "$image" >/dev/null
echo "build-image: built $image (recipe $recipe) in $((SECONDS - start))s"
