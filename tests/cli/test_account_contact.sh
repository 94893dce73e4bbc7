#!/usr/bin/env bash
# An account's contact is conf/target's request.account.contact (DESIGN.md §3), checked on
# both sides: the account's meta (and `account list`) and what reached the CA, read from the
# fault proxy's log of decoded JWS payloads.
#   register  --once registers with conf/target's contact: the newAccount payload has it,
#             meta and `account list` show it; a second --once sends nothing
#   update    conf/target changed: the next --once (nothing due for renewal) POSTs the
#             account URL once with {"contact": [new]} (RFC 8555 §7.3.2), meta follows, the
#             log says so; the pass after sends no update. A contact the CA refuses is
#             logged, the meta kept, the pass still succeeds
#   desired   a desired file naming another contact: a warning with its file and line, no
#             update, meta unchanged (with and without a contact in conf/target)
#   invalid   a contact that is not a URI: conf/target exits 2 naming file and line; a desired
#             file fails alone naming its own
#   fallback  no contact in conf/target: the account is registered with the contact of the
#             desired file it is registered for; with one, with conf/target's (the file's is
#             warned about)
#   new       `account new --contact` sends that contact
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_proxy
export LC_ALL=C
mkdir -p "$STATE/desired"
tl_conf_target '    contact: ["mailto:a@example.com"]'
: >"$STATE/desired/a.contact.test"

# The contact list in the one account's meta, comma-separated.
meta_contact() {
    python3 - "$STATE" <<'PY'
import glob, json, sys
metas = glob.glob(sys.argv[1] + "/accounts/*/*/meta")
assert len(metas) == 1, metas
print(",".join(json.load(open(metas[0]))["contact"]))
PY
}
# POSTs the proxy saw whose path matches REGEX and whose payload has a contact member, one
# line each: the contact list, comma-separated.
posted_contacts() {
    curl -s --max-time 5 "$PROXY_CTL/log?method=POST" | python3 -c '
import json, re, sys
for e in json.load(sys.stdin):
    p = e.get("payload")
    if re.search(sys.argv[1], e["path"]) and isinstance(p, dict) and "contact" in p:
        print(",".join(p["contact"]))' "$1"
}
account_updates() { # the number of POSTs to account URLs with a payload
    curl -s --max-time 5 "$PROXY_CTL/log?method=POST" | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin)
          if e["path"].startswith("/my-account/") and e.get("payload")))'
}
once() { # once LOG: --once, which must exit 0
    tl_acmed --once >"$T/$1" 2>&1
    local rc=$?
    [[ $rc == 0 ]] || {
        cat "$T/$1" >&2
        fail "--once ($1) exited $rc"
    }
}

# ---- register ----
once run1.log
[[ $(meta_contact) == mailto:a@example.com ]] || fail "meta contact is '$(meta_contact)'"
[[ $(posted_contacts '^/sign-me-up') == mailto:a@example.com ]] ||
    fail "newAccount sent contact '$(posted_contacts '^/sign-me-up')'"
tl_acmed account list >"$T/list1" 2>&1 || fail "account list exited $?"
grep -q ' https://[^ ]*/my-account/[^ ]* mailto:a@example.com file$' "$T/list1" ||
    fail "account list does not show the contact: $(cat "$T/list1")"
before=$(tl_proxy_count)
once run2.log
[[ $(tl_proxy_count) == "$before" ]] || fail "a pass with the contact unchanged sent requests"

# ---- update ----
tl_conf_target '    contact: ["mailto:b@example.com", "mailto:b2@example.com"]'
once run3.log
[[ $(account_updates) == 1 ]] || fail "$(account_updates) account updates, wanted 1"
[[ $(posted_contacts '^/my-account/') == mailto:b@example.com,mailto:b2@example.com ]] ||
    fail "the update sent '$(posted_contacts '^/my-account/')'"
[[ $(meta_contact) == mailto:b@example.com,mailto:b2@example.com ]] ||
    fail "meta contact after the update is '$(meta_contact)'"
grep -q 'account https://[^ ]*/my-account/[^ ]*: contact updated to mailto:b@example.com, mailto:b2@example.com' \
    "$T/run3.log" || fail "the update is not logged: $(cat "$T/run3.log")"
grep -q 'orders in flight' "$T/run3.log" && fail "the update pass renewed something"
tl_acmed account list >"$T/list2" 2>&1
grep -q ' mailto:b@example.com,mailto:b2@example.com file$' "$T/list2" ||
    fail "account list after the update: $(cat "$T/list2")"
once run4.log
[[ $(account_updates) == 1 ]] || fail "the pass after the update updated again"

# A contact the CA refuses (Pebble takes mailto: only): logged, meta unchanged, the pass
# still succeeds (the account is used as it is), one attempt per pass.
tl_conf_target '    contact: ["tel:+1-555-0100"]'
once refused.log
grep -q 'account https://[^ ]*: updating its contact to tel:+1-555-0100 failed (tried again next pass): .*unsupportedContact' \
    "$T/refused.log" || fail "the refused update is not logged: $(cat "$T/refused.log")"
