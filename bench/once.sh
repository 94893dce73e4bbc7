#!/usr/bin/env bash
# bench/once.sh: times `acmed --once` (release build) issuing 1 and then 10 certificates
# (each on a fresh state directory and account) against a throwaway local Pebble
# (PEBBLE_VA_NOSLEEP=1, http-01 through acmed's webroot), and reports wall time, peak RSS,
# its anonymous and file-backed parts, and the HTTP requests acmed sent (counted by the fault
# proxy in a second, identical run, since the proxy's own latency would distort the timing).
# As root each is measured twice: privilege-separated (the default: the keeper and its worker,
# whose memory the keeper reports) and as one process (conf/acmed.yaml privsep: false).
# Then the floors, measured the same way: libcurl-gnutls initialised (bench/curl_floor.c) and
# one bare HTTPS GET of Pebble's directory (bench/tls_floor.c), each as is and with libssh2's
# OpenSSL initialisation skipped as acmed skips it (net/http.c).
#
# Environment: ONCE_RUNS (default 5) runs of each measurement, reported as median (min);
# ACMED_BENCH_BUILD (default build) the build directory.
#
# Peak RSS is /usr/bin/time's %M (the kernel's maximum resident set over the whole life of the
# process, exit included). The anonymous and file-backed parts come from the process itself:
# acmed with ACMED_BENCH_MEMSTAT=1 prints VmHWM, VmRSS, RssAnon and RssFile from
# /proc/self/status at exit (util/proc.h), the floors print the same line when they end.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
B=${ACMED_BENCH_BUILD:-build}
RUNS=${ONCE_RUNS:-5}
tests/install-deps.sh
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j"$(nproc 2>/dev/null || echo 2)" --target acmed curl_floor tls_floor \
    >/dev/null
