#!/usr/bin/env bash
# Server faults: `acmed --once` against Pebble through the fault proxy (tests/faultproxy),
# every scenario asserting that acmed either succeeds or fails cleanly and boundedly:
#   5xx       500 and 503, with and without Retry-After, on every endpoint (directory,
#             newNonce, newAccount, newOrder, authz, challenge, finalize, order poll,
#             certificate): transient faults are retried, Retry-After honoured, and the
#             certificate is issued
#   429       rateLimited with Retry-After in seconds and as an HTTP date: --once exits 1, no
#             newOrder before that time (not by --once, not by reconcile --force, not with
#             the clock moved to just before it), status shows the error; after it, issued.
#             A short Retry-After is waited for in-process
#   nonces    Replay-Nonce missing on every POST answer, garbage on the first answers, a
#             badNonce storm: issued. Well-formed but stale nonces on every answer, and a
#             newNonce that never gives a usable nonce: gives up, boundedly
#   bodies    huge, truncated, not JSON, too deep, of the wrong type, with unknown statuses,
#             on directory/order/authz/challenge/certificate answers: bounded, no sanitizer
#             report, the target issued or failed with its error; all recover on the next pass
#   certs     the certificate does not match the key, lacks a requested name, carries a
#             private key block (between the certificates, or at the end), is already
#             expired: exit 1, nothing installed (no new certs/*/cert, live/ unchanged), no
#             hook run, an error saying what is wrong
#   chains    chains that do not verify: a leaf for our key and names that names Pebble's
#             intermediate as its issuer but is signed by another key, Pebble's chain shuffled
#             (leaf, root, intermediate), a chain through an expired intermediate, Pebble's
#             genuine chain with request.trust-anchors naming another root or a missing file:
#             exit 1, "chain does not verify: <why>", nothing installed, live/ unchanged, no
#             live-updated hook (a missing anchors file stops a new target before newOrder);
#             with Pebble's own root as the anchor, renewed
#   stall     one target's newOrder never answered: the other targets of the same pass are
#             issued meanwhile; the request times out (60 s) and is retried
#   hostile   a hostile CA: authorizations for names not ordered or forged, problem details
#             with control characters and 5 KB of text, http URLs from an https CA, and
#             plain-http providers (refused unless conf/acmed.yaml allows them)
#   restart   Pebble restarted on the same ports with fresh state (accounts and orders gone):
#             a due renewal and a half-done order re-register and re-order
#   ari       a renewal order naming the certificate it replaces (RFC 9773 `replaces`) refused
#             with 409 alreadyReplaced, 403 unauthorized, 400 malformed: ordered again at
#             once without it, once, and renewed; 429 rateLimited keeps it; a second refusal
#             fails the target without a loop; a kill between the two orders does not send it
#             again; renewalInfo is asked of the CA that issued the certificate, not of the
#             provider the target moved to
# Scenario groups run in parallel, each behind a fault proxy of its own (rules are global to
# a proxy); the script takes about 90 s (the stall alone about 65 s).
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot

# Sanitizer reports must not look like an ordinary "a target failed" exit 1.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87"
export LC_ALL=C
X509=$TL_SRC/tests/data/x509
mkdir -p "$T/logs"
# The interpreter itself, not a version manager's shim (which can cost a second per start).
PY=$(python3 -c 'import sys; print(sys.executable)')
T0=$(date +%s)

# ---- helpers ----------------------------------------------------------------------------

# proxy_start NAME: a fault proxy in front of Pebble in $T/NAME (see proxy_wait).
proxy_start() {
    mkdir -p "$T/$1"
    "$PY" "$TL_SRC/tests/faultproxy/faultproxy.py" --listen 127.0.0.1:0 \
        --control 127.0.0.1:0 --upstream "${PEBBLE_DIRECTORY%/dir}" \
        --upstream-ca "$PEBBLE_CA" --cert "$(dirname "$PEBBLE_CA")/cert.pem" \
        --key "$(dirname "$PEBBLE_CA")/key.pem" --ready-file "$T/$1/ready" --parent $$ \
        >"$T/$1/log" 2>&1 </dev/null &
    PIDS+=($!)
}

# proxy_wait NAME: prints "PROVIDER-URL CONTROL-URL" once the proxy answers.
proxy_wait() {
    local i p c
    for ((i = 0; i < 300; i++)); do
        [[ -s $T/$1/ready ]] && break
        sleep 0.05
    done
    [[ -s $T/$1/ready ]] || {
        cat "$T/$1/log" >&2
        fail "fault proxy $1 did not start"
        exit 1
    }
    read -r p c <"$T/$1/ready"
    echo "https://127.0.0.1:$p/dir http://127.0.0.1:$c"
}

# use_proxy NAME: the proxy acmed (PROVIDER) and the helpers (PROXY_CTL) talk to.
use_proxy() {
    read -r PROVIDER PROXY_CTL <<<"$(proxy_wait "$1")"
}

# rules JSON: replaces the rules of the proxy (the JSON goes on stdin: it may be large).
rules() {
    local out
    out=$(curl -s --max-time 10 -X POST --data-binary @- "$PROXY_CTL/rules" <<<"$1")
    [[ $out == *'"ok": true'* ]] || fail "the proxy refused rules ($out): ${1:0:300}"
}

proxy_reset() {
    curl -s --max-time 5 -X POST "$PROXY_CTL/reset" >/dev/null
}

# count QUERY: requests the proxy saw (QUERY like "method=POST&path=...").
count() {
    curl -s --max-time 5 "$PROXY_CTL/count${1:+?$1}" | sed -n 's/.*"count": *\([0-9]*\).*/\1/p'
}

