#!/usr/bin/env bash
# bench/scale.sh: how a no-op pass scales with the number of targets. For each size (1,000,
# 3,000 and 10,000 targets by default) it builds a state directory where every target has a
# valid certificate (bench/bench_state.c: a throwaway local CA, no ACME server; the states are
# kept in SCALE_DIR when it is set, and built only once there), then:
#   - times `acmed --once` (median and minimum of SCALE_RUNS runs, default 5, after one
#     unmeasured run that may fill caches), with its peak RSS (/usr/bin/time %M);
#   - counts the connections acmed opened: --provider points at a loopback port where a
#     counting listener accepts and closes every connection (any request would fail the pass),
#     so a no-op pass must show 0 connections and exit 0 with every target satisfied;
#   - starts the daemon, waits for the end of its first pass (state/daemon.json), lets it idle
#     for a second and reads VmHWM and VmRSS from /proc/<pid>/status; then stops it.
#
# Environment: SCALE_SIZES (default "1000 3000 10000"), SCALE_RUNS (5), SCALE_DIR (a
# directory to keep the generated states in; default a temporary one removed at the end),
# SCALE_PORT (default 14999) the loopback port of the counting listener, which is also the
# directory URL written into the certificates' meta (where renewal information would be
# asked), ACMED_BENCH_BUILD (default build) the build directory, ACMED_BIN an acmed binary to
# measure instead of the build's (an older one, for "before" figures).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${ACMED_BENCH_BUILD:-build}
RUNS=${SCALE_RUNS:-5}
SIZES=${SCALE_SIZES:-"1000 3000 10000"}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j"$(nproc 2>/dev/null || echo 2)" --target acmed bench_state >/dev/null
acmed=${ACMED_BIN:-$(pwd)/$B/acmed}
port=${SCALE_PORT:-14999}
T=$(mktemp -d /tmp/acmed-scale.XXXXXX)
keep=${SCALE_DIR:-$T/states}
mkdir -p "$keep"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT

# The counting listener: its port in $T/port, the connections it accepted in $T/conns.
listener=$(cat <<'EOF'
import socket, sys, os
d = sys.argv[1]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[2])))
s.listen(64)
n = 0
def put(name, v):
    with open(os.path.join(d, name + ".tmp"), "w") as f:
        f.write(str(v))
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))
put("conns", 0)
put("port", s.getsockname()[1])
while True:
    c, _ = s.accept()
    n += 1
    put("conns", n)
    c.close()
EOF
)
python3 -c "$listener" "$T" "$port" >/dev/null 2>&1 </dev/null &
pids+=($!)
for _ in $(seq 100); do [[ -s $T/port ]] && break; sleep 0.05; done
[[ -s $T/port ]] || { echo "cannot listen on 127.0.0.1:$port (SCALE_PORT)"; exit 1; }
url="https://127.0.0.1:$port/dir"

median_min() { sort -n | awk '{a[NR] = $1} END {printf "%.3f s (min %.3f)", a[int((NR + 1) / 2)], a[1]}'; }

for n in $SIZES; do
    st=$keep/s$n
    if [[ ! -e $st/.complete ]]; then
        rm -rf "$st"
        t0=$(date +%s.%N)
        "$B/bench/bench_state" "$st" "$n" "$url" >/dev/null 2>&1
        : >"$st/.complete"
        echo "$n targets: state built in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"
    fi
    c0=$(cat "$T/conns")
    "$acmed" --state "$st" --provider "$url" --once >"$T/once.log" 2>&1 ||
        { echo "$n targets: acmed --once failed:"; tail -5 "$T/once.log"; exit 1; }
    grep -q "reconcile: $n targets, $n satisfied, 0 issued, 0 failed" "$T/once.log" ||
        { echo "$n targets: not a no-op pass:"; tail -3 "$T/once.log"; exit 1; }
    : >"$T/times"
    : >"$T/rss"
    for ((r = 0; r < RUNS; r++)); do
        /usr/bin/time -f "%e %M" -o "$T/time1" "$acmed" --state "$st" --provider "$url" \
            --once >/dev/null 2>&1
        read -r secs kb <"$T/time1"
        echo "$secs" >>"$T/times"
        echo "$((kb / 1024))" >>"$T/rss"
    done
    conns=$(($(cat "$T/conns") - c0))
    echo "$n targets: acmed --once (no-op) $(median_min <"$T/times"), peak RSS" \
        "$(sort -n "$T/rss" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}') MiB," \
        "connections $conns"
    rm -f "$st/state/daemon.json"
    "$acmed" --state "$st" --provider "$url" >"$T/daemon.log" 2>&1 &
    dpid=$!
    pids+=("$dpid")
    t0=$(date +%s.%N)
    for _ in $(seq 1200); do [[ -s $st/state/daemon.json ]] && break; sleep 0.05; done
    t1=$(date +%s.%N)
    sleep 1
    hwm=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$dpid/status")
    rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$dpid/status")
    kill "$dpid"
    wait "$dpid" || true
    echo "$n targets: daemon first pass $(python3 -c "print(round($t1 - $t0, 2))") s," \
        "idle VmRSS $rss MiB, VmHWM $hwm MiB, connections $(($(cat "$T/conns") - c0))"
done
