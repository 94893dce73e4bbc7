#!/usr/bin/env bash
# examples/hooks/dns-challtestsrv (the dns-01 hook the integration tests use): start POSTs
# set-txt, stop POSTs clear-txt to $CHALLTESTSRV_MGMT, with the record name of the base host
# also for a wildcard. A fake curl records its arguments, one per line.
# Usage: test_dns_challtestsrv.sh SOURCE-DIR
. "$(dirname "$0")/lib.sh"
th_init "${1:-}"
hook=$SRC/examples/hooks/dns-challtestsrv
VAL=LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0
MGMT=http://127.0.0.1:8055

th_fake curl 'for a; do printf "%s\n" "$a"; done >"$REC/curl.args"
exit "${CURL_RC:-0}"'
reset() { rm -f "$REC/curl.args"; }
# The argument after -d, and the last one (the URL).
data() { grep -A1 -x -- -d "$REC/curl.args" | tail -n 1; }
url() { tail -n 1 "$REC/curl.args"; }

th_run "$hook" challenge-dns-start a.example /d/a "$VAL" ""
expect_rc 42 "CHALLTESTSRV_MGMT unset"
[[ ! -e $REC/curl.args ]] || fail "curl run with CHALLTESTSRV_MGMT unset"
for ev in live-updated challenge-http-start challenge-tls-alpn-stop expiry-warning; do
    th_run CHALLTESTSRV_MGMT=$MGMT "$hook" "$ev" a.example /d/a "$VAL"
    expect_rc 42 "event $ev"
done
[[ ! -e $REC/curl.args ]] || fail "curl run for another event"

th_run CHALLTESTSRV_MGMT=$MGMT "$hook" challenge-dns-start a.example /d/a "$VAL" ""
expect_rc 0 "start"
[[ $(data) == "{\"host\": \"_acme-challenge.a.example.\", \"value\": \"$VAL\"}" ]] ||
    fail "start posted $(data)"
[[ $(url) == "$MGMT/set-txt" ]] || fail "start posted to $(url)"
grep -qx -- -fsS "$REC/curl.args" || fail "curl not asked to fail on HTTP errors"
grep -qx -- 'Content-Type: application/json' "$REC/curl.args" || fail "no JSON content type"

# A wildcard's record is the base name's ("*." never reaches the hook, or is stripped).
for host in b.example '*.b.example'; do
    reset
    th_run CHALLTESTSRV_MGMT=$MGMT/ "$hook" challenge-dns-start "$host" /d/b "$VAL" wildcard
    expect_rc 0 "wildcard start ($host)"
    [[ $(data) == "{\"host\": \"_acme-challenge.b.example.\", \"value\": \"$VAL\"}" ]] ||
        fail "wildcard start ($host) posted $(data)"
    [[ $(url) == "$MGMT/set-txt" ]] || fail "wildcard start posted to $(url)"
done

reset
th_run CHALLTESTSRV_MGMT=$MGMT "$hook" challenge-dns-stop b.example /d/b "$VAL" wildcard
expect_rc 0 "stop"
[[ $(data) == '{"host": "_acme-challenge.b.example."}' ]] || fail "stop posted $(data)"
[[ $(url) == "$MGMT/clear-txt" ]] || fail "stop posted to $(url)"

# Nothing unescaped reaches the JSON.
for bad in 'a"b' 'x y' ''; do
    reset
    th_run CHALLTESTSRV_MGMT=$MGMT "$hook" challenge-dns-start a.example /d/a "$bad" ""
    expect_rc 2 "TXT value \"$bad\""
    th_run CHALLTESTSRV_MGMT=$MGMT "$hook" challenge-dns-start "a\"b.example" /d/a "$VAL" ""
    expect_rc 2 "host with a quote"
    [[ ! -e $REC/curl.args ]] || fail "curl run for a bad argument"
done

# The API failing is the hook failing.
th_run CHALLTESTSRV_MGMT=$MGMT CURL_RC=22 "$hook" challenge-dns-start a.example /d/a "$VAL" ""
expect_rc 1 "curl failing"

th_done
