#!/usr/bin/env bash
# Fleet mode end to end (issue 16, "Done when"; DESIGN.md §12): three acmed daemons on loopback
# sharing a three-member etcd of the test's own (tests/etcd/fixture.sh) and a secret-file,
# against a Pebble of the test's own. node1 separates privileges (user: nobody, a keeper and its
# worker), node2 and node3 run as one process (privsep: false). Node k answers http-01 on
# 127.0.0.k at Pebble's validation port, held open for the daemon's life; pebble-challtestsrv
# points target i at node (i mod 3) + 1, so Pebble's validations land on chosen nodes.
#
# a. Twenty targets wanted once (`acmed want`, spread over the three nodes) are issued with
#    exactly one order each: Pebble's log ("Added order" lines) counts the orders, the
#    daemons' "<target>: order <url>" lines say which node opened which, and the two agree
#    order for order. Every node has the same certificate bytes live and ran its own
#    live-updated hook for every name.
# b. At least one validation went to a node that did not order and succeeded: the node the
#    name points at is not the one whose log has the order, and its log says it served one of
#    the tokens Pebble's log shows it validating for that name (the target is live).
# c. node1, restarted with ACMED_FAILPOINT=after-order while node2 and node3 are paused, takes
#    two new targets and stops itself after its first order; it is SIGKILLed (keeper and
#    worker) and the others, resumed, finish both once its locks expire; the orders Pebble saw
#    stay within targets plus kills; node1 restarted catches up from etcd.
# d. etcd member 1 (the first endpoint of every node) is SIGKILLed just after a target is
#    wanted, and two more are wanted after: all three are issued. Then the daemons are
#    paused, a target is wanted, every etcd member is stopped and the daemons resumed: they
#    keep their live certificates byte for byte and `acmed status` says etcd is unreachable;
#    the members restarted on their own data, the pending target is issued on every node.
# e. No private key in clear in etcd's data directories nor in a snapshot (etcdctl): neither
#    "PRIVATE KEY", nor the first 40 characters of any key file's base64 body, nor 24 bytes
#    from the middle of its private value (EC priv, RSA private exponent) in binary.
# Finally every node has the same certificate bytes live for every name, and every certificate
# a node installed (live/ and certs/) matches its key (public keys compared).
# Every wait is a bounded poll; only processes this test started are stopped, by PID.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
[[ $(id -u) == 0 ]] || {
    echo "test_fleet.sh: needs root (node1 separates privileges, which starts only as root)" >&2
    exit 1
}
"$TL_SRC/tests/etcd/fixture.sh" start "$T/etcd" >"$T/etcd.log" 2>&1 || {
    cat "$T/etcd.log" >&2
    fail "etcd did not start"
    exit 1
}
trap '"$TL_SRC/tests/etcd/fixture.sh" stop "$T/etcd" >/dev/null 2>&1; tl_cleanup' EXIT
# shellcheck disable=SC1091
. "$T/etcd/env"
# Each member's command line, to start it again on its own data and ports after the outage.
for i in 1 2 3; do
    v=ETCD_PID_$i
    tr '\0' '\n' <"/proc/${!v}/cmdline" >"$T/etcd/m$i.cmdline" || fail "etcd member $i is gone"
done
tl_pebble
FLEET_T0=$SECONDS

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

# ---- the three nodes ----
(umask 077 && head -c 32 /dev/urandom >"$T/secret")
for k in 1 2 3; do
    N=$T/n$k
    mkdir -p "$N/conf" "$N/desired" "$T/hooks$k"
    if ((k == 1)); then
        printf 'user: nobody\nprivsep: true\n' >"$N/conf/acmed.yaml"
    else
        printf 'privsep: false\n' >"$N/conf/acmed.yaml"
    fi
    cat >>"$N/conf/acmed.yaml" <<YAML
cluster:
  etcd:
    endpoints: [$ETCD_URL_1, $ETCD_URL_2, $ETCD_URL_3]
    prefix: /acmed-fleet/
  node: node$k
  secret-file: $T/secret
YAML
    cat >"$N/conf/target" <<YAML
request:
  challenge:
    type: [http-01]
    http-ports: ["127.0.0.$k:$PEBBLE_HTTP_PORT"]
  account:
    agree-tos: true
