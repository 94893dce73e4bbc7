#!/usr/bin/env bash
# examples/: the sample desired files and conf/target are read by acmed without a warning
# (every key known, every value valid), and the web server snippets proxy the challenge path
# to acmed's listener. Needs the acmed binary ($ACMED_BINARY, set by ctest); without it only
# the static checks run.
# Usage: test_examples.sh SOURCE-DIR
. "$(dirname "$0")/lib.sh"
th_init "${1:-}"
ex=$SRC/examples

for f in "$ex/conf-target" "$ex/desired/example.com" "$ex/desired/full.example.com"; do
    [[ -f $f ]] || fail "${f#"$SRC"/} missing"
done
grep -q '^location \^~ /\.well-known/acme-challenge/ {$' "$ex/nginx-acme.conf" ||
    fail "nginx-acme.conf: no location for the challenge path"
grep -q '^ *proxy_pass http://127\.0\.0\.1:402;$' "$ex/nginx-acme.conf" ||
    fail "nginx-acme.conf does not proxy to 127.0.0.1:402"
grep -q '^ *ProxyPass "/\.well-known/acme-challenge/" "http://127\.0\.0\.1:402/\.well-known/acme-challenge/"' \
    "$ex/apache-acme.conf" || fail "apache-acme.conf does not proxy to 127.0.0.1:402"

acmed=${ACMED_BINARY:-}
if [[ -z $acmed || ! -x $acmed ]]; then
    echo "no acmed binary (ACMED_BINARY): the samples were not read by acmed" >&2
    th_done
fi
S=$T/state
mkdir -p "$S/desired" "$S/conf"
cp "$ex/desired/example.com" "$ex/desired/full.example.com" "$S/desired/"
cp "$ex/conf-target" "$S/conf/target"
"$acmed" --state "$S" status --json >"$T/status" 2>"$T/err"
RC=$?
expect_rc 1 "acmed status (no certificate yet)"
[[ ! -s $T/err ]] || fail "acmed complained about the samples: $(cat "$T/err")"
[[ $(grep -c '"state": "missing"' "$T/status") == 2 ]] ||
    fail "both samples should be valid targets without a certificate: $(cat "$T/status")"
tr -d ' \n' <"$T/status" >"$T/flat"
grep -qF '"file":"example.com","names":["example.com","www.example.com"]' "$T/flat" ||
    fail "desired/example.com: wrong names: $(cat "$T/status")"
grep -qF '"file":"full.example.com","names":["full.example.com","www.full.example.com"]' \
    "$T/flat" || fail "desired/full.example.com: wrong names: $(cat "$T/status")"

th_done
