#!/usr/bin/env bash
# `acmed status` in fleet mode (issue 16 item 7), against a three-member etcd of its own
# (tests/etcd/fixture.sh) and a Pebble: a node that issued a certificate locally joins a fleet
# (cluster: in conf/acmed.yaml, `acmed cluster import`); status then lists the fleet's targets
# (not desired/, which it says is ignored), each with the node holding its lock (held by
# tests/tools/fleet_lock as another node: "-" once it gives the lock back, and once a killed
# holder's lease expires) and this node's installed serial, in text and --json; with etcd's
# endpoints on closed ports, or on a port that never answers, status answers within a few
# seconds, says "etcd unreachable", shows the certificates installed here and exits 1; a
# daemon's record with cluster.etcd (a stand-in holding the state directory's lock) is shown.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
FLEET_LOCK=${FLEET_LOCK:?the fleet_lock tool (tests/tools/fleet_lock.c)}
"$TL_SRC/tests/etcd/fixture.sh" start "$T/etcd" >"$T/etcd.log" 2>&1 || {
    cat "$T/etcd.log" >&2
    fail "etcd did not start"
    exit 1
}
trap '"$TL_SRC/tests/etcd/fixture.sh" stop "$T/etcd" >/dev/null 2>&1; tl_cleanup' EXIT
# shellcheck disable=SC1091
. "$T/etcd/env"
tl_pebble
tl_webroot
tl_conf_target

# node_conf STATE NODE ENDPOINTS: conf/acmed.yaml of a fleet node.
node_conf() {
    mkdir -p "$1/conf"
    cat >"$1/conf/acmed.yaml" <<YAML
privsep: false
cluster:
  etcd:
    endpoints: [$3]
    prefix: /acmed-status/
  node: $2
  secret-file: $T/secret
YAML
}

# status_json STATE PYTHON-EXPRESSION: evaluates the expression over status --json's output
# (j), prints it.
status_json() {
    "$ACMED" --state "$1" status --json 2>"$T/sj.err" |
        python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}

# A certificate issued while this node was alone.
mkdir -p "$STATE/desired"
printf 'satisfy:\n  names: [www.status.test]\n' >"$STATE/desired/www"
tl_acmed --once >"$T/once.log" 2>&1 || {
    cat "$T/once.log" >&2
    fail "--once exited $?"
}
serial=$(openssl x509 -noout -serial -in "$STATE/live/www.status.test/cert" | sed 's/^serial=//')
[[ -n $serial ]] || fail "no serial in live/www.status.test/cert"
same_serial() { # same_serial A B: the same number in hex, whatever the case and leading zeros
    [[ -n $1 && -n $2 && $1 != - ]] && python3 -c 'import sys; sys.exit(int(sys.argv[1], 16) != int(sys.argv[2], 16))' "$1" "$2"
}

# It joins a fleet.
(umask 077 && head -c 32 /dev/urandom >"$T/secret")
EPS="$ETCD_URL_1, $ETCD_URL_2, $ETCD_URL_3"
node_conf "$STATE" node1 "$EPS"
"$ACMED" --state "$STATE" cluster import >"$T/import.out" 2>&1 || fail "import: $(cat "$T/import.out")"
"$ACMED" --state "$STATE" status >"$T/s1.out" 2>"$T/s1.err"
rc=$?
[[ $rc == 0 ]] || fail "status with the fleet's target satisfied here exited $rc: $(cat "$T/s1.out" "$T/s1.err")"
grep -q '^cluster: node node1, etcd ok$' "$T/s1.out" || fail "no cluster line: $(cat "$T/s1.out")"
grep -q 'desired/ holds 1 file, ignored in fleet mode' "$T/s1.out" || fail "desired/ not said ignored: $(cat "$T/s1.out")"
grep -q '^www  *satisfied .*www.status.test$' "$T/s1.out" || fail "the fleet's target: $(cat "$T/s1.out")"
shown=$(sed -n 's/^    holder: -, serial: \(.*\)$/\1/p' "$T/s1.out")
same_serial "$shown" "$serial" || fail "serial shown '$shown', installed $serial: $(cat "$T/s1.out")"

# The fleet wants another target; desired/ here is not what status lists.
"$ACMED" --state "$STATE" want api.status.test >/dev/null 2>&1 || fail "want in fleet mode"
printf 'satisfy:\n  names: [local-only.status.test]\n' >"$STATE/desired/local-only"
"$ACMED" --state "$STATE" status >"$T/s2.out" 2>&1
rc=$?
[[ $rc == 1 ]] || fail "status with a fleet target missing here exited $rc, expected 1"
grep -q '^api.status.test  *missing .*api.status.test$' "$T/s2.out" || fail "want's target: $(cat "$T/s2.out")"
grep -q 'local-only' "$T/s2.out" && fail "status lists a local desired file in fleet mode"

# Another node holds www: status shows it, in text and JSON.
N2=$T/node2
node_conf "$N2" node2 "$EPS"
"$FLEET_LOCK" "$N2" node2 www >"$T/lock2.out" 2>&1 &
lock2=$!
PIDS+=("$lock2")
for ((i = 0; i < 100; i++)); do
    grep -q '^locked' "$T/lock2.out" && break
    sleep 0.1
done
grep -q '^locked' "$T/lock2.out" || fail "fleet_lock did not lock: $(cat "$T/lock2.out")"
"$ACMED" --state "$STATE" status >"$T/s3.out" 2>&1
shown=$(sed -n '/^www /,/^[^ ]/s/^    holder: node2, serial: \(.*\)$/\1/p' "$T/s3.out")
same_serial "$shown" "$serial" || fail "holder node2 not shown for www: $(cat "$T/s3.out")"
grep -A1 '^api.status.test ' "$T/s3.out" | grep -q '^    holder: -, serial: -$' ||
    fail "api.status.test: $(cat "$T/s3.out")"