YAML
    # Each node's hook: one line per event, live-updated with the names it was given.
    cat >"$T/hooks$k/10-record" <<HOOK
#!/bin/sh
if [ "\$1" = live-updated ]; then
    echo "live-updated \$(tr '\n' ' ')" >>"$T/events$k"
else
    echo "\$*" >>"$T/events$k"
fi
exit 0
HOOK
    chmod 755 "$T/hooks$k/10-record"
done

declare -A NPID=()
# start_node K [VAR=VALUE...]: node K's daemon in the background, its log in $T/nK.log.
start_node() {
    local k=$1
    shift
    echo "---- started at $(date -u +%H:%M:%S) $*" >>"$T/n$k.log"
    env "$@" "$ACMED" --state "$T/n$k" --hooks "$T/hooks$k" --ca-bundle "$PEBBLE_CA" \
        --provider "$PROVIDER" --agree-tos -v >>"$T/n$k.log" 2>&1 </dev/null &
    NPID[$k]=$!
    PIDS+=($!)
}
# node_procs K: node K's acmed processes: the daemon and, under privilege separation, its
# worker (a child whose argv[0] starts with "acmed"; hooks are not included).
node_procs() {
    local p=${NPID[$1]} c
    kill -0 "$p" 2>/dev/null || return 0
    echo "$p"
    for c in $(pgrep -P "$p"); do
        tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -q '^acmed' && echo "$c"
    done
}
signal_node() { # signal_node SIGNAL K...
    local sig=$1 k p
    shift
    for k in "$@"; do
        for p in $(node_procs "$k"); do kill "-$sig" "$p" 2>/dev/null; done
    done
}
# stop_node K: SIGTERM, bounded wait, then SIGKILL.
stop_node() {
    local p=${NPID[$1]} procs
    procs=$(node_procs "$1")
    kill -TERM "$p" 2>/dev/null
    wait_for 15 bash -c "! kill -0 $p 2>/dev/null" || fail "node$1 did not stop on SIGTERM"
    for p in $procs; do kill -KILL "$p" 2>/dev/null; done
    wait "${NPID[$1]}" 2>/dev/null
}
# kill_node K: SIGKILL of every process of node K, as a crash.
kill_node() {
    local procs p
    procs=$(node_procs "$1")
    for p in $procs; do kill -KILL "$p" 2>/dev/null; done
    wait "${NPID[$1]}" 2>/dev/null
    for p in $procs; do wait_for 5 bash -c "! kill -0 $p 2>/dev/null"; done
}
# any_stopped K: true when one of node K's processes is stopped (state T: a failpoint).
any_stopped() {
    local p st
    for p in $(node_procs "$1"); do
        st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        st=${st##*) }
        [[ ${st:0:1} == T ]] && return 0
    done
    return 1
}

name() { printf 'f%02d.fleet.test' "$1"; }
# The node target i's name points at (for the CA's validations): round robin, except that
# the targets of c point at the nodes that survive (node2 and node3).
points_at() {
    case $1 in
    21) echo 2 ;;
    22) echo 3 ;;
    *) echo $(($1 % 3 + 1)) ;;
    esac
}
for i in $(seq 26); do
    curl -sf --max-time 5 -d "{\"host\":\"$(name "$i").\",\"addresses\":[\"127.0.0.$(points_at "$i")\"]}" \
        "$CHALLTESTSRV_MGMT/add-a" >/dev/null || fail "challtestsrv add-a $(name "$i")"
done
want() { # want K NAME: `acmed want NAME` on node K
    "$ACMED" --state "$T/n$1" want "$2" >>"$T/want.log" 2>&1 || fail "want $2 on node$1 exited $?"
}
# live_everywhere NAME...: every node has every NAME live.
live_everywhere() {
    local k n
    for k in 1 2 3; do
        for n in "$@"; do [[ -s $T/n$k/live/$n/cert ]] || return 1; done
    done
}
orders_at_ca() { grep -c 'Added order "' "$T/pebble/pebble.log"; }
# orders_of NAME: the distinct order URLs the daemons logged opening for target NAME.
orders_of() {
    cat "$T"/n[123].log | grep -o "$1: order https://[^ ]*" | awk '{print $3}' | sort -u
}
# orderer_of NAME: the nodes whose logs have an order for NAME.
orderer_of() {
    local k
    for k in 1 2 3; do grep -q "$1: order https://" "$T/n$k.log" && printf '%s ' "$k"; done
}
# status_of K: `acmed status` on node K (stdout and stderr).
status_of() {
    "$ACMED" --state "$T/n$1" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" status 2>&1
}
show_logs() {
    local k
    for k in 1 2 3; do
        echo "---- node$k (last 40 lines)" >&2
        tail -n 40 "$T/n$k.log" >&2
    done
}

