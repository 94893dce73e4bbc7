#!/usr/bin/env bash
# bench/serve.sh: 50 clients posting 50 distinct CSRs at once to `acmed serve` (release build,
# issue 15) against a throwaway local Pebble (PEBBLE_VA_NOSLEEP=1), then the same 50 again.
#
# Before any clock: 50 ECDSA P-256 keys and CSRs made by openssl (c<i>.bench.test with the SAN
# www.c<i>.bench.test) and their HMAC headers. Client i posts from 127.0.0.(2 + i/5): five from
# each of ten source addresses. conf/serve.yaml has four client rules covering 127.0.0.0/24:
# 127.0.0.2-3 plain, 127.0.0.4-7 and 127.0.0.8-11 each with its own hmac-key-file (the first
# sends the seed's `HMAC-SHA256:` header, the second `Authentication: hmac name=sha256,
# hash=...`), the rest of the /24 for other names only.
#
# Each run has its own Pebble (own responders off), fault proxy, fleet web server
# (tests/cli/fleet_web.py on 127.0.0.1 at Pebble's http-01 port, proxying
# /.well-known/acme-challenge/ to serve's http-01 listener) and state directory (so a fresh
# account): Pebble's new-order walks every authorization it ever made, so a Pebble shared by
# the runs would make each run slower than the one before. `acmed serve` starts under
# /usr/bin/time with ACMED_BENCH_MEMSTAT=1. Burst 1: the 50 curl clients started at once, each
# posting its CSR (curl --interface --data-binary, the HMAC header where its rule asks for
# one); every answer must be 200 with a chain that verifies against Pebble's root and holds
# the client's key and both names (checked for all 50 in the first run of each setting; the
# script fails loudly otherwise). The server's RSS (keeper and worker, /proc/PID/status) a
# second after it. Burst 2: the same 50 CSRs again, every answer 200 and byte for byte burst
# 1's chain (from served/). Then SIGTERM; the peaks come from the memstat lines (the keeper
# prints its own and its worker's at exit) and /usr/bin/time's %M (the larger of the two).
# A burst's wall time runs from the start of the first curl to the end of the last (the driver
# starts all 50 before it waits for any).
#
# All of that with conf/acmed.yaml max-orders 8 (the default) and 50. The timed runs talk to
# Pebble directly; one more run of each, identical but with --provider pointing at the fault
# proxy (tests/faultproxy), counts the requests to the CA by kind for each burst: the second
# must make no new order.
#
# Pebble 2.4 can deadlock under many parallel orders of one account (its Authz handler holds
# an authorization's lock while it waits for the store's read lock; new-order holds the
# store's read lock while it waits for each authorization's; a pending writer, AddChallenge,
# closes the circle): every request then hangs. A burst that has not ended after SERVE_HANG
# seconds (default 40) is stopped, Pebble is asked for its goroutines (SIGQUIT) and, when one
# waits in FindValidAuthorization, the run is repeated on a fresh Pebble (at most 3 times,
# reported); anything else fails the script.
#
# Environment: SERVE_RUNS (default 3) timed runs of each setting, reported as median (min);
# ACMED_BENCH_BUILD (default build) the build directory; SERVE_PRIVSEP=0 sets privsep: false
# (as root acmed otherwise separates privileges: the keeper runs the endpoint, its worker
# talks to the CA); SERVE_CLIENTS (default 50); SERVE_KEEP_LOGS=DIR copies the work directory
# there at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
B=${ACMED_BENCH_BUILD:-build}
RUNS=${SERVE_RUNS:-3}
N=${SERVE_CLIENTS:-50}
HANG=${SERVE_HANG:-40}
tests/install-deps.sh
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j"$(nproc 2>/dev/null || echo 2)" --target acmed >/dev/null
T=$(mktemp -d /tmp/acmed-bench-serve.XXXXXX)
pids=()    # this run's helpers (fault proxy, fleet web server)
spid=""    # /usr/bin/time of the running serve, if any
kpid=""    # acmed under it
PEB=""     # this run's Pebble directory
retries=0  # runs repeated after a Pebble deadlock
cleanup() {
    local i
    if [[ -n $spid ]]; then
        kill -TERM "$kpid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$kpid" 2>/dev/null || true
    fi
    infra_down
    if [[ -n ${SERVE_KEEP_LOGS:-} ]]; then
        mkdir -p "$SERVE_KEEP_LOGS"
        cp -r "$T"/. "$SERVE_KEEP_LOGS"/ 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() {
    echo "bench/serve.sh: $*" >&2
    exit 1
}

# infra_up DIR: Pebble, the fault proxy and the fleet web server for one run; sets the
# PEBBLE_* variables, pport and cport (the proxy's), SP and HP (serve's endpoint and http-01
# ports) and writes DIR/root.pem.
infra_up() {
    local d=$1 i
    PEB=$d/pebble
    tests/pebble/fixture.sh start "$PEB" own-responders >"$d/fixture.log" 2>&1 ||
        die "Pebble did not start: $(tail -5 "$d/fixture.log")"
    # shellcheck disable=SC1091
    . "$PEB/env"
    curl -sf --max-time 5 --cacert "$PEBBLE_CA" "$PEBBLE_MGMT/roots/0" >"$d/root.pem" ||
        die "cannot read Pebble's root"
    python3 tests/faultproxy/faultproxy.py --listen 127.0.0.1:0 --control 127.0.0.1:0 \
        --upstream "${PEBBLE_DIRECTORY%/dir}" --upstream-ca "$PEBBLE_CA" \
        --cert "$PEB/cert.pem" --key "$PEB/key.pem" --ready-file "$d/proxy.ready" \
        >"$d/proxy.log" 2>&1 </dev/null &
    pids+=($!)
    for ((i = 0; i < 200; i++)); do [[ -s $d/proxy.ready ]] && break; sleep 0.05; done
    [[ -s $d/proxy.ready ]] || die "the fault proxy did not start: $(cat "$d/proxy.log")"
    read -r pport cport <"$d/proxy.ready"
    read -r SP HP <<<"$(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')"
    python3 tests/cli/fleet_web.py 127.0.0.1 "$PEBBLE_HTTP_PORT" "127.0.0.1:$HP" \
        >"$d/web.log" 2>&1 </dev/null &
    pids+=($!)
}

infra_down() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
    [[ -n $PEB ]] && tests/pebble/fixture.sh stop "$PEB" >/dev/null 2>&1
    PEB=""
}

