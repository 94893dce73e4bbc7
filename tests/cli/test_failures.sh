#!/usr/bin/env bash
# Failures: a malformed desired file among good ones (the good ones are issued, the bad one
# reported with file:line, exit 1); backoff after a CA error (the next pass waits, --force
# does not wait for the backoff but does for the CA's Retry-After); in the critical window
# (a tenth of the lifetime, or satisfy.critical-days) a failure is logged at critical level
# with the expiry in RFC 3339, fires expiry-warning and exits 3. A stop whose grace runs out during
# authorization (the challenge POST stalled) leaves no answer file in the webroot.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_proxy
tl_conf_target
mkdir -p "$STATE/desired"
printf 'satisfy:\n  names:\n    - good1.fail.test\n' >"$STATE/desired/good1"
printf 'satisfy:\n  names:\n    - good2.fail.test\n' >"$STATE/desired/good2"
printf 'satisfy:\n  names:\n    - ok.fail.test\n  margin: many\n' >"$STATE/desired/bad"
printf 'satisfy:\n  names:\n    - ../etc/passwd\n' >"$STATE/desired/hostile"
tl_acmed --once >"$T/run1.log" 2>&1
rc=$?
[[ $rc == 1 ]] || fail "a malformed desired file: exit $rc, wanted 1"
[[ -n $(tl_live_cert good1.fail.test) && -n $(tl_live_cert good2.fail.test) ]] ||
    fail "the good targets were not issued"
grep -q 'desired/bad: line 4' "$T/run1.log" || fail "the bad file is not reported with its line"
grep -q 'desired/hostile.*passwd' "$T/run1.log" || fail "the hostile name is not reported"
ls "$STATE/live" | grep -qv 'fail.test' && fail "something else got into live/"
rm "$STATE/desired/bad" "$STATE/desired/hostile"

# The CA refuses new orders (400, no retry): the target fails and backs off.
curl -s --max-time 5 -X POST "$PROXY_CTL/rules" -d '[{"method": "POST", "path": "^/order-plz$",
  "action": "status", "status": 400, "with_nonce": true,
  "problem": {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "no"}}]' >/dev/null
printf 'satisfy:\n  names:\n    - later.fail.test\n' >"$STATE/desired/later"
tl_acmed --once >"$T/run2.log" 2>&1
[[ $? == 1 ]] || fail "a refused order did not exit 1"
n1=$(tl_proxy_count "method=POST&path=%5E/order-plz")
tl_acmed --once >"$T/run3.log" 2>&1
[[ $? == 1 ]] || fail "a target backing off did not exit 1"
[[ $(tl_proxy_count "method=POST&path=%5E/order-plz") == "$n1" ]] || fail "the backoff was not respected"
tl_acmed status --json >"$T/s.json"
python3 - "$T/s.json" <<'PY' || fail "status does not show the error and the backoff"
import json, sys
t = {x["file"]: x for x in json.load(open(sys.argv[1]))["targets"]}["later"]
assert t["state"] == "backoff", t
assert "rejectedIdentifier" in (t["last_problem"] or ""), t
assert t["failures"] == 1 and t["next_attempt"], t
PY
tl_acmed reconcile --force >"$T/run4.log" 2>&1
[[ $(tl_proxy_count "method=POST&path=%5E/order-plz") -gt "$n1" ]] || fail "--force did not retry"

# A Retry-After is honoured even by --force.
curl -s --max-time 5 -X POST "$PROXY_CTL/rules" -d '[{"method": "POST", "path": "^/order-plz$",
  "action": "status", "status": 429, "retry_after": 3600, "with_nonce": true,
  "problem": {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "slow down"}}]' >/dev/null
tl_acmed reconcile --force >"$T/run5.log" 2>&1
n2=$(tl_proxy_count "method=POST&path=%5E/order-plz")
tl_acmed reconcile --force >"$T/run6.log" 2>&1
[[ $(tl_proxy_count "method=POST&path=%5E/order-plz") == "$n2" ]] ||
    fail "--force did not honour the CA's Retry-After"

# Critical window: good1's certificate has under 1/10 of its life left and renewal fails.
curl -s --max-time 5 -X POST "$PROXY_CTL/rules" -d '[{"method": "POST", "path": "^/order-plz$",
  "action": "status", "status": 403, "with_nonce": true,
  "problem": {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "no"}}]' >/dev/null
cat >"$HOOKS/expiry" <<HOOK
#!/bin/sh
[ "\$1" = expiry-warning ] || exit 42
echo "\$@" >>"$T/expiry-warning"
cat >>"$T/expiry-warning"
HOOK
chmod 755 "$HOOKS/expiry"
g=$(tl_live_cert good1.fail.test)
na=$(date -d "$(certtool -i --infile "$STATE/certs/$g/cert" | sed -n 's/.*Not After: //p')" +%s)
ACMED_FAKE_NOW=$((na - 86400)) tl_acmed reconcile --force >"$T/run7.log" 2>&1
rc=$?
[[ $rc == 3 ]] || fail "a failure in the critical window exited $rc, wanted 3"
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
crit="renewal failed with the certificate in its critical window"
grep -qF "acmed: critical: good1: $crit (expires $(rfc3339 "$na")): " "$T/run7.log" ||
    fail "no critical-level log line with the expiry in RFC 3339: $(grep good1 "$T/run7.log")"
grep -q "^expiry-warning good1 $(date -u -d "@$na" +%Y-%m-%dT%H:%M:%SZ)" "$T/expiry-warning" ||
    fail "expiry-warning did not fire with the file and notAfter: $(cat "$T/expiry-warning" 2>/dev/null)"
