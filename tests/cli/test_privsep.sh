#!/usr/bin/env bash
# Privilege separation as root (issue 14, Done when): `acmed --once` started as root with
# `user: nobody` pauses mid-order (a challenge hook waits for a file) and /proc shows that the
# process with a TCP connection to the CA is the worker, running as nobody with no capability
# and NoNewPrivs set; the keeper has no connection to the CA; no byte of the account key's or
# the certificate key's private value (nor of their PEM files) is anywhere in the worker's
# memory. Released, the certificate is issued and verifies. Then the worker is killed with
# SIGKILL mid-order: it is started again and the certificate is issued in the same run.
# Finally `privsep: false` keeps one process.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
[[ $(id -u) == 0 ]] || {
    echo "test_privsep.sh: needs root (privilege separation starts only as root)" >&2
    exit 1
}
tl_pebble
tl_webroot
WEBROOT_PID=${PIDS[-1]}
tl_conf_target
# The webroot's answers are written by the keeper as root and read by the web server: fine.
printf 'user: nobody\nprivsep: true\n' >"$STATE/conf/acmed.yaml"
mkdir -p "$STATE/desired"
CA_PORT=${PROVIDER#https://127.0.0.1:}
CA_PORT=${CA_PORT%%/*}
cat >"$HOOKS/10-pause" <<HOOK
#!/bin/sh
[ "\$1" = challenge-http-start ] || exit 42
echo \$\$ >"$T/hook.pid"
i=0
while [ ! -e "$T/go" ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
exit 0
HOOK
chmod 755 "$HOOKS/10-pause"

# acmed --once; run in the background it is the direct child ($!), by exec.
once_bg() {
    exec "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" \
        --once "$@"
}

# The child of $1 that is the worker (its argv[0] says so), or nothing.
worker_of() {
    local c
    for c in $(pgrep -P "$1"); do
        if tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -q '^acmed: worker'; then
            echo "$c"
            return
        fi
    done
}

# socks PID PORT STATE: how many of process PID's TCP sockets are in STATE (01 established,
# 0A listening) with PORT as their remote (01) or local (0A) port.
socks() {
    python3 - "$@" <<'PY'
import os, sys
pid, port, state = sys.argv[1], int(sys.argv[2]), sys.argv[3]
inodes = set()
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        t = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
n = 0
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(f).readlines()[1:]:
        c = line.split()
        addr = c[2] if state == "01" else c[1]
        if c[3] == state and int(addr.split(":")[1], 16) == port and c[9] in inodes:
            n += 1
print(n)
PY
}
# Process $1's connections to the CA; its sockets listening on Pebble's http-01 port.
ca_conns() { socks "$1" "$CA_PORT" 01; }
listeners_of() { socks "$1" "$PEBBLE_HTTP_PORT" 0A; }

# Waits (bounded) for the hook to pause the run started as pid $1.
wait_pause() {
    local i
    for ((i = 0; i < 300; i++)); do
        [[ -s $T/hook.pid ]] && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# --- 1. Mid-order, from /proc ---
printf 'satisfy:\n  names: [a.privsep.test]\n' >"$STATE/desired/a"
once_bg >"$T/run1.log" 2>&1 &
KEEPER=$!
PIDS+=($KEEPER)
wait_pause "$KEEPER" || fail "the run did not reach the challenge hook: $(tail -5 "$T/run1.log")"
W=$(worker_of "$KEEPER")
[[ -n $W ]] || fail "no worker process under the keeper ($KEEPER)"
if [[ -n $W ]]; then
    read -r _ ruid euid suid _ < <(grep '^Uid:' "/proc/$W/status")
    nobody=$(id -u nobody)
    [[ $ruid == "$nobody" && $euid == "$nobody" && $suid == "$nobody" ]] ||
        fail "the worker runs as uid $ruid/$euid/$suid, not nobody"
    for cap in CapEff CapPrm CapInh CapBnd CapAmb; do
        v=$(awk -v k="$cap:" '$1 == k {print $2}' "/proc/$W/status")
        [[ $v =~ ^0+$ ]] || fail "the worker's $cap is $v"
    done
    [[ $(awk '$1 == "NoNewPrivs:" {print $2}' "/proc/$W/status") == 1 ]] ||
        fail "the worker has no NoNewPrivs"
    [[ $(awk '$1 == "Groups:" {print NF - 1}' "/proc/$W/status") == 0 ]] ||
        fail "the worker kept supplementary groups"
    [[ $(ca_conns "$W") -ge 1 ]] || fail "the worker has no connection to the CA (port $CA_PORT)"
    [[ $(ca_conns "$KEEPER") == 0 ]] || fail "the keeper has a connection to the CA"
    # The private values of every key in the state directory, and their PEM text.
    keys=("$STATE"/accounts/*/*/privkey "$STATE"/keys/*/privkey)
    [[ ${#keys[@]} -ge 2 && -f ${keys[0]} && -f ${keys[1]} ]] ||
        fail "expected an account key and a certificate key by now: ${keys[*]}"
    for k in "${keys[@]}"; do
        openssl pkey -in "$k" -text -noout 2>/dev/null |
            awk '/^priv:/ {on = 1; next} /^[a-zA-Z]/ {on = 0} on' | tr -d ' :\n' >"$T/$(basename "$(dirname "$k")").priv"
        [[ -s $T/$(basename "$(dirname "$k")").priv ]] || fail "cannot read the private value of $k"
    done
    cat >"$T/scan.py" <<'PY'
import glob, os, re, sys
pid, tdir, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
needles = []
for k in keys:
    priv = open(os.path.join(tdir, os.path.basename(os.path.dirname(k)) + ".priv")).read().strip()
    raw = bytes.fromhex(priv)
    # openssl may print a leading zero byte; the value itself is what must not be there.
    raw = raw.lstrip(b"\0") if len(raw) > 32 else raw
    needles.append((k + " (private value)", raw[-24:]))
    body = [l for l in open(k).read().splitlines() if l and not l.startswith("-----")]
    needles.append((k + " (PEM text)", body[1][:40].encode()))
found = []
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    scanned = 0
    for line in maps:
        f = line.split()
        if "r" not in f[1]:
            continue
        a, b = (int(x, 16) for x in f[0].split("-"))
        # Reservations of gigabytes (AddressSanitizer's shadow) hold no data of ours; reading
        # them would fault in their pages. Everything else is read in overlapping chunks.
        if b - a > 1 << 30:
            continue
        step, tail = 16 << 20, b""
        for off in range(a, b, step):
            try:
                mem.seek(off)
                chunk = tail + mem.read(min(step, b - off))
            except (OSError, ValueError, OverflowError):
                break
            scanned += len(chunk) - len(tail)
            for name, n in needles:
                if n in chunk:
                    found.append(name)
            tail = chunk[-64:]
assert scanned > 1 << 20, ("scanned too little memory", scanned)
if found:
    print("found in the memory of %s:" % pid, sorted(set(found)))
    sys.exit(1)
print("%s: %d MiB scanned, %d needles, none found" % (pid, scanned >> 20, len(needles)))
PY
    # The scan finds what is there: the keeper, which signs, holds the account key's PEM text.
    python3 "$T/scan.py" "$KEEPER" "$T" "${keys[@]}" >"$T/scan.keeper" 2>&1 &&
        fail "the memory scan found nothing in the keeper either: it proves nothing"
    python3 "$T/scan.py" "$W" "$T" "${keys[@]}" >"$T/scan.worker" 2>&1 ||
        fail "key material in the worker's memory: $(cat "$T/scan.worker")"
fi
touch "$T/go"
wait "$KEEPER"
rc=$?
[[ $rc == 0 ]] || fail "the paused run exited $rc: $(tail -5 "$T/run1.log")"
[[ -n $(tl_live_cert a.privsep.test) ]] || fail "a.privsep.test was not issued"
check "the chain does not verify" tl_verify_chain "$STATE/live/a.privsep.test"
grep -q "no user \"acmed\"" "$T/run1.log" && fail "user: nobody is set: no fallback warning expected"

# --- 2. The worker killed mid-order, answering on a listener the keeper bound ---
# From here on http-01 is answered by acmed's own listener on Pebble's validation port: the
# keeper binds it, the worker serves it, and the worker started after the kill gets the same
# socket and the answer again.
kill "$WEBROOT_PID"
wait "$WEBROOT_PID" 2>/dev/null
tl_conf_listener
# No user: this time: the worker runs as acmed, or as nobody with a warning at the start.
printf 'privsep: true\n' >"$STATE/conf/acmed.yaml"
rm -f "$T/go" "$T/hook.pid"
printf 'satisfy:\n  names: [b.privsep.test]\n' >"$STATE/desired/b"
once_bg -v >"$T/run2.log" 2>&1 &
KEEPER=$!
PIDS+=($KEEPER)
wait_pause "$KEEPER" || fail "the second run did not reach the challenge hook"
W=$(worker_of "$KEEPER")
[[ -n $W ]] || fail "no worker in the second run"
[[ -n $W ]] && kill -KILL "$W"
for ((i = 0; i < 100; i++)); do
    W2=$(worker_of "$KEEPER")
    [[ -n $W2 && $W2 != "$W" ]] && break
    sleep 0.1
done
[[ -n $W2 && $W2 != "$W" ]] || fail "no new worker after the kill"
# The listening socket is the worker's to serve, the keeper's to keep.
for ((i = 0; i < 50; i++)); do
    [[ $(listeners_of "$W2") -ge 1 ]] && break
    sleep 0.1
done
[[ $(listeners_of "$W2") -ge 1 ]] || fail "the new worker does not hold the listener on port $PEBBLE_HTTP_PORT"
[[ $(listeners_of "$KEEPER") -ge 1 ]] || fail "the keeper no longer holds the listener it bound"
touch "$T/go"
wait "$KEEPER"
rc=$?
[[ $rc == 0 ]] || fail "the run whose worker was killed exited $rc: $(tail -5 "$T/run2.log")"
[[ -n $(tl_live_cert b.privsep.test) ]] || fail "b.privsep.test was not issued in the same run"
check "the chain of b does not verify" tl_verify_chain "$STATE/live/b.privsep.test"
tl_report "worker killed mid-order" "1 kill, issued in the same run"
if getent passwd acmed >/dev/null; then
    [[ $(stat -c %U "/proc/$W2") == acmed ]] 2>/dev/null || true
else
    grep -q 'no user "acmed": the worker runs as nobody' "$T/run2.log" ||
        fail "no warning that the worker fell back to nobody"
fi

# --- 3. privsep: false keeps one process ---
rm -f "$T/go" "$T/hook.pid"
printf 'privsep: false\n' >"$STATE/conf/acmed.yaml"
printf 'satisfy:\n  names: [c.privsep.test]\n' >"$STATE/desired/c"
once_bg >"$T/run3.log" 2>&1 &
KEEPER=$!
PIDS+=($KEEPER)
wait_pause "$KEEPER" || fail "the third run did not reach the challenge hook"
[[ -z $(worker_of "$KEEPER") ]] || fail "privsep: false still started a worker"
[[ $(ca_conns "$KEEPER") -ge 1 ]] || fail "with privsep: false acmed itself should talk to the CA"
touch "$T/go"
wait "$KEEPER" || fail "the single-process run failed: $(tail -5 "$T/run3.log")"
[[ -n $(tl_live_cert c.privsep.test) ]] || fail "c.privsep.test was not issued"
tl_done
