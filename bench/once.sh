#!/usr/bin/env bash
# bench/once.sh: times `acmed --once` (release build) issuing 1 and then 10 certificates
# (each on a fresh state directory and account) against a throwaway local Pebble
# (PEBBLE_VA_NOSLEEP=1, http-01 through acmed's webroot), and reports wall time, peak RSS
# and the HTTP requests acmed sent (counted by the fault proxy in a second, identical run,
# since the proxy's own latency would distort the timing).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target acmed curl_floor >/dev/null
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

# run STATE-DIR PROVIDER N: prepares N targets and runs acmed --once; prints "secs maxrss_kb".
run() {
    local st=$1 prov=$2 n=$3 i
    mkdir -p "$st/conf" "$st/desired"
    printf 'request:\n  challenge:\n    webroot-paths: [%s]\n  account:\n    agree-tos: true\n' \
        "$T/www/.well-known/acme-challenge" >"$st/conf/target"
    for ((i = 0; i < n; i++)); do : >"$st/desired/c$i.$(basename "$st").bench.test"; done
    # Peak RSS through /usr/bin/time: Linux counts the memory a child had before its exec,
    # so a Python parent's own ~13 MiB would show up in RUSAGE_CHILDREN instead of acmed's.
    python3 - "$src/build/acmed" "$st" "$PEBBLE_CA" "$prov" "$T/time.out" <<'PY'
import subprocess, sys, time
acmed, st, ca, prov, out = sys.argv[1:6]
t0 = time.monotonic()
rc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out, acmed, "--state", st,
                     "--ca-bundle", ca, "--provider", prov, "--once"],
                    stderr=subprocess.DEVNULL).returncode
t1 = time.monotonic()
if rc != 0:
    sys.exit("acmed --once exited %d" % rc)
print("%.3f %d" % (t1 - t0, int(open(out).read().split()[-1])))
PY
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

for n in 1 10; do
    read -r secs rss < <(run "$T/t$n" "$PEBBLE_DIRECTORY" "$n")
    before=$(curl -s "http://127.0.0.1:$cport/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
    run "$T/p$n" "https://127.0.0.1:$pport/dir" "$n" >/dev/null
    after=$(curl -s "http://127.0.0.1:$cport/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
    echo "$n certificate(s): ${secs} s, peak RSS $(mib "$rss") MiB, $((after - before)) requests"
done
# The floor no libcurl user goes below: loading libcurl-gnutls (and the 30-odd libraries it
# pulls in: OpenSSL's libcrypto through libssh2, Kerberos, LDAP...) and curl_global_init.
echo "libcurl-gnutls floor (bench/curl_floor.c: load and curl_global_init only): peak RSS" \
    "$(mib "$(build/bench/curl_floor)") MiB"