# listens K: something accepts connections on node K's http-01 address.
listens() { (exec 3<>"/dev/tcp/127.0.0.$1/$PEBBLE_HTTP_PORT") 2>/dev/null; }
for k in 1 2 3; do start_node "$k"; done
for k in 1 2 3; do
    wait_for 15 listens "$k" || fail "node$k does not listen on 127.0.0.$k:$PEBBLE_HTTP_PORT"
done

# ---- a. twenty targets, one order each, the same certificates everywhere ----
names=()
for i in $(seq 20); do
    names+=("$(name "$i")")
    want $(((i - 1) % 3 + 1)) "$(name "$i")"
done
if ! wait_for 90 live_everywhere "${names[@]}"; then
    fail "the twenty targets are not live on every node within 90 s (the rest needs them)"
    show_logs
    tl_done
fi
ca_orders=$(orders_at_ca)
[[ $ca_orders == 20 ]] || fail "Pebble saw $ca_orders orders for twenty targets, expected 20"
for n in "${names[@]}"; do
    o=$(orders_of "$n" | wc -l)
    [[ $o == 1 ]] || fail "$n: $o orders in the daemons' logs, expected 1: $(orders_of "$n" | tr '\n' ' ')"
done
# The daemons' order lines and Pebble's account for the same orders.
diff <(grep -o 'Added order "[^"]*"' "$T/pebble/pebble.log" | cut -d'"' -f2 | sort) \
    <(for n in "${names[@]}"; do orders_of "$n"; done | sed 's|.*/||' | sort) >"$T/orders.diff" ||
    fail "the daemons' orders are not Pebble's: $(cat "$T/orders.diff")"
# The node that ordered took the target's lock first.
for n in "${names[@]}"; do
    for k in $(orderer_of "$n"); do
        grep -E "$n: (this node holds it now|order https://)" "$T/n$k.log" | head -1 |
            grep -q 'this node holds it now' || fail "node$k ordered $n without logging its lock"
    done
done
# The listeners stay open with no challenge pending.
for k in 1 2 3; do listens "$k" || fail "node$k's http-01 listener closed after the orders"; done
for n in "${names[@]}"; do
    for k in 2 3; do
        cmp -s "$T/n1/live/$n/cert" "$T/n$k/live/$n/cert" ||
            fail "$n: node1 and node$k have different certificates live"
    done
done
for k in 1 2 3; do
    for n in "${names[@]}"; do
        grep '^live-updated ' "$T/events$k" 2>/dev/null | grep -qF " $n " ||
            fail "node$k ran no live-updated hook for $n"
    done
done
tl_verify_chain "$T/n2/live/$(name 1)" || fail "node2's $(name 1) does not verify: $(cat "$T/verify.log")"

# ---- b. validations on a node that did not order ----
# The node a name points at answered Pebble's request for one of the name's tokens (its debug
# log says so) while another node ordered.
elsewhere=0
per_node=(0 0 0 0)
for i in $(seq 20); do
    n=$(name "$i")
    o=$(orderer_of "$n")
    [[ -n $o ]] || continue
    per_node[${o%% *}]=$((per_node[${o%% *}] + 1))
    p=$(points_at "$i")
    [[ " $o" == *" $p "* ]] && continue
    while read -r tok; do
        if grep -qE "served the key authorization for token $tok( |\$)" "$T/n$p.log"; then
            elsewhere=$((elsewhere + 1))
            break
        fi
    done < <(grep -o "validate w/ HTTP: http://$n:[0-9]*/.well-known/acme-challenge/[A-Za-z0-9_-]*" \
        "$T/pebble/pebble.log" | sed 's|.*/||' | sort -u)
