#!/usr/bin/env bash
# `acmed account` against the default Pebble (PEBBLE_ENV names its env file) and `acmed cull`
# on a fabricated state directory: what they print, what they leave on disk, and exit 4 while
# someone holds the lock. Usage: test_cli_account.sh PATH-TO-ACMED
set -u
acmed=${1:?usage: test_cli_account.sh ACMED}
: "${PEBBLE_ENV:?PEBBLE_ENV must name the Pebble fixture env file}"
# shellcheck disable=SC1090
. "$PEBBLE_ENV"
data=${ACMED_TEST_DATA:-$(cd "$(dirname "$0")/../data" && pwd)}/x509
tmp=${ACMED_TEST_TMP:-/tmp}
mkdir -p "$tmp"
work=$(mktemp -d "$tmp/cli-account.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
out=$work/out
fail=0

check() { # check DESCRIPTION EXPECTED-RC CMD...
    local what=$1 want=$2 rc
    shift 2
    "$@" >"$out" 2>&1
    rc=$?
    if [ "$rc" != "$want" ]; then
        echo "FAIL: $what: exit $rc, wanted $want; output:" >&2
        cat "$out" >&2
        fail=1
    fi
}
expect() { # expect DESCRIPTION CONDITION...
    local what=$1
    shift
    if ! "$@"; then
        echo "FAIL: $what; last output:" >&2
        cat "$out" >&2
        fail=1
    fi
}
# The key id of a PEM key: base32 of SHA-256 of its DER SubjectPublicKeyInfo.
key_id() {
    openssl pkey -in "$1" -pubout -outform DER | openssl dgst -sha256 -binary | base32 -w0 |
        tr -d '=' | tr '[:upper:]' '[:lower:]'
}
# shellcheck disable=SC2317 # called through expect
lacks() { # lacks PATTERN: the last output has no line matching PATTERN
    ! grep -q -- "$1" "$out"
}
key_dirs() { # key_dirs STATE: the account key directories in use
    find "$1/accounts" -mindepth 2 -maxdepth 2 -type d ! -name '.*' -printf '%f\n'
}

# ---- account ----
D=$work/state
net=(--state "$D" --provider "$PEBBLE_DIRECTORY" --ca-bundle "$PEBBLE_CA")
check "account new without --agree-tos" 1 "$acmed" "${net[@]}" account new
expect "the refusal mentions --agree-tos" grep -q -- '--agree-tos' "$out"
expect "no account key is left behind" test -z "$(key_dirs "$D")"
check "account new --agree-tos" 0 "$acmed" "${net[@]}" --agree-tos account new
key1=$(key_dirs "$D")
acct=$(echo "$D"/accounts/*/"$key1")
expect "one account key directory" test "$(echo "$key1" | wc -l)" = 1 -a -n "$key1"
expect "privkey is mode 0600" test "$(stat -c %a "$acct/privkey" 2>/dev/null)" = 600
url=$(sed -n 's/^ *"url": "\(.*\)",\{0,1\}$/\1/p' "$acct/meta" 2>/dev/null)
expect "meta has the account URL" test -n "$url"
check "account list" 0 "$acmed" --state "$D" account list
expect "list shows the URL" grep -qF " $key1 $url" "$out"
expect "list says the key is in a file" grep -qE " $key1 $url [^ ]+ file\$" "$out"
check "account thumbprint" 0 "$acmed" --state "$D" account thumbprint
expect "thumbprint line" grep -qE "^$key1 [A-Za-z0-9_-]{43}\$" "$out"
check "account rollover" 0 "$acmed" "${net[@]}" account rollover
key2=$(key_dirs "$D")
expect "rollover replaced the key" test -n "$key2" -a "$key2" != "$key1" \
    -a "$(echo "$key2" | wc -l)" = 1
check "account list after rollover" 0 "$acmed" --state "$D" --provider "$PEBBLE_DIRECTORY" \
    account list
expect "list shows the same URL with the new key" grep -qF " $key2 $url" "$out"
check "account deactivate" 0 "$acmed" "${net[@]}" account deactivate
expect "the account is moved aside" test -d "$(dirname "$acct")/.deactivated-$key2" \
    -a -z "$(key_dirs "$D")"
check "rollover without an account" 1 "$acmed" "${net[@]}" account rollover
check "unknown account subcommand" 2 "$acmed" --state "$D" account frobnicate
expect "the error names it" grep -q frobnicate "$out"

# An account held by a signer: meta only, named by the base32 of its key's thumbprint.
thumb=NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs
sid=$(python3 -c 'import base64,sys; t=sys.argv[1]; print(base64.b32encode(base64.urlsafe_b64decode(t+"=")).decode().rstrip("=").lower())' "$thumb")
mkdir -m 700 "$(dirname "$acct")/$sid"
printf '{"url":"https://ca.test/acct/7","contact":[],"signer":"unix:/run/acme/S.signer","thumbprint":"%s","created":"2026-01-01T00:00:00Z"}\n' \
    "$thumb" >"$(dirname "$acct")/$sid/meta"
check "account list with a signer's account" 0 "$acmed" --state "$D" account list
expect "list says where its key lives" grep -qE " $sid https://ca.test/acct/7 - unix:/run/acme/S.signer\$" "$out"
check "account thumbprint of a signer's account" 0 "$acmed" --state "$D" account thumbprint
expect "its thumbprint is the signer's" grep -qxF "$sid $thumb" "$out"

# ---- account new --contact ----
D2=$work/contact
net2=(--state "$D2" --provider "$PEBBLE_DIRECTORY" --ca-bundle "$PEBBLE_CA" --agree-tos)
meta_contacts() { # meta_contacts STATE KEY-ID: the meta's contact list, comma-separated
    python3 -c 'import json, sys; print(",".join(json.load(open(sys.argv[1]))["contact"]))' \
        "$(echo "$1"/accounts/*/"$2"/meta)"
}
check "account new --contact without a scheme" 2 "$acmed" "${net2[@]}" account new \
    --contact ops@example.com