[[ $(account_updates) == 2 ]] || fail "$(account_updates) account updates after the refused one"
[[ $(meta_contact) == mailto:b@example.com,mailto:b2@example.com ]] ||
    fail "a refused update changed the meta: '$(meta_contact)'"
tl_conf_target '    contact: ["mailto:b@example.com", "mailto:b2@example.com"]'

# ---- desired ----
printf 'satisfy:\n  names: [c.contact.test]\nrequest:\n  account:\n    contact: [mailto:c@example.com]\n' \
    >"$STATE/desired/c.contact.test"
once run5.log
grep -qF "desired/c.contact.test:5: request.account.contact (mailto:c@example.com) is not conf/target's (mailto:b@example.com, mailto:b2@example.com)" \
    "$T/run5.log" || fail "no warning naming desired/c.contact.test:5: $(cat "$T/run5.log")"
[[ -n $(tl_live_cert c.contact.test) ]] || fail "c.contact.test was not issued"
[[ $(account_updates) == 2 ]] || fail "a desired file's contact reached the CA"
[[ $(meta_contact) == mailto:b@example.com,mailto:b2@example.com ]] ||
    fail "a desired file changed the meta: '$(meta_contact)'"
[[ $(posted_contacts '^/sign-me-up') == mailto:a@example.com ]] || fail "another account was registered"
# Without a contact in conf/target, the account keeps its own; the file is compared with it.
tl_conf_target
once run6.log
[[ $(account_updates) == 2 ]] || fail "conf/target without a contact updated the account"
grep -q 'desired/c.contact.test:5: .* is not the contact of account https://[^ ]*/my-account/[^ ]* (mailto:b@example.com, mailto:b2@example.com)' \
    "$T/run6.log" || fail "no warning against the account's own contact: $(cat "$T/run6.log")"

# ---- invalid ----
tl_conf_target '    contact: ["ops@example.com"]'
tl_acmed --once >"$T/run7.log" 2>&1
rc=$?
[[ $rc == 2 ]] || fail "a contact without a scheme in conf/target: exit $rc, wanted 2"
grep -q 'conf/target: line [0-9]*, column [0-9]*: request.account.contact\[0\]: expected a contact URI (mailto:...), not "ops@example.com": no URI scheme' \
    "$T/run7.log" || fail "the conf/target error: $(cat "$T/run7.log")"
tl_conf_target
printf 'request:\n  account:\n    contact: ["mailto:d@example.com?subject=x"]\n' \
    >"$STATE/desired/d.contact.test"
tl_acmed --once >"$T/run8.log" 2>&1
rc=$?
[[ $rc == 1 ]] || fail "a bad contact in a desired file: exit $rc, wanted 1"
grep -q 'desired/d.contact.test: line 3, column 15: request.account.contact\[0\]: .*header fields' \
    "$T/run8.log" || fail "the desired file error: $(cat "$T/run8.log")"
rm "$STATE/desired/d.contact.test"
[[ $(account_updates) == 2 ]] || fail "the invalid runs updated the account"

# ---- fallback ----
STATE=$T/state2
mkdir -p "$STATE/desired"
tl_conf_target
printf 'request:\n  account:\n    contact: [mailto:e@example.com]\n' >"$STATE/desired/e.contact.test"
once run9.log
[[ $(meta_contact) == mailto:e@example.com ]] || fail "fallback: meta contact '$(meta_contact)'"
[[ $(posted_contacts '^/sign-me-up' | tail -1) == mailto:e@example.com ]] ||
    fail "fallback: newAccount sent '$(posted_contacts '^/sign-me-up' | tail -1)'"
grep -q 'is not the contact' "$T/run9.log" && fail "fallback: the registering file was warned about"
# With a contact in conf/target, the account is registered with it, whatever the contact of
# the desired file it is first needed for.
STATE=$T/state3
mkdir -p "$STATE/desired"
tl_conf_target '    contact: ["mailto:f@example.com"]'
printf 'request:\n  account:\n    contact: [mailto:g@example.com]\n' >"$STATE/desired/g.contact.test"
once run10.log
[[ $(meta_contact) == mailto:f@example.com ]] || fail "conf/target first: meta contact '$(meta_contact)'"
[[ $(posted_contacts '^/sign-me-up' | tail -1) == mailto:f@example.com ]] ||
    fail "conf/target first: newAccount sent '$(posted_contacts '^/sign-me-up' | tail -1)'"
grep -q 'desired/g.contact.test:3: .* is not conf/target' "$T/run10.log" ||
    fail "conf/target first: no warning for the desired file: $(cat "$T/run10.log")"

# ---- account new --contact: what reaches the CA (tests/cli/test_cli_account.sh has the rest) ----
STATE=$T/state4
tl_acmed --agree-tos account new --contact mailto:h@example.com >"$T/new.log" 2>&1 ||
    fail "account new --contact exited $?: $(cat "$T/new.log")"
[[ $(posted_contacts '^/sign-me-up' | tail -1) == mailto:h@example.com ]] ||
    fail "account new sent '$(posted_contacts '^/sign-me-up' | tail -1)'"
[[ $(meta_contact) == mailto:h@example.com ]] || fail "account new: meta contact '$(meta_contact)'"

tl_done
