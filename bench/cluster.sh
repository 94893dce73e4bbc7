#!/usr/bin/env bash
# bench/cluster.sh: fleet mode (issue 16, DESIGN.md §12) at 100 targets: three acmed daemons
# sharing a three-member etcd (tests/etcd/fixture.sh) against one fleet node alone, and one
# daemon without fleet mode for reference, each against a throwaway local Pebble
# (PEBBLE_VA_NOSLEEP=1, own responders: http-01 answered by acmed's built-in listeners).
#
# Settings (each run on a fresh Pebble, fresh state directories and a fresh etcd prefix, so a
# fresh account):
#   plain    one daemon without cluster:, its listener on 127.0.0.1; the 100 desired files
#            moved into desired/ at once (the clock starts at the move)
#   fleet-1  one daemon in fleet mode, its listener on 127.0.0.1
#   fleet-3  three daemons in fleet mode, node k listening on 127.0.0.k; target i's name
#            points at node (i mod 3) + 1 (pebble-challtestsrv), so Pebble validates through
#            all three whichever node orders
# In fleet mode the targets are wanted with one `acmed cluster import` from a fourth state
# directory holding the 100 desired files and the same cluster: section (the clock starts
# before it runs). The clock stops when every target is live on every node (polled every
# 0.05 s). Requests: every request Pebble's log shows ("-> calling handler()" lines: the
# directory, nonces, accounts, orders, authorizations, challenges, finalizations,
# certificates), and its new orders ("Added order" lines) apart.
#
# Pebble 2.4 can deadlock under many parallel orders (bench/README.md, certificate server): a
# run that is not done after CLUSTER_HANG seconds (default 120) is repeated on a fresh Pebble,
# at most 3 times per setting, and reported.
#
# Environment: CLUSTER_RUNS (default 3) runs of each setting, reported as median (min);
# CLUSTER_TARGETS (default 100); CLUSTER_SETTINGS (default "plain fleet-1 fleet-3");
# CLUSTER_PRIVSEP=1 separates privileges (as root, user: nobody; default one process per
# node); ACMED_BENCH_BUILD (default build) the build directory; CLUSTER_KEEP_LOGS=DIR copies
# the work directory there at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
B=${ACMED_BENCH_BUILD:-build}
RUNS=${CLUSTER_RUNS:-3}
N=${CLUSTER_TARGETS:-100}
HANG=${CLUSTER_HANG:-120}
SETTINGS=${CLUSTER_SETTINGS:-plain fleet-1 fleet-3}
tests/install-deps.sh
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j"$(nproc 2>/dev/null || echo 2)" --target acmed >/dev/null
ACMED=$src/$B/acmed
T=$(mktemp -d /tmp/acmed-bench-cluster.XXXXXX)
dpids=() # the running daemons
PEB=""   # this run's Pebble directory
retries=0

