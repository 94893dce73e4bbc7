#!/usr/bin/env bash
# bench/daemon.sh: the daemon's footprint against a throwaway local Pebble
# (PEBBLE_VA_NOSLEEP=1, http-01 through acmed's built-in listener): wall time and peak RSS
# while 50 certificates are issued at once, then idle RSS with 100 certificates under
# management and its CPU time over 20 idle seconds (no busy polling).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target acmed >/dev/null
T=$(mktemp -d /tmp/acmed-bench.XXXXXX)
dpid=""
trap '[[ -n $dpid ]] && kill $dpid 2>/dev/null; tests/pebble/fixture.sh stop "$T/pebble" >/dev/null 2>&1; rm -rf "$T"' EXIT
tests/pebble/fixture.sh start "$T/pebble" own-responders >/dev/null
. "$T/pebble/env"
st=$T/state
mkdir -p "$st/conf" "$st/desired" "$T/d"
printf 'request:\n  challenge:\n    type: [http-01]\n    http-ports: ["127.0.0.1:%s"]\n  account:\n    agree-tos: true\n' \
    "$PEBBLE_HTTP_PORT" >"$st/conf/target"
printf 'max-orders: 50\nmax-requests-per-ca: 64\n' >"$st/conf/acmed.yaml"
"$src/build/acmed" --state "$st" --ca-bundle "$PEBBLE_CA" --provider "$PEBBLE_DIRECTORY" \
    >"$T/daemon.log" 2>&1 &
dpid=$!
sleep 0.5
rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$dpid/status"; }
hwm() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$dpid/status"; }
live_count() { find "$st/live" -maxdepth 1 -type l | wc -l; }
batch() { # batch FROM TO: drops desired files at once, waits until all are live
    local i t0 t1 n=$(($2 - $1 + 1)) before
    before=$(live_count)
    for ((i = $1; i <= $2; i++)); do : >"$T/d/c$i.bench.test"; done
    t0=$(date +%s.%N)
    mv "$T"/d/* "$st/desired/"
    for _ in $(seq 1200); do (($(live_count) >= before + n)) && break; sleep 0.05; done
    t1=$(date +%s.%N)
    echo "$n certificates at once: $(python3 -c "print(round($t1 - $t0, 3))") s (wall, from the drop to the last live link)"
}
echo "idle RSS at start: $(rss) MiB"
batch 1 50
echo "peak RSS so far: $(hwm) MiB"
batch 51 100
sleep 2
c0=$(awk '{print $14 + $15}' "/proc/$dpid/stat")
r0=$(rss)
sleep 20
c1=$(awk '{print $14 + $15}' "/proc/$dpid/stat")
echo "idle with 100 certificates: RSS $(rss) MiB (was $r0), CPU over 20 s idle: $((c1 - c0)) ticks"
echo "peak RSS overall: $(hwm) MiB"
