#!/usr/bin/env bash
# Fleet mode: a node killed after it made a target's key but before its order (failpoint
# after-key, then SIGKILL) leaves a checkpoint naming a key only it had. The node that takes
# the lock once its lease has expired must not try to publish that key as its own, nor keep
# the lock after a failed checkpoint: it forgets the key of an order never placed, orders
# with its own, and the target is issued (one order at the CA), then the lock is free.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
"$TL_SRC/tests/etcd/fixture.sh" start "$T/etcd" >"$T/etcd.log" 2>&1 || {
    cat "$T/etcd.log" >&2
    fail "etcd did not start"
    exit 1
}
trap '"$TL_SRC/tests/etcd/fixture.sh" stop "$T/etcd" >/dev/null 2>&1; tl_cleanup' EXIT
# shellcheck disable=SC1091
. "$T/etcd/env"
tl_pebble
(umask 077 && head -c 32 /dev/urandom >"$T/secret")
for k in 1 2; do
    N=$T/n$k
    mkdir -p "$N/conf" "$N/desired"
    cat >"$N/conf/acmed.yaml" <<YAML
privsep: false
cluster:
  etcd:
    endpoints: [$ETCD_URL_1, $ETCD_URL_2, $ETCD_URL_3]
    prefix: /acmed-takeover/
  node: node$k
  secret-file: $T/secret
YAML
    cat >"$N/conf/target" <<YAML
request:
  challenge:
    http-ports: ["127.0.0.1:$PEBBLE_HTTP_PORT"]
  account:
    agree-tos: true
YAML
done
wait_for() {
    local end=$((SECONDS + $1))
    shift
    while ((SECONDS < end)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}
stopped() { [[ $(ps -o stat= -p "$1" 2>/dev/null) == T* ]]; }
start() { # start K [VAR=VALUE...]
    local k=$1
    shift
    env "$@" "$ACMED" --state "$T/n$k" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" \
        --provider "$PROVIDER" >>"$T/n$k.log" 2>&1 </dev/null &
    PIDS+=($!)
}

start 1 ACMED_FAILPOINT=after-key
P1=${PIDS[-1]}
"$ACMED" --state "$T/n1" want k.takeover.test >"$T/want.log" 2>&1 || fail "want: $(cat "$T/want.log")"
wait_for 20 stopped "$P1" || fail "node1 did not stop at after-key: $(tail -5 "$T/n1.log")"
grep -q 'k.takeover.test: order https' "$T/n1.log" && fail "node1 ordered before its failpoint"
kill -KILL "$P1"
start 2
wait_for 45 test -s "$T/n2/live/k.takeover.test/cert" ||
    fail "node2 did not take the target over: $(grep -v debug "$T/n2.log" | tail -8)"
grep -q 'checkpoint in etcd failed' "$T/n2.log" && fail "node2's checkpoint failed: $(cat "$T/n2.log")"
orders=$(grep -c 'Added order "' "$T/pebble/pebble.log")
[[ $orders == 1 ]] || fail "$orders orders at the CA for one target, expected 1"
# The certificate is for node2's own key, and node2 gave the lock back.
a=$(openssl x509 -noout -pubkey -in "$T/n2/live/k.takeover.test/cert" | sha256sum)
b=$(openssl pkey -pubout -in "$T/n2/live/k.takeover.test/privkey" | sha256sum)
[[ $a == "$b" ]] || fail "the certificate does not match its key"
"$ACMED" --state "$T/n2" status >"$T/status.out" 2>&1
wait_for 10 bash -c "'$ACMED' --state '$T/n2' status 2>&1 | grep -q 'holder: -'" ||
    fail "the lock was not given back: $("$ACMED" --state "$T/n2" status 2>&1 | head -8)"
tl_done
