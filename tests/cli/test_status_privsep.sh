#!/usr/bin/env bash
# `acmed status` says whether privilege separation applies (DESIGN.md §10, issue 14 item 4):
# one line "privilege separation: ..." and --json's "privsep" object, decided as a reconcile
# would decide it (privsep_plan): the worker's user from user:, else acmed, else nobody with
# the warning; off for privsep: false, and off when the state directory's reconcilers are not
# root (the owner of .lock, else the caller); a user: naming a missing user or root is an error
# there, and status exits 2 as a reconcile would. No CA needed: an empty desired/ only.
# Users are the machine's own (nobody, daemon, root) and a made-up missing one.
# Usage: test_status_privsep.sh ACMED
. "$(dirname "$0")/lib.sh"
tl_init "${1:?usage: $0 ACMED}"
PY=$(python3 -c 'import sys; print(sys.executable)')
mkdir -p "$STATE/conf" "$STATE/desired"

# st NAME [ARGS...]: runs `acmed status ARGS` into $T/NAME.out / .err, exit status in RC.
st() {
    local name=$1
    shift
    "$ACMED" --state "$STATE" "$@" status >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
}
# line NAME: the privilege separation line of $T/NAME.out.
line() { grep '^privilege separation: ' "$T/$1.out"; }
# js NAME PYTHON-EXPR: the expression over p = the "privsep" object of $T/NAME.out is true.
js() {
    "$PY" -c 'import json, sys; p = json.load(open(sys.argv[1]))["privsep"]; sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$T/$1.out" "$2" || fail "$1: status --json's privsep is not as expected ($2): $(cat "$T/$1.out")"
}
conf() { printf '%s\n' "$@" >"$STATE/conf/acmed.yaml"; }

[[ $(id -u) == 0 ]] || {
    echo "SKIP: run as root (privilege separation applies only to root)" >&2
    exit 0
}
nobody_uid=$(id -u nobody)

# ---- user: unset: acmed when it exists, else nobody with a warning ----
st default
[[ $RC == 0 ]] || fail "status (no conf/acmed.yaml) exited $RC: $(cat "$T/default.err")"
if getent passwd acmed >/dev/null; then
    [[ $(line default) == "privilege separation: worker runs as acmed" ]] ||
        fail "default: $(line default)"
    st default.json --json
    js default.json 'p["enabled"] and p["user"] == "acmed" and not p["fallback"] and p["warning"] is None'
else
    [[ $(line default) == "privilege separation: worker runs as nobody (no acmed user: set user: in conf/acmed.yaml)" ]] ||
        fail "default without an acmed user: $(line default)"
    st default.json --json
    [[ $RC == 0 ]] || fail "status --json exited $RC"
    js default.json "p['enabled'] and p['user'] == 'nobody' and p['uid'] == $nobody_uid and p['fallback'] and 'user:' in p['warning'] and p['off'] is None and p['error'] is None"
fi

# ---- user: daemon ----
conf "user: daemon"
st daemon
[[ $RC == 0 ]] || fail "status with user: daemon exited $RC: $(cat "$T/daemon.err")"
[[ $(line daemon) == "privilege separation: worker runs as daemon" ]] || fail "user: daemon: $(line daemon)"
st daemon.json --json
js daemon.json "p['enabled'] and p['user'] == 'daemon' and p['uid'] == $(id -u daemon) and p['gid'] == $(id -g daemon) and not p['fallback'] and p['warning'] is None"

# ---- privsep: false (the user is not even looked up) ----
conf "privsep: false" "user: acmed-no-such-user"
st off
[[ $RC == 0 ]] || fail "status with privsep: false exited $RC: $(cat "$T/off.err")"
[[ $(line off) == "privilege separation: off (privsep: false)" ]] || fail "privsep: false: $(line off)"
st off.json --json
js off.json 'not p["enabled"] and p["off"] == "privsep: false" and p["user"] is None and p["error"] is None'

# ---- a user: that does not exist, or root: an error, exit 2, targets still listed ----
printf 'satisfy:\n  names: [a.status.test]\n' >"$STATE/desired/a.status.test"
conf "user: acmed-no-such-user"
st missing
[[ $RC == 2 ]] || fail "status with a missing user: exited $RC, wanted 2"
[[ $(line missing) == 'privilege separation: error: conf/acmed.yaml: user "acmed-no-such-user"'* ]] ||
    fail "missing user: $(line missing)"
grep -q 'a.status.test' "$T/missing.out" || fail "missing user: the targets are no longer listed"
st missing.json --json
[[ $RC == 2 ]] || fail "status --json with a missing user: exited $RC, wanted 2"
js missing.json 'not p["enabled"] and "conf/acmed.yaml" in p["error"] and "acmed-no-such-user" in p["error"]'
conf "user: root"
st root
[[ $RC == 2 ]] || fail "status with user: root exited $RC, wanted 2"
[[ $(line root) == *'conf/acmed.yaml'*'"root"'* ]] || fail "user: root: $(line root)"
# A user: that is no user name at all: conf/acmed.yaml's own error, with its line.
conf "interval: 60" "user: -rf"
st badname
[[ $RC == 2 ]] || fail "status with user: -rf exited $RC, wanted 2"
grep -q '^privilege separation: error: conf/acmed.yaml: line 2, column 7: user: expected a user name' \
    "$T/badname.out" || fail "user: -rf: $(line badname)"
rm -f "$STATE/desired/a.status.test"

# ---- reconcilers that are not root: off ----
# A state directory whose .lock belongs to nobody is reconciled by nobody (lock_acquire wants
# the lock file to be the effective uid's): root's status says so.
rm -f "$STATE/conf/acmed.yaml"
: >"$STATE/.lock"
chown nobody "$STATE/.lock"
st notroot
[[ $RC == 0 ]] || fail "status (a .lock of nobody's) exited $RC: $(cat "$T/notroot.err")"
[[ $(line notroot) == "privilege separation: off (not running as root)" ]] ||
    fail "a .lock of nobody's: $(line notroot)"
st notroot.json --json
js notroot.json 'not p["enabled"] and p["off"] == "not running as root" and p["error"] is None'
# Without a .lock, the caller decides: nobody running status would run --once as nobody.
rm -f "$STATE/.lock"
chmod -R a+rX "$T"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
    "$ACMED" --state "$STATE" status >"$T/asnobody.out" 2>"$T/asnobody.err"
RC=$?
[[ $RC == 0 ]] || fail "status as nobody exited $RC: $(cat "$T/asnobody.err")"
[[ $(line asnobody) == "privilege separation: off (not running as root)" ]] ||
    fail "status as nobody: $(line asnobody)"

tl_done
