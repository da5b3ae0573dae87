#!/usr/bin/env bash
# `make images`: both images from operator/Dockerfile and provider/Dockerfile with buildah (no daemon,
# no registry: `--isolation chroot --pull=never`), tagged as the chart and the operator expect.
#
#   images/build.sh          build both (prints each one's build time and size)
#   images/build.sh tags     print "<component> <image reference>" for both, build nothing
#   images/build.sh sizes    print each image's size (and the base's), build nothing
#
# The version is the chart's appVersion (tests/unit/test_versions.py holds the packages' versions, the
# Dockerfiles' VERSION and the operator's default provider image to it). IMAGE_BASE chooses the base
# (a real build pins it by digest: debian:bookworm-slim@sha256:...); when the default base is not in
# buildah's storage, images/debian-standin.sh builds it from Debian's packages under the same name.
# pip inside the build trusts the host's CA bundle (HOST_CA_BUNDLE), bind-mounted, never copied.
# IMAGES_CACHE=0 rebuilds every layer (a cold build; the base image stays).
set -euo pipefail
cd "$(dirname "$0")/.."

REGISTRY=${IMAGE_REGISTRY:-ghcr.io/claude-code-operator}
BASE=${IMAGE_BASE:-debian:bookworm-slim}
BASE_REF=docker.io/library/$BASE
CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
CA_MOUNT=/run/host-ca/ca-certificates.crt
VERSION=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' charts/claude-code-operator/Chart.yaml)
COMPONENTS=(operator provider)

log() { echo "images: $*" >&2; }

ref() { # ref COMPONENT: the image reference the chart (operator) or the operator (provider) runs
  echo "$REGISTRY/claude-code-$1:$VERSION"
}

size_mb() { # size_mb IMAGE: uncompressed size, the sum of its layers, in MB (10^6 bytes)
  buildah inspect --type image --format '{{.Manifest}}' "$1" |
    python3 -c 'import json, sys; print(round(sum(l["size"] for l in json.load(sys.stdin)["layers"]) / 1e6))'
}

ensure_buildah() {
  command -v buildah >/dev/null && return
  log "installing buildah"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends buildah >/dev/null
}

ensure_base() {
  [[ $BASE == debian:bookworm-slim ]] || return 0 # any other base is pulled by buildah (a real registry)
  buildah inspect --type image "$BASE_REF" >/dev/null 2>&1 && return
  log "$BASE_REF is not in buildah's storage: building its stand-in"
  images/debian-standin.sh "$BASE_REF" bookworm
}

build() { # build COMPONENT
  local pull=--pull=never
  [[ $BASE == debian:bookworm-slim ]] || pull=--pull=missing
  local cache=()
  [[ ${IMAGES_CACHE:-1} == 1 ]] || cache=(--no-cache)
  local start=$SECONDS
  buildah bud --isolation chroot "$pull" --layers "${cache[@]}" --quiet \
    -f "$1/Dockerfile" \
    --build-arg "BASE=$BASE" --build-arg "VERSION=$VERSION" \
    --build-arg "PIP_CERT=$CA_MOUNT" -v "$CA_BUNDLE:$CA_MOUNT:ro" \
    -t "$(ref "$1")" . >/dev/null
  log "built $(ref "$1") in $((SECONDS - start)) s, $(size_mb "$(ref "$1")") MB"
}

case ${1:-build} in
  tags)
    for c in "${COMPONENTS[@]}"; do echo "$c $(ref "$c")"; done
    ;;
  sizes)
    echo "base $BASE_REF $(size_mb "$BASE_REF") MB"
    for c in "${COMPONENTS[@]}"; do echo "$c $(ref "$c") $(size_mb "$(ref "$c")") MB"; done
    ;;
  build)
    ensure_buildah
    ensure_base
    start=$SECONDS
    for c in "${COMPONENTS[@]}"; do build "$c"; done
    log "both images in $((SECONDS - start)) s"
    ;;
  *)
    echo "usage: $0 [build|tags|sizes]" >&2
    exit 2
    ;;
esac