grep -qx 'good1.fail.test' "$T/expiry-warning" || fail "expiry-warning did not get the names"

# satisfy.critical-days moves the window: 15% of its lifetime before expiry, good2 is due
# (a third) but not critical by default (a tenth); with critical-days at a fifth of its
# lifetime it is, and good1 next to it is not.
g2=$(tl_live_cert good2.fail.test)
dates2=$(certtool -i --infile "$STATE/certs/$g2/cert")
nb2=$(date -d "$(sed -n 's/.*Not Before: //p' <<<"$dates2")" +%s)
na2=$(date -d "$(sed -n 's/.*Not After: //p' <<<"$dates2")" +%s)
life=$((na2 - nb2))
printf 'satisfy:\n  names:\n    - good2.fail.test\n  critical-days: %d\n' $((life / 5 / 86400)) \
    >"$STATE/desired/good2"
: >"$T/expiry-warning"
ACMED_FAKE_NOW=$((na2 - life * 15 / 100)) tl_acmed reconcile --force >"$T/run7b.log" 2>&1
rc=$?
[[ $rc == 3 ]] || fail "a failure inside satisfy.critical-days exited $rc, wanted 3"
grep -qF "acmed: critical: good2: $crit (expires $(rfc3339 "$na2")): " "$T/run7b.log" ||
    fail "no critical-level log line for good2 (critical-days): $(grep good2 "$T/run7b.log")"
if ! grep -q '^acmed: error: good1: ' "$T/run7b.log" || grep -q '^acmed: critical: good1' "$T/run7b.log"; then
    fail "good1, outside its default window, was not logged at error level: $(grep good1 "$T/run7b.log")"
fi
grep -q "^expiry-warning good2 $(rfc3339 "$na2")" "$T/expiry-warning" ||
    fail "expiry-warning did not fire for good2: $(cat "$T/expiry-warning")"
grep -q '^expiry-warning good1 ' "$T/expiry-warning" && fail "expiry-warning fired for good1"
ACMED_FAKE_NOW=$((na2 - life * 15 / 100)) tl_acmed status --json >"$T/s7b.json"
rc=$?
[[ $rc == 3 ]] || fail "status in good2's critical-days window exited $rc, wanted 3"
python3 - "$T/s7b.json" <<'PY' || fail "status --json does not mark good2 (only) critical"
import json, sys
t = {x["file"]: x for x in json.load(open(sys.argv[1]))["targets"]}
assert t["good2"]["critical"] is True and t["good1"]["critical"] is False, (t["good1"], t["good2"])
PY

# SIGTERM while the challenge POST is stalled: the step never reaches a checkpoint, the grace
# (10 s) runs out, the request is cancelled, and the answer file published in the webroot is
# removed all the same. A second SIGTERM ends the wait at once. The exit status is the pass's,
# as for any stop: 1, for the target still in its backoff ("later"); the stopped one is no
# failure. (The order is resumed by the next run each time.)
forced_stop() { # forced_stop LOG TERMS MAX-SECONDS
    local log=$T/$1 i pid t0
    curl -s --max-time 5 -X POST "$PROXY_CTL/rules" -d '[{"method": "POST", "path": "^/chalZ/",
      "action": "stall", "seconds": 60, "times": 1}]' >/dev/null
    rm -f "$WEBROOT"/*
    # A simple command, so that $! is acmed itself.
    "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" \
        --once >"$log" 2>&1 &
    pid=$!
    for ((i = 0; i < 200; i++)); do
        [[ -n $(ls "$WEBROOT") ]] && break
        sleep 0.05
    done
    [[ -n $(ls "$WEBROOT") ]] || fail "forced stop ($1): no answer file was published"
    sleep 0.5 # the challenge POST is in the proxy's hands
    t0=$SECONDS
    kill -TERM $pid
    if [[ $2 == 2 ]]; then
        sleep 0.5
        kill -TERM $pid
    fi
    for ((i = 0; i < 300; i++)); do
        kill -0 $pid 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 $pid 2>/dev/null; then
        fail "forced stop ($1): acmed still runs 15 s after SIGTERM"
        kill -KILL $pid
    fi
    wait $pid
    rc=$?
    [[ $rc == 1 ]] || fail "forced stop ($1): exit $rc, wanted 1 (\"later\" is in its backoff)"
    grep -q 'reconcile: 4 targets, 2 satisfied, 0 issued, 1 failed$' "$log" ||
        fail "forced stop ($1): the stopped target counts as failed: $(grep 'reconcile:' "$log")"
    grep -q 'Sanitizer\|runtime error:' "$log" && fail "forced stop ($1): sanitizer report in $log"
    ((SECONDS - t0 <= $3)) || fail "forced stop ($1): took $((SECONDS - t0)) s, wanted at most $3"
    grep -q 'stopping now: cancelling' "$log" || fail "forced stop ($1): the wait was not cut short (see $log)"
    grep -q 'cancelled: acmed is stopping' "$log" ||
        fail "forced stop ($1): the stalled challenge POST was not cancelled (see $log)"
    [[ -z $(ls "$WEBROOT") ]] || fail "forced stop ($1): answer files left in the webroot: $(ls "$WEBROOT")"
}
printf 'satisfy:\n  names:\n    - stop.fail.test\n' >"$STATE/desired/stop"
forced_stop run8.log 1 12
forced_stop run9.log 2 2
tl_done
