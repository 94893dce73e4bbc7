#!/usr/bin/env bash
# CSR input (issue 15 item 1): `acmed sign-csr` orders for exactly a CSR's names and writes the
# chain (leaf first) to --out or stdout, with the key never in acmed's hands; a desired file
# with request.csr is issued and renewed from its CSR (the same CSR each time), its certs/
# directory has no privkey, its live/ links exist; a satisfy name the CSR lacks is reported
# with file:line while the other targets carry on; a CSR whose signature is broken is refused
# before any order; sign-csr on a state directory a running acmed holds exits 4 with a hint.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_proxy
tl_conf_target
mkdir -p "$STATE/desired" "$T/client"

# The client side, as an operator makes it: a key and a CSR with a SAN config.
cat >"$T/client/san.cnf" <<'CNF'
[req]
distinguished_name = dn
req_extensions = ext
prompt = no
[dn]
CN = a.csr.test
[ext]
subjectAltName = DNS:a.csr.test, DNS:www.a.csr.test, IP:127.0.0.1
CNF
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/client/a.key" -out "$T/client/a.csr" \
    -config "$T/client/san.cnf" 2>/dev/null || fail "openssl req failed"

# sign-csr --out: the chain matches the client's key and every name.
tl_acmed sign-csr "$T/client/a.csr" --out "$T/client/a.pem" >"$T/sign1.log" 2>&1 ||
    { cat "$T/sign1.log" >&2; fail "sign-csr exited $?"; }
[[ -s $T/client/a.pem ]] || fail "sign-csr wrote no chain"
[[ $(grep -c 'BEGIN CERTIFICATE' "$T/client/a.pem") -ge 2 ]] || fail "the output is not a chain"
[[ $(openssl x509 -in "$T/client/a.pem" -noout -pubkey | openssl sha256) == \
    $(openssl pkey -in "$T/client/a.key" -pubout | openssl sha256) ]] ||
    fail "the leaf is not for the CSR's key"
sans=$(openssl x509 -in "$T/client/a.pem" -noout -ext subjectAltName 2>/dev/null)
for n in DNS:a.csr.test DNS:www.a.csr.test 'IP Address:127.0.0.1'; do
    grep -q "$n" <<<"$sans" || fail "the certificate lacks $n: $sans"
done
curl -s --max-time 5 --cacert "$PEBBLE_CA" "$PEBBLE_MGMT/roots/0" >"$T/root.pem"
openssl verify -CAfile "$T/root.pem" -untrusted "$T/client/a.pem" "$T/client/a.pem" >/dev/null 2>&1 ||
    fail "the chain does not verify"