done
((elsewhere > 0)) || fail "no node that did not order answered a validation"
echo "a/b: 20 orders at the CA; orders by node1/2/3: ${per_node[1]}/${per_node[2]}/${per_node[3]};" \
    "$elsewhere targets validated by a node that did not order ($((SECONDS - FLEET_T0)) s)"

# ---- c. the node holding a target killed mid-order ----
stop_node 1
signal_node STOP 2 3
before=$(orders_at_ca)
start_node 1 ACMED_FAILPOINT=after-order
want 1 "$(name 21)"
want 1 "$(name 22)"
if wait_for 30 any_stopped 1; then
    [[ $(orderer_of "$(name 21)")$(orderer_of "$(name 22)") == *1* ]] ||
        fail "node1 stopped at after-order but logged no order for $(name 21) or $(name 22)"
    kill_node 1
    tl_report "fleet: node holding a target SIGKILLed mid-order" "1 kill"
else
    fail "node1 never stopped at its after-order failpoint"
    show_logs
    kill_node 1
fi
signal_node CONT 2 3
if ! wait_for 60 bash -c "for k in 2 3; do for n in $(name 21) $(name 22); do
        [[ -s $T/n\$k/live/\$n/cert ]] || exit 1; done; done"; then
    fail "node2 and node3 did not finish the killed node's targets within 60 s"
    show_logs
fi
grep -qE "($(name 21)|$(name 22)): node node1 holds it" "$T/n2.log" "$T/n3.log" ||
    fail "neither node2 nor node3 logged finding node1's lock"
opened=$(($(orders_at_ca) - before))
((opened >= 1 && opened <= 3)) || fail "$opened orders for 2 targets and 1 kill (at most 3)"
start_node 1
wait_for 30 live_everywhere "$(name 21)" "$(name 22)" ||
    fail "node1 restarted did not catch up with $(name 21) and $(name 22)"
# Whether the order node1 opened was resumed (said, not required: a new order is within the
# bound above).
resumed=$(grep -lE "($(name 21)|$(name 22)): resuming order" "$T/n2.log" "$T/n3.log" | wc -l)
echo "c: $opened orders for 2 targets and 1 kill; resumed on $resumed node(s) ($((SECONDS - FLEET_T0)) s)"

# ---- d. etcd trouble ----
kill_member() { # kill_member I: SIGKILL of etcd member I (only if that PID still runs etcd)
    local v=ETCD_PID_$1
    local p=${!v}
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == etcd ]] || return 0
    kill -KILL "$p"
    wait_for 5 bash -c "! kill -0 $p 2>/dev/null"
}
# One target wanted before the kill (its work in flight as member 1 goes), two after (`want`
# itself then fails over to the next endpoint, as the daemons do).
want 2 "$(name 23)"
kill_member 1
rm -f "$T/etcd/m1.pid"
for i in 24 25; do want 2 "$(name "$i")"; done
if ! wait_for 60 live_everywhere "$(name 23)" "$(name 24)" "$(name 25)"; then
    fail "with etcd member 1 killed, three targets were not issued within 60 s"
    show_logs
