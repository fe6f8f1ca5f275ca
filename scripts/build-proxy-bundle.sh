#!/usr/bin/env bash
# Build the proxy bundle the Ansible role datalab_proxy installs configurable-http-proxy
# from on targets without network access: the production install of the repository's
# package.json at the versions of package-lock.json (`npm ci --omit=dev`: the proxy and
# its dependencies, the same ones `make install` gives the tests and `make run`; not the
# tests' oidc-provider, a devDependency), its node_modules packed in one tar file. Prints
# the tar's path.
# Usage: scripts/build-proxy-bundle.sh [OUTPUT_DIR]   (default: var/proxy-bundle)
#
# The tar is named after the proxy's version and a hash of its inputs (package.json,
# package-lock.json, this script) and reused when it exists. Files are packed with fixed
# names, owners, modes and times, so the same inputs give the same file (a second Ansible
# run copies nothing).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$REPO/var/proxy-bundle}" && cd "${1:-$REPO/var/proxy-bundle}" && pwd)
VERSION=$(node -p 'require(process.argv[1]).packages["node_modules/configurable-http-proxy"].version' \
  "$REPO/package-lock.json")

inputs=$(cat "$REPO/package.json" "$REPO/package-lock.json" "$0" | sha256sum | cut -c1-16)
tarball="$OUT/datalab-proxy-chp-$VERSION-$inputs.tar"
if [ -f "$tarball" ]; then echo "$tarball"; exit 0; fi

staging=$(mktemp -d "$OUT/.staging.XXXXXX")
trap 'rm -rf "$staging"' EXIT
cp "$REPO/package.json" "$REPO/package-lock.json" "$staging/"
(cd "$staging" && npm ci --omit=dev --no-audit --no-fund) >"$OUT/build.log" 2>&1 \
  || { tail -20 "$OUT/build.log" >&2; exit 1; }
tar --sort=name --mtime=@315532800 --owner=0 --group=0 --numeric-owner --mode=u=rwX,go=rX \
  -C "$staging" -cf "$tarball.part" node_modules
mv "$tarball.part" "$tarball"
# one bundle at a time (the example inventories pick the one in this directory)
find "$OUT" -maxdepth 1 -name 'datalab-proxy-*.tar' ! -name "$(basename "$tarball")" -delete
echo "$tarball"