# ---- the clients: keys, CSRs and HMAC headers, all before any clock ----
mkdir -p "$T/cl"
printf 'bench key one\n' >"$T/mac1.key"
printf 'bench key two\n' >"$T/mac2.key"
chmod 600 "$T/mac1.key" "$T/mac2.key"
for ((i = 0; i < N; i++)); do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
        -keyout "$T/cl/$i.key" -subj "/CN=c$i.bench.test" \
        -addext "subjectAltName=DNS:c$i.bench.test,DNS:www.c$i.bench.test" \
        -out "$T/cl/$i.csr" 2>/dev/null || die "openssl req failed for client $i"
    a=$((2 + i / 5))
    hdr=""
    if ((a >= 4 && a <= 7)); then
        hdr="$(openssl dgst -sha256 -hmac "bench key one" "$T/cl/$i.csr" | sed -e 's/(.*)=/:/')"
    elif ((a >= 8)); then
        hdr="Authentication: hmac name=sha256, hash=$(openssl dgst -sha256 -hmac "bench key two" \
            -r "$T/cl/$i.csr" | cut -d' ' -f1)"
    fi
    printf '%s\t127.0.0.%s\t%s\n' "$i" "$a" "$hdr"
done >"$T/clients"
[[ $(for f in "$T/cl/"*.csr; do sha256sum <"$f"; done | sort -u | wc -l) == "$N" ]] ||
    die "the $N CSRs are not distinct"
naddr=$(cut -f2 "$T/clients" | sort -u | wc -l)

# burst OUTDIR: the N clients at once; prints "wall_seconds answered_200", or "hang 0" when
# some had no answer after HANG seconds (they are stopped); each client's answer in
# OUTDIR/<i>.pem, its status in OUTDIR/<i>.code.
burst() {
    mkdir -p "$1"
    python3 - "$T/clients" "$T/cl" "$1" "http://127.0.0.1:$SP/sign" "$HANG" <<'PY'
import subprocess, sys, time
clients, cl, out, url, hang = sys.argv[1:]
argvs = []
for line in open(clients):
    i, addr, hdr = line.rstrip("\n").split("\t")
    a = ["curl", "-s", "--max-time", "600", "--interface", addr, "-o", "%s/%s.pem" % (out, i),
         "-w", "%{http_code}", "--data-binary", "@%s/%s.csr" % (cl, i)]
    if hdr:
        a += ["-H", hdr]
    argvs.append((i, a + [url]))
t0 = time.monotonic()
procs = [(i, subprocess.Popen(a, stdout=subprocess.PIPE, text=True)) for i, a in argvs]
codes, hung = {}, False
for i, p in procs:
    try:
        codes[i] = p.communicate(timeout=max(0.1, t0 + float(hang) - time.monotonic()))[0]
    except subprocess.TimeoutExpired:
        hung = True
        p.kill()
        codes[i] = p.communicate()[0] or "none"
t1 = time.monotonic()
for i, c in codes.items():
    open("%s/%s.code" % (out, i), "w").write(c + "\n")
print("hang 0" if hung else "%.3f %d" % (t1 - t0, sum(c == "200" for c in codes.values())))
PY
}

