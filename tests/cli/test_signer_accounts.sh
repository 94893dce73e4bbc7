#!/usr/bin/env bash
# Accounts whose key lives in a signer (issue 14 item 2), end to end with `acmed --once`
# against Pebble:
#  - request.account.signer: unix:PATH with the real lacme-accountd (RSA key): issued, no
#    private key anywhere under accounts/, `account list` names the signer, a second run
#    reuses the account;
#  - {exec: [acmed, signer, --stdio, --allow-name '*.example.test']} in conf/target: the
#    allowed target is issued, the other fails naming the refusal;
#  - a desired file naming a command is refused with file:line and the others carry on.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_proxy

openssl genpkey -algorithm RSA -out "$T/rsa.pem" 2>/dev/null || fail "openssl cannot make an RSA key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null ||
    fail "openssl cannot make a P-256 key"

# ---- lacme-accountd on a socket ----
mkdir -m 700 "$T/run"
SOCK=$T/run/S.lacme
/usr/bin/lacme-accountd --privkey="file:$T/rsa.pem" --socket="$SOCK" --quiet 2>"$T/accountd.log" &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
    [[ -S $SOCK ]] && break
    sleep 0.05
done
[[ -S $SOCK ]] || fail "lacme-accountd did not create its socket: $(cat "$T/accountd.log")"
# The socket exists once bound, a moment before lacme-accountd listens on it.
python3 - "$SOCK" <<'PY' || fail "lacme-accountd never listened on $SOCK"
import socket, sys, time
for _ in range(200):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1])
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
    finally:
        s.close()
sys.exit(1)
PY

tl_conf_target "    signer: unix:$SOCK"
mkdir -p "$STATE/desired"
: >"$STATE/desired/a.example.test"
tl_acmed --once >"$T/run1.log" 2>&1
rc=$?
[[ $rc == 0 ]] || { cat "$T/run1.log" >&2; fail "--once with the lacme-accountd signer exited $rc"; }
[[ -n $(tl_live_cert a.example.test) ]] || fail "a.example.test got no certificate"
check "the chain does not verify" tl_verify_chain "$STATE/live/a.example.test"
[[ -z $(find "$STATE/accounts" -name privkey) ]] ||
    fail "a private key under accounts/: $(find "$STATE/accounts" -name privkey)"
ls "$STATE"/accounts/*/*/meta >/dev/null 2>&1 || fail "no account meta was recorded"
tl_acmed account list >"$T/list.log" 2>&1 || fail "account list exited $?"
grep -qE " https://[^ ]+ [^ ]+ unix:$SOCK\$" "$T/list.log" ||
    fail "account list does not name the signer: $(cat "$T/list.log")"
tl_acmed status --json >"$T/status.json" || fail "status exited $?"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["targets"][0]; assert t["account_key"] == "unix:"+sys.argv[2], t' \
    "$T/status.json" "$SOCK" || fail "status --json does not say where the account key lives"
tl_acmed status >"$T/status.txt" || fail "status exited $?"
grep -qF "account key: unix:$SOCK" "$T/status.txt" || fail "status does not name the signer"
nacct=$(ls -d "$STATE"/accounts/*/*/ | wc -l)

# The same signer again: the same account, no new registration.
: >"$STATE/desired/b.example.test"
tl_acmed --once >"$T/run2.log" 2>&1 || { cat "$T/run2.log" >&2; fail "second run exited $?"; }
[[ -n $(tl_live_cert b.example.test) ]] || fail "b.example.test got no certificate"
[[ $(ls -d "$STATE"/accounts/*/*/ | wc -l) == "$nacct" ]] || fail "a second account was made"
grep -q 'registered a new account' "$T/run2.log" && fail "the second run registered again"

# ---- acmed signer spawned per connection, with a name policy ----
STATE=$T/state2
tl_conf_target "    signer:
      exec: [\"$ACMED\", signer, --key, \"$T/ec.pem\", --stdio, --allow-name, \"*.example.test\"]"
mkdir -p "$STATE/desired"
: >"$STATE/desired/c.example.test"
: >"$STATE/desired/d.example.org"
tl_acmed --once >"$T/run3.log" 2>&1
rc=$?
[[ $rc == 1 ]] || { cat "$T/run3.log" >&2; fail "--once with one refused target exited $rc, not 1"; }
[[ -n $(tl_live_cert c.example.test) ]] || fail "the allowed c.example.test got no certificate"
[[ -z $(tl_live_cert d.example.org) ]] || fail "the refused d.example.org got a certificate"
grep -q 'd.example.org.*refused' "$T/run3.log" ||
    fail "d.example.org's failure does not name the refusal: $(grep d.example.org "$T/run3.log")"
[[ -z $(find "$STATE/accounts" -name privkey) ]] || fail "a private key under accounts/"

# ---- a conf/target others may change names no command acmed runs ----
chmod g+w "$STATE/conf/target"
: >"$STATE/desired/h.example.test"
tl_acmed --once >"$T/run6.log" 2>&1
[[ -z $(tl_live_cert h.example.test) ]] || fail "the signer command ran from a group-writable conf/target"
grep -q 'h.example.test.*signer.*not started.*conf/target' "$T/run6.log" ||
    fail "the refusal does not name conf/target: $(grep h.example.test "$T/run6.log")"
chmod g-w "$STATE/conf/target"
rm "$STATE/desired/h.example.test"

# ---- lacme-accountd --stdio spawned per connection (its RSA key: the same account) ----
STATE=$T/state3
tl_conf_target "    signer:
      exec: [/usr/bin/lacme-accountd, \"--privkey=file:$T/rsa.pem\", --stdio, --quiet]"
mkdir -p "$STATE/desired"
: >"$STATE/desired/g.example.test"
tl_acmed --once >"$T/run5.log" 2>&1 || { cat "$T/run5.log" >&2; fail "lacme-accountd --stdio run exited $?"; }
[[ -n $(tl_live_cert g.example.test) ]] || fail "g.example.test got no certificate through lacme-accountd --stdio"
[[ -z $(find "$STATE/accounts" -name privkey) ]] || fail "a private key under accounts/"
# The key is lacme-accountd's: the account Pebble knows from the socket run, by the same id.
[[ $(basename "$(ls -d "$STATE"/accounts/*/*/)") == $(basename "$(ls -d "$T"/state/accounts/*/*/)") ]] ||
    fail "the --stdio signer's account is not the socket signer's key"
STATE=$T/state2

# ---- a desired file may not name a command ----
printf 'request:\n  account:\n    signer:\n      exec: [/bin/sh, -c, "touch %s/pwned"]\n' "$T" \
    >"$STATE/desired/e.example.test"
: >"$STATE/desired/f.example.test"
tl_acmed --once >"$T/run4.log" 2>&1
grep -q 'desired/e.example.test: line 4.*request.account.signer: a command (exec) may be named only in conf/target' \
    "$T/run4.log" || grep -q 'desired/e.example.test.*only in conf/target' "$T/run4.log" ||
    fail "the refusal does not name the file and key: $(cat "$T/run4.log")"
[[ -e $T/pwned ]] && fail "the desired file's command ran"
[[ -n $(tl_live_cert f.example.test) ]] || fail "f.example.test did not carry on"
tl_done
