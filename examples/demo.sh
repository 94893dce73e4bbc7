#!/usr/bin/env bash
# The README's first command: installs what acmed needs, builds it into build/, and runs
# the whole loop against a throwaway local Pebble ACME server on loopback ports:
#
#   1. start Pebble (with its DNS pointed at a test server resolving every name to 127.0.0.1)
#      and a small web server for http-01 answers on Pebble's validation port;
#   2. drop a desired file (`acmed want`), which runs one reconcile pass: account, key,
#      order, http-01 through the webroot, finalize, download, install;
#   3. show `acmed status` and the issued chain.
#
# Nothing leaves the machine. The state directory is kept for you to look at (its path is
# printed at the end); the servers are stopped.
set -euo pipefail

cd "$(dirname "$0")/.."
src=$(pwd)
tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target acmed >/dev/null

echo "== build/acmed --version"
build/acmed --version

dir=$(mktemp -d /tmp/acmed-demo.XXXXXX)
web_pid=""
cleanup() {
    [[ -n $web_pid ]] && kill "$web_pid" 2>/dev/null
    "$src/tests/pebble/fixture.sh" stop "$dir/pebble" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== starting a local Pebble (loopback only)"
tests/pebble/fixture.sh start "$dir/pebble" own-responders >/dev/null
# shellcheck disable=SC1091
. "$dir/pebble/env"
echo "   ACME directory: $PEBBLE_DIRECTORY"

# http-01 answers: acmed writes them into the webroot; this server shows them to Pebble.
webroot=$dir/www/.well-known/acme-challenge
mkdir -p "$webroot"
python3 tests/cli/webroot_server.py "$PEBBLE_HTTP_PORT" "$dir/www" \
    >"$dir/www.log" 2>&1 </dev/null &
web_pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PEBBLE_HTTP_PORT") 2>/dev/null && break
    sleep 0.05
done

state=$dir/state
mkdir -p "$state/conf"
cat >"$state/conf/target" <<YAML
request:
  provider: $PEBBLE_DIRECTORY
  challenge:
    webroot-paths: [$webroot]
  account:
    agree-tos: true
YAML
acmed() { "$src/build/acmed" --state "$state" --ca-bundle "$PEBBLE_CA" "$@"; }

echo "== acmed want demo.acmed.test www.demo.acmed.test"
acmed want demo.acmed.test www.demo.acmed.test
echo
echo "== acmed status"
acmed status
echo
echo "== the issued chain (live/demo.acmed.test/fullchain)"
certtool -i --infile "$state/live/demo.acmed.test/cert" |
    grep -E 'Subject:|Issuer:|Not Before|Not After|DNSname' | sed 's/^\s*/   /'
echo "   chain: $(grep -c 'BEGIN CERTIFICATE' "$state/live/demo.acmed.test/fullchain") certificates"
echo
echo "demo: done. State directory kept in $state (Pebble stopped)."
