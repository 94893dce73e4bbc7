#!/usr/bin/env bash
# acmetool compatibility: a state directory laid out by acmetool (built here with certtool,
# since Pebble's port and keys change every run) is read and renewed in place:
#   accounts/<dir-id>/<key-id>/privkey   (no meta: acmetool keeps none)
#   keys/<key-id>/privkey
#   certs/<cert-id>/{cert,chain,fullchain,url,privkey -> ../../keys/<key-id>/privkey}
#   live/<name> -> ../certs/<cert-id>, desired/<file> (YAML), conf/target, conf/responses
# with key-id = lowercase unpadded base32 of SHA-256 of the DER SubjectPublicKeyInfo,
# cert-id = the same of the url file's content, dir-id = the directory URL without https://,
# query-escaped with lowercase hex (acmetool's storage/util.go).
# Without conf/responses (and no agree-tos anywhere) --once fails (exit 1) saying how to
# agree; with `"acme-agreement:<tos>": true` there, --once registers the existing account
# key (writing meta into its directory, creating no other account), renews both targets (the
# legacy top-level `names:`/`provider:` form and a labelled one, live/<name>:<label>), keeps
# the old certificates, and a second --once renews nothing. (The failed run leaves both
# targets in their one-minute backoff, DESIGN.md §4.5, so the run after agreeing uses --force.)
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot

# An id as acmetool computes it: lowercase unpadded base32 of SHA-256 of stdin.
b32id() {
    python3 -c 'import base64, hashlib, sys
print(base64.b32encode(hashlib.sha256(sys.stdin.buffer.read()).digest()).decode().lower().rstrip("="))'
}
# key_id KEYFILE: the key-id of a private key (SHA-256 of its DER SubjectPublicKeyInfo).
key_id() {
    certtool --load-privkey "$1" --pubkey-info --outder --outfile "$T/spki.der" >/dev/null 2>&1 &&
        b32id <"$T/spki.der"
}
utc() { TZ=UTC date -u -d "$1" '+%Y-%m-%d %H:%M:%S'; }

OLD=$T/oldca
mkdir -p "$OLD"
export TZ=UTC
# A throwaway CA standing in for whatever issued acmetool's certificates.
{
    certtool --generate-privkey --key-type ecdsa --curve secp256r1 --no-text \
        --outfile "$OLD/ca.key" &&
        cat >"$OLD/ca.tmpl" <<TMPL &&
cn = "acmetool-era test CA"
ca
cert_signing_key
activation_date = "$(utc '-60 days')"
expiration_date = "$(utc '+60 days')"
TMPL
        certtool --generate-self-signed --load-privkey "$OLD/ca.key" --template "$OLD/ca.tmpl" \
            --no-text --outfile "$OLD/ca.pem"
} >"$OLD/log" 2>&1 || {
    cat "$OLD/log" >&2
    fail "cannot create the old CA"
    exit 1
}

mkdir -p "$STATE"/{accounts,keys,certs,live,desired,conf,tmp}
chmod 700 "$STATE/accounts" "$STATE/keys" "$STATE/tmp"

