#!/usr/bin/env bash
# The systemd units (packaging/systemd/): `systemd-analyze verify` accepts all three (the
# services with the export hook's drop-in, examples/export.systemd.conf), with their
# Documentation= man pages (doc/, through MANPATH) and ExecStart=/usr/bin/acmed being
# the built acmed; each service carries the confinement of the issue, the same in both; the
# timer runs twice a day with RandomizedDelaySec=1h and Persistent=true; the offline
# `systemd-analyze security` score stays low.
#
# /usr/bin/acmed must exist for verify. The machine's /usr is never touched: the built acmed
# is put there inside a private mount namespace (unshare -m), on an overlay of /usr/bin (or,
# without overlayfs, a tmpfs of links to the real /usr/bin). verify does not need systemd to
# be PID 1, so this works in a container. Where no mount namespace can be made (not root),
# the units are verified with ExecStart= pointing at the built acmed instead, and the test
# says so.
# Usage: test_units.sh SOURCE-DIR ACMED
. "$(dirname "$0")/lib.sh"
pk_init "${1:-}" "${2:-}"

U=$SRC/packaging/systemd
svc=$U/acmed.service
once=$U/acmed-once.service
timer=$U/acmed-once.timer
for f in "$svc" "$once" "$timer"; do
    [[ -f $f ]] || fail "${f#"$SRC"/} missing"
done
[[ $FAILED == 0 ]] || pk_done

# line FILE TEXT: FILE has the line TEXT exactly.
line() {
    grep -qxF -e "$2" "$1" || fail "${1##*/}: no line \"$2\""
}

# ---- the daemon ----
line "$svc" "Type=notify"
line "$svc" "ExecStart=/usr/bin/acmed"
line "$svc" 'ExecReload=/bin/kill -HUP $MAINPID'
line "$svc" "Restart=on-failure"
line "$svc" "RestartPreventExitStatus=2"
line "$svc" "WantedBy=multi-user.target"
# ---- one pass ----
line "$once" "Type=oneshot"
line "$once" "ExecStart=/usr/bin/acmed --once"
line "$once" "SuccessExitStatus=4"
grep -q '^\[Install\]' "$once" && fail "acmed-once.service has an [Install] section (the timer starts it)"
# ---- the timer ----
line "$timer" "OnCalendar=*-*-* 00,12:00:00"
line "$timer" "RandomizedDelaySec=1h"
line "$timer" "Persistent=true"
line "$timer" "WantedBy=timers.target"
{ grep -qi 'lock' "$timer" && grep -qi 'daemon' "$timer"; } ||
    fail "acmed-once.timer does not explain that it is for hosts without the daemon (the lock)"
if command -v systemd-analyze >/dev/null; then
    n=$(systemd-analyze calendar --iterations=4 '*-*-* 00,12:00:00' 2>/dev/null |
        grep -cE '(elapse|Iter\. #[0-9]+): .* (00|12):00:00')
    [[ $n == 4 ]] || fail "OnCalendar=*-*-* 00,12:00:00 does not parse as expected"
fi

# ---- confinement: the issue's settings, in both services, and the same block in both ----
while IFS= read -r s; do
    line "$svc" "$s"
    line "$once" "$s"
done < <(hardening_settings)
sandbox() { # the sandboxing lines of a unit, sorted
    grep -E '^(Protect|Private|Restrict|ReadWrite|ReadOnly|Inaccessible|Capability|Ambient|SystemCall|NoNewPrivileges|LockPersonality|MemoryDeny|UMask|RuntimeDirectory|KeyringMode|RemoveIPC|User|Group|DynamicUser|ProcSubset)' "$1" |
        LC_ALL=C sort
}
diff <(sandbox "$svc") <(sandbox "$once") >"$T/sandbox.diff" ||
    fail "the two services are confined differently: $(cat "$T/sandbox.diff")"
# No capability beyond those documented, and each documented in a comment.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$svc")
for c in $caps; do
    grep -q "^#.*$c" "$svc" || fail "acmed.service: $c is not explained in a comment"
done