# verify OUTDIR: every answer is a chain that verifies against Pebble's root and is for its
# client's key and both its names.
verify() {
    local i
    for ((i = 0; i < N; i++)); do
        openssl verify -CAfile "$rd/root.pem" -untrusted "$1/$i.pem" "$1/$i.pem" >/dev/null 2>&1 ||
            die "client $i: the chain does not verify: $(head -c 300 "$1/$i.pem")"
        [[ $(openssl x509 -in "$1/$i.pem" -noout -pubkey | openssl sha256) == \
            $(openssl pkey -in "$T/cl/$i.key" -pubout | openssl sha256) ]] ||
            die "client $i: the chain is not for its key"
        openssl x509 -in "$1/$i.pem" -noout -ext subjectAltName |
            grep -q "DNS:c$i.bench.test, DNS:www.c$i.bench.test" ||
            die "client $i: the certificate lacks a name"
    done
}

# check_codes OUTDIR ANSWERED: fails loudly unless all N answered 200.
check_codes() {
    local i
    [[ $2 == "$N" ]] && return 0
    for ((i = 0; i < N; i++)); do
        [[ $(cat "$1/$i.code") == 200 ]] ||
            echo "client $i: HTTP $(cat "$1/$i.code"): $(head -c 300 "$1/$i.pem" 2>/dev/null)" >&2
    done
    tail -30 "$st/serve.log" >&2
    die "only $2 of $N clients got 200"
}

# pebble_deadlocked: true when Pebble's goroutine dump (SIGQUIT, which also ends it) shows a
# request waiting in FindValidAuthorization, Pebble 2.4's lock-order circle (see the top).
pebble_deadlocked() {
    local i
    kill -QUIT "$PEBBLE_PID" 2>/dev/null || return 1
    for ((i = 0; i < 40; i++)); do kill -0 "$PEBBLE_PID" 2>/dev/null || break; sleep 0.05; done
    grep -q 'MemoryStore).FindValidAuthorization' "$PEB/pebble.log"
}

rss() { # rss PID: VmRSS in kB (0 when gone)
    awk '/^VmRSS:/{r=$2} END{print r + 0}' "/proc/$1/status" 2>/dev/null || echo 0
}

# start_serve PROVIDER MAX-ORDERS: a fresh state directory $st and serve on it; sets spid
# (/usr/bin/time's) and kpid (acmed's: the keeper under privilege separation).
start_serve() {
    local i
    mkdir -p "$st/conf"
    cat >"$st/conf/target" <<'YAML'
request:
  challenge:
    type: [http-01]
  account:
    agree-tos: true
YAML
    {
        printf 'max-orders: %s\n' "$2"
        [[ ${SERVE_PRIVSEP:-1} == 0 ]] && printf 'privsep: false\n'
    } >"$st/conf/acmed.yaml"
    local doms='domains: ["*.bench.test", "www.*.bench.test"]'
    cat >"$st/conf/serve.yaml" <<YAML
listen: ["127.0.0.1:$SP"]
http-01-listen: ["127.0.0.1:$HP"]
clients:
  web:  {ip: [127.0.0.2/31], $doms}
  mac1: {ip: [127.0.0.4/30], hmac-key-file: $T/mac1.key, $doms}
  mac2: {ip: [127.0.0.8/30], hmac-key-file: $T/mac2.key, $doms}
  lab:  {ip: [127.0.0.0/24], domains: ["*.lab.test"]}
YAML
    ACMED_BENCH_MEMSTAT=1 /usr/bin/time -f %M -o "$st/time.out" "$src/$B/acmed" --state "$st" \
        --ca-bundle "$PEBBLE_CA" --provider "$1" serve >"$st/serve.log" 2>&1 </dev/null &
    spid=$!
    kpid=""
    for ((i = 0; i < 200; i++)); do
        [[ -z $kpid ]] && kpid=$(awk '{print $1}' "/proc/$spid/task/$spid/children" 2>/dev/null)
        [[ -n $kpid ]] && (exec 3<>"/dev/tcp/127.0.0.1/$SP") 2>/dev/null && return 0
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$st/serve.log" >&2
    die "acmed serve is not listening on 127.0.0.1:$SP"
}

