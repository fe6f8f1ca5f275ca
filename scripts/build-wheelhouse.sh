#!/usr/bin/env bash
# Build the wheelhouse the Ansible role datalab_hub installs the hub from on targets
# without network access: DataLab Hub's wheel with its PostgreSQL extra and every pinned
# dependency (requirements.lock), packed in one tar file. Prints the tar's path.
# Usage: scripts/build-wheelhouse.sh [OUTPUT_DIR]   (default: var/wheelhouse)
#
# The tar is named after a hash of its inputs (the hub's tracked sources, pyproject.toml,
# requirements.lock) and reused when it exists; wheels already downloaded are kept in
# OUTPUT_DIR/cache. Wheels are built with a fixed SOURCE_DATE_EPOCH and packed with fixed
# names, owners and times, so the same inputs give the same file (a second Ansible run
# copies nothing).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$REPO/var/wheelhouse}" && cd "${1:-$REPO/var/wheelhouse}" && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO/pyproject.toml")

inputs=$(cd "$REPO" && git ls-files -z hub pyproject.toml requirements.lock jupyterhub_config.py \
  | xargs -0 cat | sha256sum | cut -c1-16)
tarball="$OUT/datalab-hub-$VERSION-$inputs.tar"
if [ -f "$tarball" ]; then echo "$tarball"; exit 0; fi

mkdir -p "$OUT/cache"
staging=$(mktemp -d "$OUT/.staging.XXXXXX")
trap 'rm -rf "$staging"' EXIT
export SOURCE_DATE_EPOCH=315532800
had_build=$([ -e "$REPO/build" ] && echo yes || echo no)
"$PYTHON" -m pip wheel --quiet --no-cache-dir --find-links "$OUT/cache" \
  --wheel-dir "$staging/wheels" -c "$REPO/requirements.lock" "$REPO[postgres]" \
  >"$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log" >&2; exit 1; }
[ "$had_build" = yes ] || rm -rf "$REPO/build"  # setuptools' in-tree build directory
find "$staging/wheels" -name '*.whl' ! -name 'datalab_hub-*' -exec cp -n {} "$OUT/cache/" \;
tar --sort=name --mtime=@315532800 --owner=0 --group=0 --numeric-owner \
  -C "$staging" -cf "$tarball.part" wheels
mv "$tarball.part" "$tarball"
# one wheelhouse at a time (the example inventories pick the one in this directory)
find "$OUT" -maxdepth 1 -name 'datalab-hub-*.tar' ! -name "$(basename "$tarball")" -delete
echo "$tarball"