# No key of the client's in the state directory, no live link for the names, no privkey link.
[[ -z $(ls -A "$STATE/keys" 2>/dev/null) ]] || fail "sign-csr made a key: $(ls "$STATE/keys")"
[[ -e $STATE/live/a.csr.test ]] && fail "sign-csr made a live link"
id=$(grep -l a.csr.test "$STATE"/certs/*/meta | head -1 | xargs dirname | xargs basename)
[[ -n $id && ! -e $STATE/certs/$id/privkey ]] || fail "certs/$id has a privkey link"
grep -q '"csr"' "$STATE/certs/$id/meta" || fail "certs/$id/meta does not record the CSR"

# To stdout, DER input.
openssl req -in "$T/client/a.csr" -outform DER -out "$T/client/a.der"
tl_acmed sign-csr "$T/client/a.der" >"$T/client/b.pem" 2>"$T/sign2.log" ||
    { cat "$T/sign2.log" >&2; fail "sign-csr (DER, stdout) exited $?"; }
openssl x509 -in "$T/client/b.pem" -noout 2>/dev/null || fail "stdout held no certificate"
grep -q 'BEGIN CERTIFICATE' "$T/sign2.log" && fail "the chain went to stderr"

# A CSR whose signature does not verify: refused, no order (no request reaches the CA).
python3 - "$T/client/a.der" "$T/client/bad.der" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[-5] ^= 0x55  # inside the signature
open(sys.argv[2], "wb").write(d)
PY
before=$(tl_proxy_count)
tl_acmed sign-csr "$T/client/bad.der" >"$T/bad.log" 2>&1
rc=$?
[[ $rc == 2 ]] || fail "a CSR with a broken signature: exit $rc, expected 2"
grep -qi 'signature' "$T/bad.log" || fail "the error does not say the signature: $(cat "$T/bad.log")"
[[ $(tl_proxy_count) == "$before" ]] || fail "a broken CSR reached the CA"

# request.csr: issued from the CSR, no privkey, live links; a wrong satisfy name is file:line.
cat >"$STATE/desired/csrsite" <<YAML
request:
  csr: $T/client/a.csr
YAML
cat >"$STATE/desired/badcsr" <<YAML
satisfy:
  names:
    - a.csr.test
    - other.csr.test
request:
  csr: $T/client/a.csr
YAML
tl_acmed --once >"$T/once1.log" 2>&1
rc=$?
[[ $rc == 1 ]] || { cat "$T/once1.log" >&2; fail "--once with one bad file exited $rc, expected 1"; }
grep -q 'desired/badcsr: line 4.*other.csr.test is not among the names of the CSR' "$T/once1.log" ||
    fail "the bad satisfy name is not reported with file:line: $(grep badcsr "$T/once1.log")"
cid=$(tl_live_cert www.a.csr.test)
[[ -n $cid && $cid == "$(tl_live_cert a.csr.test)" && $cid == "$(tl_live_cert 127.0.0.1)" ]] ||
    fail "request.csr: live links missing or different"
[[ -n $cid && ! -e $STATE/certs/$cid/privkey ]] || fail "request.csr: certs/$cid has a privkey"
[[ $(openssl x509 -in "$STATE/live/a.csr.test/cert" -noout -pubkey | openssl sha256) == \
    $(openssl pkey -in "$T/client/a.key" -pubout | openssl sha256) ]] ||
    fail "request.csr: the leaf is not for the CSR's key"
rm -f "$STATE/desired/badcsr"
# Satisfied: a second pass orders nothing.
before=$(tl_proxy_count)
tl_acmed --once >"$T/once2.log" 2>&1 || { cat "$T/once2.log" >&2; fail "second --once exited $?"; }
[[ $(tl_proxy_count) == "$before" ]] || fail "a satisfied request.csr target was ordered again"
# Renewal (30 days before expiry: the clock moves on) reuses the CSR: same key, new certificate.
na=$(date -d "$(openssl x509 -in "$STATE/live/a.csr.test/cert" -noout -enddate | cut -d= -f2)" +%s)
ACMED_FAKE_NOW=$((na - 20 * 86400)) tl_acmed --once >"$T/once3.log" 2>&1 ||
    { cat "$T/once3.log" >&2; fail "the renewal pass exited $?"; }
cid2=$(tl_live_cert a.csr.test)
[[ -n $cid2 && $cid2 != "$cid" ]] || fail "request.csr target not renewed"
[[ $(openssl x509 -in "$STATE/live/a.csr.test/cert" -noout -pubkey | openssl sha256) == \
    $(openssl pkey -in "$T/client/a.key" -pubout | openssl sha256) ]] ||
    fail "the renewal is not for the CSR's key"
[[ -z $(ls -A "$STATE/keys" 2>/dev/null) ]] || fail "a key was made for a request.csr target"

# sign-csr while a daemon holds the lock: exit 4 and a hint naming serve.
"$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" \
    >"$T/daemon.log" 2>&1 &
dpid=$!
PIDS+=("$dpid")
for _ in $(seq 100); do grep -q 'daemon started' "$T/daemon.log" && break; sleep 0.1; done
tl_acmed sign-csr "$T/client/a.csr" >"$T/locked.log" 2>&1
rc=$?
[[ $rc == 4 ]] || fail "sign-csr under a running daemon: exit $rc, expected 4"
grep -q 'serve' "$T/locked.log" || fail "no hint to use serve: $(cat "$T/locked.log")"
kill -TERM "$dpid"
wait "$dpid"
rc=$?
[[ $rc == 0 ]] || fail "the daemon exited $rc after SIGTERM"
tl_done
