#!/usr/bin/env bash
# The daemon against its own Pebble (two-minute certificates): sd_notify READY=1; a desired
# file dropped while it runs is live within seconds; --once is locked out (exit 4); it renews
# on its own before expiry; SIGHUP with a changed conf/target takes effect; a removed desired
# file is unwanted; 50 targets at once stay within max-orders; the metrics file parses;
# SIGTERM during an order exits 0 and a restart completes that same order; STOPPING=1.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
FIXTURE_VALIDITY=60 tl_pebble
tl_proxy
tl_conf_listener
printf 'max-orders: 8\nmetrics-file: %s\n' "$T/metrics.prom" >"$STATE/conf/acmed.yaml"

# sd_notify: a datagram socket that records what it receives.
tl_notify_listen "$T/notify.sock" "$T/notify.log" || fail "the notify socket did not appear"

start_daemon() {
    NOTIFY_SOCKET=$T/notify.sock "$ACMED" --state "$STATE" --hooks "$HOOKS" \
        --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" >>"$T/daemon.log" 2>&1 &
    DAEMON=$!
    PIDS+=($DAEMON)
}

# wait_for SECONDS CMD...: polls CMD every 0.2 s; true when it succeeded in time.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    while ((SECONDS < end)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}
live() { [[ -n $(tl_live_cert "$1") ]]; }

start_daemon
wait_for 10 grep -q 'READY=1' "$T/notify.log" || fail "no READY=1 from the daemon"

printf 'satisfy:\n  names: [a.daemon.test]\n' >"$STATE/desired/a"
wait_for 10 live a.daemon.test || fail "a dropped desired file got no certificate within 10 s"
a1=$(tl_live_cert a.daemon.test)

grep -q '^acmed: listening for http-01 challenges on 127\.0\.0\.1:[0-9]*$' "$T/daemon.log" ||
    fail "the listener is not logged as its address alone: $(grep 'listening for' "$T/daemon.log" | head -1)"
tl_acmed status >"$T/status.txt"
grep -q "^daemon: pid $DAEMON, last pass ended 20..-..-..T..:..:..Z (all satisfied), next pass 20..-..-..T..:..:..Z (" \
    "$T/status.txt" || fail "status does not show the daemon: $(head -1 "$T/status.txt")"
tl_acmed status --json >"$T/status.json"
python3 - "$T/status.json" "$DAEMON" <<'PY' || fail "status --json does not say what the daemon is doing"
import json, re, sys
s = json.load(open(sys.argv[1]))
d = s["daemon"]
t3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
assert d["pid"] == int(sys.argv[2]), d
assert t3339.match(d["started"]), d
lp = d["last_pass"]
assert t3339.match(lp["start"]) and t3339.match(lp["end"]), lp
assert lp["exit"] == 0 and lp["outcome"] == "all satisfied", lp
# A pass that issued opened the built-in http-01 listener (tl_conf_listener); a pass with
# nothing to do opens none.
if lp["issued"]:
    assert any(l.startswith("http-01 ") for l in lp["listeners"]), lp
else:
    assert lp["listeners"] == [], lp
assert t3339.match(d["next_pass"]["at"]) and d["next_pass"]["why"], d
assert any(t["file"] == "a" for t in s["targets"]), s
PY

tl_acmed --once >"$T/once.log" 2>&1
[[ $? == 4 ]] || fail "--once while the daemon runs did not exit 4"
grep -q "pid $DAEMON" "$T/once.log" || fail "the lock error does not name the daemon's pid"

# Sixty-second certificates are due after thirty: the daemon renews on its own.
wait_for 50 bash -c "[[ \$(basename \$(readlink '$STATE/live/a.daemon.test')) != '$a1' ]]" ||
    fail "the daemon did not renew a short-lived certificate on its own"

# SIGHUP after a change of conf/target: RSA keys from now on.
cat >>"$STATE/conf/target" <<YAML
  key:
    type: rsa