T=$(mktemp -d /tmp/acmed-bench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done;
      tests/pebble/fixture.sh stop "$T/pebble" >/dev/null 2>&1; rm -rf "$T"' EXIT
tests/pebble/fixture.sh start "$T/pebble" own-responders >/dev/null
. "$T/pebble/env"
mkdir -p "$T/www/.well-known/acme-challenge"
python3 tests/cli/webroot_server.py "$PEBBLE_HTTP_PORT" "$T/www" \
    >/dev/null 2>&1 </dev/null &
pids+=($!)
python3 tests/faultproxy/faultproxy.py --listen 127.0.0.1:0 --control 127.0.0.1:0 \
    --upstream "${PEBBLE_DIRECTORY%/dir}" --upstream-ca "$PEBBLE_CA" \
    --cert "$T/pebble/cert.pem" --key "$T/pebble/key.pem" --ready-file "$T/proxy.ready" \
    >/dev/null 2>&1 </dev/null &
pids+=($!)
for _ in $(seq 200); do [[ -s $T/proxy.ready ]] && break; sleep 0.05; done
read -r pport cport <"$T/proxy.ready"
sleep 0.3

# measure [--may-fail] CMD...: runs CMD under /usr/bin/time with ACMED_BENCH_MEMSTAT=1 and prints
# "secs maxrss_kb rss_kb anon_kb file_kb" (the last three from the memstat line CMD writes on
# stdout or stderr). Peak RSS through /usr/bin/time: Linux counts the memory a child had before its exec,
# so a Python parent's own ~13 MiB would show up in RUSAGE_CHILDREN instead of the command's.
measure() {
    python3 - "$T/time.out" "$@" <<'PY'
import os, re, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
may_fail = cmd[0] == "--may-fail"
if may_fail:
    cmd = cmd[1:]
env = dict(os.environ, ACMED_BENCH_MEMSTAT="1")
t0 = time.monotonic()
p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + cmd, env=env,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
t1 = time.monotonic()
if p.returncode != 0 and not may_fail:
    sys.exit("%s exited %d: %s" % (cmd[0], p.returncode, p.stderr[-500:]))
m = re.search(r"memstat: VmHWM=(\d+) VmRSS=(\d+) RssAnon=(\d+) RssFile=(\d+) kB",
              p.stdout + p.stderr)
if not m:
    sys.exit("%s printed no memstat line" % cmd[0])
# Under privilege separation the keeper also reports its worker's (peak and at the end).
w = re.search(r"memstat worker: VmHWM=(\d+) VmRSS=(\d+) RssAnon=(\d+) RssFile=(\d+) kB",
              p.stdout + p.stderr)
print("%.3f %d %s %s %s %s %s" % (t1 - t0, int(open(out).read().split()[-1]), m.group(2),
                                  m.group(3), m.group(4), w.group(1) if w else 0,
                                  w.group(2) if w else 0))
PY
}

# acmed_once STATE-DIR PROVIDER N [CA-BUNDLE]: prepares N targets and measures acmed --once,
# trusting CA-BUNDLE (default Pebble's CA; "" the system's, so that acmed fails).
acmed_once() {
    local st=$1 prov=$2 n=$3 ca=${4-$PEBBLE_CA} i
    mkdir -p "$st/conf" "$st/desired"
    # SINGLE=1: one process (as root acmed otherwise separates privileges).
    if [[ ${SINGLE:-0} == 1 ]]; then printf 'privsep: false\n' >"$st/conf/acmed.yaml"; fi
    printf 'request:\n  challenge:\n    webroot-paths: [%s]\n  account:\n    agree-tos: true\n' \
        "$T/www/.well-known/acme-challenge" >"$st/conf/target"
    for ((i = 0; i < n; i++)); do : >"$st/desired/c$i.$(basename "$st").bench.test"; done
    if [[ -n $ca ]]; then
        measure "$src/$B/acmed" --state "$st" --ca-bundle "$ca" --provider "$prov" --once
    else
        (unset ACMED_CA_BUNDLE; measure --may-fail "$src/$B/acmed" --state "$st" \
            --provider "$prov" --once)
    fi
}

# summary: reads RUNS lines of "secs maxrss rss anon file" and prints the medians (and minima).
summary() {
    python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
col = lambda i: [r[i] for r in rows]
med = lambda i: statistics.median_low(col(i))
mib = lambda k: k / 1024
s = ("%.3f s (min %.3f), peak RSS %.1f MiB (min %.1f), at exit %.1f MiB = %.1f anonymous + "
     "%.1f file-backed" % (med(0), min(col(0)), mib(med(1)), mib(min(col(1))), mib(med(2)),
                           mib(med(3)), mib(med(4))))
if len(rows[0]) > 5 and med(5) > 0:
    s = s.replace("peak RSS", "keeper peak RSS", 1)
    s += "; worker peak RSS %.1f MiB, %.1f MiB at the end" % (mib(med(5)), mib(med(6)))
print(s)'
}

count() {
    curl -s "http://127.0.0.1:$cport/count" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}

# As root acmed separates privileges (a worker talks to the CA): both ways, side by side.
for n in 1 10; do
    for single in 0 1; do
        [[ $single == 0 && $(id -u) != 0 ]] && continue
        for ((r = 0; r < RUNS; r++)); do
            SINGLE=$single acmed_once "$T/t$n-$single-$r" "$PEBBLE_DIRECTORY" "$n"
        done >"$T/runs"
        before=$(count)
        SINGLE=$single acmed_once "$T/p$n-$single" "https://127.0.0.1:$pport/dir" "$n" >/dev/null
        after=$(count)
        label="privilege-separated"
        [[ $single == 1 ]] && label="one process (privsep: false)"
        echo "$n certificate(s), $label, $RUNS runs: $(summary <"$T/runs"), $((after - before)) requests"
    done
done

# Against a public CA acmed trusts the system's CAs (no --ca-bundle), and the parsed trust
# store is then the largest single item. Pebble's certificate is not among them, so acmed stops
# at its first request, once the handshake has loaded the store and verified with it: a lower
# bound for one issuance against a public CA.
for ((r = 0; r < RUNS; r++)); do
    acmed_once "$T/s-$r" "$PEBBLE_DIRECTORY" 1 ""
done >"$T/runs"
echo "1 certificate, system trust store (no --ca-bundle; stops at the first request):" \
    "$(summary <"$T/runs" | sed 's/^[^,]*, //')"

# The floors no libcurl user goes below: loading libcurl-gnutls (and the 30-odd libraries it
# pulls in: OpenSSL's libcrypto through libssh2, Kerberos, LDAP...) and initialising it; then
# one TLS handshake and GET through the same libraries, trusting Pebble's CA as acmed above,
# then trusting the system's CAs (the handshake fails after loading them).
floor() { # floor LABEL CMD...
    local label=$1 r
    shift
    for ((r = 0; r < RUNS; r++)); do measure "$@"; done >"$T/runs"
    echo "$label: $(summary <"$T/runs" | sed 's/^[^,]*, //')"
}
floor "libcurl-gnutls floor (bench/curl_floor.c: curl_global_init + curl_easy_init)" \
    "$B/bench/curl_floor"
floor "  the same, libssh2's crypto init skipped as in acmed (curl_floor --no-ssh-crypto)" \
    "$B/bench/curl_floor" --no-ssh-crypto
floor "bare TLS handshake floor (bench/tls_floor.c: one HTTPS GET of the directory)" \
    "$B/bench/tls_floor" "$PEBBLE_DIRECTORY" "$PEBBLE_CA"
floor "  the same, libssh2's crypto init skipped as in acmed (tls_floor ... --no-ssh-crypto)" \
    "$B/bench/tls_floor" "$PEBBLE_DIRECTORY" "$PEBBLE_CA" --no-ssh-crypto
floor "  the same, libcurl's default trust store (tls_floor URL '' --no-ssh-crypto; fails)" \
    --may-fail "$B/bench/tls_floor" "$PEBBLE_DIRECTORY" "" --no-ssh-crypto
sysbundle=/etc/ssl/certs/ca-certificates.crt
if [[ -f $sysbundle ]]; then
    floor "  the same, trusting $sysbundle alone, as acmed then does (fails)" \
        --may-fail "$B/bench/tls_floor" "$PEBBLE_DIRECTORY" "$sysbundle" --no-ssh-crypto
fi
