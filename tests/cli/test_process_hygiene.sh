#!/usr/bin/env bash
# What a hook inherits from acmed, checked from inside a hook while `acmed --once` runs (it is
# the hook's parent): no descriptor but its stdin, stdout and stderr (no connection to the CA,
# no curl wakeup socketpair, no lock, no listener); and the state of acmed itself: no core
# file (RLIMIT_CORE 0) and SIGPIPE ignored.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_conf_target
mkdir -p "$STATE/desired"
cat >"$HOOKS/10-inspect" <<HOOK
#!/bin/sh
[ "\$1" = live-updated ] || exit 42
cat /proc/\$PPID/limits >"$T/parent.limits"
grep '^SigIgn:' /proc/\$PPID/status >"$T/parent.sigign"
ls -l /proc/\$PPID/fd >"$T/parent.fds" 2>&1
exec ls -l /proc/self/fd >"$T/hook.fds"
HOOK
chmod 755 "$HOOKS/10-inspect"
printf 'satisfy:\n  names: [h.hygiene.test]\n' >"$STATE/desired/h"
tl_acmed --once >"$T/run.log" 2>&1 || { cat "$T/run.log" >&2; fail "--once failed"; }
[[ -s $T/hook.fds ]] || fail "the hook did not run"
# acmed had sockets open while the hook ran (else the check below proves nothing).
grep -q 'socket:' "$T/parent.fds" || fail "acmed held no socket while its hook ran: $(cat "$T/parent.fds")"
# Lines of ls -l: "lr-x------ 1 root root 64 <date> <fd> -> <target>".
while read -r line; do
    [[ $line == *' -> '* ]] || continue
    target=${line##* -> }
    fd=${line% -> *}
    fd=${fd##* }
    case $fd in
    0 | 1 | 2) continue ;;
    esac
    # ls's own descriptor points at the directory it lists.
    [[ $target == /proc/*/fd ]] && continue
    fail "the hook inherited descriptor $fd -> $target"
done <"$T/hook.fds"
grep -q '^Max core file size *0 *0 ' "$T/parent.limits" ||
    fail "acmed may write a core file: $(grep -i core "$T/parent.limits")"
mask=$(awk '{ print $2 }' "$T/parent.sigign")
((0x$mask & (1 << 12))) || fail "acmed does not ignore SIGPIPE (SigIgn $mask)"
tl_done
