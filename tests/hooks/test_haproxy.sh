#!/usr/bin/env bash
# hooks/haproxy: on live-updated, certs/<id>/haproxy = privkey + fullchain (+ dhparams), mode
# 0600, written atomically, plus haproxy/<hostname> links; hostile names write nothing.
# Usage: test_haproxy.sh SOURCE-DIR
. "$(dirname "$0")/lib.sh"
th_init "${1:-}"
hook=$SRC/hooks/haproxy
x509=$SRC/tests/data/x509

# A state directory as acmed leaves it: live/a.example -> ../certs/ID, certs/ID/privkey ->
# ../../keys/KID/privkey.
S=$T/state
ID=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
ID2=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
KID=cccccccccccccccccccccccccccccccccccccccccccccccccccc
mkdir -p "$S/live" "$S/certs/$ID" "$S/certs/$ID2" "$S/keys/$KID" "$S/conf"
cp "$x509/leaf.key" "$S/keys/$KID/privkey"
for id in "$ID" "$ID2"; do
    cp "$x509/chain.pem" "$S/certs/$id/fullchain"
    cp "$x509/leaf.pem" "$S/certs/$id/cert"
    cp "$x509/inter.pem" "$S/certs/$id/chain"
    ln -s "../../keys/$KID/privkey" "$S/certs/$id/privkey"
done
ln -s "../certs/$ID" "$S/live/a.example"
ln -s "../certs/$ID" "$S/live/b.example"
ln -s "../certs/$ID2" "$S/live/*.c.example"
combined=$(cat "$x509/leaf.key" "$x509/chain.pem"; echo .)
combined=${combined%.}

mode() { stat -c %a "$1"; }
snapshot() { (cd "$T" && find . -path ./rec -prune -o -print | LC_ALL=C sort) >"$1"; }

# No daemon that wants combined files is installed: nothing is written.
printf 'a.example\n' >"$T/names"
IN=$T/names
th_run ACME_STATE_DIR="$S" "$hook" live-updated
expect_rc 0 "no haproxy installed"
[[ ! -e $S/certs/$ID/haproxy ]] || fail "combined file written with no daemon wanting it"

# haproxy on PATH turns it on. A stale file from before is replaced, with the right mode.
th_fake haproxy 'exit 0'
printf 'old\n' >"$S/certs/$ID/haproxy"
chmod 644 "$S/certs/$ID/haproxy"
printf 'a.example\n\n*.c.example\nnot-live.example' >"$T/names"
th_run ACME_STATE_DIR="$S" "$hook" live-updated
expect_rc 0 "live-updated"
expect_file "$S/certs/$ID/haproxy" "$combined" "combined file (key, then full chain)"
[[ $(mode "$S/certs/$ID/haproxy") == 600 ]] ||
    fail "certs/ID/haproxy has mode $(mode "$S/certs/$ID/haproxy"), wanted 600"
expect_file "$S/certs/$ID2/haproxy" "$combined" "wildcard name's combined file"
[[ $(readlink "$S/haproxy/a.example") == ../live/a.example/haproxy ]] ||
    fail "haproxy/a.example is not a link to ../live/a.example/haproxy"
expect_file "$S/haproxy/a.example" "$combined" "haproxy/a.example through its link"
[[ -L "$S/haproxy/*.c.example" ]] || fail "haproxy/*.c.example missing"
[[ ! -e $S/haproxy/not-live.example ]] || fail "a link made for a name without live link"
grep -q "wrote certs/$ID/haproxy for a.example" "$T/out" || fail "nothing said about a.example"
compgen -G "$S/certs/$ID/.tmp-*" >/dev/null && fail "temp file left behind"

# conf/dhparams is appended when present (HAPROXY_ALWAYS_GENERATE, no daemon needed).
rm -f "$FAKES/haproxy"
printf -- '-----BEGIN DH PARAMETERS-----\nMIIB\n-----END DH PARAMETERS-----\n' >"$S/conf/dhparams"
printf 'b.example\n' >"$T/names"
th_run ACME_STATE_DIR="$S" HAPROXY_ALWAYS_GENERATE=1 "$hook" live-updated
expect_rc 0 "with dhparams"
expect_file "$S/certs/$ID/haproxy" "$combined$(cat "$S/conf/dhparams")"$'\n' \
    "combined file with dhparams"
rm -f "$S/conf/dhparams"

# Hostile names from stdin, and live links leading elsewhere, write nothing anywhere.
mkdir -p "$T/etc" "$T/outside"
ln -s ../../outside "$S/live/evil.example"
ln -s "../certs/$ID/../../../outside" "$S/live/evil2.example"
ln -s "../certs/$ID" "$S/live/.hidden"
cp "$x509/chain.pem" "$T/outside/fullchain"
cp "$x509/leaf.key" "$T/outside/privkey"
snapshot "$REC/before"
printf '%s\n' ../../etc ../../outside /etc a/b .hidden .. evil.example evil2.example \
    'a.example;touch x' 'a example' >"$T/names"
th_run ACME_STATE_DIR="$S" HAPROXY_ALWAYS_GENERATE=1 "$hook" live-updated
expect_rc 1 "hostile names"
snapshot "$REC/after"
diff "$REC/before" "$REC/after" >"$REC/diff" || fail "hostile names changed files: $(cat "$REC/diff")"
grep -q 'invalid hostname "../../etc"' "$T/err" || fail "../../etc not refused"
grep -q 'invalid hostname "a/b"' "$T/err" || fail "a/b not refused"
grep -q 'evil.example: live/evil.example is missing or does not lead to certs/' "$T/err" ||
    fail "live link leading outside certs/ not refused"

# A certs/ID/privkey link leading out of keys/ is not copied.
ID3=dddddddddddddddddddddddddddddddddddddddddddddddddddd
mkdir -p "$S/certs/$ID3"
cp "$x509/chain.pem" "$S/certs/$ID3/fullchain"
ln -s ../../../outside/privkey "$S/certs/$ID3/privkey"
ln -s "../certs/$ID3" "$S/live/d.example"
printf 'd.example\n' >"$T/names"
th_run ACME_STATE_DIR="$S" HAPROXY_ALWAYS_GENERATE=1 "$hook" live-updated
expect_rc 1 "privkey outside keys/"
[[ ! -e $S/certs/$ID3/haproxy ]] || fail "combined file made from a key outside keys/"

# Other events are not its business.
th_run ACME_STATE_DIR="$S" HAPROXY_ALWAYS_GENERATE=1 "$hook" challenge-dns-start a.example x y ""
expect_rc 42 "another event"

th_done