# sf_report SCENARIO: its line of the reliability report: the faults the current proxy
# injected since its last reset, and the acmed runs since the last report.
RUNS=0
sf_report() {
    local n
    n=$(curl -s --max-time 5 "$PROXY_CTL/log" | "$PY" -c '
import json, sys
log = json.load(sys.stdin)
log = log if isinstance(log, list) else log.get("entries", log.get("log", []))
print(sum(1 for e in log if e.get("action") not in (None, "pass")))')
    tl_report "server faults: $1" "acmed runs: $RUNS, faults injected: ${n:-?}"
    RUNS=0
}

# new_state NAME: a fresh state directory $T/NAME with the webroot conf/target.
new_state() {
    STATE=$T/$1
    tl_conf_target
    mkdir -p "$STATE/desired"
}

# want FILE NAME...: a desired file.
want() {
    local f=$1 n
    shift
    {
        printf 'satisfy:\n  names:\n'
        for n; do printf '    - %s\n' "$n"; done
    } >"$STATE/desired/$f"
}

# run LOG ARGS...: acmed with a timeout (SF_TIMEOUT, 60 s); sets RC and MS (milliseconds).
run() {
    local name=$1 log=$T/logs/$1 s
    shift
    s=$(date +%s%N)
    timeout -k 5 "${SF_TIMEOUT:-60}" "$ACMED" --state "$STATE" --hooks "$HOOKS" \
        --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" "$@" >"$log" 2>&1
    RC=$?
    RUNS=$((RUNS + 1))
    MS=$((($(date +%s%N) - s) / 1000000))
    echo "$(($(date +%s) - T0)) s: $name: exit $RC in $MS ms" >>"$T/logs/timing"
    if grep -q 'Sanitizer\|runtime error:' "$log"; then
        fail "sanitizer report in $log"
        sed -n '1,40p' "$log" >&2
    fi
    if [[ $RC == 124 || $RC == 137 ]]; then
        fail "acmed $* did not finish within ${SF_TIMEOUT:-60} s (see $log)"
    fi
    return 0
}

# json_str FILE: the file's text as a JSON string.
json_str() {
    "$PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$1"
}

# not_after_s CERT-FILE: its notAfter in Unix seconds.
not_after_s() {
    date -d "$(certtool -i --infile "$1" | sed -n 's/.*Not After: //p')" +%s
}

# cert_files: the certs/*/cert files of $STATE, one per line.
cert_files() {
    (cd "$STATE/certs" 2>/dev/null && ls -d -- */cert 2>/dev/null)
}

# ari_on START END [RETRY-AFTER]: the proxy offers renewalInfo, every certificate getting the
# window START..END (seconds from the moment of the request).
ari_on() {
    local out
    out=$(curl -s --max-time 5 -X POST \
        -d "{\"window\": {\"start\": $1, \"end\": $2}${3:+, \"retry_after\": $3}}" \
        "$PROXY_CTL/ari")
    [[ $out == *'"ok": true'* ]] || fail "the proxy refused the ARI settings ($out)"
}

# orders NAME: the newOrders for NAME the proxy saw, oldest first, one word each: R (it named
# a certificate in `replaces`) or N (it did not), then the status answered ("N201 R409 N201").
orders() {
    curl -s --max-time 5 "$PROXY_CTL/log?method=POST&path=%5E/order-plz" | "$PY" -c '
import json, sys
log = json.load(sys.stdin)
log = log if isinstance(log, list) else log.get("entries", log.get("log", []))
out = []
for e in log:
    p = e.get("payload")
    if isinstance(p, dict) and any(i.get("value") == sys.argv[1] for i in p.get("identifiers", [])):
        out.append(("R" if "replaces" in p else "N") + str(e.get("status")))
print(" ".join(out))' "$1"
}

# meta_get CERT-ID KEY: a member of certs/CERT-ID/meta ("" when absent).
meta_get() {
    "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or "")' \
        "$STATE/certs/$1/meta" "$2" 2>/dev/null
}

# in_background NAME FUNCTION: runs a scenario group in a subshell behind proxy NAME; its
# FAIL lines and exit status are collected by wait_background.
BG=()
in_background() {
    (
        use_proxy "$1"
        HOOKS=$T/hooks-$2 # not the main group's recording hook
        mkdir -p "$HOOKS"
        "$2"
        exit "$FAILED"
    ) >"$T/logs/$2.out" 2>&1 &
    PIDS+=($!)
    BG+=("$!:$2")
}
wait_background() {
    local b rc
    for b in "${BG[@]}"; do
        wait "${b%%:*}"
        rc=$?
        grep 'FAIL' "$T/logs/${b#*:}.out" >&2
        [[ $rc == 0 ]] || fail "${b#*:} failed (exit $rc)"
    done
    BG=()
}

# ---- 5xx on every endpoint --------------------------------------------------------------
# Each endpoint fails twice in a row, then answers: pass 1 with 500 (no Retry-After) then
# 503 (Retry-After: 1); pass 2 with 503 (no Retry-After) then 500 (Retry-After: 1), its POST
# answers carrying a problem document and a fresh nonce. A fresh state each pass, so that
# newAccount is requested too. The two passes run in parallel behind proxies of their own.
fivexx() { # fivexx PASS
    local pass=$1
    new_state "5xx-$pass"
    want f "f$pass.fivexx.test"
    proxy_reset
    rules "$("$PY" - "$pass" <<'PY'
import json, sys
p = int(sys.argv[1])
eps = [("GET", "^/dir$"), ("HEAD", "^/nonce-plz$"), ("POST", "^/sign-me-up$"),
       ("POST", "^/order-plz$"), ("POST", "^/authZ/"), ("POST", "^/chalZ/"),
       ("POST", "^/finalize-order/"), ("POST", "^/my-order/"), ("POST", "^/certZ/")]
first, second = (500, 503) if p == 1 else (503, 500)
rules = []
for m, path in eps:
    for status, ra in ((first, None), (second, 1)):
        r = {"method": m, "path": path, "action": "status", "status": status, "times": 1}
        if ra is not None:
            r["retry_after"] = ra
        if p == 2 and m == "POST":
            r["with_nonce"] = True
            r["problem"] = {"type": "urn:ietf:params:acme:error:serverInternal",
                            "detail": "injected %d" % status}
        rules.append(r)
print(json.dumps(rules))
PY
)"
    run "5xx-$pass.log" --once
    [[ $RC == 0 ]] || { tail -n 20 "$T/logs/5xx-$pass.log" >&2; fail "5xx pass $pass: --once exited $RC, wanted 0"; }
    [[ -n $(tl_live_cert "f$pass.fivexx.test") ]] || fail "5xx pass $pass: not issued"
    ((MS < 40000)) || fail "5xx pass $pass took $MS ms"
    curl -s --max-time 5 "$PROXY_CTL/rules" >"$T/logs/5xx-$pass.rules.json"
    curl -s --max-time 5 "$PROXY_CTL/log" >"$T/logs/5xx-$pass.log.json"
    "$PY" - "$T/logs/5xx-$pass.rules.json" "$T/logs/5xx-$pass.log.json" <<'PY' ||
import json, sys
rules = json.load(open(sys.argv[1]))
rules = rules["rules"] if isinstance(rules, dict) else rules
log = json.load(open(sys.argv[2]))
log = log if isinstance(log, list) else log.get("entries", log.get("log", []))
bad = []
for r in rules:
    if r.get("_applied") != 1:
        bad.append("%s %s (%s) applied %s times" % (r["method"], r["path"], r["status"],
                                                     r.get("_applied")))
        continue
    if "retry_after" not in r:
        continue
    # The next request to the same endpoint comes no sooner than the Retry-After.
    hit = [e for e in log if e.get("rule") == r["_index"] and e["action"] == "status"][0]
    nxt = [e for e in log if e["seq"] > hit["seq"] and e["method"] == hit["method"]
           and e["path"] == hit["path"]]
    if not nxt:
        bad.append("%s %s: no retry after the %s" % (r["method"], hit["path"], r["status"]))
    elif nxt[0]["time"] - hit["time"] < 0.9:
        bad.append("%s %s: retried %.2f s after a Retry-After: 1" %
                   (r["method"], hit["path"], nxt[0]["time"] - hit["time"]))
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
PY
        fail "5xx pass $pass: a fault was not hit, or a Retry-After was not honoured"
    sf_report "500/503 with and without Retry-After on every endpoint, pass $pass"
}
fivexx_1() { fivexx 1; }
fivexx_2() { fivexx 2; }

# ---- a stalled order --------------------------------------------------------------------
# One target's newOrder is never answered (the proxy holds it for 120 s, longer than acmed's
# 60 s request timeout); the three other targets of the pass must be issued meanwhile.
stall() {
    local apid i t0 issued_early=0 running_then=0 rc secs
    new_state stall
    want a a.stall.test
    want b b.stall.test
    want c c.stall.test
    want slow slow.stall.test
    rules '[{"method": "POST", "path": "^/order-plz$", "payload_contains": "slow.stall.test",
             "action": "stall", "seconds": 120, "times": 1}]'
    t0=$(date +%s)
    timeout -k 5 150 "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" \
        --provider "$PROVIDER" --once >"$T/logs/stall.log" 2>&1 &
    apid=$!
    while (($(date +%s) - t0 < 25)); do
        if [[ -L $STATE/live/a.stall.test && -L $STATE/live/b.stall.test &&
            -L $STATE/live/c.stall.test ]]; then
            issued_early=1
            break
        fi
        kill -0 "$apid" 2>/dev/null || break
        sleep 0.2
    done
    kill -0 "$apid" 2>/dev/null && running_then=1
    [[ $(count "action=stall") == 1 ]] || fail "stall: the slow target's order was not stalled"
    ((issued_early && running_then)) ||
        fail "stall: the other targets were not issued while one target's newOrder was stalled" \
            "(after $(($(date +%s) - t0)) s: live/ has '$(ls "$STATE/live" 2>/dev/null | tr '\n' ' ')'," \
            "acmed still running: $running_then)"
    wait "$apid"
    rc=$?
    RUNS=$((RUNS + 1))
    secs=$(($(date +%s) - t0))
    echo "$(($(date +%s) - T0)) s: stall.log: exit $rc in $secs s" >>"$T/logs/timing"
    grep -q 'Sanitizer\|runtime error:' "$T/logs/stall.log" && fail "stall: sanitizer report"
    [[ $rc == 0 ]] || fail "stall: --once exited $rc, wanted 0 (the stalled request is retried)"
    [[ -n $(tl_live_cert slow.stall.test) ]] || fail "stall: the stalled target was not issued after its retry"
    grep -qi 'timed out\|timeout' "$T/logs/stall.log" || fail "stall: no timeout was logged"
    ((secs < 100)) || fail "stall: the pass took $secs s"
    sf_report "a stalled newOrder (timeout, other targets carry on)"
}

# ---- newNonce never usable --------------------------------------------------------------
# newNonce answers 200 with a Replay-Nonce that is not base64url, for ever: every POST needs
# a nonce, so acmed must give up within its retry policy (6 attempts, with backoff), not keep
# fetching nonces until its 120 s budget per request runs out.
nonce_head() {
    new_state nonce-head
    want nh nh.nonce.test
    rules '[{"method": "HEAD", "path": "^/nonce-plz$", "action": "header",
             "set": {"Replay-Nonce": "!!not-base64url!!"}}]'
    SF_TIMEOUT=30 run nonce-head.log --once
    [[ $RC == 1 ]] || fail "newNonce without a usable nonce: --once exited $RC after $MS ms, wanted 1 within 30 s"
    local heads
    heads=$(count "method=HEAD")
    ((heads <= 12)) || fail "newNonce without a usable nonce: $heads HEAD requests (max-attempts is 6)"
    grep -qi 'nonce' "$T/logs/nonce-head.log" || fail "newNonce without a usable nonce: the error does not say so"
    sf_report "newNonce never usable"
}

