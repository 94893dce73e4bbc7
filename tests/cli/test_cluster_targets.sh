#!/usr/bin/env bash
# Fleet mode's shared targets (issue 16 item 2, first part), against a three-member etcd of
# its own (tests/etcd/fixture.sh): `acmed cluster import` puts this node's desired targets into
# etcd, sealed (neither a name nor the JSON is readable in etcd's data), a target that names
# something of this node's alone (a key id) is refused by name and the command exits 1;
# `acmed cluster targets` on another node with the same secret lists them, merged over its
# own conf/target; a node with another secret-file opens nothing and says so; a secret file
# that is not 32 bytes is refused naming it; without cluster: the command exits 2.
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

# node_conf STATE SECRET NODE: conf/acmed.yaml of a cluster node.
node_conf() {
    mkdir -p "$1/conf" "$1/desired"
    cat >"$1/conf/acmed.yaml" <<YAML
privsep: false
cluster:
  etcd:
    endpoints: [$ETCD_URL_1, $ETCD_URL_2, $ETCD_URL_3]
    prefix: /acmed-test/
  node: $3
  secret-file: $2
YAML
}
(umask 077 && head -c 32 /dev/urandom >"$T/secret" && head -c 32 /dev/urandom >"$T/other")
node_conf "$STATE" "$T/secret" node1
printf 'satisfy:\n  names: [www.fleet.test, fleet.test]\nrequest:\n  key: {type: rsa, rsa-size: 2048}\n' \
    >"$STATE/desired/www"
: >"$STATE/desired/api.fleet.test"
printf 'request:\n  key:\n    id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n' >"$STATE/desired/pinned.fleet.test"

"$ACMED" --state "$STATE" cluster import >"$T/import.out" 2>"$T/import.err"
rc=$?
[[ $rc == 1 ]] || fail "import with a node-only target exited $rc, expected 1: $(cat "$T/import.err")"
grep -q 'imported 2 targets into etcd, 1 not' "$T/import.out" || fail "import said: $(cat "$T/import.out")"
grep -q 'pinned.fleet.test: request.key.id is this node' "$T/import.err" ||
    fail "the refused target is not named: $(cat "$T/import.err")"

# In etcd: the keys, but no readable value.
curl -s --max-time 5 -d "{\"key\":\"$(printf /acmed-test/ | base64)\",\"range_end\":\"$(printf /acmed-test0 | base64)\"}" \
    "$ETCD_URL_1/v3/kv/range" >"$T/raw.json" || fail "etcd range"
python3 - "$T/raw.json" <<'PY' || fail "etcd holds something readable"
import base64, json, sys
kvs = json.load(open(sys.argv[1])).get("kvs", [])
keys = sorted(base64.b64decode(k["key"]).decode() for k in kvs)
assert keys == ["/acmed-test/desired/api.fleet.test", "/acmed-test/desired/www"], keys
for k in kvs:
    v = base64.b64decode(k["value"])
    assert b"fleet.test" not in v and b"names" not in v, v
PY

# Another node with the same secret reads them, with its own conf/target.
N2=$T/node2
node_conf "$N2" "$T/secret" node2
printf 'request:\n  challenge:\n    webroot-paths: [/srv/acme]\n' >"$N2/conf/target"
"$ACMED" --state "$N2" cluster targets >"$T/targets.out" 2>"$T/targets.err" ||
    fail "targets exited $?: $(cat "$T/targets.err")"
grep -qx 'www: www.fleet.test fleet.test' "$T/targets.out" || fail "targets: $(cat "$T/targets.out")"
grep -qx 'api.fleet.test: api.fleet.test' "$T/targets.out" || fail "targets: $(cat "$T/targets.out")"

# want and unwant in fleet mode change etcd, not desired/, and run no pass.
"$ACMED" --state "$N2" want new.fleet.test www.new.fleet.test >"$T/want.out" 2>"$T/want.err" ||
    fail "want in fleet mode exited $?: $(cat "$T/want.err")"
[[ -z $(ls -A "$N2/desired") ]] || fail "want in fleet mode wrote desired/: $(ls "$N2/desired")"
"$ACMED" --state "$N2" unwant fleet.test api.fleet.test >"$T/unwant.out" 2>"$T/unwant.err" ||
    fail "unwant in fleet mode exited $?: $(cat "$T/unwant.err")"
grep -q 'unwant: 2 targets in etcd changed' "$T/unwant.out" || fail "unwant: $(cat "$T/unwant.out")"
"$ACMED" --state "$STATE" cluster targets >"$T/targets2.out" 2>"$T/targets2.err" ||
    fail "targets exited $?: $(cat "$T/targets2.err")"
sort "$T/targets2.out" >"$T/targets2.sorted"
printf '%s\n' 'new.fleet.test: new.fleet.test www.new.fleet.test' 'www: www.fleet.test' |
    diff - "$T/targets2.sorted" >&2 || fail "the fleet's targets after want/unwant are wrong"

# Another secret opens nothing.
N3=$T/node3
node_conf "$N3" "$T/other" node3
"$ACMED" --state "$N3" cluster targets >"$T/t3.out" 2>"$T/t3.err"
rc=$?
[[ $rc == 1 ]] || fail "another secret: exit $rc, expected 1"
[[ ! -s $T/t3.out ]] || fail "another secret listed: $(cat "$T/t3.out")"
grep -q '2 values under desired/ that this node.s secret-file does not open' "$T/t3.err" ||
    fail "another secret: $(cat "$T/t3.err")"

# A secret file that is not 32 random bytes, and no cluster: section.
printf 'short\n' >"$T/bad" && chmod 600 "$T/bad"
node_conf "$N3" "$T/bad" node3
"$ACMED" --state "$N3" cluster targets >/dev/null 2>"$T/t4.err"
rc=$?
[[ $rc != 0 ]] || fail "a 6-byte secret file was accepted"
grep -q "$T/bad" "$T/t4.err" || fail "the bad secret file is not named: $(cat "$T/t4.err")"
printf 'privsep: false\n' >"$N3/conf/acmed.yaml"
"$ACMED" --state "$N3" cluster targets >/dev/null 2>"$T/t5.err"
rc=$?
[[ $rc == 2 ]] || fail "without cluster: exit $rc, expected 2"
grep -q 'no cluster: section' "$T/t5.err" || fail "without cluster: $(cat "$T/t5.err")"
tl_done
