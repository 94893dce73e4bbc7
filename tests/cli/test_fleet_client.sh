#!/usr/bin/env bash
# acmed as a fleet client (issue 15 item 5): a web server's desired file names a central
# certificate server (`acmed serve`, itself ordering from Pebble) as its provider,
# mgmt+http://127.0.0.1:<port>/sign with request.mgmt.hmac-key-file and request.trust-anchors
# set to Pebble's root. Its `acmed --once` makes the key and CSR, posts it with the HMAC header,
# checks and installs the chain and runs its hooks, with no ACME account of its own; a wrong
# HMAC key gets the server's 403 as the target's error; with the server stopped the next run
# fails and the target backs off (status shows it), and once the server is back the target
# gets its certificate (reconcile --force skips the backoff). Run as root this goes through the
# privilege-separated worker (cli.fleet_client), and again in one process (cli1.fleet_client).
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble

# ---- the central server: its own state directory, ordering from Pebble and answering its
# http-01 challenges on Pebble's validation port ----
C=$T/central
mkdir -p "$C/conf" "$C/desired" "$T/chooks"
cat >"$C/conf/target" <<'YAML'
request:
  challenge:
    type: [http-01]
  account:
    agree-tos: true
YAML
[[ -f $STATE/conf/acmed.yaml ]] && cp "$STATE/conf/acmed.yaml" "$C/conf/acmed.yaml"
printf 'fleet shared secret\n' >"$T/central.key"
chmod 600 "$T/central.key"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$C/conf/serve.yaml" <<YAML
listen: ["127.0.0.1:$PORT"]
http-01-listen: ["127.0.0.1:$PEBBLE_HTTP_PORT"]
request-timeout: 60
clients:
  web:
    ip: [127.0.0.1]
    hmac-key-file: $T/central.key
    domains: ["*.fleet.test"]
YAML

start_server() {
    "$ACMED" --state "$C" --hooks "$T/chooks" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" \
        serve >>"$T/serve.log" 2>&1 </dev/null &
    SERVER=$!
    PIDS+=("$SERVER")
    tl_wait_port "$PORT" || {
        cat "$T/serve.log" >&2
        fail "acmed serve did not listen on 127.0.0.1:$PORT"
        exit 1
    }
}

stop_server() {
    kill -TERM "$SERVER" 2>/dev/null
    for ((i = 0; i < 200; i++)); do
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$SERVER" 2>/dev/null
    wait "$SERVER" 2>/dev/null
}

start_server

# ---- the web server: no account, no challenge settings; a hook recording its runs ----
curl -s --max-time 5 --cacert "$PEBBLE_CA" "$PEBBLE_MGMT/roots/0" >"$T/root.pem"
grep -q 'BEGIN CERTIFICATE' "$T/root.pem" || fail "no Pebble root"
printf 'fleet shared secret\n' >"$T/client.key"
printf 'not the shared secret\n' >"$T/wrong.key"
chmod 600 "$T/client.key" "$T/wrong.key"
mkdir -p "$STATE/desired"
desired() { # desired NAME KEY-FILE
    cat >"$STATE/desired/$1" <<YAML
satisfy:
  names: [$1]
request:
  provider: mgmt+http://127.0.0.1:$PORT/sign
  trust-anchors: $T/root.pem
  mgmt:
    hmac-key-file: $2
YAML
}
cat >"$HOOKS/record" <<SH
#!/bin/sh
printf '%s %s\n' "\$1" "\$(cat | tr '\n' ' ')" >>"$T/hooks.log"
SH
chmod 755 "$HOOKS/record"

desired www.fleet.test "$T/client.key"
tl_acmed -v --once >"$T/once1.log" 2>&1 || { cat "$T/once1.log" "$T/serve.log" >&2; fail "first run exited $?"; }
# As root (and unless told otherwise) the post goes through the unprivileged worker.
if [[ $(id -u) == 0 && ${ACMED_TEST_ONE_PROCESS:-0} != 1 ]]; then
    grep -q 'worker: started' "$T/once1.log" || fail "no worker in the privilege-separated run"
else
    grep -q 'worker: started' "$T/once1.log" && fail "a worker in the one-process run"
