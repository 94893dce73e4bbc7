#!/usr/bin/env bash
# The hook protocol around a reconcile: a hook that hangs is killed at its timeout and the
# certificate is still installed; a failing hook does not stop the hooks after it; exit 42
# is quiet; a world-writable or group-writable hook, and (as root) one owned by another
# user, is refused with a warning naming it, and the pass still succeeds; hook output reaches
# the log; renewal-failed fires with the problem type when issuance fails.
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
for h in 50-groupwritable 60-theirs; do
    printf '#!/bin/sh\ntouch "%s/%s.ran"\n' "$T" "$h" >"$HOOKS/$h"
done
chmod 755 "$HOOKS"/*
chmod 777 "$HOOKS/40-worldwritable"
chmod 775 "$HOOKS/50-groupwritable"
[[ $(id -u) == 0 ]] && chown 65534 "$HOOKS/60-theirs"
printf 'satisfy:\n  names: [e.hooks.test]\n' >"$STATE/desired/e"
start=$(date +%s)
tl_acmed --once >"$T/run1.log" 2>&1 || { cat "$T/run1.log" >&2; fail "--once failed"; }
(($(date +%s) - start < 20)) || fail "the hanging hook was not cut short"
[[ -n $(tl_live_cert e.hooks.test) ]] || fail "no certificate installed"
[[ -f $T/hang.started && ! -f $T/hang.finished ]] || fail "the hanging hook did not run or was not killed"
[[ $(cat "$T/live-updated" 2>/dev/null) == e.hooks.test ]] || fail "the hook after a failing one did not run"
[[ ! -e $T/worldwritable.ran ]] || fail "a world-writable hook ran"
[[ ! -e $T/50-groupwritable.ran ]] || fail "a group-writable hook ran"
grep -q "refusing hook $HOOKS/50-groupwritable: .* is writable by group or others" "$T/run1.log" ||
    fail "the group-writable hook is not refused by name: $(grep 50-groupwritable "$T/run1.log" | head -n 1)"
if [[ $(id -u) == 0 ]]; then
    [[ ! -e $T/60-theirs.ran ]] || fail "a hook owned by uid 65534 ran"
    grep -q "refusing hook $HOOKS/60-theirs: .* is not owned by root (owner uid 65534" "$T/run1.log" ||
        fail "the hook owned by uid 65534 is not refused by name: $(grep 60-theirs "$T/run1.log" | head -n 1)"
fi
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
