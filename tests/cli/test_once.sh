#!/usr/bin/env bash
# Drop a desired file, `acmed --once` issues it: live/ points at a chain that verifies
# against Pebble's root, keys are 0600 in 0700 directories; a second --once makes no request
# to the CA (counted by the fault proxy) and exits 0; two reconcilers at once: the second
# exits 4 naming the first; a broken conf/target exits 2 having ordered nothing.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_proxy
tl_conf_target
mkdir -p "$STATE/desired"
printf 'satisfy:\n  names:\n    - a.once.test\n    - www.a.once.test\n' >"$STATE/desired/a.once.test"
: >"$STATE/desired/b.once.test" # empty: the file name is the hostname

tl_acmed --once >"$T/run1.log" 2>&1
rc=$?
[[ $rc == 0 ]] || { cat "$T/run1.log" >&2; fail "first --once exited $rc"; }
id=$(tl_live_cert a.once.test)
[[ -n $id && -d $STATE/certs/$id ]] || fail "live/a.once.test does not point at a certificate"
[[ $(tl_live_cert www.a.once.test) == "$id" ]] || fail "live/www.a.once.test is not the same certificate"
[[ -n $(tl_live_cert b.once.test) ]] || fail "the empty desired file got no certificate"
[[ $(readlink "$STATE/live/a.once.test") == ../certs/$id ]] || fail "live link is not relative"
check "the chain does not verify against pebble's root" tl_verify_chain "$STATE/live/a.once.test"
grep -q 'DNS:www.a.once.test\|www.a.once.test' <(certtool -i --infile "$STATE/live/a.once.test/cert") ||
    fail "the certificate lacks www.a.once.test"

# Modes: keys and accounts 0600 files in 0700 directories.
for f in "$STATE"/keys/*/privkey "$STATE"/accounts/*/*/privkey; do
    [[ $(stat -c %a "$f") == 600 ]] || fail "$f has mode $(stat -c %a "$f")"
done
for d in "$STATE/keys" "$STATE/accounts" "$STATE/state" "$STATE"/keys/*/; do
    [[ $(stat -c %a "$d") == 700 ]] || fail "$d has mode $(stat -c %a "$d")"
done
[[ $(stat -c %a "$STATE/certs/$id/cert") == 644 ]] || fail "cert is not 0644"
# The certificate's key is the one the privkey link names.
[[ -f $STATE/certs/$id/privkey ]] || fail "certs/$id/privkey does not resolve"
ls "$STATE"/certs/*/.tmp-* "$STATE"/keys/*/.tmp-* 2>/dev/null && fail "temp files left behind"

# The http-01 answers were written into the webroot and removed afterwards.
[[ -z $(ls -A "$WEBROOT") ]] || fail "answers left in the webroot: $(ls -A "$WEBROOT")"
grep -q 'GET /.well-known/acme-challenge/' "$T/www.log" 2>/dev/null || true

# A second pass: nothing to do, no request at all.
before=$(tl_proxy_count)
tl_acmed --once >"$T/run2.log" 2>&1
rc=$?
after=$(tl_proxy_count)
[[ $rc == 0 ]] || { cat "$T/run2.log" >&2; fail "second --once exited $rc"; }
[[ $before == "$after" ]] || fail "second --once made $((after - before)) requests"

# status agrees.
tl_acmed status --json >"$T/status.json" || fail "status exited $? with everything satisfied"
python3 - "$T/status.json" <<'PY' || fail "status --json is wrong"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["daemon"] is None, s  # no daemon holds the lock
by = {t["file"]: t for t in s["targets"]}
assert by["a.once.test"]["state"] == "satisfied", by
assert by["a.once.test"]["names"] == ["a.once.test", "www.a.once.test"], by
assert by["a.once.test"]["not_after"] and by["a.once.test"]["next_renewal"], by
assert by["a.once.test"]["last_error"] is None
PY

# Two reconcilers: the second exits 4 naming the holder.
(exec 9>"$STATE/.lock" && flock -n 9 && exec sleep 5) &
holder=$!
PIDS+=($holder)
sleep 0.3
tl_acmed --once >"$T/run3.log" 2>&1
rc=$?
[[ $rc == 4 ]] || fail "--once with the lock held exited $rc, wanted 4"
{ kill $holder && wait $holder; } 2>/dev/null

# A broken conf/target: exit 2, nothing ordered.
printf 'satisfy:\n  names:\n    - c.once.test\n' >"$STATE/desired/c.once.test"
printf 'request: [not, a, mapping\n' >"$STATE/conf/target"
before=$(tl_proxy_count)
tl_acmed --once >"$T/run4.log" 2>&1
rc=$?
[[ $rc == 2 ]] || fail "a broken conf/target exited $rc, wanted 2"
grep -q 'conf/target' "$T/run4.log" || fail "the error does not name conf/target"
[[ $(tl_proxy_count) == "$before" ]] || fail "requests were made despite the broken conf/target"
tl_done