stop_daemons() {
    local p i
    for p in "${dpids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${dpids[@]}"; do
        for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    dpids=()
}
cleanup() {
    stop_daemons
    [[ -n $PEB ]] && tests/pebble/fixture.sh stop "$PEB" >/dev/null 2>&1
    tests/etcd/fixture.sh stop "$T/etcd" >/dev/null 2>&1
    if [[ -n ${CLUSTER_KEEP_LOGS:-} ]]; then
        mkdir -p "$CLUSTER_KEEP_LOGS"
        cp -r "$T"/. "$CLUSTER_KEEP_LOGS"/ 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() {
    echo "bench/cluster.sh: $*" >&2
    exit 1
}

tests/etcd/fixture.sh start "$T/etcd" >"$T/etcd.log" 2>&1 || die "etcd did not start: $(tail -5 "$T/etcd.log")"
# shellcheck disable=SC1091
. "$T/etcd/env"
(umask 077 && head -c 32 /dev/urandom >"$T/secret")

# node_conf DIR K PREFIX|"": conf/acmed.yaml and conf/target of node K (fleet mode with a
# prefix, plain without).
node_conf() {
    local d=$1 k=$2 prefix=$3
    mkdir -p "$d/conf" "$d/desired"
    if [[ ${CLUSTER_PRIVSEP:-0} == 1 ]]; then
        printf 'user: nobody\nprivsep: true\n' >"$d/conf/acmed.yaml"
    else
        printf 'privsep: false\n' >"$d/conf/acmed.yaml"
    fi
    if [[ -n $prefix ]]; then
        cat >>"$d/conf/acmed.yaml" <<YAML
cluster:
  etcd:
    endpoints: [$ETCD_URL_1, $ETCD_URL_2, $ETCD_URL_3]
    prefix: $prefix
  node: node$k
  secret-file: $T/secret
YAML
    fi
    cat >"$d/conf/target" <<YAML
request:
  challenge:
    type: [http-01]
    http-ports: ["127.0.0.$k:$PEBBLE_HTTP_PORT"]
  account:
    agree-tos: true
YAML
}

# all_live NODES: every target live on nodes 1..NODES of this run ($R).
all_live() {
    local k
    for ((k = 1; k <= $1; k++)); do
        (($(find "$R/n$k/live" -maxdepth 1 -type l 2>/dev/null | wc -l) >= N)) || return 1
    done
}

# run_once SETTING DIR: one run; writes "seconds requests orders" to DIR/result, or "hang"
# when the targets were not all live after HANG seconds.
run_once() {
    local setting=$1 nodes=1 prefix="" k i t0 t1 ok=0 base
    R=$2
    mkdir -p "$R"
    PEB=$R/pebble
    tests/pebble/fixture.sh start "$PEB" own-responders >"$R/fixture.log" 2>&1 ||
        die "Pebble did not start: $(tail -5 "$R/fixture.log")"
    # shellcheck disable=SC1091
    . "$PEB/env"
    base=$(grep -c -- ' -> calling handler()' "$PEB/pebble.log" || true) # the fixture's own
    [[ $setting == fleet-3 ]] && nodes=3
    [[ $setting == fleet-* ]] && prefix=/bench-$(basename "$R")/
    for ((i = 0; i < N; i++)); do
        curl -sf --max-time 5 \
            -d "{\"host\":\"c$i.bench.test.\",\"addresses\":[\"127.0.0.$((i % nodes + 1))\"]}" \
            "$CHALLTESTSRV_MGMT/add-a" >/dev/null || die "challtestsrv add-a"
    done
    mkdir -p "$R/d"
    for ((i = 0; i < N; i++)); do : >"$R/d/c$i.bench.test"; done
    for ((k = 1; k <= nodes; k++)); do
        node_conf "$R/n$k" "$k" "$prefix"
        : >"$R/n$k.log"
        "$ACMED" --state "$R/n$k" --ca-bundle "$PEBBLE_CA" --provider "$PEBBLE_DIRECTORY" \
            >>"$R/n$k.log" 2>&1 </dev/null &
        dpids+=($!)
    done
    for ((k = 1; k <= nodes; k++)); do
        for ((i = 0; i < 200; i++)); do
            grep -q 'reconcile: ' "$R/n$k.log" && break
            sleep 0.05
        done
        grep -q 'reconcile: ' "$R/n$k.log" || die "node$k did not finish its first pass: $(tail -5 "$R/n$k.log")"
    done
    if [[ -n $prefix ]]; then
        node_conf "$R/admin" 1 "$prefix"
        mv "$R"/d/* "$R/admin/desired/"
        t0=$(date +%s.%N)
        "$ACMED" --state "$R/admin" cluster import >"$R/import.log" 2>&1 ||
            die "cluster import failed: $(cat "$R/import.log")"
    else
        t0=$(date +%s.%N)
        mv "$R"/d/* "$R/n1/desired/"
    fi
    for ((i = 0; i < HANG * 20; i++)); do
        all_live "$nodes" && ok=1 && break
        sleep 0.05
    done
    t1=$(date +%s.%N)
    # Requests by kind, "count METHOD /path", the fixture's own left out.
    tail -n +"$((base + 1))" <(grep -- ' -> calling handler()' "$PEB/pebble.log") |
        awk '{print $4, $5}' | sort | uniq -c | sort -rn >"$R/paths"
    if ((ok)); then
        echo "$(python3 -c "print(round($t1 - $t0, 3))") $(($(grep -c -- ' -> calling handler()' "$PEB/pebble.log") - base)) $(grep -c 'Added order "' "$PEB/pebble.log")" >"$R/result"
    else
        echo hang >"$R/result"
    fi
    stop_daemons
    tests/pebble/fixture.sh stop "$PEB" >/dev/null 2>&1
    PEB=""
}

summary() { # reads lines "seconds requests orders"; prints medians and the minimum time
    python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
col = lambda i: [r[i] for r in rows]
print("%.2f s (min %.2f), %d requests (%.1f per certificate), %d orders" % (
    statistics.median_low(col(0)), min(col(0)), statistics.median_low(col(1)),
    statistics.median_low(col(1)) / '"$N"', statistics.median_low(col(2))))'
}

for setting in $SETTINGS; do
    case "$setting" in plain | fleet-1 | fleet-3) ;; *) die "unknown setting $setting" ;; esac
    : >"$T/$setting.runs"
    for ((r = 0; r < RUNS; r++)); do
        for ((a = 0; a < 3; a++)); do
            run_once "$setting" "$T/$setting-$r-$a"
            out=$(cat "$T/$setting-$r-$a/result")
            last=$T/$setting-$r-$a
            [[ $out != hang ]] && break
            retries=$((retries + 1))
            echo "  $setting run $r: not done after ${HANG}s, repeated on a fresh Pebble" >&2
        done
        [[ $out != hang ]] || die "$setting: every attempt of run $r hung"
        echo "$out" >>"$T/$setting.runs"
        echo "  $setting run $r: $out (seconds, requests, orders)" >&2
    done
    echo "$N targets, $setting, median of $RUNS runs: $(summary <"$T/$setting.runs")"
    echo "  requests of the last run by kind: $(awk '{printf "%s%s %s %d", (NR > 1 ? ", " : ""), $2, $3, $1}' "$last/paths")"
done
((retries == 0)) || echo "runs repeated after a hang: $retries"
