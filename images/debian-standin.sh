#!/usr/bin/env bash
# A stand-in for a Debian base image, built from Debian's packages where no image registry is reachable:
# `debootstrap --variant=minbase` of the suite (the packages `debian:<suite>-slim` is made of), made slim
# as the official image is (no documentation but copyrights, no manuals, no translations, and dpkg told to
# leave them out of later installs too), with its apt sources, committed to buildah's storage.
#
#   images/debian-standin.sh docker.io/library/debian:bookworm-slim [suite]
#
# About 2.5 minutes. Needs root (debootstrap); installs debootstrap where it is missing.
set -euo pipefail

NAME=${1:?usage: debian-standin.sh IMAGE-NAME [SUITE]}
SUITE=${2:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

log() { echo "debian-standin: $*" >&2; }

if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

work=$(mktemp -d /tmp/debian-standin.XXXXXX)
ctr=
cleanup() {
  [[ -n $ctr ]] && buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

root=$work/rootfs
log "debootstrap --variant=minbase $SUITE (about 2.5 minutes)"
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  exit 1
}

# The official image's apt sources (deb822, updates and security included), and no caches or logs.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
# The slim variant's dpkg filter (debuerreotype's), applied to what is installed already.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
SLIM
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$root"/usr/share/{groff,info,linda,lintian,man}/*
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/log/* "$root"/tmp/* "$root/etc/hostname"
: >"$root/etc/resolv.conf"

ctr=$(buildah from scratch)
mnt=$(buildah mount "$ctr")
tar -C "$root" --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
buildah umount "$ctr" >/dev/null
buildah config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --label "org.opencontainers.image.description=stand-in for $NAME: debootstrap --variant=minbase $SUITE" \
  "$ctr"
buildah commit --quiet "$ctr" "$NAME" >/dev/null
log "built $NAME"
