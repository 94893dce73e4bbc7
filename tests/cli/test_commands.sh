#!/usr/bin/env bash
# want / unwant / status / revoke as DESIGN.md §7 says, with their exit codes: want writes a
# desired file and reconciles; a name added to a target is a certificate that no longer
# satisfies it; unwant drops names and empty targets; revoke reaches the CA through the
# `revoke` marker and the target gets a new certificate. want --apex (www.NAME brings NAME),
# satisfy.www-apex, and the legacy plain form (a desired file of hostnames alone) each give
# one certificate with both names.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_conf_target

tl_acmed want a.cmd.test www.a.cmd.test >"$T/want1.log" 2>&1 || { cat "$T/want1.log" >&2; fail "want exited $?"; }
[[ -f $STATE/desired/a.cmd.test ]] || fail "want wrote no desired/a.cmd.test"
id1=$(tl_live_cert a.cmd.test)
[[ -n $id1 ]] || fail "want did not reconcile"
tl_acmed want --no-reconcile b.cmd.test || fail "want --no-reconcile failed"
[[ -f $STATE/desired/b.cmd.test && -z $(tl_live_cert b.cmd.test) ]] ||
    fail "want --no-reconcile reconciled or wrote nothing"

# status: b is missing -> exit 1, and says so.
tl_acmed status >"$T/status.txt"
rc=$?
[[ $rc == 1 ]] || fail "status with a missing certificate exited $rc, wanted 1"
grep -q 'b.cmd.test.*missing' "$T/status.txt" || fail "status does not show b as missing"
# The CA bundle from the environment (ACMED_CA_BUNDLE) instead of --ca-bundle: a wrong one
# fails the TLS handshake, the right one works.
ACMED_CA_BUNDLE="$TL_SRC/tests/data/x509/root.pem" "$ACMED" --state "$STATE" --hooks "$HOOKS" \
    --provider "$PROVIDER" --once >"$T/wrongca.log" 2>&1 && fail "an untrusted CA bundle worked"
[[ -z $(tl_live_cert b.cmd.test) ]] || fail "issued despite the wrong CA bundle"
ACMED_CA_BUNDLE="$PEBBLE_CA" "$ACMED" --state "$STATE" --hooks "$HOOKS" --provider "$PROVIDER" \
    --agree-tos --force --once >"$T/env.log" 2>&1 || { cat "$T/env.log" >&2; fail "--once with ACMED_CA_BUNDLE failed"; }
[[ -n $(tl_live_cert b.cmd.test) ]] || fail "ACMED_CA_BUNDLE was not used"
tl_acmed status --json >"$T/s.json" || fail "status exited $? with everything satisfied"

# A name added to a target: the old certificate no longer satisfies it.
tl_acmed want a.cmd.test www.a.cmd.test new.a.cmd.test >/dev/null 2>&1 || fail "second want failed"
id2=$(tl_live_cert new.a.cmd.test)
[[ -n $id2 && $id2 != "$id1" && $(tl_live_cert a.cmd.test) == "$id2" ]] ||
    fail "adding a name did not bring a new certificate"

# unwant: names leave their targets; a target left empty goes.
tl_acmed unwant b.cmd.test >/dev/null 2>&1 || fail "unwant failed"
[[ ! -e $STATE/desired/b.cmd.test ]] || fail "unwant left the empty target"
tl_acmed unwant new.a.cmd.test >/dev/null 2>&1 || fail "unwant failed"
grep -q 'new.a.cmd.test' "$STATE/desired/a.cmd.test" && fail "unwant left the name in place"
grep -q 'www.a.cmd.test' "$STATE/desired/a.cmd.test" || fail "unwant removed other names"

# revoke by name: the CA revokes it, the marker says so, the target gets a new certificate.
id3=$(tl_live_cert a.cmd.test)
serial=$(certtool -i --infile "$STATE/certs/$id3/cert" | sed -n 's/.*Serial Number (hex): //p' | head -1)
tl_acmed revoke a.cmd.test --reason keyCompromise >"$T/revoke.log" 2>&1 ||
    { cat "$T/revoke.log" >&2; fail "revoke exited $?"; }