# The account: an RSA key (acmetool's default account key type), no meta.
dir_id=$(python3 -c 'import sys, urllib.parse
u = sys.argv[1].split("://", 1)[1]
print(urllib.parse.quote(u, safe="-_.~").replace("%3A", "%3a").replace("%2F", "%2f"))' \
    "$PEBBLE_DIRECTORY")
[[ $dir_id =~ ^127\.0\.0\.1%3a[0-9]+%2fdir$ ]] || fail "unexpected dir-id $dir_id"
certtool --generate-privkey --key-type rsa --bits 2048 --no-text --outfile "$T/acct.pem" \
    >/dev/null 2>&1 || fail "cannot generate the account key"
acct_id=$(key_id "$T/acct.pem")
[[ ${#acct_id} == 52 ]] || fail "bad account key id '$acct_id'"
acct_dir=$STATE/accounts/$dir_id/$acct_id
mkdir -p "$acct_dir"
chmod 700 "$STATE/accounts/$dir_id" "$acct_dir"
install -m 600 "$T/acct.pem" "$acct_dir/privkey"
acct_sum=$(sha256sum <"$acct_dir/privkey")

# old_cert NAME: an ECDSA key and a certificate for NAME from the old CA, 30 days long with 5
# left (due: under 1/3 left; not critical: over 1/10 left); prints the cert-id.
old_cert() {
    local name=$1 kf=$T/key-$1.pem kid url cid serial
    certtool --generate-privkey --key-type ecdsa --curve secp256r1 --no-text --outfile "$kf" \
        >/dev/null 2>&1 || return 1
    kid=$(key_id "$kf") || return 1
    mkdir -p "$STATE/keys/$kid"
    chmod 700 "$STATE/keys/$kid"
    install -m 600 "$kf" "$STATE/keys/$kid/privkey"
    serial=$(python3 -c 'import secrets; print(secrets.randbits(62) + 1)')
    cat >"$T/leaf-$name.tmpl" <<TMPL
cn = "$name"
dns_name = "$name"
serial = $serial
tls_www_server
signing_key
activation_date = "$(utc '-25 days')"
expiration_date = "$(utc '+5 days')"
TMPL
    certtool --generate-certificate --load-privkey "$kf" --load-ca-privkey "$OLD/ca.key" \
        --load-ca-certificate "$OLD/ca.pem" --template "$T/leaf-$name.tmpl" --no-text \
        --outfile "$T/leaf-$name.pem" >/dev/null 2>&1 || return 1
    # acmetool's url file holds the certificate's URL; the id is its hash.
    url="https://old-ca.compat.test/acme/cert/$serial"
    cid=$(printf %s "$url" | b32id)
    mkdir -p "$STATE/certs/$cid"
    printf %s "$url" >"$STATE/certs/$cid/url"
    cp "$T/leaf-$name.pem" "$STATE/certs/$cid/cert"
    cp "$OLD/ca.pem" "$STATE/certs/$cid/chain"
    cat "$T/leaf-$name.pem" "$OLD/ca.pem" >"$STATE/certs/$cid/fullchain"
    ln -s "../../keys/$kid/privkey" "$STATE/certs/$cid/privkey"
    echo "$cid"
}

legacy_old=$(old_cert legacy.compat.test) || fail "cannot create the legacy certificate"
blue_old=$(old_cert blue.compat.test) || fail "cannot create the blue certificate"
ln -s "../certs/$legacy_old" "$STATE/live/legacy.compat.test"
ln -s "../certs/$blue_old" "$STATE/live/blue.compat.test:blue"
[[ -f $STATE/live/legacy.compat.test/privkey && -f $STATE/live/blue.compat.test:blue/cert ]] ||
    fail "the acmetool state directory is malformed"
((FAILED == 0)) || exit 1

# acmetool's legacy top-level form, and a labelled target (provider from --provider).
printf 'names:\n  - legacy.compat.test\nprovider: %s\n' "$PEBBLE_DIRECTORY" \
    >"$STATE/desired/legacy.compat.test"
printf 'satisfy:\n  names:\n    - blue.compat.test\nlabel: blue\n' >"$STATE/desired/blue"
# conf/target: only the webroot; the terms are agreed to in conf/responses, nowhere else.
printf 'request:\n  challenge:\n    webroot-paths:\n      - %s\n' "$WEBROOT" >"$STATE/conf/target"

# Everything under accounts/ keys/ certs/ live/, but for our informative certs/<id>/meta,
# which acmed may add to acmetool's certificates whenever it reads them.
snapshot() {
    (cd "$STATE" && find accounts keys certs live -print | grep -v '^certs/[a-z2-7]*/meta$' |
        LC_ALL=C sort)
}

# 1. No agreement anywhere: fails, says how to agree, registers and changes nothing.
snapshot >"$T/before.lst"
tl_acmed --once >"$T/run1.log" 2>&1
rc=$?
[[ $rc == 1 ]] || { cat "$T/run1.log" >&2; fail "--once without agreeing to the terms exited $rc, wanted 1"; }
tos=$(curl -s --max-time 5 --cacert "$PEBBLE_CA" "$PEBBLE_DIRECTORY" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["meta"]["termsOfService"])') ||
    fail "cannot read the terms of service URL from the directory"
{ grep -qF "\"acme-agreement:$tos\": true" "$T/run1.log" && grep -q 'conf/responses' "$T/run1.log"; } ||
    { cat "$T/run1.log" >&2; fail "the error does not say how to agree (conf/responses)"; }
# acmetool's certificates were read as covering their targets (renewal, not first issuance).
for f in blue legacy.compat.test; do
    grep -q "$f: due for renewal" "$T/run1.log" || fail "$f: the acmetool certificate was not seen as due"
done
grep -E 'skipping certificate directory|has no usable key|ignoring' "$T/run1.log" >&2 &&
    fail "acmed complained about the acmetool state directory"
snapshot >"$T/after1.lst"
cmp -s "$T/before.lst" "$T/after1.lst" ||
    fail "the failed run changed accounts/keys/certs/live: $(diff "$T/before.lst" "$T/after1.lst" | tr '\n' ' ')"
[[ -e $acct_dir/meta ]] && fail "the failed run wrote account meta"

# 2. Agreed in conf/responses: the existing account is used, both targets renewed. The failed
# run put both targets in backoff (DESIGN.md §4.5, a minute): --force skips it.
printf '"acme-agreement:%s": true\n' "$tos" >"$STATE/conf/responses"
tl_acmed --once --force >"$T/run2.log" 2>&1
rc=$?
[[ $rc == 0 ]] || { cat "$T/run2.log" >&2; fail "--once --force with conf/responses exited $rc, wanted 0"; }

accts=$(cd "$STATE/accounts" && find . -mindepth 2 -maxdepth 2 | LC_ALL=C sort | tr '\n' ' ')
[[ $accts == "./$dir_id/$acct_id " ]] || fail "account directories are now: $accts"
[[ $(sha256sum <"$acct_dir/privkey") == "$acct_sum" ]] || fail "the account key was rewritten"
python3 - "$acct_dir/meta" "${PEBBLE_DIRECTORY%/dir}" <<'PY' || fail "account meta lacks the account URL"
import json, sys
m = json.load(open(sys.argv[1]))
assert isinstance(m.get("url"), str) and m["url"].startswith(sys.argv[2] + "/"), m
PY

legacy_new=$(tl_live_cert legacy.compat.test)
blue_new=$(tl_live_cert blue.compat.test:blue)
[[ -n $legacy_new && $legacy_new != "$legacy_old" ]] || fail "legacy.compat.test was not renewed"
[[ -n $blue_new && $blue_new != "$blue_old" ]] || fail "blue.compat.test (label blue) was not renewed"
[[ -e $STATE/live/blue.compat.test ]] && fail "the labelled target got an unlabelled live link"
[[ $(readlink "$STATE/live/legacy.compat.test") == ../certs/$legacy_new ]] ||
    fail "live/legacy.compat.test is not ../certs/$legacy_new"
[[ $(readlink "$STATE/live/blue.compat.test:blue") == ../certs/$blue_new ]] ||
    fail "live/blue.compat.test:blue is not ../certs/$blue_new"
for n in legacy.compat.test blue.compat.test:blue; do
    check "the chain of live/$n does not verify against pebble's root" \
        tl_verify_chain "$STATE/live/$n"
    [[ -f $STATE/live/$n/privkey ]] || fail "live/$n/privkey does not resolve"
done
grep -q 'legacy.compat.test' <(certtool -i --infile "$STATE/live/legacy.compat.test/cert") ||
    fail "the new legacy certificate lacks legacy.compat.test"
grep -q 'blue.compat.test' <(certtool -i --infile "$STATE/live/blue.compat.test:blue/cert") ||
    fail "the new blue certificate lacks blue.compat.test"
for id in "$legacy_new" "$blue_new"; do
    [[ $(readlink "$STATE/certs/$id/account") == ../../accounts/$dir_id/$acct_id ]] ||
        fail "certs/$id/account does not name the acmetool account"
done
for id in "$legacy_old" "$blue_old"; do
    [[ -f $STATE/certs/$id/cert && -L $STATE/certs/$id/privkey ]] ||
        fail "the old certificate $id was not kept"
done
[[ $(find "$STATE/certs" -mindepth 1 -maxdepth 1 -type d | wc -l) == 4 ]] ||
    fail "certs/ holds $(find "$STATE/certs" -mindepth 1 -maxdepth 1 -type d | wc -l) directories, wanted 4"

# 3. A second pass: satisfied, nothing renewed.
snapshot >"$T/before3.lst"
tl_acmed --once >"$T/run3.log" 2>&1
rc=$?
[[ $rc == 0 ]] || { cat "$T/run3.log" >&2; fail "the second --once exited $rc, wanted 0"; }
[[ $(tl_live_cert legacy.compat.test) == "$legacy_new" ]] || fail "the second --once renewed legacy"
[[ $(tl_live_cert blue.compat.test:blue) == "$blue_new" ]] || fail "the second --once renewed blue"
snapshot >"$T/after3.lst"
cmp -s "$T/before3.lst" "$T/after3.lst" ||
    fail "the second --once changed accounts/keys/certs/live: $(diff "$T/before3.lst" "$T/after3.lst" | tr '\n' ' ')"
tl_done
