#!/usr/bin/env bash
# hooks/dns-nsupdate: challenge-dns-start/stop feed nsupdate the exact update script; nothing
# happens unless configured; arguments that could say something else are refused. A fake
# nsupdate records its arguments and stdin, a fake dig answers the optional propagation check.
# Usage: test_dns_nsupdate.sh SOURCE-DIR
. "$(dirname "$0")/lib.sh"
th_init "${1:-}"
hook=$SRC/hooks/dns-nsupdate
VAL=LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0

th_fake nsupdate 'for a; do printf "%s\n" "$a"; done >"$REC/nsupdate.args"
cat >"$REC/nsupdate.stdin"
exit "${NSUPDATE_RC:-0}"'
called() { [[ -e $REC/nsupdate.stdin ]]; }
reset() { rm -f "$REC"/nsupdate.* "$REC"/dig*; }

# Not configured: not its business, whatever the event.
th_run "$hook" challenge-dns-start a.example /d/a.example "$VAL" ""
expect_rc 42 "unconfigured start"
th_run "$hook" challenge-dns-stop a.example /d/a.example "$VAL" ""
expect_rc 42 "unconfigured stop"
called && fail "nsupdate run while unconfigured"
th_run ACME_NSUPDATE_SERVER=ns1.example.net "$hook" challenge-http-start a.example /d/x tok
expect_rc 42 "http-01 event"
th_run ACME_NSUPDATE_SERVER=ns1.example.net "$hook" live-updated
expect_rc 42 "live-updated"
called && fail "nsupdate run for another event"

# Configured: the exact script, no key.
th_run ACME_NSUPDATE_SERVER=ns1.example.net "$hook" challenge-dns-start a.example /d/a.example \
    "$VAL" ""
expect_rc 0 "start"
expect_file "$REC/nsupdate.stdin" "server ns1.example.net
update add _acme-challenge.a.example. 60 TXT \"$VAL\"
send
" "start script"
expect_file "$REC/nsupdate.args" "" "start arguments without a key"
grep -q "added TXT _acme-challenge.a.example." "$T/out" || fail "start said nothing"

# With a TSIG key, a zone and a TTL; a wildcard's record is the base name's.
printf 'key "k" { algorithm hmac-sha256; secret "c2VjcmV0"; };\n' >"$T/tsig.key"
reset
conf=(ACME_NSUPDATE_SERVER=192.0.2.53 ACME_NSUPDATE_KEY="$T/tsig.key"
    ACME_NSUPDATE_ZONE=example. ACME_NSUPDATE_TTL=300)
th_run "${conf[@]}" "$hook" challenge-dns-start b.example /d/b "$VAL" wildcard
expect_rc 0 "start with key"
expect_file "$REC/nsupdate.stdin" "server 192.0.2.53
zone example.
update add _acme-challenge.b.example. 300 TXT \"$VAL\"
send
" "start script with zone and TTL"
expect_file "$REC/nsupdate.args" "-k
$T/tsig.key
" "nsupdate -k KEYFILE"

# Stop deletes that value only.
reset
th_run "${conf[@]}" "$hook" challenge-dns-stop b.example /d/b "$VAL" wildcard
expect_rc 0 "stop"
expect_file "$REC/nsupdate.stdin" "server 192.0.2.53
zone example.
update delete _acme-challenge.b.example. TXT \"$VAL\"
send
" "stop script"

# nsupdate's failure is the hook's.
reset
th_run ACME_NSUPDATE_SERVER=ns1.example.net NSUPDATE_RC=5 "$hook" challenge-dns-start \
    a.example /d/a "$VAL" ""
expect_rc 5 "nsupdate failing"
grep -q 'nsupdate failed' "$T/err" || fail "nsupdate's failure not reported"

# Refused before nsupdate runs: values and hosts that would inject commands, bad settings.
for bad in 'a b' "x\"" $'x\nupdate add evil. 60 TXT "y"' '' 'abc=' 'a;b'; do
    reset
    th_run ACME_NSUPDATE_SERVER=ns1.example.net "$hook" challenge-dns-start a.example /d/a \
        "$bad" ""
    expect_rc 2 "TXT value \"$bad\""
    called && fail "nsupdate run for TXT value \"$bad\""
done
grep -q 'invalid TXT value' "$T/err" || fail "bad TXT value not reported"
for bad in '' '../x' 'a example' $'a.example\nsend' '.a.example' 'a..example' 'A_B.example'; do
    reset
    th_run ACME_NSUPDATE_SERVER=ns1.example.net "$hook" challenge-dns-start "$bad" /d/a "$VAL" ""
    expect_rc 2 "host \"$bad\""
    called && fail "nsupdate run for host \"$bad\""
done
for setting in ACME_NSUPDATE_TTL=1h ACME_NSUPDATE_ZONE='a b' ACME_NSUPDATE_KEY="$T/missing" \
    ACME_NSUPDATE_WAIT=x; do
    reset
    th_run ACME_NSUPDATE_SERVER=ns1.example.net "$setting" "$hook" challenge-dns-start a.example \
        /d/a "$VAL" ""
    expect_rc 2 "setting $setting"
    called && fail "nsupdate run with $setting"
done
reset
th_run ACME_NSUPDATE_SERVER=$'ns1\nupdate' "$hook" challenge-dns-start a.example /d/a "$VAL" ""
expect_rc 2 "a server name with a newline"
called && fail "nsupdate run with a bad server name"

# ACME_NSUPDATE_CHECK: waits until each listed server serves the value (the fake dig does
# from its second query on).
th_fake dig 'echo "$*" >>"$REC/dig.args"
n=$(cat "$REC/dig.count" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" >"$REC/dig.count"
[ -n "$DIG_NEVER" ] && exit 0
[ "$n" -ge 2 ] && echo "\"other\"" && echo "\"$VAL\""
exit 0'
reset
th_run ACME_NSUPDATE_SERVER=ns1.example.net ACME_NSUPDATE_CHECK="ns1.example.net ns2.example.net" \
    VAL="$VAL" "$hook" challenge-dns-start a.example /d/a "$VAL" ""
expect_rc 0 "start with a propagation check"
expect_file "$REC/dig.args" "+short @ns1.example.net TXT _acme-challenge.a.example.
+short @ns1.example.net TXT _acme-challenge.a.example.
+short @ns2.example.net TXT _acme-challenge.a.example.
" "dig queries"
# Never served: the hook gives up after ACME_NSUPDATE_WAIT seconds.
reset
SECONDS=0
th_run ACME_NSUPDATE_SERVER=ns1.example.net ACME_NSUPDATE_CHECK=ns2.example.net DIG_NEVER=1 \
    ACME_NSUPDATE_WAIT=1 "$hook" challenge-dns-start a.example /d/a "$VAL" ""
expect_rc 1 "a value never served"
((SECONDS <= 5)) || fail "the propagation check took ${SECONDS}s with ACME_NSUPDATE_WAIT=1"
grep -q 'ns2.example.net does not serve' "$T/err" || fail "the timeout was not reported"
# Stop does not wait.
reset
th_run ACME_NSUPDATE_SERVER=ns1.example.net ACME_NSUPDATE_CHECK=ns2.example.net DIG_NEVER=1 \
    "$hook" challenge-dns-stop a.example /d/a "$VAL" ""
expect_rc 0 "stop with a propagation check"
[[ ! -e $REC/dig.args ]] || fail "dig queried on stop"

th_done