fi
id=$(tl_live_cert www.fleet.test)
[[ -n $id ]] || fail "no live/www.fleet.test"
tl_verify_chain "$STATE/certs/$id" || fail "the chain does not verify against Pebble's root"
[[ $(openssl x509 -in "$STATE/certs/$id/cert" -noout -pubkey | openssl sha256) == \
    $(openssl pkey -in "$STATE/certs/$id/privkey" -pubout | openssl sha256) ]] ||
    fail "the certificate is not for the key acmed made"
grep -q '^live-updated www.fleet.test' "$T/hooks.log" 2>/dev/null || fail "the hook did not run: $(cat "$T/hooks.log" 2>/dev/null)"
[[ -z $(ls -A "$STATE/accounts" 2>/dev/null) ]] || fail "the web server made an account: $(ls -R "$STATE/accounts")"
[[ ! -e $STATE/certs/$id/account ]] || fail "certs/$id has an account link"
grep -q 'agree' "$T/once1.log" && fail "terms of service asked for: $(cat "$T/once1.log")"

# A wrong HMAC key: the server's 403 is the target's error.
desired bad.fleet.test "$T/wrong.key"
tl_acmed --once >"$T/once2.log" 2>&1
rc=$?
[[ $rc == 1 ]] || fail "a refused target: exit $rc, not 1"
grep -q 'answered 403 (not allowed)' "$T/once2.log" || fail "no 403 in the log: $(cat "$T/once2.log")"
tl_acmed status >"$T/status2.txt" 2>&1
grep -q '403' "$T/status2.txt" || fail "status does not show the 403: $(cat "$T/status2.txt")"
[[ -e $STATE/live/bad.fleet.test ]] && fail "a refused target got a certificate"
rm -f "$STATE/desired/bad.fleet.test" "$STATE/state/bad.fleet.test.json"

# The server stopped: a new target fails and backs off; the first stays as it is.
stop_server
: >"$T/hooks.log"
desired b.fleet.test "$T/client.key"
tl_acmed --once >"$T/once3.log" 2>&1
rc=$?
[[ $rc == 1 ]] || fail "with the server down: exit $rc, not 1"
grep -qi 'connect' "$T/once3.log" || fail "no connection error: $(cat "$T/once3.log")"
tl_acmed status >"$T/status3.txt" 2>&1
grep -E '^b\.fleet\.test +backoff' "$T/status3.txt" >/dev/null ||
    fail "status does not show b.fleet.test backing off: $(cat "$T/status3.txt")"
grep -E '^www\.fleet\.test +satisfied' "$T/status3.txt" >/dev/null ||
    fail "www.fleet.test is no longer satisfied: $(cat "$T/status3.txt")"
[[ $(tl_live_cert www.fleet.test) == "$id" ]] || fail "live/www.fleet.test changed"
grep -q '^renewal-failed b.fleet.test' "$T/hooks.log" || fail "no renewal-failed hook: $(cat "$T/hooks.log")"

# The server back: still in backoff on a plain run, issued with --force.
start_server
tl_acmed --once >"$T/once4.log" 2>&1
grep -q 'b.fleet.test: backing off' "$T/once4.log" || fail "the backoff was not kept: $(cat "$T/once4.log")"
tl_acmed reconcile --force >"$T/once5.log" 2>&1 || { cat "$T/once5.log" "$T/serve.log" >&2; fail "the forced run exited $?"; }
bid=$(tl_live_cert b.fleet.test)
[[ -n $bid ]] || fail "no live/b.fleet.test after the server came back"
[[ -n $bid ]] && { tl_verify_chain "$STATE/certs/$bid" || fail "b.fleet.test's chain does not verify"; }
grep -q '^live-updated b.fleet.test' "$T/hooks.log" || fail "the hook did not run for b.fleet.test: $(cat "$T/hooks.log")"
tl_acmed status >"$T/status5.txt" 2>&1
grep -E '^b\.fleet\.test +satisfied' "$T/status5.txt" >/dev/null ||
    fail "b.fleet.test is not satisfied: $(cat "$T/status5.txt")"
stop_server
tl_done
