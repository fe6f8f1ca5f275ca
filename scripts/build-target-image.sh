#!/usr/bin/env bash
# Build the Ansible test target image datalab-target:bookworm (images/target: Debian with
# systemd as PID 1 and the Debian packages the roles install) unless an image with the
# same inputs exists. Needs the local Debian base (scripts/build-image.sh makes it).
# Usage: scripts/build-target-image.sh [--print-tag]
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CONTEXT="$REPO/images/target"
TAG="datalab-target:bookworm"
BASE="datalab-debian-base:bookworm"

if [ "${1:-}" = "--print-tag" ]; then echo "$TAG"; exit 0; fi

"$REPO/scripts/dockerd.sh" start >/dev/null
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  "$REPO/scripts/build-image.sh"
fi
base_id=$(docker image inspect "$BASE" --format '{{.Id}}')
inputs=$( (echo "$base_id"; cat "$CONTEXT/Dockerfile") | sha256sum | cut -c1-16)
current=$(docker image inspect "$TAG" \
  --format '{{ index .Config.Labels "org.datalab.inputs" }}' 2>/dev/null || true)
if [ "$current" = "$inputs" ]; then
  echo "$TAG is up to date (inputs $inputs)"; exit 0
fi

start=$(date +%s)
log=/var/tmp/datalab-target-build.log
echo "Building $TAG from $BASE"
DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE_IMAGE=$BASE" \
  --label "org.datalab.inputs=$inputs" --label org.datalab.target=bookworm \
  -t "$TAG" "$CONTEXT" >"$log" 2>&1 \
  || { echo "docker build failed; the end of $log:" >&2; tail -30 "$log" >&2; exit 1; }
docker image prune --force --filter "label=org.datalab.target" >/dev/null
echo "Built $TAG in $(( $(date +%s) - start )) s"
