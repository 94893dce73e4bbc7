#!/usr/bin/env bash
# Fleet mode runs as the daemon only (issue 16): with `cluster:` in conf/acmed.yaml a single
# pass (`acmed --once`, `acmed reconcile`) would work alone beside the fleet, without its locks,
# so it is refused: exit 2 naming conf/acmed.yaml, and nothing is asked of the CA or of etcd
# (the endpoint given is a closed loopback port and the CA a URL that nothing serves).
. "$(dirname "$0")/lib.sh"
tl_init "$1"
mkdir -p "$STATE/conf" "$STATE/desired"
(umask 077 && head -c 32 /dev/urandom >"$T/secret")
cat >"$STATE/conf/acmed.yaml" <<YAML
privsep: false
cluster:
  etcd:
    endpoints: [http://127.0.0.1:9]
  node: lonely
  secret-file: $T/secret
YAML
: >"$STATE/desired/www.fleet.test"
for cmd in --once reconcile; do
    "$ACMED" --state "$STATE" --provider https://127.0.0.1:9/dir "$cmd" >"$T/out" 2>"$T/err"
    rc=$?
    [[ $rc == 2 ]] || fail "$cmd in fleet mode exited $rc, expected 2: $(cat "$T/err")"
    grep -q 'conf/acmed.yaml: cluster: fleet mode runs as the daemon' "$T/err" ||
        fail "$cmd did not say why: $(cat "$T/err")"
done
[[ -z $(ls -A "$STATE/certs" 2>/dev/null) ]] || fail "a certificate appeared"
tl_done