# ---- 429 rateLimited --------------------------------------------------------------------
ratelimit() {
    local now ra_date n0 jwt unpause
    new_state ratelimit
    # Let's Encrypt's rateLimited details carry an unpause URL with a long token: shown whole.
    jwt=$(head -c 600 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
    unpause="https://portal.example/sfe/v1/unpause?jwt=$jwt"
    want rl1 rl1.ratelimit.test
    want rl2 rl2.ratelimit.test
    want rl3 rl3.ratelimit.test
    now=$(date +%s)
    ra_date=$(date -u -d "@$((now + 7200))" '+%a, %d %b %Y %H:%M:%S GMT')
    proxy_reset
    rules '[{"method": "POST", "path": "^/order-plz$", "payload_contains": "rl1.ratelimit.test",
             "action": "status", "status": 429, "retry_after": 3600, "with_nonce": true,
             "problem": {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many (seconds): retry after '"$(date -u -d "@$((now + 3600))" +%FT%TZ)"', or unpause at '"$unpause"'"}},
            {"method": "POST", "path": "^/order-plz$", "payload_contains": "rl2.ratelimit.test",
             "action": "status", "status": 429, "retry_after": "'"$ra_date"'", "with_nonce": true,
             "problem": {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many (date)"}},
            {"method": "POST", "path": "^/order-plz$", "payload_contains": "rl3.ratelimit.test",
             "action": "status", "status": 429, "retry_after": 1, "with_nonce": true, "times": 1,
             "problem": {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "a moment"}}]'
    run rl1.log --once
    [[ $RC == 1 ]] || fail "429: --once exited $RC, wanted 1"
    [[ -n $(tl_live_cert rl3.ratelimit.test) ]] || fail "429 with Retry-After: 1 was not retried in-process"
    [[ -z $(tl_live_cert rl1.ratelimit.test) && -z $(tl_live_cert rl2.ratelimit.test) ]] ||
        fail "429: a rate-limited target got a certificate"
    "$ACMED" --state "$STATE" status --json >"$T/logs/rl.status.json" 2>/dev/null
    "$PY" - "$T/logs/rl.status.json" "$now" <<'PY' || fail "429: status does not show the rate limit and its time"
import json, sys, datetime
s = {t["file"]: t for t in json.load(open(sys.argv[1]))["targets"]}
now = int(sys.argv[2])
def ts(v):
    if isinstance(v, (int, float)):
        return int(v)
    return int(datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp())
for f, want in (("rl1", now + 3600), ("rl2", now + 7200)):
    t = s[f]
    assert t["state"] == "backoff", t
    assert "rateLimited" in (t.get("last_problem") or "") + (t.get("last_error") or ""), t
    na = ts(t["next_attempt"])
    assert want - 5 <= na <= want + 120, (f, na - now, t)
PY
    n0=$(count "method=POST&path=%5E/order-plz")
    grep -qF "or unpause at $unpause" "$T/logs/rl1.log" || fail "429: the log does not show the whole detail"
    "$ACMED" --state "$STATE" status >"$T/logs/rl.status.txt" 2>&1
    grep -qF "or unpause at $unpause" "$T/logs/rl.status.txt" || fail "429: status does not show the whole detail"
    run rl2.log --once
    [[ $RC == 1 ]] || fail "429: the second --once exited $RC, wanted 1"
    grep -q 'rl1' "$T/logs/rl2.log" || fail "429: the second --once does not mention the waiting target"
    grep -q 'rl1: backing off after 1 failures, next attempt at 20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z' \
        "$T/logs/rl2.log" || fail "429: the next attempt is not logged as an RFC 3339 time"
    run rl3.log reconcile --force
    ACMED_FAKE_NOW=$((now + 3500)) run rl4.log --once
    [[ $(count "method=POST&path=%5E/order-plz") == "$n0" ]] ||
        fail "429: a newOrder was sent before the Retry-After time"
    # Past both times: ordered again, and issued.
    rules '[]'
    ACMED_FAKE_NOW=$((now + 7300)) run rl5.log --once
    [[ $RC == 0 ]] || fail "429: after the Retry-After times --once exited $RC, wanted 0"
    (($(count "method=POST&path=%5E/order-plz") >= n0 + 2)) || fail "429: no newOrder after the Retry-After time"
    [[ -n $(tl_live_cert rl1.ratelimit.test) && -n $(tl_live_cert rl2.ratelimit.test) ]] ||
        fail "429: not issued after the Retry-After time"
    sf_report "429 rateLimited, Retry-After in seconds and as an HTTP date"
}

# ---- nonce storms -----------------------------------------------------------------------
nonce_storms() {
    local p0
    new_state nonce
    proxy_reset
    # No Replay-Nonce on any POST answer: a HEAD newNonce before every request.
    want n1 n1.nonce.test
    want n2 n2.nonce.test
    rules '[{"method": "POST", "action": "header", "remove": ["Replay-Nonce"]}]'
    run nonce1.log --once
    [[ $RC == 0 ]] || fail "Replay-Nonce missing on every POST answer: --once exited $RC, wanted 0"
    (($(count "method=HEAD") >= 8)) || fail "Replay-Nonce missing: only $(count "method=HEAD") newNonce requests"
    # Garbage (not base64url) Replay-Nonce on the first answers, newNonce's included.
    want n3 n3.nonce.test
    rules '[{"action": "header", "set": {"Replay-Nonce": "<garbage nonce/+=>"}, "times": 4}]'
    run nonce2.log --once
    [[ $RC == 0 ]] || fail "garbage Replay-Nonce on 4 answers: --once exited $RC, wanted 0"
    # A storm of badNonce rejections, each carrying a fresh nonce (RFC 8555 §6.5).
    want n4 n4.nonce.test
    rules '[{"method": "POST", "action": "status", "status": 400, "with_nonce": true, "times": 12,
             "problem": {"type": "urn:ietf:params:acme:error:badNonce", "detail": "storm"}}]'
    run nonce3.log --once
    [[ $RC == 0 ]] || fail "12 badNonce answers: --once exited $RC, wanted 0"
    # Well-formed nonces the CA never issued, on every answer: every POST is refused with
    # badNonce for ever; acmed gives up, boundedly, and recovers once the CA is sane again.
    want n5 n5.nonce.test
    rules '[{"action": "header", "set": {"Replay-Nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}]'
    p0=$(count "method=POST")
    SF_TIMEOUT=30 run nonce4.log --once
    [[ $RC == 1 ]] || fail "stale nonces for ever: --once exited $RC, wanted 1"
    ((MS < 20000)) || fail "stale nonces for ever: acmed took $MS ms to give up"
    (($(count "method=POST") - p0 <= 40)) || fail "stale nonces for ever: $(($(count "method=POST") - p0)) POSTs"
    grep -q 'badNonce' "$T/logs/nonce4.log" || fail "stale nonces: the error does not name badNonce"
    rules '[]'
    run nonce5.log reconcile --force
    [[ $RC == 0 && -n $(tl_live_cert n5.nonce.test) ]] || fail "no recovery after the nonce storm (exit $RC)"
    sf_report "Replay-Nonce missing, garbage, stale; badNonce storms"
}

# ---- bodies -----------------------------------------------------------------------------
# One target per case in one state directory: a failed target backs off, so each pass only
# works on its new target; at the end one forced pass must recover them all.
bodies() {
    local deep c name
    new_state bodies
    proxy_reset
    deep=$(printf '%*s' 100000 '' | tr ' ' '[')$(printf '%*s' 100000 '' | tr ' ' ']')
    local body_cases=(
        'huge-dir|{"method": "GET", "path": "^/dir$", "action": "huge", "times": 1}'
        'huge-order|{"method": "POST", "path": "^/my-order/", "action": "huge", "times": 1}'
        'huge-authz-chunked|{"method": "POST", "path": "^/authZ/", "action": "huge", "size": 6000000, "chunked": true, "times": 1}'
        'huge-cert|{"method": "POST", "path": "^/certZ/", "action": "huge", "size": 5000000, "content_type": "application/pem-certificate-chain", "times": 1}'
        'trunc-order|{"method": "POST", "path": "^/my-order/", "action": "truncate", "times": 1}'
        'trunc-authz|{"method": "POST", "path": "^/authZ/", "action": "truncate", "bytes": 10, "times": 1}'
        'trunc-cert|{"method": "POST", "path": "^/certZ/", "action": "truncate", "times": 1}'
        'html-order|{"method": "POST", "path": "^/my-order/", "action": "replace_body", "body": "<html>maintenance</html>", "content_type": "text/html", "times": 1}'
        'notjson-authz|{"method": "POST", "path": "^/authZ/", "action": "replace_body", "body": "{\"status\": \"valid\", ", "times": 1}'
        'deep-order|{"method": "POST", "path": "^/my-order/", "action": "replace_body", "body": "'"$deep"'", "times": 1}'
        'array-order|{"method": "POST", "path": "^/order-plz$", "action": "replace_body", "json": [1, 2, 3], "times": 1}'
        'type-authz|{"method": "POST", "path": "^/authZ/", "action": "json_patch", "patch": {"status": 42, "challenges": "nope", "identifier": []}, "times": 1}'
        'type-order|{"method": "POST", "path": "^/my-order/", "action": "json_patch", "patch": {"authorizations": {"a": 1}, "finalize": 7}, "times": 1}'
        'status-order|{"method": "POST", "path": "^/my-order/", "action": "json_patch", "patch": {"status": "exploding"}, "times": 1}'
        'status-neworder|{"method": "POST", "path": "^/order-plz$", "action": "json_patch", "patch": {"status": "bizarre"}, "times": 1}'
        'status-authz|{"method": "POST", "path": "^/authZ/", "action": "json_patch", "patch": {"status": "weird"}, "times": 1}'
        'status-nul-authz|{"method": "POST", "path": "^/authZ/", "action": "json_patch", "patch": {"status": "valid\u0000pending"}, "times": 1}'
        'status-chall|{"method": "POST", "path": "^/chalZ/", "action": "json_patch", "patch": {"status": "teapot", "type": 5}, "times": 1}'
        'valid-nocert|{"method": "POST", "path": "^/my-order/", "action": "json_patch", "patch": {"status": "valid", "certificate": null}, "skip": 1, "times": 1}'
    )
    for c in "${body_cases[@]}"; do
        name=${c%%|*}
        want "$name" "$name.bodies.test"
        rules "[${c#*|}]"
        run "body-$name.log" --once
        [[ $RC == 0 || $RC == 1 ]] || fail "body $name: --once exited $RC, wanted 0 or 1"
        [[ -n $(tl_live_cert "$name.bodies.test") ]] || grep -q "error: $name: " "$T/logs/body-$name.log" ||
            fail "body $name: neither issued nor an error naming the target"
        ((MS < 30000)) || fail "body $name: --once took $MS ms"
    done
    rules '[]'
    run bodies-recover.log reconcile --force
    [[ $RC == 0 ]] || fail "bodies: the recovery pass exited $RC, wanted 0"
    for c in "${body_cases[@]}"; do
        name=${c%%|*}
        [[ -n $(tl_live_cert "$name.bodies.test") ]] || fail "body $name: not issued by the recovery pass"
    done
    sf_report "huge, truncated, non-JSON, wrong-type bodies and unknown statuses"
}

# ---- bad certificates -------------------------------------------------------------------
# cz keeps its key across renewals (reuse: true), so the test can make certificates for it.
bad_certs() {
    local c0 c1 key na c name pattern spec before live_before www_before d0
    new_state certs
    proxy_reset
    printf 'satisfy:\n  names:\n    - cz.certs.test\n    - www.cz.certs.test\nrequest:\n  key:\n    reuse: true\n' \
        >"$STATE/desired/cz"
    cat >"$HOOKS/10-record" <<HOOK
#!/bin/sh
[ "\$1" = live-updated ] || exit 42
cat >>"$T/live-updated.txt"
echo --- >>"$T/live-updated.txt"
HOOK
    chmod 755 "$HOOKS/10-record"
    run certs0.log --once
    [[ $RC == 0 ]] || fail "certs: the first issuance failed ($RC)"
    [[ -s $T/live-updated.txt ]] || fail "certs: the recording hook did not run on the first issuance"
    c0=$(tl_live_cert cz.certs.test)
    key=$STATE/certs/$c0/privkey
    # forge OUT NOT-BEFORE NOT-AFTER NAME...: a certificate for cz's key, from the test
    # intermediate (acmed cannot check who issued it: the CA is its only source).
    forge() {
        local out=$1 nb=$2 na=$3 n
        shift 3
        {
            echo "cn = \"$1\""
            for n; do echo "dns_name = \"$n\""; done
            echo "activation_date = \"$nb\""
            echo "expiration_date = \"$na\""
            echo "serial = $RANDOM$RANDOM"
            echo tls_www_server
            echo signing_key
        } >"$T/forge.tmpl"
        certtool --generate-certificate --load-privkey "$key" --load-ca-certificate "$X509/inter.pem" \
            --load-ca-privkey "$X509/inter.key" --template "$T/forge.tmpl" --no-text \
            --outfile "$out" >"$T/logs/forge.log" 2>&1 || fail "certtool could not forge $out"
        cat "$X509/inter.pem" >>"$out"
    }
    forge "$T/lacking.pem" "2020-01-01 00:00:00 UTC" "2099-01-01 00:00:00 UTC" cz.certs.test
    forge "$T/expired.pem" "2000-01-01 00:00:00 UTC" "2001-01-01 00:00:00 UTC" cz.certs.test www.cz.certs.test
    certtool --to-p8 --load-privkey "$X509/other.key" --password '' --no-text >"$T/p8.pem" 2>/dev/null
    grep -q 'BEGIN PRIVATE KEY' "$T/p8.pem" || fail "certtool could not make a PKCS#8 key"
    # name|what the error must say|the replace_body rule's body or sub
    local cert_cases=(
        "wrong-key|key|\"body\": $(json_str "$X509/chain.pem")"
        "lacks-name|www.cz.certs.test|\"body\": $(json_str "$T/lacking.pem")"
        "ec-key-between-certs|PRIVATE KEY|\"sub\": [[\"(-----END CERTIFICATE-----\\\\n)\", $("$PY" -c 'import json,sys; print(json.dumps("\\1" + open(sys.argv[1]).read()))' "$X509/leaf.key")]]"
        "pkcs8-key-at-end|PRIVATE KEY|\"sub\": [[\"\\\\Z\", $(json_str "$T/p8.pem")]]"
        "expired|expir|\"body\": $(json_str "$T/expired.pem")"
    )
    na=$(not_after_s "$STATE/certs/$c0/cert")
    for c in "${cert_cases[@]}"; do
        IFS='|' read -r name pattern spec <<<"$c"
        : >"$T/live-updated.txt"
        before=$(cert_files)
        live_before=$(tl_live_cert cz.certs.test)
        www_before=$(tl_live_cert www.cz.certs.test)
        d0=$(count "path=%5E/certZ/&action=replace_body")
        rules "[{\"method\": \"POST\", \"path\": \"^/certZ/\", \"action\": \"replace_body\", $spec}]"
        ACMED_FAKE_NOW=$((na - 200 * 86400)) run "cert-$name.log" reconcile --force
        (($(count "path=%5E/certZ/&action=replace_body") > d0)) || fail "cert $name: the certificate was never downloaded"
        [[ $RC == 1 ]] || fail "cert $name: exit $RC, wanted 1"
        [[ $(tl_live_cert cz.certs.test) == "$live_before" && $(tl_live_cert www.cz.certs.test) == "$www_before" ]] ||
            fail "cert $name: live/ changed"
        [[ $(cert_files) == "$before" ]] ||
            fail "cert $name: a certificate was installed: $(comm -13 <(echo "$before") <(cert_files) | tr '\n' ' ')"
        [[ ! -s $T/live-updated.txt ]] || fail "cert $name: the live-updated hook ran"
        grep -i 'error' "$T/logs/cert-$name.log" | grep -qi -- "$pattern" ||
            fail "cert $name: the error does not say what is wrong (wanted \"$pattern\"): $(grep -i error "$T/logs/cert-$name.log" | head -n 2)"
    done
    grep -rl 'PRIVATE KEY' "$STATE/certs" 2>/dev/null | grep -v '/privkey$' && fail "a private key block reached certs/"
    # The CA sane again: the renewal goes through and the hook runs once with both names.
    : >"$T/live-updated.txt"
    rules '[]'
    ACMED_FAKE_NOW=$((na - 200 * 86400)) run certs-ok.log reconcile --force
    [[ $RC == 0 ]] || fail "certs: the renewal with a good certificate exited $RC"
    c1=$(tl_live_cert cz.certs.test)
    [[ -n $c1 && $c1 != "$c0" ]] || fail "certs: not renewed once the CA sent a good certificate"
    [[ $(grep -cv -- --- "$T/live-updated.txt") == 2 ]] || fail "certs: live-updated got: $(cat "$T/live-updated.txt")"
    check "certs: the renewed chain does not verify" tl_verify_chain "$STATE/live/cz.certs.test"
    rm -f "$HOOKS/10-record"
    sf_report "certificates: wrong key, missing name, expired, PRIVATE KEY block"
}

# ---- chains that do not verify ----------------------------------------------------------
# Every chain is checked before it is installed: each certificate issued and signed by the
# next, each within its validity period, and with request.trust-anchors the top at one of
# those roots. cv keeps its key across renewals (reuse: true), so the test can make leaves for
# it; Pebble's intermediate comes from cv's first chain, its root from the management API.
chains() {
    local c0 c1 key na d0 c name want body anchors before live_before www_before
    local dir=$T/chains-data frags kt
    new_state chains
    mkdir -p "$dir"
    proxy_reset
    chains_desired() { # [TRUST-ANCHORS]
        printf 'satisfy:\n  names:\n    - cv.chains.test\n    - www.cv.chains.test\nrequest:\n  key:\n    reuse: true\n' \
            >"$STATE/desired/cv"
        [[ -z ${1:-} ]] || printf '  trust-anchors: %s\n' "$1" >>"$STATE/desired/cv"
    }
    # mkcert OUT SUBJECT-KEY ISSUER-CERT ISSUER-KEY NOT-BEFORE NOT-AFTER CN [ca]: certtool signs
    # with ISSUER-KEY whatever ISSUER-CERT says, so a forgery can name any issuer.
    mkcert() {
        {
            echo "cn = \"$7\""
            echo "serial = $RANDOM$RANDOM"
            echo "activation_date = \"$5\""
            echo "expiration_date = \"$6\""
            if [[ ${8:-} == ca ]]; then
                printf 'ca\ncert_signing_key\n'
            else
                printf 'dns_name = "cv.chains.test"\ndns_name = "www.cv.chains.test"\n'
                printf 'tls_www_server\nsigning_key\n'
            fi
        } >"$dir/tmpl"
        certtool --generate-certificate --load-privkey "$2" --load-ca-certificate "$3" \
            --load-ca-privkey "$4" --template "$dir/tmpl" --no-text --outfile "$1" \
            >>"$T/logs/chains-certtool.log" 2>&1 || fail "chains: certtool could not make $1"
    }
    # chains_error LOG FRAGMENT...: an error line of LOG holds every FRAGMENT.
    chains_error() {
        local log=$1 line f ok
        shift
        while IFS= read -r line; do
            ok=1
            for f; do [[ $line == *"$f"* ]] || ok=0; done
            ((ok)) && return 0
        done < <(grep -i error "$log")
        return 1
    }
    chains_desired
    cat >"$HOOKS/10-record" <<HOOK
#!/bin/sh
echo "\$1" >>"$T/chains-hooks.log"
HOOK
    chmod 755 "$HOOKS/10-record"
    run chains0.log --once
    [[ $RC == 0 ]] || fail "chains: the first issuance failed ($RC)"
    grep -qx live-updated "$T/chains-hooks.log" 2>/dev/null ||
        fail "chains: the recording hook did not run on the first issuance"
    c0=$(tl_live_cert cv.chains.test)
    key=$STATE/certs/$c0/privkey
    na=$(not_after_s "$STATE/certs/$c0/cert")
    cp "$STATE/certs/$c0/chain" "$dir/inter.pem"
    curl -s --max-time 5 --cacert "$PEBBLE_CA" "$PEBBLE_MGMT/roots/0" >"$dir/root.pem"
    grep -q 'BEGIN CERTIFICATE' "$dir/root.pem" || fail "chains: no root from Pebble's management API"
    # GnuTLS signs only with a key of the issuer certificate's algorithm (RSA, for Pebble).
    kt=(--key-type=ecdsa)
    certtool -i --infile "$dir/inter.pem" | grep -q 'Subject Public Key Algorithm: RSA' &&
        kt=(--key-type=rsa --bits=2048)
    certtool --generate-privkey "${kt[@]}" --no-text >"$dir/rogue.key" 2>/dev/null
    # A leaf for cv's key and names naming Pebble's intermediate (name and key identifier) as
    # its issuer, signed by a throwaway key, followed by Pebble's real intermediate.
    mkcert "$dir/forged-leaf.pem" "$key" "$dir/inter.pem" "$dir/rogue.key" \
        "2020-01-01 00:00:00 UTC" "2050-01-01 00:00:00 UTC" cv.chains.test
    cat "$dir/forged-leaf.pem" "$dir/inter.pem" >"$dir/forged.pem"
    # cv's genuine leaf, then Pebble's root before its intermediate.
    cat "$STATE/certs/$c0/cert" "$dir/root.pem" "$dir/inter.pem" >"$dir/shuffled.pem"
    # A consistent chain (leaf, intermediate, root) whose intermediate expired in 2001.
    mkcert "$dir/old-ca.pem" "$dir/rogue.key" "$X509/root.pem" "$X509/root.key" \
        "2000-01-01 00:00:00 UTC" "2001-01-01 00:00:00 UTC" "Expired Test Intermediate" ca
    mkcert "$dir/old-leaf.pem" "$key" "$dir/old-ca.pem" "$dir/rogue.key" \
        "2020-01-01 00:00:00 UTC" "2050-01-01 00:00:00 UTC" cv.chains.test
    cat "$dir/old-leaf.pem" "$dir/old-ca.pem" "$X509/root.pem" >"$dir/expired.pem"
    # name|fragments the error must hold (;-separated)|the CA's body (none: Pebble's)|anchors
    local chain_cases=(
        'forged|chain does not verify: the signature of the leaf (CN "cv.chains.test") is not by chain certificate 1 (CN "Pebble Intermediate CA |forged.pem|'
        'shuffled|chain does not verify: the leaf (CN "cv.chains.test") is not issued by chain certificate 1 (CN "Pebble Root CA |shuffled.pem|'
        'expired-intermediate|chain does not verify: chain certificate 1 (CN "Expired Test Intermediate") expired at 2001-01-01T00:00:00Z|expired.pem|'
        "other-anchor|chain does not verify: chain certificate 1 (CN \"Pebble Intermediate CA ;\") is neither a trust anchor nor issued by one||$X509/root.pem"
        "missing-anchors|request.trust-anchors: cannot open $dir/none.pem||$dir/none.pem"
    )
    for c in "${chain_cases[@]}"; do
        IFS='|' read -r name want body anchors <<<"$c"
        : >"$T/chains-hooks.log"
        before=$(cert_files)
        live_before=$(tl_live_cert cv.chains.test)
        www_before=$(tl_live_cert www.cv.chains.test)
        chains_desired "$anchors"
        d0=$(count "path=%5E/certZ/&action=replace_body")
        if [[ -n $body ]]; then
            rules "[{\"method\": \"POST\", \"path\": \"^/certZ/\", \"action\": \"replace_body\", \"body\": $(json_str "$dir/$body")}]"
        else
            rules '[]'
        fi
        ACMED_FAKE_NOW=$((na - 200 * 86400)) run "chains-$name.log" reconcile --force
        [[ -z $body ]] || (($(count "path=%5E/certZ/&action=replace_body") > d0)) ||
            fail "chain $name: the certificate was never downloaded"
        [[ $RC == 1 ]] || fail "chain $name: exit $RC, wanted 1"
        [[ $(tl_live_cert cv.chains.test) == "$live_before" && $(tl_live_cert www.cv.chains.test) == "$www_before" ]] ||
            fail "chain $name: live/ changed"
        [[ $(cert_files) == "$before" ]] ||
            fail "chain $name: a certificate was installed: $(comm -13 <(echo "$before") <(cert_files) | tr '\n' ' ')"
        grep -qx live-updated "$T/chains-hooks.log" && fail "chain $name: the live-updated hook ran"
        IFS=';' read -r -a frags <<<"$want"
        chains_error "$T/logs/chains-$name.log" "${frags[@]}" ||
            fail "chain $name: the error does not say \"$want\": $(grep -i error "$T/logs/chains-$name.log" | head -n 2)"
    done
    # A new target whose anchors file is missing fails before the CA is asked for anything.
    d0=$(count "method=POST&path=%5E/order-plz")
    printf 'satisfy:\n  names: [cw.chains.test]\nrequest:\n  trust-anchors: %s\n' "$dir/none.pem" \
        >"$STATE/desired/cw"
    run chains-new-missing.log --once
    rm -f "$STATE/desired/cw"
    [[ $RC == 1 ]] || fail "chain anchors missing before the order: exit $RC, wanted 1"
    [[ $(count "method=POST&path=%5E/order-plz") == "$d0" ]] ||
        fail "chain anchors missing before the order: an order was placed"
    chains_error "$T/logs/chains-new-missing.log" "cw: new order: request.trust-anchors: cannot open $dir/none.pem" ||
        fail "chain anchors missing before the order: $(grep -i error "$T/logs/chains-new-missing.log" | head -n 2)"
    # Pebble's own root as the anchor: the genuine chain reaches it, and is installed.
    : >"$T/chains-hooks.log"
    chains_desired "$dir/root.pem"
    rules '[]'
    ACMED_FAKE_NOW=$((na - 200 * 86400)) run chains-ok.log reconcile --force
    [[ $RC == 0 ]] || fail "chains: the renewal anchored at Pebble's root exited $RC"
    c1=$(tl_live_cert cv.chains.test)
    [[ -n $c1 && $c1 != "$c0" ]] || fail "chains: not renewed with Pebble's root as the trust anchor"
    grep -qx live-updated "$T/chains-hooks.log" || fail "chains: no live-updated hook after the renewal"
    certtool --verify --load-ca-certificate "$dir/root.pem" \
        --infile "$STATE/live/cv.chains.test/fullchain" >"$T/logs/chains-verify.log" 2>&1 ||
        fail "chains: the renewed chain does not verify against Pebble's root"
    sf_report "chains: forged leaf, shuffled, expired intermediate, trust anchors"
}

# ---- Pebble restarted with fresh state --------------------------------------------------
restart_prepare() {
    new_state restart
    proxy_reset
    want rs rs.restart.test
    run restart0.log --once
    [[ $RC == 0 ]] || fail "restart: the first issuance failed ($RC)"
    # A second target whose order is left half done (its authorization answer is garbage).
    want inflight inflight.restart.test
    rules '[{"method": "POST", "path": "^/authZ/", "action": "replace_body", "body": "garbage"}]'
    run restart1.log --once
    [[ $RC == 1 ]] || fail "restart: the half-done order did not fail ($RC)"
    rules '[]'
}

# Kills Pebble and starts it again with the same command line and PEBBLE_* environment: the
# same ports and configuration, but no accounts, orders or certificates, and a new root.
restart_pebble() {
    local ppid i kv
    local -a pargs penv=()
    ppid=$(cat "$T/pebble/pebble.pid")
    mapfile -d '' pargs <"/proc/$ppid/cmdline"
    while IFS= read -r -d '' kv; do
        [[ $kv == PEBBLE_* ]] && penv+=("$kv")
    done <"/proc/$ppid/environ"
    kill -KILL "$ppid"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$ppid" 2>/dev/null || break
        sleep 0.05
    done
    # In a subshell, so that this shell does not report the job when the fixture stops it.
    (
        env "${penv[@]}" setsid "${pargs[@]}" </dev/null >>"$T/pebble/pebble.log" 2>&1 &
        echo $! >"$T/pebble/pebble.pid"
    )
    for ((i = 0; i < 100; i++)); do
        curl -s -o /dev/null --max-time 2 --cacert "$PEBBLE_CA" "$PEBBLE_DIRECTORY" && return 0
        sleep 0.1
    done
    fail "pebble did not restart"
    return 1
}

restart_check() {
    local r0 r1 s0 na
    STATE=$T/restart
    r0=$(tl_live_cert rs.restart.test)
    s0=$(count "method=POST&path=%5E/sign-me-up")
    na=$(not_after_s "$STATE/certs/$r0/cert")
    ACMED_FAKE_NOW=$((na - 200 * 86400)) run restart2.log --once
    [[ $RC == 0 ]] || {
        grep -i error "$T/logs/restart2.log" >&2
        fail "restart: after Pebble lost its accounts and orders, the renewal pass exited $RC, wanted 0"
    }
    r1=$(tl_live_cert rs.restart.test)
    [[ -n $r1 && $r1 != "$r0" ]] || fail "restart: rs was not renewed"
    [[ -n $(tl_live_cert inflight.restart.test) ]] || fail "restart: the half-done order was not redone"
    (($(count "method=POST&path=%5E/sign-me-up") > s0)) || fail "restart: the account was not registered again"
    if [[ -n $r1 && $r1 != "$r0" ]]; then
        check "restart: the renewed chain does not verify against the new root" \
            tl_verify_chain "$STATE/live/rs.restart.test"
    fi
    sf_report "Pebble restarted with fresh state (accounts and orders gone)"
}

# ---- a hostile CA -----------------------------------------------------------------------
# What a hostile CA (or a man in the middle) says is checked and sanitised: an authorization
# for a name that was not ordered, for a forged string full of control characters, with the
# wildcard flag or the type changed, fails the target before any challenge is answered or any
# hook runs; a problem detail with line breaks, escapes and 5 KB of text reaches the log, the
# state file and `status` without a control character and cut to 1 KiB; a plain-http URL in
# an order from an https directory is refused; a plain-http provider is refused before any
# connection unless conf/acmed.yaml allows it (then a warning on every run).
hostile_ca() {
    local c name log ctl long
    new_state hostile
    cat >"$HOOKS/10-record" <<HOOK
#!/bin/sh
printf '%s\n' "\$*" >>"$T/hostile-hooks.log"
HOOK
    chmod 755 "$HOOKS/10-record"
    ctl=$(printf '[\001-\010\013-\037\177]')
    local cases=(
        'other|{"method": "POST", "path": "^/authZ/", "action": "json_patch", "patch": {"identifier": {"type": "dns", "value": "evil.hostile.test"}}}'
        'escape|{"method": "POST", "path": "^/authZ/", "action": "json_patch", "patch": {"identifier": {"type": "dns", "value": "--x\nacmed: error: forged\u001b[31m"}}}'
        'wildcard|{"method": "POST", "path": "^/authZ/", "action": "json_patch", "patch": {"wildcard": true}}'
        'iptype|{"method": "POST", "path": "^/authZ/", "action": "json_patch", "patch": {"identifier": {"type": "ip", "value": "127.0.0.1"}}}'
    )
    for c in "${cases[@]}"; do
        name=${c%%|*}
        log=$T/logs/hostile-$name.log
        want "$name" "$name.hostile.test"
        proxy_reset
        rules "[${c#*|}]"
        run "hostile-$name.log" --once
        rm -f "$STATE/desired/$name"
        [[ $RC == 1 ]] || fail "hostile authz $name: --once exited $RC, wanted 1"
        grep -q 'which was not ordered: refused\|not a valid .*: refused' "$log" ||
            fail "hostile authz $name: the error does not say the authorization was not ordered"
        [[ $(count "path=%5E/chalZ/") == 0 ]] || fail "hostile authz $name: a challenge was answered"
        grep -q "$ctl" "$log" && fail "hostile authz $name: a control character reached the log"
        grep -q '^acmed: error: forged\|^forged' "$log" && fail "hostile authz $name: a forged log line"
    done
    grep -q 'evil\|forged\|127\.0\.0\.1' "$T/hostile-hooks.log" 2>/dev/null &&
        fail "hostile authz: a hook was run for a name nobody ordered: $(cat "$T/hostile-hooks.log")"

    # A problem document built to forge log lines and fill the screen.
    long=$(printf '%05000d' 0)
    want detail detail.hostile.test
    proxy_reset
    rules '[{"method": "POST", "path": "^/order-plz$", "action": "status", "status": 403,
             "with_nonce": true, "problem": {"type": "urn:ietf:params:acme:error:unauthorized",
             "detail": "first\nacmed: error: forged\u001b]0;title\u0007\u0085 '"$long"' END"}}]'
    run hostile-detail.log --once
    log=$T/logs/hostile-detail.log
    [[ $RC == 1 ]] || fail "hostile detail: --once exited $RC, wanted 1"
    grep -q 'first?acmed: error: forged' "$log" || fail "hostile detail: the detail is not in the log"
    grep -q "$ctl" "$log" && fail "hostile detail: a control character reached the log"
    grep -q $'\xc2\x85' "$log" && fail "hostile detail: a C1 control reached the log"
    grep -q '^acmed: error: forged' "$log" && fail "hostile detail: a forged log line"
    grep -q 'END' "$log" && fail "hostile detail: 5 KB of detail were not cut"
    grep -q '\\u00\|END' "$STATE/state/detail.json" && fail "hostile detail: the state file holds control characters or the whole detail"
    "$ACMED" --state "$STATE" status >"$T/logs/hostile-status.out" 2>&1
    grep -q 'first?acmed: error: forged' "$T/logs/hostile-status.out" || fail "hostile detail: status does not show the error"
    grep -q "$ctl" "$T/logs/hostile-status.out" && fail "hostile detail: status prints a control character"
    rm -f "$STATE/desired/detail"

    # A plain-http URL in an order from an https directory.
    want plain plain.hostile.test
    proxy_reset
    rules '[{"method": "POST", "path": "^/order-plz$", "action": "json_patch",
             "patch": {"finalize": "http://127.0.0.1:1/finalize"}}]'
    run hostile-plain.log --once
    [[ $RC == 1 ]] || fail "http URL from an https CA: --once exited $RC, wanted 1"
    grep -q 'order finalize "http://127.0.0.1:1/finalize" from the CA is not https' "$T/logs/hostile-plain.log" ||
        fail "http URL from an https CA: not refused with its name"

    # Every target issued once the CA behaves.
    for name in "${cases[@]%%|*}" detail; do want "$name" "$name.hostile.test"; done
    rules '[]'
    run hostile-recover.log reconcile --force
    [[ $RC == 0 ]] || fail "hostile CA: the recovery pass exited $RC, wanted 0"

    # A plain-http provider: refused before any connection (192.0.2.1 is TEST-NET-1: nothing
    # answers there), then allowed by conf/acmed.yaml with a warning.
    new_state hostile-http
    want h h.hostile.test
    SF_TIMEOUT=20 PROVIDER=http://192.0.2.1/dir run hostile-http.log --once
    [[ $RC == 1 ]] || fail "plain http provider: --once exited $RC, wanted 1"
    grep -q 'plain http provider http://192.0.2.1/dir refused; set allow-insecure-http: true in conf/acmed.yaml to allow it' \
        "$T/logs/hostile-http.log" || fail "plain http provider: not refused with the switch named"
    ((MS < 5000)) || fail "plain http provider: the refusal took $MS ms (a connection was tried?)"
    printf 'allow-insecure-http: true\n' >"$STATE/conf/acmed.yaml"
    timeout -k 2 3 "$ACMED" --state "$STATE" --hooks "$HOOKS" --provider http://0.0.0.0:1/dir \
        reconcile --force >"$T/logs/hostile-http-allowed.log" 2>&1
    grep -q 'plain http provider http://0.0.0.0:1/dir: allowed by allow-insecure-http' \
        "$T/logs/hostile-http-allowed.log" || fail "plain http provider allowed: no warning"
    grep -q 'refused; set allow-insecure-http' "$T/logs/hostile-http-allowed.log" &&
        fail "plain http provider allowed: still refused"
    RUNS=$((RUNS + 1))
    sf_report "a hostile CA: identifiers not ordered, forged text, http URLs, http providers"
}

