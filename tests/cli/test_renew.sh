#!/usr/bin/env bash
# Renewal: with the clock moved past the renewal point, --once renews with a new key (the
# same key with reuse: true), swaps live/, runs live-updated with exactly the changed names;
# when the CA offers renewalInfo (through the fault proxy) the renewal time is chosen inside
# the window, kept across runs, and the renewal order carries `replaces`.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_proxy
tl_conf_target
mkdir -p "$STATE/desired"
cat >"$HOOKS/10-record" <<HOOK
#!/bin/sh
[ "\$1" = live-updated ] || exit 42
cat >>"$T/live-updated.txt"
echo --- >>"$T/live-updated.txt"
HOOK
chmod 755 "$HOOKS/10-record"

printf 'satisfy:\n  names:\n    - r.renew.test\n    - www.r.renew.test\n' >"$STATE/desired/r"
printf 'satisfy:\n  names:\n    - k.renew.test\nrequest:\n  key:\n    reuse: true\n' \
    >"$STATE/desired/k"
printf 'satisfy:\n  names:\n    - other.renew.test\n  margin: 1\n' >"$STATE/desired/other"
tl_acmed --once >"$T/run1.log" 2>&1 || { cat "$T/run1.log" >&2; fail "first --once failed"; }
r1=$(tl_live_cert r.renew.test)
k1=$(tl_live_cert k.renew.test)
o1=$(tl_live_cert other.renew.test)
rkey1=$(basename "$(readlink "$STATE/certs/$r1/privkey" | xargs dirname)")
kkey1=$(basename "$(readlink "$STATE/certs/$k1/privkey" | xargs dirname)")
sort <(head -n -1 "$T/live-updated.txt") | tr '\n' ' ' >"$T/lu1"
[[ $(cat "$T/lu1") == "k.renew.test other.renew.test r.renew.test www.r.renew.test " ]] ||
    fail "live-updated after the first run got: $(cat "$T/lu1")"
: >"$T/live-updated.txt"

# Pebble certificates live 5 years: 4.5 years on, r and k are due (1/3 of the lifetime),
# other (margin: 1 day) is not.
notafter=$(certtool -i --infile "$STATE/certs/$r1/cert" | sed -n 's/.*Not After: //p')
na=$(date -d "$notafter" +%s)
export ACMED_FAKE_NOW=$((na - 200 * 86400))
tl_acmed --once >"$T/run2.log" 2>&1 || { cat "$T/run2.log" >&2; fail "renewal --once failed"; }
r2=$(tl_live_cert r.renew.test)
k2=$(tl_live_cert k.renew.test)
[[ -n $r2 && $r2 != "$r1" ]] || fail "r was not renewed"
[[ -n $k2 && $k2 != "$k1" ]] || fail "k was not renewed"
[[ $(tl_live_cert other.renew.test) == "$o1" ]] || fail "other was renewed though not due"
rkey2=$(basename "$(readlink "$STATE/certs/$r2/privkey" | xargs dirname)")
kkey2=$(basename "$(readlink "$STATE/certs/$k2/privkey" | xargs dirname)")
[[ $rkey2 != "$rkey1" ]] || fail "r kept its key (a new one was expected)"
[[ $kkey2 == "$kkey1" ]] || fail "k did not keep its key with reuse: true"
sort <(grep -v -- --- "$T/live-updated.txt") | tr '\n' ' ' >"$T/lu2"
[[ $(cat "$T/lu2") == "k.renew.test r.renew.test www.r.renew.test " ]] ||
    fail "live-updated after the renewal got: $(cat "$T/lu2")"
[[ $(grep -c -- --- "$T/live-updated.txt") == 1 ]] || fail "live-updated did not run exactly once"
unset ACMED_FAKE_NOW

# request.key.id pins a key: the certificate is made for exactly that key.
printf 'satisfy:\n  names:\n    - pin.renew.test\nrequest:\n  key:\n    id: %s\n' "$kkey1" \
    >"$STATE/desired/pin"
tl_acmed --once >"$T/runpin.log" 2>&1 || { cat "$T/runpin.log" >&2; fail "--once with a pinned key failed"; }
p1=$(tl_live_cert pin.renew.test)
[[ -n $p1 && $(basename "$(readlink "$STATE/certs/$p1/privkey" | xargs dirname)") == "$kkey1" ]] ||
    fail "the pinned key was not used"

# ARI: the proxy adds renewalInfo with a window a day from now.
curl -s --max-time 5 -X POST -d '{"window": {"start": 86400, "end": 90000}}' \
    "$PROXY_CTL/ari" >/dev/null || fail "cannot configure ARI"
printf 'satisfy:\n  names:\n    - ari.renew.test\n' >"$STATE/desired/ari"
tl_acmed --once >"$T/run3.log" 2>&1 || { cat "$T/run3.log" >&2; fail "--once with ARI failed"; }
a1=$(tl_live_cert ari.renew.test)
chosen=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("ari_chosen", 0))' \
    "$STATE/certs/$a1/meta")
now=$(date +%s)
# The meta stores times as RFC 3339 or seconds: accept both.
chosen_s=$( [[ $chosen =~ ^[0-9]+$ ]] && echo "$chosen" || date -d "$chosen" +%s)
((chosen_s >= now + 86400 - 60 && chosen_s <= now + 90000 + 60)) ||
    fail "ARI choice $chosen is outside the window"
# Kept across runs (the window is the same).
tl_acmed --once --force >"$T/run4.log" 2>&1 || fail "--once failed"
chosen2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("ari_chosen", 0))' \
    "$STATE/certs/$a1/meta")
[[ $chosen2 == "$chosen" ]] || fail "ARI choice changed across runs ($chosen -> $chosen2)"
# Past the chosen time: renewed, and the order says which certificate it replaces.
export ACMED_FAKE_NOW=$((chosen_s + 60))
tl_acmed --once >"$T/run5.log" 2>&1 || { cat "$T/run5.log" >&2; fail "ARI renewal failed"; }
unset ACMED_FAKE_NOW
[[ $(tl_live_cert ari.renew.test) != "$a1" ]] || fail "ari was not renewed at its chosen time"
curl -s --max-time 5 "$PROXY_CTL/log?method=POST&path=%5E/order-plz" >"$T/orders.json"
python3 - "$T/orders.json" <<'PY' || fail "the ARI renewal order did not carry replaces"
import json, sys
log = json.load(open(sys.argv[1]))
entries = log if isinstance(log, list) else log.get("entries", log.get("log", []))
assert any(isinstance(e.get("payload"), dict) and "replaces" in e["payload"] and
           any(i["value"] == "ari.renew.test" for i in e["payload"]["identifiers"])
           for e in entries), entries
PY
tl_done