worker_pid() { # worker_pid: the keeper's acmed child (0 in one process)
    local c kids=()
    read -ra kids <"/proc/$kpid/task/$kpid/children" 2>/dev/null || true
    for c in "${kids[@]}"; do
        [[ $(cat "/proc/$c/comm" 2>/dev/null) == acmed* ]] && echo "$c" && return 0
    done
    echo 0
}

# stop_serve [--kill]: SIGTERM (or SIGKILL) to acmed, bounded wait; writes "time_maxrss
# keeper_hwm worker_hwm" (kB) to $st/peaks.
stop_serve() {
    local i sig=-TERM
    [[ -n ${1:-} ]] && sig=-KILL
    kill "$sig" "$kpid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$spid" 2>/dev/null; then
        kill -KILL "$kpid" 2>/dev/null || true
        spid=""
        die "acmed serve did not stop within 30 s of SIGTERM"
    fi
    local rc=0
    wait "$spid" || rc=$?
    spid=""
    [[ -n ${1:-} ]] && return 0
    ((rc == 0)) || die "acmed serve exited $rc: $(tail -5 "$st/serve.log")"
    python3 - "$st/time.out" "$st/serve.log" >"$st/peaks" <<'PY'
import re, sys
peak = int(open(sys.argv[1]).read().split()[-1])
log = open(sys.argv[2]).read()
k = re.search(r"memstat: VmHWM=(\d+)", log)
w = re.search(r"memstat worker: VmHWM=(\d+)", log)
if not k:
    sys.exit("acmed serve printed no memstat line")
print(peak, k.group(1), w.group(1) if w else 0)
PY
}

# requests SINCE: "TOTAL NEWORDERS|by kind" of the proxy's log entries after seq SINCE.
requests() {
    curl -s --max-time 10 "http://127.0.0.1:$cport/log?since=$1" | python3 -c '
import collections, json, re, sys
log = json.load(sys.stdin)
log = log["log"] if isinstance(log, dict) else log
kinds = collections.Counter()
for e in log:
    p = e["path"].split("?")[0]
    k = re.sub(r"^/([^/]*).*", r"\1", p) or "/"
    kinds[k] += 1
print(len(log), kinds.get("order-plz", 0), end="|")
print(", ".join("%s %d" % kv for kv in kinds.most_common()))'
}
lastseq() {
    curl -s --max-time 10 "http://127.0.0.1:$cport/log" |
        python3 -c 'import json,sys; l=json.load(sys.stdin); l=l["log"] if isinstance(l, dict) else l; print(l[-1]["seq"] if l else 0)'
}

# one_try RUNDIR PROVIDER MAX-ORDERS: one run on a fresh Pebble; writes "wall1 wall2
# keeper_rss worker_rss time_maxrss keeper_hwm worker_hwm accounts" (seconds, kB, the account
# keys under accounts/) to RUNDIR/result;
# returns 2 when Pebble deadlocked (the run is to be repeated).
one_try() {
    local w1 ok1 w2 ok2 krss wrss wp i s1
    rd=$1
    mkdir -p "$rd"
    infra_up "$rd"
    local prov=$2
    [[ $prov == proxy ]] && prov="https://127.0.0.1:$pport/dir"
    [[ $prov == direct ]] && prov=$PEBBLE_DIRECTORY
    st=$rd/state
    start_serve "$prov" "$3"
    read -r w1 ok1 < <(burst "$rd/b1")
    if [[ $w1 == hang ]]; then
        if pebble_deadlocked; then
            stop_serve --kill
            infra_down
            return 2
        fi
        die "burst 1 hung and Pebble is not deadlocked: see $rd"
    fi
    check_codes "$rd/b1" "$ok1"
    sleep 1
    krss=$(rss "$kpid")
    wp=$(worker_pid)
    wrss=0
    [[ $wp != 0 ]] && wrss=$(rss "$wp")
    [[ ${VERIFY:-1} == 1 ]] && verify "$rd/b1"
    if [[ ${COUNTING:-0} == 1 ]]; then
        requests 0 >"$rd/requests1"
        s1=$(lastseq)
    fi
    read -r w2 ok2 < <(burst "$rd/b2")
    [[ $w2 == hang ]] && die "burst 2 (the cache) hung: see $rd/state/serve.log"
    check_codes "$rd/b2" "$ok2"
    for ((i = 0; i < N; i++)); do
        cmp -s "$rd/b1/$i.pem" "$rd/b2/$i.pem" || die "client $i: burst 2 got another chain"
    done
    [[ ${COUNTING:-0} == 1 ]] && requests "$s1" >"$rd/requests2"
    stop_serve
    infra_down
    echo "$w1 $w2 $krss $wrss $(cat "$st/peaks") $(find "$st/accounts" -mindepth 2 -maxdepth 2 |
        wc -l)" >"$rd/result"
}

