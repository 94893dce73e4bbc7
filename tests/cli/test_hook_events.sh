#!/usr/bin/env bash
# The hook protocol around a reconcile: a hook that hangs is killed at its timeout and the
# certificate is still installed; a failing hook does not stop the hooks after it; exit 42
# is quiet; a world-writable hook is refused; hook output reaches the log; renewal-failed
# fires with the problem type when issuance fails.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_conf_target
printf 'hook-timeout: 1\n' >"$STATE/conf/acmed.yaml"
mkdir -p "$STATE/desired"
cat >"$HOOKS/10-hang" <<HOOK
#!/bin/sh
[ "\$1" = live-updated ] || exit 42
echo started >"$T/hang.started"
sleep 30
echo finished >"$T/hang.finished"
HOOK
cat >"$HOOKS/20-fail" <<'HOOK'
#!/bin/sh
[ "$1" = live-updated ] || exit 42
echo "about to fail"
exit 3
HOOK
cat >"$HOOKS/30-record" <<HOOK
#!/bin/sh
case "\$1" in
live-updated) cat >"$T/live-updated" ;;
renewal-failed) echo "\$@" >"$T/renewal-failed"; cat >>"$T/renewal-failed" ;;
*) exit 42 ;;
esac
HOOK
cat >"$HOOKS/40-worldwritable" <<HOOK
#!/bin/sh
touch "$T/worldwritable.ran"
HOOK
chmod 755 "$HOOKS"/*
chmod 777 "$HOOKS/40-worldwritable"
printf 'satisfy:\n  names: [e.hooks.test]\n' >"$STATE/desired/e"
start=$(date +%s)
tl_acmed --once >"$T/run1.log" 2>&1 || { cat "$T/run1.log" >&2; fail "--once failed"; }
(($(date +%s) - start < 20)) || fail "the hanging hook was not cut short"
[[ -n $(tl_live_cert e.hooks.test) ]] || fail "no certificate installed"
[[ -f $T/hang.started && ! -f $T/hang.finished ]] || fail "the hanging hook did not run or was not killed"
[[ $(cat "$T/live-updated" 2>/dev/null) == e.hooks.test ]] || fail "the hook after a failing one did not run"
[[ ! -e $T/worldwritable.ran ]] || fail "a world-writable hook ran"
grep -q 'about to fail' "$T/run1.log" || fail "hook output is not in the log"
grep -q '10-hang' "$T/run1.log" || fail "the timeout is not reported with the hook's name"

# renewal-failed: a name pebble refuses.
printf 'satisfy:\n  names: [blocked.test]\n' >"$STATE/desired/blocked"
tl_acmed --once >"$T/run2.log" 2>&1
[[ $? == 1 ]] || fail "a refused name did not exit 1"
grep -q 'renewal-failed blocked urn:ietf:params:acme:error:rejectedIdentifier' "$T/renewal-failed" ||
    fail "renewal-failed did not fire with the problem type: $(cat "$T/renewal-failed" 2>/dev/null)"
grep -qx 'blocked.test' "$T/renewal-failed" || fail "renewal-failed did not get the names on stdin"
tl_done