YAML
kill -HUP $DAEMON
is_rsa() { certtool -i --infile "$STATE/live/a.daemon.test/cert" 2>/dev/null | grep -q 'Algorithm: RSA'; }
wait_for 15 is_rsa || fail "SIGHUP with an RSA conf/target did not bring an RSA certificate"

# A removed desired file is unwanted: its live link goes.
rm "$STATE/desired/a"
wait_for 10 bash -c "[[ ! -e '$STATE/live/a.daemon.test' ]]" || fail "a removed target stayed live"

# Fifty targets at once, never more than max-orders (8) in flight.
mkdir -p "$T/many"
for i in $(seq 50); do printf 'satisfy:\n  names: [m%d.daemon.test]\n' "$i" >"$T/many/m$i"; done
mv "$T"/many/* "$STATE/desired/"
all_live() { for i in $(seq 50); do live "m$i.daemon.test" || return 1; done; }
wait_for 120 all_live || fail "not all 50 targets were issued"
max=$(grep -o 'orders in flight: [0-9]*' "$T/daemon.log" | awk '{print $4}' | sort -n | tail -1)
[[ -n $max && $max -le 8 && $max -gt 1 ]] || fail "orders in flight peaked at '$max' (want 2..8)"
python3 - "$STATE/state/daemon.json" <<'PY' || fail "state/daemon.json is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["passes"] >= 3 and d["issued"] >= 52, d
assert d["last_pass"]["max_orders_in_flight"] <= 8, d
PY
python3 - "$T/metrics.prom" <<'PY' || fail "the metrics file does not parse"
import re, sys
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
sample = re.compile(r"^(%s)(\{(%s=\"(\\.|[^\"\\])*\",?)*\})? [-+0-9.eE]+(Inf|NaN)?$" % (name, name))
types, seen = {}, set()
for line in open(sys.argv[1]).read().splitlines():
    if line.startswith("# HELP "):
        continue
    if line.startswith("# TYPE "):
        _, _, n, t = line.split(" ", 3)
        assert t in ("gauge", "counter") and n not in types, line
        types[n] = t
        continue
    m = sample.match(line)
    assert m, line
    assert m.group(1) in types, line
    seen.add(m.group(1))
assert "acmed_certificate_not_after_seconds" in seen, seen
PY

# SIGTERM during an order: the proxy holds back the answer to t's newOrder (the order is
# created at the CA); the daemon stops at the next checkpoint and exits 0; a restart resumes
# that same order. The fifty short-lived targets go first, so their renewals stay out of it.
rm -f "$STATE"/desired/m*
sleep 2
curl -s --max-time 5 -X POST "$PROXY_CTL/rules" -d '[{"method": "POST",
  "path": "^/order-plz$", "payload_contains": "t.daemon.test", "action": "delay",
  "after": true, "seconds": 3, "times": 1}]' >/dev/null
printf 'satisfy:\n  names: [t.daemon.test]\n' >"$STATE/desired/t"
t_ordered() {
    curl -s --max-time 5 "$PROXY_CTL/log?method=POST&path=%5E/order-plz" |
        grep -q 't.daemon.test'
}
wait_for 15 t_ordered || fail "t's order never reached the CA"
kill -TERM $DAEMON
wait_for 15 bash -c "! kill -0 $DAEMON 2>/dev/null" || fail "the daemon did not stop within 15 s"
wait $DAEMON
rc=$?
[[ $rc == 0 ]] || fail "the daemon exited $rc after SIGTERM"
grep -q 'STOPPING=1' "$T/notify.log" || fail "no STOPPING=1"
start_daemon
wait_for 15 live t.daemon.test || fail "the restarted daemon did not complete the order"
grep -q 't: resuming order' "$T/daemon.log" || fail "the restart did not resume the same order"
kill -TERM $DAEMON
wait_for 15 bash -c "! kill -0 $DAEMON 2>/dev/null" || fail "the daemon did not stop"
tl_done