# one_run RUNDIR PROVIDER MAX-ORDERS: one_try, repeated (at most 3 times) after a deadlock.
one_run() {
    local k rc
    for ((k = 0; k < 4; k++)); do
        rc=0
        one_try "$1.$k" "$2" "$3" || rc=$?
        if ((rc == 0)); then
            cp "$1.$k/result" "$1.result"
            [[ -f $1.$k/requests1 ]] && cp "$1.$k/requests1" "$1.$k/requests2" "$T/"
            return 0
        fi
        ((rc == 2)) || die "run $1 failed"
        retries=$((retries + 1))
        echo "bench/serve.sh: Pebble deadlocked in $1 (try $((k + 1))); again on a fresh one" >&2
    done
    die "Pebble deadlocked 4 times in a row in $1"
}

summary() { # summary: RUNS result lines -> medians (minima), '|'-separated
    python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
col = lambda i: [r[i] for r in rows]
med = lambda i: statistics.median_low(col(i))
mib = lambda k: k / 1024
one = med(6) == 0  # privsep: false, no worker
print("%.2f s (%.2f)|%.2f s (%.2f)|%.1f MiB (%.1f)|%s|%.1f MiB|%s|%.1f MiB" % (
    med(0), min(col(0)), med(1), min(col(1)), mib(med(5)), mib(min(col(5))),
    "-" if one else "%.1f MiB (%.1f)" % (mib(med(6)), mib(min(col(6)))), mib(med(2)),
    "-" if one else "%.1f MiB" % mib(med(3)), mib(med(4))), end="|")
print("%d (%d-%d)" % (med(7), min(col(7)), max(col(7))))'
}

declare -A res kinds
for mo in 8 50; do
    for ((r = 0; r < RUNS; r++)); do
        VERIFY=$([[ $r == 0 ]] && echo 1 || echo 0) one_run "$T/t$mo-$r" direct "$mo"
        cat "$T/t$mo-$r.result"
    done >"$T/runs"
    res[$mo]=$(summary <"$T/runs")
    # The same through the fault proxy, to count the requests to the CA.
    VERIFY=0 COUNTING=1 one_run "$T/p$mo" proxy "$mo"
    IFS='|' read -r c1 k1 <"$T/requests1"
    IFS="|" read -r c2 _ <"$T/requests2"
    read -r n1 o1 <<<"$c1"
    read -r n2 o2 <<<"$c2"
    ((o1 == N)) || die "max-orders $mo: burst 1 made $o1 new orders for $N CSRs"
    ((o2 == 0)) || die "max-orders $mo: burst 2 made $o2 new orders"
    res[$mo]+="|$n1 ($(python3 -c "print('%.1f' % ($n1 / $N))") per certificate)|$o1|$n2|$o2"
    kinds[$mo]=$k1
done

IFS='|' read -ra a8 <<<"${res[8]}"
IFS='|' read -ra a50 <<<"${res[50]}"
labels=("burst 1: $N distinct CSRs, first POST to last answer"
    "burst 2: the same $N CSRs (from the cache)"
    "keeper peak RSS (VmHWM at exit)"
    "worker peak RSS (VmHWM at exit)"
    "keeper RSS 1 s after burst 1"
    "worker RSS 1 s after burst 1"
    "/usr/bin/time %M (the larger)"
    "accounts registered (median, range)"
    "requests to the CA, burst 1"
    "new-order requests, burst 1"
    "requests to the CA, burst 2"
    "new-order requests, burst 2")
echo "acmed serve: $N clients from $naddr source addresses at once, all answered 200 with"
echo "chains for their keys; median (min) of $RUNS runs; requests counted in one more run of"
echo "each through the fault proxy; runs repeated after a Pebble deadlock: $retries"
echo
echo "| | max-orders 8 | max-orders 50 |"
echo "|---|---|---|"
for ((k = 0; k < ${#labels[@]}; k++)); do
    echo "| ${labels[$k]} | ${a8[$k]} | ${a50[$k]} |"
done
echo
echo "requests of burst 1 by path, max-orders 8: ${kinds[8]}"
echo "requests of burst 1 by path, max-orders 50: ${kinds[50]}"