expect "the refusal says why" grep -qF -- \
    '--contact "ops@example.com": expected a contact URI (mailto:...): no URI scheme' "$out"
expect "nothing is registered" test -z "$(key_dirs "$D2")"
check "--contact with account list" 2 "$acmed" --state "$D2" account list \
    --contact mailto:x@example.com
expect "the refusal names account new" grep -q 'applies to account new only' "$out"
check "account new with two --contact" 0 "$acmed" "${net2[@]}" account new \
    --contact mailto:x@example.com --contact mailto:y@example.com
kx=$(key_dirs "$D2")
expect "meta holds both contacts" test "$(meta_contacts "$D2" "$kx")" = \
    mailto:x@example.com,mailto:y@example.com
check "account list with contacts" 0 "$acmed" --state "$D2" account list
expect "list shows them" grep -qE "$kx https://[^ ]+ mailto:x@example.com,mailto:y@example.com file\$" \
    "$out"
# Without --contact, conf/target's; a --contact other than conf/target's is warned about (the
# reconciler gives every account conf/target's).
mkdir -p "$D2/conf"
printf 'request:\n  account:\n    contact: [mailto:conf@example.com]\n' >"$D2/conf/target"
check "account new with conf/target's contact" 0 "$acmed" "${net2[@]}" account new
kc=$(key_dirs "$D2" | grep -v "^$kx\$")
expect "meta holds conf/target's contact" test "$(meta_contacts "$D2" "$kc")" = \
    mailto:conf@example.com
check "account new --contact unlike conf/target's" 0 "$acmed" "${net2[@]}" account new \
    --contact mailto:z@example.com
expect "the warning names conf/target's contact" grep -q \
    'conf/target sets request.account.contact to mailto:conf@example.com: the next reconcile' \
    "$out"
check "account list of three" 0 "$acmed" --state "$D2" account list
expect "list shows conf/target's contact" grep -q "$kc https://[^ ]* mailto:conf@example.com file\$" \
    "$out"