# ---- ARI: `replaces` never wedges a renewal ---------------------------------------------
# Five certificates issued with renewalInfo on (window 30 to 31 days on), then renewed 32
# days on, each renewal order meeting its own refusal (rules match on the name and on the
# payload having `replaces`).
ari_replaces() {
    local now f c
    local -A c0
    new_state ari-replaces
    proxy_reset
    ari_on 2592000 2678400
    for f in r409 r403 r400 r429 rtwice; do want "$f" "$f.arirepl.test"; done
    run arirepl0.log --once
    [[ $RC == 0 ]] || fail "ari replaces: the first issuance exited $RC"
    for f in r409 r403 r400 r429 rtwice; do c0[$f]=$(tl_live_cert "$f.arirepl.test"); done
    sleep 1 # the renewed certificates expire a second later: status tells them apart
    rule() { # rule NAME STATUS TYPE DETAIL [EXTRA-JSON]: refuses NAME's newOrders with replaces
        printf '{"method": "POST", "path": "^/order-plz$", "payload_contains": "%s.arirepl.test",
                 "payload_has": "replaces", "action": "status", "status": %s, "with_nonce": true,
                 "problem": {"type": "urn:ietf:params:acme:error:%s", "detail": "%s"}%s}' \
            "$1" "$2" "$3" "$4" "${5:-}"
    }
    rules "[$(rule r409 409 alreadyReplaced "this certificate was replaced already"),
            $(rule r403 403 unauthorized "the certificate was issued to another account"),
            $(rule r400 400 malformed "unknown field: replaces"),
            $(rule r429 429 rateLimited "too many renewals" ', "retry_after": 3600'),
            {\"method\": \"POST\", \"path\": \"^/order-plz$\", \"payload_contains\": \"rtwice.arirepl.test\",
             \"action\": \"status\", \"status\": 409, \"with_nonce\": true,
             \"problem\": {\"type\": \"urn:ietf:params:acme:error:alreadyReplaced\", \"detail\": \"no\"}}]"
    now=$(date +%s)
    ACMED_FAKE_NOW=$((now + 32 * 86400)) run arirepl1.log --once
    [[ $RC == 1 ]] || fail "ari replaces: the renewal pass exited $RC, wanted 1 (r429 and rtwice fail)"
    # Refused for a reason `replaces` may be behind: exactly one more order, without it, at once.
    for c in "r409 409 alreadyReplaced" "r403 403 unauthorized" "r400 400 malformed"; do
        set -- $c
        [[ $(orders "$1.arirepl.test") == "N201 R$2 N201" ]] ||
            fail "ari replaces $1: newOrders $(orders "$1.arirepl.test"), wanted N201 R$2 N201"
        f=$(tl_live_cert "$1.arirepl.test")
        [[ -n $f && $f != "${c0[$1]}" ]] || fail "ari replaces $1: not renewed"
        grep -q "warning: $1: the CA refused the order replacing .*$3 ($2).*; ordering again without replaces" \
            "$T/logs/arirepl1.log" || fail "ari replaces $1: no warning naming the refusal"
        [[ -n $(meta_get "$f" replaces_dropped) && -z $(meta_get "$f" replaces) ]] ||
            fail "ari replaces $1: the new certificate's meta does not say replaces was dropped"
        [[ $(meta_get "$f" replaces_dropped_why) == *"$3 ($2)"* ]] ||
            fail "ari replaces $1: the meta does not name the refusal: $(meta_get "$f" replaces_dropped_why)"
        grep -q replaces_dropped "$STATE/state/$1.json" && fail "ari replaces $1: the drop outlived the renewal"
    done
    # A rate limit is waited for, `replaces` kept.
    [[ $(orders r429.arirepl.test) == "N201 R429" ]] ||
        fail "ari replaces r429: newOrders $(orders r429.arirepl.test), wanted N201 R429"
    [[ $(tl_live_cert r429.arirepl.test) == "${c0[r429]}" ]] || fail "ari replaces r429: renewed despite the rate limit"
    grep -q replaces_dropped "$STATE/state/r429.json" && fail "ari replaces r429: replaces dropped for a rate limit"
    # Refused again without `replaces`: the target fails, no third order, no loop.
    [[ $(orders rtwice.arirepl.test) == "N201 R409 N409" ]] ||
        fail "ari replaces rtwice: newOrders $(orders rtwice.arirepl.test), wanted N201 R409 N409"
    "$ACMED" --state "$STATE" status --json >"$T/logs/arirepl.status.json" 2>/dev/null
    "$PY" - "$T/logs/arirepl.status.json" <<'PY' || fail "ari replaces: status does not show the dropped replaces"
import json, sys
s = {t["file"]: t for t in json.load(open(sys.argv[1]))["targets"]}
d = s["rtwice"]["replaces_dropped"]
assert d and d["cert_id"] and "alreadyReplaced (409)" in d["problem"], s["rtwice"]
assert s["r429"]["replaces_dropped"] is None, s["r429"]
assert "alreadyReplaced (409)" in s["r409"]["replaces_dropped"]["problem"], s["r409"]
PY
    # The next attempt of the same renewal goes without `replaces` (a forced pass: r429 keeps
    # waiting for its Retry-After).
    ACMED_FAKE_NOW=$((now + 32 * 86400 + 120)) run arirepl2.log reconcile --force
    [[ $(orders rtwice.arirepl.test) == "N201 R409 N409 N409" ]] ||
        fail "ari replaces rtwice: newOrders $(orders rtwice.arirepl.test), wanted N201 R409 N409 N409"
    [[ $(orders r429.arirepl.test) == "N201 R429" ]] || fail "ari replaces r429: ordered before its Retry-After"
    # The CA sane again, past the Retry-After: r429 renews with `replaces`, rtwice without.
    rules '[]'
    ACMED_FAKE_NOW=$((now + 32 * 86400 + 7300)) run arirepl3.log --once
    [[ $RC == 0 ]] || fail "ari replaces: the recovery pass exited $RC, wanted 0"
    [[ $(orders r429.arirepl.test) == "N201 R429 R201" ]] ||
        fail "ari replaces r429: newOrders $(orders r429.arirepl.test), wanted N201 R429 R201"
    [[ $(orders rtwice.arirepl.test) == "N201 R409 N409 N409 N201" ]] ||
        fail "ari replaces rtwice: newOrders $(orders rtwice.arirepl.test), wanted N201 R409 N409 N409 N201"
    for f in r429 rtwice; do
        [[ $(tl_live_cert "$f.arirepl.test") != "${c0[$f]}" ]] || fail "ari replaces $f: not renewed in the end"
    done
    sf_report "ARI: replaces refused (409, 403, 400, twice), rate-limited"
}

