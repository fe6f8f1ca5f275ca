#!/usr/bin/env bash
# Build the lab image datalab-lab:<project version> unless it exists with the same inputs.
# Usage: scripts/build-image.sh [--print-tag | --print-inputs]
#
# BASE_IMAGE (environment): the image the lab is built on. Unset: a Debian bookworm base
# made here with debootstrap from the Debian mirror apt uses (no registry needed), kept
# as datalab-debian-base:bookworm. Set it (e.g. quay.io/jupyter/base-notebook:python-3.12)
# on a machine that reaches a registry.
# The image carries the label org.datalab.inputs: a hash of everything it is built from;
# a build is skipped when an image with this tag and this hash exists.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CONTEXT="$REPO/images/lab"
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO/pyproject.toml")
TAG="datalab-lab:$VERSION"
LOCAL_BASE="datalab-debian-base:bookworm"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

if [ "${1:-}" = "--print-tag" ]; then echo "$TAG"; exit 0; fi

base=${BASE_IMAGE:-$LOCAL_BASE}
inputs=$( (echo "$base"; cat "$CONTEXT/Dockerfile" "$CONTEXT/requirements.txt" \
  "$CONTEXT/overrides.json" "$REPO/requirements.lock") | sha256sum | cut -c1-16)
# --print-inputs: the org.datalab.inputs label an image built from this tree carries
if [ "${1:-}" = "--print-inputs" ]; then echo "$inputs"; exit 0; fi

"$REPO/scripts/dockerd.sh" start >/dev/null
current=$(docker image inspect "$TAG" \
  --format '{{ index .Config.Labels "org.datalab.inputs" }}' 2>/dev/null || true)
if [ "$current" = "$inputs" ]; then
  echo "$TAG is up to date (inputs $inputs)"; exit 0
fi

# The Debian mirror apt uses on this machine: the first deb822 URIs entry or one-line
# "deb" source serving bookworm.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm( |\n|$)/ && /Types:[^\n]*deb( |\n|$)/ {
           if (match($0, /URIs: *[^ \n]+/)) { s=substr($0, RSTART, RLENGTH); sub(/URIs: */, "", s); print s; exit } }' "$f"
  done
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
    | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($(i+1) == "bookworm") print $i; break } }'
}

start=$(date +%s)
if [ -z "${BASE_IMAGE:-}" ] && ! docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then
  mirror=$(debian_mirror)
  mirror=${mirror%%$'\n'*}
  [ -n "$mirror" ] || { echo "no Debian bookworm mirror found in apt's sources" >&2; exit 1; }
  rootfs=$(mktemp -d /var/tmp/datalab-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "Making $LOCAL_BASE with debootstrap from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb
  tar --numeric-owner -C "$rootfs" -c . | docker import - "$LOCAL_BASE" >/dev/null
fi

[ -f "$CA_BUNDLE" ] || { echo "$CA_BUNDLE missing: install ca-certificates" >&2; exit 1; }
cp "$CA_BUNDLE" "$CONTEXT/ca-certificates.crt"
cp "$REPO/requirements.lock" "$CONTEXT/constraints.txt"
cleanup_context() { rm -f "$CONTEXT/ca-certificates.crt" "$CONTEXT/constraints.txt"; }
trap 'cleanup_context; rm -rf "${rootfs:-/nonexistent}"' EXIT

echo "Building $TAG from $base"
log=/var/tmp/datalab-image-build.log
DOCKER_BUILDKIT=0 docker build --network host \
  --build-arg "BASE_IMAGE=$base" --label "org.datalab.inputs=$inputs" \
  --label "org.datalab.version=$VERSION" -t "$TAG" "$CONTEXT" >"$log" 2>&1 \
  || { echo "docker build failed; the end of $log:" >&2; tail -30 "$log" >&2; exit 1; }
docker image prune --force --filter "label=org.datalab.inputs" >/dev/null
echo "Built $TAG in $(( $(date +%s) - start )) s"