expect "list shows the --contact one" grep -q " mailto:z@example.com file\$" "$out"

# ---- cull ----
C=$work/cull
check "state directory created" 0 "$acmed" --state "$C" account list
: >"$C/desired/b.example" # a target of its own, pinning no key
kid=$(key_id "$data/leaf.key")
unused=$(key_id "$data/other.key")
cert1=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
cert2=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
for k in "$kid:leaf" "$unused:other"; do
    mkdir -m 700 "$C/keys/${k%%:*}"
    install -m 600 "$data/${k#*:}.key" "$C/keys/${k%%:*}/privkey"
done
for id in $cert1 $cert2; do
    mkdir "$C/certs/$id"
    cp "$data/leaf.pem" "$C/certs/$id/cert"
    ln -s "../../keys/$kid/privkey" "$C/certs/$id/privkey"
done
ln -s "../certs/$cert2" "$C/live/a.example"
later=4200000000 # after the certificate's notAfter (2100-01-01)

check "cull -n before expiry" 0 "$acmed" --state "$C" cull -n
expect "nothing unexpired is listed" lacks "would remove certificate"
check "cull -n after expiry" 0 env ACMED_FAKE_NOW=$later "$acmed" --state "$C" cull -n
expect "cull -n lists the expired certificate" \
    grep -q "would remove certificate $cert1 (expired 2100-01-01T00:00:00Z)" "$out"
expect "cull -n keeps the live certificate" lacks "$cert2"
expect "cull -n lists the unused key" grep -q "would remove key $unused" "$out"
expect "cull -n keeps the key in use" lacks "key $kid"
expect "cull -n removes nothing" test -d "$C/certs/$cert1" -a -d "$C/keys/$unused"
check "cull after expiry" 0 env ACMED_FAKE_NOW=$later "$acmed" --state "$C" cull
expect "cull removed the expired certificate" test ! -e "$C/certs/$cert1"
expect "cull removed the unused key" test ! -e "$C/keys/$unused"
expect "cull kept the live certificate and its key" \
    test -f "$C/certs/$cert2/cert" -a -f "$C/keys/$kid/privkey"
rm "$C/live/a.example"
printf 'satisfy:\n  names: [a.example]\nrequest:\n  key:\n    id: %s\n' "$kid" \
    >"$C/desired/a.example"
check "cull with a pinned key" 0 env ACMED_FAKE_NOW=$later "$acmed" --state "$C" cull
expect "cull removed the no longer live certificate" test ! -e "$C/certs/$cert2"
expect "cull kept the pinned key" test -f "$C/keys/$kid/privkey"
rm "$C/desired/a.example"
printf '{"step": "order", "key_id": "%s"}\n' "$kid" >"$C/state/a.example.json"
chmod 600 "$C/state/a.example.json"
check "cull with an order in progress" 0 "$acmed" --state "$C" cull
expect "cull kept the key of the order" test -f "$C/keys/$kid/privkey"
rm "$C/state/a.example.json"
check "cull of the last key" 0 "$acmed" --state "$C" cull
expect "cull removed the key nothing uses" test ! -e "$C/keys/$kid"

# ---- the lock ----
exec 9>>"$C/.lock"
if flock -n 9; then
    check "cull while locked" 4 "$acmed" --state "$C" cull 9>&-
    check "account new while locked" 4 "$acmed" --state "$C" --provider "$PEBBLE_DIRECTORY" \
        --ca-bundle "$PEBBLE_CA" --agree-tos account new 9>&-
    expect "the error says it is locked" grep -q locked "$out"
else
    echo "FAIL: cannot take the lock for the test" >&2
    fail=1
fi
exec 9>&-
check "cull once the lock is free" 0 "$acmed" --state "$C" cull
rm "$C/desired/b.example"
check "cull with no target at all" 0 "$acmed" --state "$C" cull

[ "$fail" = 0 ] && echo "cli account: ok"
exit "$fail"
