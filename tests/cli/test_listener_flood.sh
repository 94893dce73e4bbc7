#!/usr/bin/env bash
# One client holding connections open must not starve acmed's built-in challenge listeners:
# while tests/cli/flood_holder.py keeps 100 idle connections to the http-01 listener (then, in
# a second run, to the tls-alpn-01 listener) from the same loopback address as Pebble's
# validator, reopening each one acmed closes, `acmed --once` must still get its certificate.
# Pebble sends its validation requests together and fails the challenge if one fails.
#
# A challenge-*-start hook (run after the answer is published and before the CA is asked to
# validate) waits until the holder has had all 100 connections open, so the validation always
# meets the flood. The holder is bounded in time and killed by PID at the end of each run and
# on exit.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble

NFLOOD=100
HOLDER=""

stop_holder() {
    [[ -n $HOLDER ]] && { kill -KILL "$HOLDER" && wait "$HOLDER"; } 2>/dev/null
    HOLDER=""
    return 0
}
trap 'stop_holder; tl_cleanup' EXIT

# start_holder PORT NAME: the holder against 127.0.0.1:PORT, status in $T/NAME.status.
start_holder() {
    python3 "$TL_SRC/tests/cli/flood_holder.py" 127.0.0.1 "$1" "$NFLOOD" 45 "$T/$2.status" \
        >"$T/$2.holder.log" 2>&1 </dev/null &
    HOLDER=$! # killed by stop_holder only (not through PIDS: never twice)
}

# status NAME KEY: a value from the holder's status file (0 when missing).
status() {
    local v
    v=$(sed -n "s/^$2=//p" "$T/$1.status" 2>/dev/null)
    echo "${v:-0}"
}

# The hook: on the start of an http-01 or tls-alpn-01 challenge, waits (at most 15 s) for
# the flood, then a little more so that acmed is evicting and the holder reconnecting.
cat >"$HOOKS/flood-wait" <<HOOK
#!/bin/sh
case "\$1" in
challenge-http-start) st=$T/http.status ;;
challenge-tls-alpn-start) st=$T/tls.status ;;
*) exit 42 ;;
esac
i=0
while [ \$i -lt 300 ] && ! grep -q '^ready=1' "\$st" 2>/dev/null; do
    sleep 0.05
    i=\$((i + 1))
done
sleep 0.5
echo "\$1 \$(tr '\n' ' ' <"\$st" 2>/dev/null)" >>"$T/hook.log"
HOOK
chmod 755 "$HOOKS/flood-wait"

# check_flood NAME: the flood was on, and acmed closed the idle connections beyond the four it
# keeps per address to make room, within a second rather than at the deadline for a request.
check_flood() {
    local opened closed fast
    opened=$(status "$1" opened)
    closed=$(status "$1" closed)
    fast=$(status "$1" fast)
    echo "$1 flood: $opened connections opened, $closed closed by acmed ($fast within 1 s)" >&2
    ((opened >= NFLOOD)) || fail "$1: the holder never had its $NFLOOD connections"
    ((fast >= NFLOOD - 4)) || fail "$1: acmed closed only $fast idle connections within 1 s"
}

# http-01 through the built-in listener on Pebble's validation port.
tl_conf_listener
printf 'satisfy:\n  names: [flood.h.test, www.flood.h.test]\n' >"$STATE/desired/h"
start_holder "$PEBBLE_HTTP_PORT" http
timeout 50 "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" \
    --provider "$PROVIDER" --once >"$T/http.log" 2>&1 ||
    { cat "$T/http.log" >&2; fail "http-01 issuance failed under the flood"; }
stop_holder
check_flood http
[[ -n $(tl_live_cert flood.h.test) ]] || fail "no certificate through the flooded http-01 listener"
grep -q '^challenge-http-start .*ready=1' "$T/hook.log" 2>/dev/null ||
    fail "the http-01 validation did not wait for the flood"

# tls-alpn-01 through the built-in TLS listener on Pebble's tls validation port.
cat >"$STATE/conf/target" <<YAML
request:
  challenge:
    type: [tls-alpn-01]
    tls-ports: ["127.0.0.1:$PEBBLE_TLS_PORT"]
  account:
    agree-tos: true
YAML
rm "$STATE/desired/h" # judged above; a failure there must not fail this run too
printf 'satisfy:\n  names: [flood.t.test]\n' >"$STATE/desired/t"
start_holder "$PEBBLE_TLS_PORT" tls
timeout 50 "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" \
    --provider "$PROVIDER" --once >"$T/tls.log" 2>&1 ||
    { cat "$T/tls.log" >&2; fail "tls-alpn-01 issuance failed under the flood"; }
stop_holder
check_flood tls
[[ -n $(tl_live_cert flood.t.test) ]] ||
    fail "no certificate through the flooded tls-alpn-01 listener"
grep -q 'flood.t.test by tls-alpn-01' "$T/tls.log" || fail "tls-alpn-01 was not the method used"
grep -q '^challenge-tls-alpn-start .*ready=1' "$T/hook.log" 2>/dev/null ||
    fail "the tls-alpn-01 validation did not wait for the flood"
# Each answered handshake is logged at debug level only (acmed runs at info here).
grep -q 'tls-alpn-01: answered' "$T/tls.log" && fail "answered handshakes are logged at info"
tl_done