[[ $(status_json "$STATE" '[t["holder"] for t in j["targets"] if t["file"] == "www"][0]') == node2 ]] ||
    fail "JSON holder of www is not node2: $(cat "$T/sj.err")"
same_serial "$(status_json "$STATE" '[t["serial"] for t in j["targets"] if t["file"] == "www"][0]')" "$serial" ||
    fail "JSON serial of www"
[[ $(status_json "$STATE" '[(t["holder"], t["serial"]) for t in j["targets"] if t["file"] == "api.status.test"][0] == ("-", None)') == True ]] ||
    fail "JSON holder/serial of api.status.test"
[[ $(status_json "$STATE" 'j["cluster"]["node"], j["cluster"]["etcd"], j["cluster"]["error"]') == "('node1', 'ok', None)" ]] ||
    fail "JSON cluster: $(status_json "$STATE" 'j["cluster"]')"

# Given back (SIGTERM): "-" at once.
kill -TERM "$lock2"
wait "$lock2"
"$ACMED" --state "$STATE" status >"$T/s4.out" 2>&1
grep -A1 '^www ' "$T/s4.out" | grep -q '^    holder: -, serial:' || fail "www still held after release: $(cat "$T/s4.out")"

# A holder killed outright: its lock goes with its lease (TTL 2 s here).
"$FLEET_LOCK" --ttl 2 "$N2" node3 www >"$T/lock3.out" 2>&1 &
lock3=$!
PIDS+=("$lock3")
for ((i = 0; i < 100; i++)); do
    grep -q '^locked' "$T/lock3.out" && break
    sleep 0.1
done
[[ $(status_json "$STATE" '[t["holder"] for t in j["targets"] if t["file"] == "www"][0]') == node3 ]] ||
    fail "JSON holder of www is not node3"
kill -KILL "$lock3"
wait "$lock3" 2>/dev/null
start=$SECONDS
while ((SECONDS - start < 15)); do
    h=$(status_json "$STATE" '[t["holder"] for t in j["targets"] if t["file"] == "www"][0]')
    [[ $h == - ]] && break
    sleep 0.5
done
[[ $h == - ]] || fail "a killed holder's lock outlived its lease: holder $h after $((SECONDS - start)) s"

# etcd unreachable: endpoints on closed loopback ports, then on one that never answers.
closed_ports() { # two loopback ports nothing listens on
    python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))'
}
read -r p1 p2 <<<"$(closed_ports)"
node_conf "$STATE" node1 "http://127.0.0.1:$p1, http://127.0.0.1:$p2"
start=$(date +%s%N)
timeout 30 "$ACMED" --state "$STATE" status >"$T/s5.out" 2>&1
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
[[ $rc == 1 ]] || fail "status with etcd unreachable exited $rc, expected 1: $(cat "$T/s5.out")"
((ms < 8000)) || fail "status with etcd on closed ports took $ms ms"
grep -q '^cluster: node node1, etcd unreachable: ' "$T/s5.out" || fail "unreachable not said: $(cat "$T/s5.out")"
shown=$(sed -n 's/^www.status.test  *[-0-9T:Z]*  *\([0-9a-fA-F]*\)$/\1/p' "$T/s5.out")
same_serial "$shown" "$serial" || fail "the installed certificate is not shown: $(cat "$T/s5.out")"
[[ $(status_json "$STATE" 'j["cluster"]["etcd"], bool(j["cluster"]["error"]), j["targets"], [i["name"] for i in j["installed"]]') == "('unreachable', True, [], ['www.status.test'])" ]] ||
    fail "JSON with etcd unreachable: $("$ACMED" --state "$STATE" status --json 2>&1)"

python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(120)' >"$T/silent.port" &
PIDS+=($!)
for ((i = 0; i < 50; i++)); do
    [[ -s $T/silent.port ]] && break
    sleep 0.1
done
node_conf "$STATE" node1 "http://127.0.0.1:$(cat "$T/silent.port")"
start=$(date +%s%N)
timeout 30 "$ACMED" --state "$STATE" status >"$T/s6.out" 2>&1
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
[[ $rc == 1 ]] || fail "status with a silent etcd exited $rc, expected 1: $(cat "$T/s6.out")"
((ms < 9000)) || fail "status with a silent etcd took $ms ms"
grep -q '^cluster: node node1, etcd unreachable: .*did not answer within 5 s' "$T/s6.out" ||
    fail "a silent etcd: $(cat "$T/s6.out")"
echo "status answered in $ms ms with a silent etcd" >&2

# A daemon's own view of etcd, from its record, shown when present. A stand-in holds the
# state directory's lock (as a daemon does) and wrote the record.
python3 - "$STATE" >"$T/fake.pid" <<'PY' &
import fcntl, json, os, sys, time
st = sys.argv[1]
fd = os.open(os.path.join(st, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.write(fd, b"%d\n" % os.getpid())
with open(os.path.join(st, "state", "daemon.json"), "w") as f:
    json.dump({"pid": os.getpid(), "cluster": {"node": "node1", "etcd": "unreachable", "error": ""}}, f)
print(os.getpid(), flush=True)
time.sleep(60)
PY
PIDS+=($!)
for ((i = 0; i < 50; i++)); do
    [[ -s $T/fake.pid ]] && break
    sleep 0.1
done
node_conf "$STATE" node1 "http://127.0.0.1:$p1"
"$ACMED" --state "$STATE" status >"$T/s7.out" 2>&1
grep -qx 'daemon: etcd unreachable' "$T/s7.out" || fail "the daemon's cluster.etcd is not shown: $(cat "$T/s7.out")"
tl_done
