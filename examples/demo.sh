#!/usr/bin/env bash
# The README's first command: installs what acmed needs, builds it into build/, and shows it
# working against a throwaway local Pebble ACME server on loopback ports.
#
# Today it prints `acmed --version` and the directory of the local Pebble; when issuance
# lands it grows into the full demo (want a name, watch the certificate arrive).
set -euo pipefail

cd "$(dirname "$0")/.."
tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target acmed >/dev/null

echo "== build/acmed --version"
build/acmed --version

dir=$(mktemp -d /tmp/acmed-demo.XXXXXX)
cleanup() {
    tests/pebble/fixture.sh stop "$dir/pebble" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

echo "== starting a local Pebble (loopback only)"
tests/pebble/fixture.sh start "$dir/pebble" default >/dev/null
# shellcheck disable=SC1091
. "$dir/pebble/env"
echo "== Pebble's ACME directory at $PEBBLE_DIRECTORY"
curl -sS --cacert "$PEBBLE_CA" "$PEBBLE_DIRECTORY"
echo
echo "demo: done (Pebble stopped)"
