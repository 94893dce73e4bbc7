#!/usr/bin/env bash
# acmed answering challenges itself: http-01 through its built-in listener, tls-alpn-01
# through its built-in TLS listener, and a wildcard through dns-01 with a hook (the
# challtestsrv example hook). Each time nothing is left behind: no listener, no file. Also:
# a token that is not base64url (injected by the fault proxy) never reaches the file system.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble

port_closed() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# http-01, built-in listener on Pebble's validation port.
tl_conf_listener
printf 'satisfy:\n  names: [h.chal.test, www.h.chal.test]\n' >"$STATE/desired/h"
tl_acmed --once >"$T/http.log" 2>&1 || { cat "$T/http.log" >&2; fail "http-01 issuance failed"; }
[[ -n $(tl_live_cert h.chal.test) ]] || fail "no certificate through the http-01 listener"
check "the http-01 chain does not verify" tl_verify_chain "$STATE/live/h.chal.test"
port_closed "$PEBBLE_HTTP_PORT" || fail "the http-01 listener is still open"

# The http-01 self-test fetches the answer before the CA is asked: pointed at a closed port
# it fails the target without a validation attempt; pointed at the listener it passes.
printf 'satisfy:\n  names: [st.chal.test]\nrequest:\n  challenge:\n    http-self-test: true\n' \
    >"$STATE/desired/st"
ACMED_SELF_TEST_CONNECT=127.0.0.1:1 tl_acmed --once >"$T/st1.log" 2>&1 && fail "a failing self-test passed"
grep -q 'self-test of http://st.chal.test/.well-known/acme-challenge/' "$T/st1.log" ||
    fail "the self-test failure is not reported"
grep -q 'st.chal.test.*validation failed' "$T/st1.log" && fail "the CA was asked to validate anyway"
ACMED_SELF_TEST_CONNECT=127.0.0.1:$PEBBLE_HTTP_PORT tl_acmed --once --force >"$T/st2.log" 2>&1 ||
    { cat "$T/st2.log" >&2; fail "a passing self-test failed"; }
[[ -n $(tl_live_cert st.chal.test) ]] || fail "no certificate after the self-test"

# tls-alpn-01, built-in TLS listener on Pebble's tls validation port.
cat >"$STATE/conf/target" <<YAML
request:
  challenge:
    type: [tls-alpn-01]
    tls-ports: ["127.0.0.1:$PEBBLE_TLS_PORT"]
  account:
    agree-tos: true
YAML
printf 'satisfy:\n  names: [t.chal.test]\n' >"$STATE/desired/t"
tl_acmed --once >"$T/tls.log" 2>&1 || { cat "$T/tls.log" >&2; fail "tls-alpn-01 issuance failed"; }
[[ -n $(tl_live_cert t.chal.test) ]] || fail "no certificate through tls-alpn-01"
grep -q 't.chal.test by tls-alpn-01' "$T/tls.log" || fail "tls-alpn-01 was not the method used"
port_closed "$PEBBLE_TLS_PORT" || fail "the tls-alpn-01 listener is still open"

# dns-01 for a wildcard and its base name (one TXT record name, two values), via the hook.
cp "$TL_SRC/examples/hooks/dns-challtestsrv" "$HOOKS/dns"
cat >"$HOOKS/record" <<HOOK
#!/bin/sh
case "\$1" in challenge-dns-*) echo "\$@" >>"$T/dns-events" ;; *) exit 42 ;; esac
HOOK
chmod 755 "$HOOKS/dns" "$HOOKS/record"
tl_conf_listener "http-01, dns-01"
printf 'satisfy:\n  names: ["*.w.chal.test", w.chal.test]\nrequest:\n  challenge:\n    type: [dns-01]\n' \
    >"$STATE/desired/w"
CHALLTESTSRV_MGMT=$CHALLTESTSRV_MGMT tl_acmed --once >"$T/dns.log" 2>&1 ||
    { cat "$T/dns.log" >&2; fail "dns-01 wildcard issuance failed"; }
[[ -n $(tl_live_cert '*.w.chal.test') ]] || fail "no wildcard certificate"
# Both records published before any was removed, with the host given without "*.".
python3 - "$T/dns-events" <<'PY' || fail "dns hook events out of order: $(cat "$T/dns-events")"
import sys
ev = [l.split() for l in open(sys.argv[1])]
starts = [i for i, e in enumerate(ev) if e[0] == "challenge-dns-start"]
stops = [i for i, e in enumerate(ev) if e[0] == "challenge-dns-stop"]
assert len(starts) == 2 and len(stops) == 2, ev
assert max(starts) < min(stops), ev
assert all(e[1] == "w.chal.test" for e in ev), ev
assert sorted(len(e) for e in ev if e[0] == "challenge-dns-start") == [4, 5], ev  # wildcard arg
PY

# A wildcard for which only http-01 and tls-alpn-01 are allowed: the error says which
# methods were tried and why each could not be used.
printf 'satisfy:\n  names: ["*.nope.chal.test"]\nrequest:\n  challenge:\n    type: [http-01, tls-alpn-01]\n' \
    >"$STATE/desired/nope"
tl_acmed --once >"$T/nope.log" 2>&1 && fail "a wildcard without dns-01 was issued"
grep -q 'no challenge method could be used (http-01: not offered (a wildcard takes dns-01 only); tls-alpn-01: not offered' "$T/nope.log" ||
    fail "the error does not list the methods tried: $(grep nope "$T/nope.log")"
rm "$STATE/desired/nope"

# A challenge token that is not base64url never reaches the file system.
tl_webroot
tl_proxy
cat >"$STATE/conf/target" <<YAML
request:
  challenge:
    type: [http-01]
    webroot-paths: [$WEBROOT]
  account:
    agree-tos: true
YAML
curl -s --max-time 5 -X POST "$PROXY_CTL/rules" -d '[{"method": "POST", "path": "^/authZ/",
  "action": "replace_body", "sub": [["\"token\": \"[^\"]*\"", "\"token\": \"../../evil\""]]}]' >/dev/null
printf 'satisfy:\n  names: [evil.chal.test]\n' >"$STATE/desired/evil"
tl_acmed --once >"$T/evil.log" 2>&1 && fail "a hostile token was accepted"
[[ -z $(ls -A "$WEBROOT") && ! -e $T/www/evil && ! -e $T/evil ]] || fail "a hostile token touched the file system"
grep -q 'token' "$T/evil.log" || fail "the error does not mention the token"
tl_done
