#!/usr/bin/env bash
# Vendor the dashboard's JavaScript from npm at pinned versions, each with its license.
# Run by hand when a version changes; the files it writes are committed, so the hub serves
# them from its package (offline, no CDN) and nothing is fetched at run time or in CI.
#
#   htmx.org  -> src/kindfleet/platform/hub/ui/static/vendor/   (served by the hub, 0BSD)
#   axe-core  -> tests/browser/vendor/                           (injected by the tests, MPL-2.0)
#
# Each tarball is checked against the sha512 integrity the registry published for it.
set -euo pipefail
cd "$(dirname "$0")/.."

HTMX_VERSION=2.0.11
HTMX_INTEGRITY="sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
AXE_VERSION=4.14.1
AXE_INTEGRITY="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # name version integrity -> extracted package in $work/<name>
  local name=$1 version=$2 integrity=$3 tarball got
  tarball="$(cd "$work" && npm pack --silent "$name@$version")"
  got="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    echo "$name@$version: integrity $got is not the pinned $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/$name"
  tar -xzf "$work/$tarball" -C "$work/$name"
}

fetch htmx.org "$HTMX_VERSION" "$HTMX_INTEGRITY"
ui=src/kindfleet/platform/hub/ui/static/vendor
mkdir -p "$ui"
cp "$work/htmx.org/package/dist/htmx.min.js" "$ui/htmx.min.js"
cp "$work/htmx.org/package/LICENSE" "$ui/htmx.LICENSE"

fetch axe-core "$AXE_VERSION" "$AXE_INTEGRITY"
tests=tests/browser/vendor
mkdir -p "$tests"
cp "$work/axe-core/package/axe.min.js" "$tests/axe.min.js"
cp "$work/axe-core/package/LICENSE" "$tests/axe.LICENSE"

cat >"$ui/VERSIONS" <<EOF
htmx.org $HTMX_VERSION $HTMX_INTEGRITY (scripts/vendor-assets.sh)
EOF
cat >"$tests/VERSIONS" <<EOF
axe-core $AXE_VERSION $AXE_INTEGRITY (scripts/vendor-assets.sh)
EOF
echo "vendored htmx.org $HTMX_VERSION and axe-core $AXE_VERSION" >&2