[[ -f $STATE/certs/$id3/revoked ]] || fail "no revoked marker after revoke"
curl -s --max-time 5 --cacert "$PEBBLE_CA" "$PEBBLE_MGMT/cert-status-by-serial/$serial" |
    grep -q '"Revoked"' || fail "pebble does not show the certificate revoked"
id4=$(tl_live_cert a.cmd.test)
[[ -n $id4 && $id4 != "$id3" ]] || fail "the revoked certificate was not replaced"
tl_acmed revoke nosuch.cmd.test >/dev/null 2>&1
[[ $? == 1 ]] || fail "revoking an unknown name did not exit 1"
tl_acmed revoke a.cmd.test --reason bogus >/dev/null 2>&1
[[ $? == 2 ]] || fail "an unknown reason is not a usage error"
# sans CERT: the DNS names of a certificate, sorted, on one line.
sans() { certtool -i --infile "$1" | sed -n 's/^[[:space:]]*DNSname: //p' | sort | tr '\n' ' '; }

# want --apex: www.NAME also wants NAME, written into satisfy.names; one certificate for both.
tl_acmed want --apex www.apex.cmd.test >"$T/apex.log" 2>&1 ||
    { cat "$T/apex.log" >&2; fail "want --apex exited $?"; }
[[ $(cat "$STATE/desired/www.apex.cmd.test") == $'satisfy:\n  names:\n  - www.apex.cmd.test\n  - apex.cmd.test' ]] ||
    fail "want --apex wrote: $(cat "$STATE/desired/www.apex.cmd.test")"
ida=$(tl_live_cert www.apex.cmd.test)
[[ -n $ida && $(tl_live_cert apex.cmd.test) == "$ida" ]] || fail "want --apex: no one certificate for both names"
[[ $(sans "$STATE/certs/$ida/cert") == "apex.cmd.test www.apex.cmd.test " ]] ||
    fail "want --apex: the certificate names $(sans "$STATE/certs/$ida/cert")"
tl_acmed want --apex >/dev/null 2>&1
[[ $? == 2 ]] || fail "want --apex without a name is not a usage error"
tl_acmed status --apex >/dev/null 2>&1
[[ $? == 2 ]] || fail "--apex with another command is not a usage error"

# The legacy plain form, hostnames alone, is satisfy.names (with a notice); satisfy.www-apex
# in a file named after a www name brings the apex.
printf 'legacy.cmd.test\nwww.legacy.cmd.test\n' >"$STATE/desired/legacy"
printf 'satisfy:\n  www-apex: true\n' >"$STATE/desired/www.key.cmd.test"
tl_acmed --once >"$T/legacy.log" 2>&1 || { cat "$T/legacy.log" >&2; fail "--once with a legacy file exited $?"; }
grep -q '^acmed: notice: desired/legacy:1: hostnames alone' "$T/legacy.log" ||
    fail "no notice about the legacy form: $(grep legacy "$T/legacy.log")"
idl=$(tl_live_cert legacy.cmd.test)
[[ -n $idl && $(sans "$STATE/certs/$idl/cert") == "legacy.cmd.test www.legacy.cmd.test " ]] ||
    fail "the legacy file's certificate names: $(sans "$STATE/certs/$idl/cert" 2>&1)"
idk=$(tl_live_cert www.key.cmd.test)
[[ -n $idk && $(sans "$STATE/certs/$idk/cert") == "key.cmd.test www.key.cmd.test " ]] ||
    fail "www-apex: the certificate names: $(sans "$STATE/certs/$idk/cert" 2>&1)"
# unwant edits it as those names, rewriting it in the current form.
tl_acmed unwant www.legacy.cmd.test >/dev/null 2>&1 || fail "unwant on a legacy file failed"
[[ $(cat "$STATE/desired/legacy") == $'satisfy:\n  names:\n  - legacy.cmd.test' ]] ||
    fail "unwant left the legacy file as: $(cat "$STATE/desired/legacy")"

tl_acmed want 'bad/name' >/dev/null 2>&1
[[ $? == 2 ]] || fail "want of an invalid name is not a usage error"
tl_acmed frobnicate >/dev/null 2>&1
[[ $? == 2 ]] || fail "an unknown command is not a usage error"
tl_acmed status --force >/dev/null 2>&1
[[ $? == 2 ]] || fail "an option of another command is not a usage error"
tl_done