fi
snap_live() { # sha256 of every live certificate on every node
    (cd "$T" && sha256sum n[123]/live/*/cert)
}
snap_live >"$T/live.before"
[[ $(wc -l <"$T/live.before") == $((25 * 3)) ]] || fail "not 25 live certificates on each node"

signal_node STOP 1 2 3
want 3 "$(name 26)"
"$TL_SRC/tests/etcd/fixture.sh" stop "$T/etcd" >/dev/null 2>&1
etcd_down=$SECONDS
signal_node CONT 1 2 3
unreachable() {
    local k
    for k in 1 2 3; do status_of "$k" | grep -q unreachable || return 1; done
}
wait_for 45 unreachable || fail "acmed status does not say etcd is unreachable: $(status_of 1 | head -5)"
# Ten more seconds without etcd (the daemons retry): nothing local changes.
live_changed() { ! snap_live | diff -q "$T/live.before" - >/dev/null; }
if wait_for 10 live_changed; then
    fail "live certificates changed while etcd was down: $(snap_live | diff "$T/live.before" -)"
fi
[[ ! -e $T/n1/live/$(name 26) ]] || fail "$(name 26) was issued without etcd"

for i in 1 2 3; do
    mapfile -t argv <"$T/etcd/m$i.cmdline"
    setsid "${argv[@]}" </dev/null >>"$T/etcd/m$i.log" 2>&1 &
    echo $! >"$T/etcd/m$i.pid"
    disown $!
done
etcd_up() {
    local u
    for u in "$ETCD_URL_1" "$ETCD_URL_2" "$ETCD_URL_3"; do
        [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST -d '{"key":"AA=="}' \
            "$u/v3/kv/range") == 200 ]] || return 1
    done
}
wait_for 30 etcd_up || fail "etcd did not come back on its own data"
echo "d: etcd down for $((SECONDS - etcd_down)) s"
if ! wait_for 60 live_everywhere "$(name 26)"; then
    fail "$(name 26), wanted just before the outage, was not issued once etcd was back"
    show_logs
fi
status_of 2 | grep -q unreachable && fail "status still says unreachable: $(status_of 2 | head -3)"
total=$(orders_at_ca)
((total <= 26 + 1)) || fail "$total orders at the CA for 26 targets and 1 kill"

# ---- every node has the same certificates live, each matching its key ----
shopt -s nullglob
for d in "$T"/n1/live/*; do
    for k in 2 3; do
        cmp -s "$d/cert" "$T/n$k/live/$(basename "$d")/cert" ||
            fail "$(basename "$d"): node1 and node$k have different certificates live at the end"
    done
done
for k in 1 2 3; do
    for d in "$T/n$k"/live/* "$T/n$k"/certs/*; do
        [[ -e $d/cert ]] || continue # certs/: an order not installed yet
        a=$(openssl x509 -in "$d/cert" -noout -pubkey 2>/dev/null)
        b=$(openssl pkey -in "$d/privkey" -pubout 2>/dev/null)
        [[ -n $a && $a == "$b" ]] || fail "node$k: $(basename "$(dirname "$d")")/$(basename "$d"): the certificate does not match its key"
    done
done
shopt -u nullglob

# ---- e. no private key in clear in etcd's data or a snapshot ----
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URL_2" snapshot save "$T/snapshot.db" \
    >"$T/snapshot.log" 2>&1 || fail "etcdctl snapshot save: $(tail -3 "$T/snapshot.log")"
ls "$T"/n[123]/keys/*/privkey "$T"/n[123]/accounts/*/*/privkey >"$T/keyfiles" 2>/dev/null
python3 - "$T/keyfiles" "$T/snapshot.db" "$T"/etcd/m[123] <<'PY' || fail "a private key is in clear in etcd's data"
import os, re, subprocess, sys
keys = [l.strip() for l in open(sys.argv[1]) if l.strip()]
assert len(keys) >= 26, "only %d key files" % len(keys)
needles = [(b"PRIVATE KEY", "a PEM header")]
for path in keys:
    lines = open(path).read().splitlines()
    body = "".join(l for l in lines if l and not l.startswith("-----"))
    needles.append((body[:40].encode(), path + "'s base64"))
    # The private value itself (EC "priv", RSA "privateExponent"), whatever container holds it.
    text = subprocess.run(["openssl", "pkey", "-in", path, "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    m = re.search(r"^(priv|privateExponent):\n((?:\s+[0-9a-f:]+\n)+)", text, re.M)
    assert m, "no private value in " + path
    secret = bytes.fromhex(re.sub(r"[^0-9a-f]", "", m.group(2)))
    assert len(secret) >= 24, path
    needles.append((secret[len(secret) // 2 - 12:len(secret) // 2 + 12], path + "'s private value"))
files = [sys.argv[2]]
for top in sys.argv[3:]:
    for d, _, fs in os.walk(top):
        files += [os.path.join(d, f) for f in fs]
bad = 0
for f in files:
    data = open(f, "rb").read()
    for n, what in needles:
        if n in data:
            print("%s found in %s" % (what, f), file=sys.stderr)
            bad = 1
print("e: %d key files, %d etcd files and a snapshot searched" % (len(keys), len(files)))
sys.exit(bad)
PY

for k in 1 2 3; do stop_node "$k"; done
echo "test_fleet.sh: $((SECONDS - FLEET_T0)) s after Pebble started"
tl_done