# A kill between the refused order and the one without `replaces`: the checkpoint says it was
# dropped, and the next run does not send it again.
ari_crash() {
    local now pid c0 c1
    new_state ari-crash
    proxy_reset
    ari_on 2592000 2678400
    want rc rc.aricrash.test
    run aricrash0.log --once
    [[ $RC == 0 ]] || fail "ari crash: the first issuance exited $RC"
    local t3339='20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z'
    grep -q "renewal window $t3339\.\.$t3339, renewing at $t3339" "$T/logs/aricrash0.log" ||
        fail "ari crash: the renewal window is not logged in RFC 3339"
    c0=$(tl_live_cert rc.aricrash.test)
    sleep 1 # the renewed certificate expires a second later: status tells them apart
    rules '[{"method": "POST", "path": "^/order-plz$", "payload_has": "replaces", "action": "status",
             "status": 409, "with_nonce": true, "problem": {"type": "urn:ietf:params:acme:error:alreadyReplaced",
             "detail": "replaced already"}}]'
    now=$(date +%s)
    ACMED_FAILPOINT=replaces-dropped ACMED_FAKE_NOW=$((now + 32 * 86400)) "$ACMED" --state "$STATE" \
        --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" --once \
        >"$T/logs/aricrash1.log" 2>&1 &
    pid=$!
    if wait_stopped $pid; then
        { kill -KILL $pid && wait $pid; } 2>/dev/null
    else
        fail "ari crash: acmed did not stop at the failpoint replaces-dropped"
        { kill -KILL $pid && wait $pid; } 2>/dev/null
    fi
    RUNS=$((RUNS + 1))
    [[ $(orders rc.aricrash.test) == "N201 R409" ]] ||
        fail "ari crash: newOrders before the kill $(orders rc.aricrash.test), wanted N201 R409"
    grep -q '"replaces_dropped"' "$STATE/state/rc.json" && ! grep -q '"replaces"' "$STATE/state/rc.json" ||
        fail "ari crash: the checkpoint does not remember the drop: $(cat "$STATE/state/rc.json")"
    ACMED_FAKE_NOW=$((now + 32 * 86400 + 5)) run aricrash2.log --once
    [[ $RC == 0 ]] || fail "ari crash: the run after the kill exited $RC, wanted 0"
    [[ $(orders rc.aricrash.test) == "N201 R409 N201" ]] ||
        fail "ari crash: newOrders $(orders rc.aricrash.test), wanted N201 R409 N201"
    c1=$(tl_live_cert rc.aricrash.test)
    [[ -n $c1 && $c1 != "$c0" ]] || fail "ari crash: not renewed after the kill"
    [[ $(meta_get "$c1" replaces_dropped_why) == *"alreadyReplaced (409)"* ]] ||
        fail "ari crash: the new certificate's meta does not name the refusal"
    "$ACMED" --state "$STATE" status >"$T/logs/aricrash.status" 2>&1
    grep -q "replaces dropped (.*): urn:ietf:params:acme:error:alreadyReplaced (409): replaced already" \
        "$T/logs/aricrash.status" || fail "ari crash: status does not show the dropped replaces"
    sf_report "ARI: killed between the refused order and the one without replaces"
}