# The keeper starts its worker (privsep/privdrop.c, acmed(8) PROCESSES) within this bounding
# set: no supplementary groups, an empty bounding set, another uid and gid, no_new_privs. Done
# here as privdrop does it, by setpriv inside a process holding only the unit's capabilities,
# and checked as privdrop checks it (/proc/self/status). Without CAP_SETUID/CAP_SETGID the
# uid change fails; without CAP_SETPCAP the bounding set stays full.
if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null; then
    bset=-all
    for c in $caps; do
        c=${c#CAP_}
        bset+=",+${c,,}"
    done
    nobody=$(id -u nobody) nogroup=$(id -g nobody)
    setpriv --bounding-set "$bset" setpriv --reuid="$nobody" --regid="$nogroup" --clear-groups \
        --inh-caps=-all --bounding-set=-all --no-new-privs cat /proc/self/status \
        >"$T/drop.status" 2>"$T/drop.err" ||
        fail "with the units' capabilities, dropping to nobody failed: $(cat "$T/drop.err")"
    sfield() { # sfield KEY: the value of KEY in the dropped process's status, spaces single
        awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$T/drop.status"
    }
    [[ $(sfield Uid) == "$nobody $nobody $nobody $nobody" ]] || fail "the drop left Uid $(sfield Uid)"
    [[ $(sfield Gid) == "$nogroup $nogroup $nogroup $nogroup" ]] || fail "the drop left Gid $(sfield Gid)"
    [[ -z $(sfield Groups) ]] || fail "the drop left supplementary groups $(sfield Groups)"
    [[ $(sfield NoNewPrivs) == 1 ]] || fail "the drop left NoNewPrivs $(sfield NoNewPrivs)"
    for k in CapInh CapPrm CapEff CapBnd CapAmb; do
        [[ $(sfield $k) == 0000000000000000 ]] ||
            fail "with the units' capabilities the worker's drop leaves $k $(sfield $k)"
    done
else
    echo "note: not root or no setpriv: the worker's drop within the units' capabilities not tried" >&2
fi

if ! command -v systemd-analyze >/dev/null; then
    fail "systemd-analyze not found (the systemd package; tests/install-deps.sh)"
    pk_done
fi

# The system calls of the worker's start (privsep/privdrop.c) pass SystemCallFilter=.
filter=$(sed -n 's/^SystemCallFilter=//p' "$svc")
expand_filter() { # the system calls of a filter's groups, nested groups expanded
    local g members
    for g in "$@"; do
        if [[ $g == @* ]]; then
            mapfile -t members < <(systemd-analyze syscall-filter "$g" 2>/dev/null |
                sed -n 's/^ \{4\}\([@a-z0-9_-]\+\).*$/\1/p')
            [[ ${#members[@]} == 0 ]] || expand_filter "${members[@]}"
        else
            echo "$g"
        fi
    done
}
# shellcheck disable=SC2086
expand_filter $filter | LC_ALL=C sort -u >"$T/syscalls"
[[ -s $T/syscalls ]] || fail "systemd-analyze syscall-filter expanded $filter to nothing"
for sc in setgroups setresgid setresuid prctl capset execveat socketpair; do
    grep -qx "$sc" "$T/syscalls" || fail "SystemCallFilter=$filter does not allow $sc (the worker's start)"
done

# ---- systemd-analyze verify ----
mkdir -p "$T/units" "$T/man/man8" "$T/man/man5"
cp "$svc" "$once" "$timer" "$T/units/"
# With the export hook's drop-in (examples/export.systemd.conf) in place, as documented.
for u in acmed.service acmed-once.service; do
    mkdir -p "$T/units/$u.d"
    cp "$SRC/examples/export.systemd.conf" "$T/units/$u.d/export.conf"
done
cp "$SRC/doc/acmed.8" "$T/man/man8/"
cp "$SRC/doc/acmed-desired.5" "$T/man/man5/"
cat >"$T/inner.sh" <<'EOF'
# Runs in a private mount namespace: puts $ACMED at /usr/bin/acmed, then verifies.
set -u
mkdir -p "$T/ov"
mount -t tmpfs acmed-test "$T/ov" || exit 90
mkdir -p "$T/ov/up" "$T/ov/work" "$T/ov/real"
if ! mount -t overlay acmed-test -o "lowerdir=/usr/bin,upperdir=$T/ov/up,workdir=$T/ov/work" \
    /usr/bin 2>/dev/null; then
    # No overlayfs: a tmpfs over /usr/bin holding links to the real one, seen elsewhere.
    mount --bind /usr/bin "$T/ov/real" || exit 90
    PATH=$T/ov/real:$PATH
    mount -t tmpfs acmed-test /usr/bin || exit 90
    for f in "$T/ov/real"/* "$T/ov/real"/.[!.]*; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        ln -s "$f" "/usr/bin/${f##*/}"
    done
fi
cp "$ACMED" /usr/bin/acmed && chmod 0755 /usr/bin/acmed || exit 90
MANPATH=$T/man systemd-analyze verify "$T/units/acmed.service" "$T/units/acmed-once.service" \
    "$T/units/acmed-once.timer"
EOF
how="in a private mount namespace, the built acmed at /usr/bin/acmed"
before=$(ls -l --time-style=+%s /usr/bin/acmed 2>&1)
if [[ $(id -u) == 0 ]] && unshare -m --propagation private true 2>/dev/null; then
    export T ACMED
    unshare -m --propagation private bash "$T/inner.sh" >"$T/verify.out" 2>&1
    rc=$?
    [[ $(ls -l --time-style=+%s /usr/bin/acmed 2>&1) == "$before" ]] ||
        fail "the machine's /usr/bin/acmed changed (the mount namespace leaked)"
else
    rc=90
fi
if [[ $rc == 90 ]]; then
    # No mount namespace here: verify copies whose ExecStart= names the built acmed.
    how="with ExecStart= rewritten to $ACMED (no private mount namespace here)"
    echo "note: verifying $how" >&2
    sed -i "s|/usr/bin/acmed|$ACMED|" "$T/units/acmed.service" "$T/units/acmed-once.service"
    MANPATH=$T/man systemd-analyze verify "$T/units/acmed.service" \
        "$T/units/acmed-once.service" "$T/units/acmed-once.timer" >"$T/verify.out" 2>&1
    rc=$?
fi
if [[ $rc != 0 ]]; then
    fail "systemd-analyze verify ($how) exited $rc: $(head -c 3000 "$T/verify.out")"
elif grep -q 'acmed' "$T/verify.out"; then
    fail "systemd-analyze verify ($how) complains: $(grep 'acmed' "$T/verify.out" | head -20)"
fi

# ---- the offline exposure score (0 best, 10 worst): confined, though root ----
for u in acmed.service acmed-once.service; do
    if systemd-analyze security --offline=true --threshold=35 "$T/units/$u" \
        >"$T/security.$u" 2>&1; then
        :
    else
        fail "systemd-analyze security: $u exposure above 3.5: $(tail -n 1 "$T/security.$u")"
    fi
done

pk_done