# renewalInfo is asked of the CA that issued the certificate. Two proxies in front of the same
# Pebble are two CAs for acmed (their own directory URLs, accounts, dir-ids).
ari_issuer() {
    local a_url a_ctl b_url b_ctl now c1 c2 t
    read -r a_url a_ctl <<<"$(proxy_wait proxy-ari-a)"
    read -r b_url b_ctl <<<"$(proxy_wait proxy-ari-b)"
    new_state ari-issuer
    for PROXY_CTL in "$b_ctl" "$a_ctl"; do proxy_reset; ari_on 2592000 2678400 60; done
    ri() { # ri CONTROL-URL: renewalInfo requests there since the last clear
        PROXY_CTL=$1 count "path=%5E/renewal-info/"
    }
    clear_logs() {
        local c
        for c in "$a_ctl" "$b_ctl"; do
            curl -s --max-time 5 -X POST -d '{"ari": false}' "$c/reset" >/dev/null
        done
    }
    want iss iss.ariissuer.test
    PROVIDER=$a_url run ariiss0.log --once
    [[ $RC == 0 ]] || fail "ari issuer: the issuance at A exited $RC"
    c1=$(tl_live_cert iss.ariissuer.test)
    [[ $(meta_get "$c1" directory) == "$a_url" ]] || fail "ari issuer: meta does not keep the issuing directory"
    (($(ri "$a_ctl") >= 1)) || fail "ari issuer: no renewalInfo asked of A after the issuance"
    now=$(date +%s)
    # The target moves to B: its certificate's renewal information still comes from A.
    printf 'satisfy:\n  names:\n    - iss.ariissuer.test\nrequest:\n  provider: %s\n' "$b_url" \
        >"$STATE/desired/iss"
    clear_logs
    ACMED_FAKE_NOW=$((now + 120)) PROVIDER=$a_url run ariiss1.log --once
    [[ $RC == 0 ]] || fail "ari issuer: the pass after the move exited $RC"
    t="after the move to B"
    (($(ri "$a_ctl") >= 1)) || fail "ari issuer $t: renewalInfo not asked of A, the issuer"
    [[ $(ri "$b_ctl") == 0 ]] || fail "ari issuer $t: renewalInfo asked of B, which did not issue it"
    # A meta from before the issuer was kept: the account link (A's account) decides. With the
    # target at B, nobody is asked; with the target back at A, A is.
    "$PY" -c 'import json, sys; m = json.load(open(sys.argv[1])); del m["directory"]; json.dump(m, open(sys.argv[1], "w"))' \
        "$STATE/certs/$c1/meta"
    clear_logs
    ACMED_FAKE_NOW=$((now + 240)) PROVIDER=$a_url run ariiss2.log --once
    t="with an old meta, target at B"
    [[ $RC == 0 ]] || fail "ari issuer $t: exit $RC"
    [[ $(ri "$a_ctl") == 0 && $(ri "$b_ctl") == 0 ]] ||
        fail "ari issuer $t: renewalInfo asked of A ($(ri "$a_ctl")) or B ($(ri "$b_ctl")), the issuer unknown"
    [[ -z $(meta_get "$c1" ari_next_check) ]] ||
        fail "ari issuer $t: a renewalInfo check is still due (the daemon would wake for it)"
    printf 'satisfy:\n  names:\n    - iss.ariissuer.test\n' >"$STATE/desired/iss"
    clear_logs
    ACMED_FAKE_NOW=$((now + 360)) PROVIDER=$a_url run ariiss3.log --once
    t="with an old meta, target back at A"
    [[ $RC == 0 ]] || fail "ari issuer $t: exit $RC"
    (($(ri "$a_ctl") >= 1)) || fail "ari issuer $t: renewalInfo not asked of A"
    [[ $(ri "$b_ctl") == 0 ]] || fail "ari issuer $t: renewalInfo asked of B"
    # Due, the target at B again: renewed at B without `replaces` (A's certificate is nothing
    # to B); the new certificate's renewal information comes from B.
    "$PY" -c 'import json, sys; m = json.load(open(sys.argv[1])); m["directory"] = sys.argv[2]; json.dump(m, open(sys.argv[1], "w"))' \
        "$STATE/certs/$c1/meta" "$a_url"
    printf 'satisfy:\n  names:\n    - iss.ariissuer.test\nrequest:\n  provider: %s\n' "$b_url" \
        >"$STATE/desired/iss"
    clear_logs
    ACMED_FAKE_NOW=$((now + 32 * 86400)) PROVIDER=$a_url run ariiss4.log --once
    t="renewal at B"
    [[ $RC == 0 ]] || fail "ari issuer $t: exit $RC"
    c2=$(tl_live_cert iss.ariissuer.test)
    [[ -n $c2 && $c2 != "$c1" ]] || fail "ari issuer $t: not renewed"
    [[ $(PROXY_CTL=$b_ctl orders iss.ariissuer.test) == "N201" ]] ||
        fail "ari issuer $t: newOrders at B $(PROXY_CTL=$b_ctl orders iss.ariissuer.test), wanted N201"
    [[ -z $(PROXY_CTL=$a_ctl orders iss.ariissuer.test) ]] || fail "ari issuer $t: a newOrder went to A"
    [[ $(meta_get "$c2" directory) == "$b_url" ]] || fail "ari issuer $t: the new meta does not name B"
    (($(ri "$b_ctl") >= 1)) || fail "ari issuer $t: renewalInfo for the new certificate not asked of B"
    PROXY_CTL=$a_ctl
    sf_report "ARI: renewalInfo asked of the issuing CA after a provider change"
}

# ---- the run ----------------------------------------------------------------------------
for p in main stall nonce-head 5xx-1 5xx-2 hostile ari ari-crash ari-a ari-b chains; do
    proxy_start "proxy-$p"
done
in_background proxy-stall stall
in_background proxy-nonce-head nonce_head
in_background proxy-5xx-1 fivexx_1
in_background proxy-5xx-2 fivexx_2
in_background proxy-hostile hostile_ca
in_background proxy-ari ari_replaces
in_background proxy-ari-crash ari_crash
in_background proxy-ari-a ari_issuer
in_background proxy-chains chains
use_proxy proxy-main
ratelimit
nonce_storms
bodies
bad_certs
restart_prepare
wait_background # nothing may use Pebble while it restarts
restart_pebble && restart_check
echo "$(basename "$0"): $(($(date +%s) - T0)) s" >>"$T/logs/timing"
tl_done
