#!/usr/bin/env bash
# Local faults (DESIGN.md §2: safe writes, modes whatever the umask, symlinks never followed
# out), each against the Pebble of this test, through the fault proxy:
#   enospc    the state directory on a small tmpfs that fills up at install time: exit 1
#             naming the error, the previous certificate and live/ untouched, no .tmp-* left,
#             and once space is freed the next run (later) installs the renewal
#   fsync     an LD_PRELOAD shim (tests/shim/iotrace.c) traces the writes: every rename of a
#             .tmp-* file into place (accounts, keys, certs, state, live) follows an fsync of
#             that file and is followed by an fsync of its directory (tests/shim/check_trace.py);
#             fsync failing with EIO (on cert, on state/*.json, everywhere): reported, the old
#             files kept, and the next due run really renews; fsync skipped: the checker fails
#             the trace (and fails a deliberately fsync-less writer, tests/shim/safewrite.c)
#   readonly  a read-only bind mount of the state directory: a clear error, non-zero, no order
#   umask     umask 000: accounts/ keys/ state/ (and below) 0700 with 0600 files, the rest
#             0755/0644, exactly
#   symlinks  links planted to outside the state directory (live/, certs/<id>/privkey, keys/<id>,
#             desired/, state/) are refused, never followed: the outside files are unchanged
#             and nothing from them reaches the state directory or the logs
#   lock      two daemons on one directory: the second (and --once) exits 4 naming the first
#   skew      ACMED_FAKE_NOW behind / ahead of Pebble's clock: issuance works 4 minutes behind
#             (a notBefore up to 5 minutes ahead is clock skew) and a day ahead; a day behind
#             the new chain is refused ("not valid before"), nothing installed; a just issued
#             certificate is not renewed; a day ahead renews what is due within the day
# The mount scenarios run in a private mount namespace (the script re-executes itself under
# `unshare -m`), so no mount outlives the test; without root they are skipped.
#
# usage: test_local_faults.sh ACMED-BINARY   (IOTRACE_SO: a prebuilt shim; else built with cc)
if [[ -z ${LF_IN_NS:-} ]]; then
    if [[ $(id -u) == 0 ]] && unshare -m --propagation private true 2>/dev/null; then
        LF_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
    fi
    export LF_IN_NS=0
fi
. "$(dirname "$0")/lib.sh"
tl_init "$1"

MOUNTS=()
lf_cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -l "${MOUNTS[i]}" 2>/dev/null
    done
    tl_cleanup
}
trap lf_cleanup EXIT

section() { echo "== $1 (t=${SECONDS}s)"; }
skip() { echo "SKIP: $*"; }

# wait_for SECONDS CMD...: polls CMD every 0.1 s; true when it succeeded in time.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    while ((SECONDS < end)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# snap PATH...: every file (mode, sha256) and symlink (target) below each PATH (or PATH
# itself), never following links; names in $SNAP_SKIP (comma-separated) are left out.
snap() {
    local -a names skip=()
    local n p
    IFS=, read -ra names <<<"${SNAP_SKIP:-}"
    for n in "${names[@]}"; do
        [[ -n $n ]] && skip+=(-name "$n" -prune -o)
    done
    {
        for p in "$@"; do
            [[ -e $p || -L $p ]] || echo "absent $p"
        done
        find -P "$@" "${skip[@]}" \( -type l -printf 'link %p %l\n' -o -type f -printf 'file %p %m\n' \) 2>/dev/null
        find -P "$@" "${skip[@]}" -type f -print0 2>/dev/null | xargs -0r sha256sum
    } | sort
}

# unchanged WHAT BEFORE PATH...: fails (showing the difference) unless snap PATH... is BEFORE.
unchanged() {
    local what=$1 before=$2 now
    shift 2
    now=$(snap "$@")
    [[ $now == "$before" ]] && return 0
    diff <(echo "$before") <(echo "$now") | sed 's/^/    /' >&2
    fail "$what"
}

# no_tmp DIR WHAT: fails when a .tmp-* file is left below DIR.
no_tmp() {
    local left
    left=$(find "$1" -name '.tmp-*' 2>/dev/null)
    [[ -z $left ]] || fail "$2: temp files left: $left"
}

# requests [QUERY]: what the proxy counted (requests without a python start-up).
requests() {
    curl -s --max-time 5 "$PROXY_CTL/count${1:+?$1}" | sed -n 's/.*"count": *\([0-9]*\).*/\1/p'
}
orders() { requests "method=POST&path=%5E/order-plz"; }

# not_after CERT-FILE: its notAfter in seconds.
not_after() {
    date -d "$(certtool -i --infile "$1" | sed -n 's/.*Not After: //p')" +%s
}

# gone PID: true when PID has exited (gone, or a zombie not yet waited for).
gone() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    st=${st##*) }
    [[ ${st:0:1} == Z ]]
}

# ---- the shim -----------------------------------------------------------------------------
SHIM=${IOTRACE_SO:-}
if [[ -z $SHIM || ! -f $SHIM ]]; then
    SHIM=$T/iotrace.so
    cc -shared -fPIC -O2 -o "$SHIM" "$TL_SRC/tests/shim/iotrace.c" -ldl 2>"$T/shim.build.log" ||
        { cat "$T/shim.build.log" >&2; fail "cannot build the iotrace shim"; exit 1; }
fi
cc -O2 -o "$T/safewrite" "$TL_SRC/tests/shim/safewrite.c" 2>"$T/safewrite.build.log" ||
    { cat "$T/safewrite.build.log" >&2; fail "cannot build safewrite"; exit 1; }
CHECK_TRACE=$TL_SRC/tests/shim/check_trace.py
TRACE_ASAN="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# traced LOG ARGS...: tl_acmed ARGS under the shim, tracing into LOG; the shim's modes come
# from the caller's IOTRACE_* variables.
traced() {
    local log=$1
    shift
    IOTRACE_LOG=$log LD_PRELOAD=$SHIM ASAN_OPTIONS=$TRACE_ASAN tl_acmed "$@"
}

tl_pebble
tl_webroot
tl_proxy

# ---- enospc -------------------------------------------------------------------------------
section enospc
# fill DIR PAGES: fills the file system of DIR, leaving PAGES 4 KiB pages free.
fill() {
    rm -f "$1/filler"
    dd if=/dev/zero of="$1/filler" bs=4096 status=none 2>/dev/null
    truncate -s "$(($(stat -c %s "$1/filler") - $2 * 4096))" "$1/filler"
}
# enospc_run PAGES FAKE-NOW TAG: a renewal stopped before install, the disk filled to PAGES
# free pages, then let go; sets rc.
enospc_run() {
    local pid
    ACMED_FAKE_NOW=$2 ACMED_FAILPOINT=before-install "$ACMED" --state "$STATE" --hooks "$HOOKS" \
        --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" --once >"$T/enospc.$3.log" 2>&1 &
    pid=$!
    if ! wait_stopped $pid; then
        cat "$T/enospc.$3.log" >&2
        fail "enospc $3: acmed did not stop before install"
        { kill -KILL $pid && wait $pid; } 2>/dev/null
        rc=-1
        return
    fi
    fill "$STATE" "$1"
    kill -CONT $pid
    wait $pid
    rc=$?
}
if [[ $LF_IN_NS == 1 ]]; then
    STATE=$T/enospc/state
    mkdir -p "$STATE"
    mount -t tmpfs -o size=1m,mode=0755 tmpfs "$STATE" && MOUNTS+=("$STATE")
    tl_conf_target
    mkdir -p "$STATE/desired"
    : >"$STATE/desired/full.enospc.test"
    tl_acmed --once >"$T/enospc.0.log" 2>&1 || { cat "$T/enospc.0.log" >&2; fail "enospc: first issuance failed"; }
    id1=$(tl_live_cert full.enospc.test)
    key1=$(basename "$(dirname "$(readlink "$STATE/certs/$id1/privkey")")")
    # The cert's meta is left out: acmed rewrites it (ARI bookkeeping) before it renews.
    before=$(SNAP_SKIP=meta snap "$STATE/certs/$id1" "$STATE/keys/$key1" "$STATE/accounts" "$STATE/live")
    fake=$(($(not_after "$STATE/certs/$id1/cert") - 200 * 86400))

    # Full at install time: nothing of the new certificate fits.
    enospc_run 0 "$fake" full
    [[ $rc == 1 ]] || { cat "$T/enospc.full.log" >&2; fail "enospc (disk full): exited $rc, wanted 1"; }
    grep -q 'No space left on device' "$T/enospc.full.log" ||
        fail "enospc (disk full): the log does not say 'No space left on device'"
    grep -q 'install' "$T/enospc.full.log" || fail "enospc (disk full): the error does not name the install"
    SNAP_SKIP=meta unchanged "enospc (disk full): the previous certificate, key, account or live/ changed" \
        "$before" "$STATE/certs/$id1" "$STATE/keys/$key1" "$STATE/accounts" "$STATE/live"
    no_tmp "$STATE" "enospc (disk full)"

    # Four pages: url, chain, fullchain and meta fit, cert (written last) does not.
    enospc_run 4 $((fake + 300)) partial
    [[ $rc == 1 ]] || { cat "$T/enospc.partial.log" >&2; fail "enospc (4 pages): exited $rc, wanted 1"; }
    grep -q 'No space left on device' "$T/enospc.partial.log" ||
        fail "enospc (4 pages): the log does not say 'No space left on device'"
    SNAP_SKIP=meta unchanged "enospc (4 pages): the previous certificate, key, account or live/ changed" \
        "$before" "$STATE/certs/$id1" "$STATE/keys/$key1" "$STATE/accounts" "$STATE/live"
    [[ $(tl_live_cert full.enospc.test) == "$id1" ]] || fail "enospc (4 pages): live/ moved"
    for d in "$STATE"/certs/*/; do
        d=${d%/}
        [[ $(basename "$d") == "$id1" ]] && continue
        [[ -e $d/cert ]] && fail "enospc (4 pages): $(basename "$d") got a cert although the install failed"
    done
    no_tmp "$STATE" "enospc (4 pages)"

    # Space freed: the next run, later, installs the renewal.
    rm -f "$STATE/filler"
    ACMED_FAKE_NOW=$((fake + 600)) tl_acmed --once >"$T/enospc.retry.log" 2>&1
    rc=$?
    [[ $rc == 0 ]] || { cat "$T/enospc.retry.log" >&2; fail "enospc: the run after freeing space exited $rc"; }
    id2=$(tl_live_cert full.enospc.test)
    [[ -n $id2 && $id2 != "$id1" && -f $STATE/certs/$id2/cert ]] ||
        fail "enospc: the renewal was not installed after freeing space"
    [[ -n $id2 ]] && { check "enospc: the renewed chain does not verify" tl_verify_chain "$STATE/certs/$id2"; }
    no_tmp "$STATE" "enospc (retry)"
    tl_report "ENOSPC on a 1 MiB tmpfs at install" "2 installs on a full disk (0 and 4 pages free): exit 1, old certificate, key and live/ unchanged, no temp file; then a retry that installs"
    umount "$STATE" && unset 'MOUNTS[-1]'
else
    skip "enospc: needs root and unshare -m"
fi

# ---- fsync order, EIO, skipped fsync ------------------------------------------------------
section fsync
# The checker tells a correct writer from ones leaving out either fsync, and from the correct
# writer whose fsyncs the shim swallowed (IOTRACE_SKIP_FSYNC); IOTRACE_FAIL_FSYNC makes the
# writer's fsync fail.
for m in good nosync nodirsync skip; do
    mkdir -p "$T/sw/$m"
    [[ $m == skip ]] && export IOTRACE_SKIP_FSYNC=1
    IOTRACE_LOG=$T/sw.trace LD_PRELOAD=$SHIM "$T/safewrite" "${m/skip/good}" "$T/sw/$m" f ||
        fail "safewrite $m failed"
    unset IOTRACE_SKIP_FSYNC
done
IOTRACE_FAIL_FSYNC=1 IOTRACE_LOG=$T/sw.eio.trace LD_PRELOAD=$SHIM "$T/safewrite" good "$T/sw" f-eio 2>/dev/null &&
    fail "IOTRACE_FAIL_FSYNC=1 did not make fsync fail"
python3 "$CHECK_TRACE" "$T/sw.trace" "$T/sw" >"$T/sw.check" 2>&1
grep -q 'FAIL: good/' "$T/sw.check" && { cat "$T/sw.check" >&2; fail "check_trace fails a correct writer"; }
grep -q 'FAIL: nosync/f: no fsync of .tmp-f-1 before' "$T/sw.check" || fail "check_trace missed a missing file fsync"
grep -q 'FAIL: nodirsync/f: no fsync of nodirsync/ after' "$T/sw.check" || fail "check_trace missed a missing directory fsync"
grep -q 'FAIL: skip/f: no fsync of .tmp-f-1 before' "$T/sw.check" || fail "check_trace missed fsyncs skipped by the shim"
grep -q '4 renames into place checked' "$T/sw.check" || { cat "$T/sw.check" >&2; fail "check_trace did not see the four writes"; }

STATE=$T/fsync/state
tl_conf_target
mkdir -p "$STATE/desired"
printf 'satisfy:\n  names:\n    - f.fsync.test\n    - www.f.fsync.test\n' >"$STATE/desired/f.fsync.test"
traced "$T/fsync.issue.trace" --once >"$T/fsync.issue.log" 2>&1 ||
    { cat "$T/fsync.issue.log" >&2; fail "fsync: traced issuance failed"; }
f1=$(tl_live_cert f.fsync.test)
fake=$(($(not_after "$STATE/certs/$f1/cert") - 300 * 86400))

ACMED_FAKE_NOW=$fake traced "$T/fsync.issue.trace" --once >"$T/fsync.renew.log" 2>&1 ||
    { cat "$T/fsync.renew.log" >&2; fail "fsync: traced renewal failed"; }
f2=$(tl_live_cert f.fsync.test)
[[ $f2 != "$f1" ]] || fail "fsync: the traced renewal did not renew"
python3 "$CHECK_TRACE" "$T/fsync.issue.trace" "$STATE" --require accounts,keys,certs,state,live \
    >"$T/fsync.issue.check" 2>&1 || { cat "$T/fsync.issue.check" >&2; fail "fsync: the issuance + renewal trace fails the check"; }
sed 's/^/    /' "$T/fsync.issue.check"

# EIO on the certificate file: the install fails, the current certificate stays.
cur=$(SNAP_SKIP=meta snap "$STATE/certs/$f2" "$STATE/live")
IOTRACE_FAIL_FSYNC=1 IOTRACE_FAIL_MATCH=/.tmp-cert- ACMED_FAKE_NOW=$((fake + 2 * 86400)) \
    traced "$T/fsync.eio-cert.trace" --once >"$T/fsync.eio-cert.log" 2>&1
rc=$?
[[ $rc == 1 ]] || { cat "$T/fsync.eio-cert.log" >&2; fail "fsync EIO on cert: exited $rc, wanted 1"; }
grep -q 'fsync.*Input/output error' "$T/fsync.eio-cert.log" ||
    fail "fsync EIO on cert: the log does not report the failed fsync"
grep -q 'injected' "$T/fsync.eio-cert.trace" || fail "fsync EIO on cert: no fsync was failed"
SNAP_SKIP=meta unchanged "fsync EIO on cert: the current certificate or live/ changed" "$cur" "$STATE/certs/$f2" "$STATE/live"
no_tmp "$STATE" "fsync EIO on cert"
[[ -f $STATE/live/f.fsync.test/cert ]] || fail "fsync EIO on cert: live/ points at a certificate without cert"

# EIO on the state file: the old state file is kept and the failure is reported.
st_before=$(snap "$STATE/state/f.fsync.test.json")
IOTRACE_FAIL_FSYNC=1 IOTRACE_FAIL_MATCH=/state/state/.tmp- ACMED_FAKE_NOW=$((fake + 4 * 86400)) \
    traced "$T/fsync.eio-state.trace" --once >"$T/fsync.eio-state.log" 2>&1
rc=$?
echo "    EIO on state/*.json: acmed exited $rc"
grep -q 'injected' "$T/fsync.eio-state.trace" || fail "fsync EIO on state: no fsync was failed"
unchanged "fsync EIO on state: the state file changed" "$st_before" "$STATE/state/f.fsync.test.json"
grep -q 'state/f.fsync.test.json.*Input/output error\|\.tmp-f.fsync.test.json.*Input/output error' \
    "$T/fsync.eio-state.log" || fail "fsync EIO on state: the failure is not reported"
no_tmp "$STATE" "fsync EIO on state"
# The run after it, with the certificate due: a new certificate. (The state file the EIO kept
# still names the order that run installed; resuming that order would only re-install the
# certificate already live.)
cur_id=$(tl_live_cert f.fsync.test)
ACMED_FAKE_NOW=$((fake + 5 * 86400)) tl_acmed --once >"$T/fsync.after-eio-state.log" 2>&1 ||
    { cat "$T/fsync.after-eio-state.log" >&2; fail "fsync: the due run after the EIO on state failed"; }
[[ $(tl_live_cert f.fsync.test) != "$cur_id" ]] ||
    fail "fsync EIO on state: the next due run re-installed the live certificate $cur_id (it resumed the order already installed) instead of renewing"

# EIO on every fsync: nothing in the state directory changes.
tree=$(SNAP_SKIP=.lock snap "$STATE")
IOTRACE_FAIL_FSYNC=1 ACMED_FAKE_NOW=$((fake + 6 * 86400)) \
    traced "$T/fsync.eio-all.trace" --once >"$T/fsync.eio-all.log" 2>&1
rc=$?
[[ $rc != 0 ]] || fail "fsync EIO everywhere: exited 0"
grep -q 'Input/output error' "$T/fsync.eio-all.log" || fail "fsync EIO everywhere: no error reported"
SNAP_SKIP=.lock unchanged "fsync EIO everywhere: files in the state directory changed" "$tree" "$STATE"
no_tmp "$STATE" "fsync EIO everywhere"

# Skip mode on acmed: it cannot tell, but the checker fails the trace.
IOTRACE_SKIP_FSYNC=1 ACMED_FAKE_NOW=$((fake + 8 * 86400)) \
    traced "$T/fsync.skip.trace" --once >"$T/fsync.skip.log" 2>&1 ||
    { cat "$T/fsync.skip.log" >&2; fail "fsync: the run with fsync skipped failed"; }
python3 "$CHECK_TRACE" "$T/fsync.skip.trace" "$STATE" >"$T/fsync.skip.check" 2>&1 &&
    fail "check_trace passes acmed's trace with every fsync skipped"
grep -q 'FAIL: certs/.*no fsync of' "$T/fsync.skip.check" || fail "check_trace did not flag the skipped certificate fsyncs"

tl_report "fsync traced (iotrace shim)" "$(sed -n 's/^check_trace: \([0-9]*\) renames.*/\1/p' "$T/fsync.issue.check") renames into place checked over an issuance and a renewal, each after an fsync of the file and followed by one of its directory"
tl_report "fsync failing (EIO) and skipped" "3 runs with EIO (on cert, on state/*.json, everywhere) and 1 with fsyncs skipped: the old files kept, the next due run renews, the checker fails the fsync-less trace"

# ---- read-only state directory --------------------------------------------------------------
section readonly
if [[ $LF_IN_NS == 1 ]]; then
    STATE=$T/ro/state
    tl_conf_target
    mkdir -p "$STATE/desired"
    : >"$STATE/desired/old.ro.test"
    tl_acmed --once >"$T/ro.0.log" 2>&1 || { cat "$T/ro.0.log" >&2; fail "readonly: first issuance failed"; }
    : >"$STATE/desired/new.ro.test"
    tree=$(snap "$STATE")
    if mount --bind "$STATE" "$STATE"; then
        MOUNTS+=("$STATE")
        mount -o remount,bind,ro "$STATE" || fail "readonly: cannot remount the state directory read-only"
    else
        fail "readonly: cannot bind-mount the state directory"
    fi
    o0=$(orders)
    n0=$(requests)
    tl_acmed --once >"$T/ro.once.log" 2>&1
    rc=$?
    [[ $rc != 0 ]] || fail "readonly: --once exited 0"
    grep -q 'Read-only file system' "$T/ro.once.log" || { cat "$T/ro.once.log" >&2; fail "readonly: --once does not say 'Read-only file system'"; }
    echo "    --once on a read-only state directory: exit $rc, $(($(requests) - n0)) requests: $(grep -m1 'Read-only' "$T/ro.once.log")"
    timeout 20 "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" \
        >"$T/ro.daemon.log" 2>&1
    rc=$?
    [[ $rc != 0 && $rc != 124 ]] || fail "readonly: the daemon exited $rc (124: still running after 20 s)"
    grep -q 'Read-only file system' "$T/ro.daemon.log" || fail "readonly: the daemon does not say 'Read-only file system'"
    tl_acmed want wanted.ro.test >"$T/ro.want.log" 2>&1 && fail "readonly: want exited 0"
    # Looking is still possible: status reads without the lock (exit 1: new.ro.test is missing).
    tl_acmed status >"$T/ro.status.log" 2>&1
    rc=$?
    if [[ $rc != 1 ]] || ! grep -q 'new.ro.test.*missing' "$T/ro.status.log"; then
        cat "$T/ro.status.log" >&2
        fail "readonly: status exited $rc, wanted 1 with new.ro.test missing"
    fi
    [[ $(orders) == "$o0" ]] || fail "readonly: $(($(orders) - o0)) orders were made"
    tl_report "read-only state directory" "--once, the daemon, want: clear errors, no order; status still reads"
    umount "$STATE" && unset 'MOUNTS[-1]'
    unchanged "readonly: the state directory changed" "$tree" "$STATE"
else
    skip "readonly: needs root and unshare -m"
fi

# ---- umask 000 ----------------------------------------------------------------------------
section umask
STATE=$T/umask/state
(umask 000 && tl_acmed want --no-reconcile u.umask.test www.u.umask.test) >"$T/umask.want.log" 2>&1 ||
    { cat "$T/umask.want.log" >&2; fail "umask: want failed"; }
tl_conf_target
(umask 000 && tl_acmed --once) >"$T/umask.1.log" 2>&1 || { cat "$T/umask.1.log" >&2; fail "umask: --once failed"; }
fake=$(($(not_after "$STATE/live/u.umask.test/cert") - 300 * 86400))
(umask 000 && ACMED_FAKE_NOW=$fake tl_acmed --once) >"$T/umask.2.log" 2>&1 ||
    { cat "$T/umask.2.log" >&2; fail "umask: the renewal under umask 000 failed"; }
# Every entry but our conf/target and the links: private trees 0700/0600, the rest 0755/0644.
n=0
while read -r mode type rel; do
    [[ $type == l || $rel == conf/target ]] && continue
    n=$((n + 1))
    case $rel in
    accounts | accounts/* | keys | keys/* | state | state/*) [[ $type == d ]] && w=700 || w=600 ;;
    *) [[ $type == d ]] && w=755 || w=644 ;;
    esac
    [[ $mode == "$w" ]] || fail "umask: ${rel:-.} has mode $mode, wanted $w"
done < <(find "$STATE" -printf '%m %y %P\n')
echo "    $n entries checked"
ls "$STATE"/keys/*/privkey >/dev/null 2>&1 || fail "umask: no key was written"

tl_report "umask 000" "an issuance and a renewal: $n entries with exact modes"

# ---- symlinks planted to the outside ----------------------------------------------------------
section symlinks
STATE=$T/sym/state
OUT=$T/sym/outside
tl_conf_target
mkdir -p "$STATE/desired" "$OUT/etc"
: >"$STATE/desired/s1.sym.test"
: >"$STATE/desired/s2.sym.test"
: >"$STATE/desired/s4.sym.test"
tl_acmed --once >"$T/sym.0.log" 2>&1 || { cat "$T/sym.0.log" >&2; fail "symlinks: first issuance failed"; }
c1=$(tl_live_cert s1.sym.test)
c2=$(tl_live_cert s2.sym.test)
k2=$(basename "$(dirname "$(readlink "$STATE/certs/$c2/privkey")")")
echo "OUTSIDE-MARKER-ETC" >"$OUT/etc/passwd"
certtool --generate-privkey --key-type ecdsa --outfile "$OUT/shadow.key" >/dev/null 2>&1
{ echo "OUTSIDE-MARKER-SHADOW"; cat "$OUT/shadow.key"; } >"$OUT/shadow"
rm -f "$OUT/shadow.key"
chmod 600 "$OUT/shadow"
printf 'satisfy:\n  names:\n    - secret.outside.test\n# OUTSIDE-MARKER-DESIRED\n' >"$OUT/desired-secret"
echo '{"order_url": "https://127.0.0.1/OUTSIDE-MARKER-STATE", "step": "order"}' >"$OUT/statefile"
# keys/<k2> becomes a link to the (moved) real key directory outside.
mv "$STATE/keys/$k2" "$OUT/keydir"
echo "OUTSIDE-MARKER-KEYDIR" >"$OUT/keydir/marker"
k2body=$(sed -n 2p "$OUT/keydir/privkey")
ln -s "$OUT/keydir" "$STATE/keys/$k2"
ln -sfn "../../../outside/shadow" "$STATE/certs/$c1/privkey" # relative, leading out
# certs/<id> as a link to a copy of a certificate directory outside.
cp -a "$STATE/certs/$c2" "$OUT/certdir"
echo "OUTSIDE-MARKER-CERTDIR" >"$OUT/certdir/marker"
ln -s "$OUT/certdir" "$STATE/certs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
ln -s "$OUT/etc" "$STATE/live/x.sym.test"                     # no target owns it
ln -s "$OUT/etc" "$STATE/live/s3.sym.test"                    # a target that wants it
: >"$STATE/desired/s3.sym.test"
ln -s "$OUT/desired-secret" "$STATE/desired/evil"
ln -sfn "$OUT/statefile" "$STATE/state/s4.sym.test.json"
outside=$(snap "$OUT")
tl_acmed --once >"$T/sym.1.log" 2>&1
echo "    --once with the planted links: exit $?"
tl_acmed status --json >"$T/sym.status.json" 2>"$T/sym.status.log"
tl_acmed status >>"$T/sym.status.log" 2>&1
tl_acmed cull >"$T/sym.cull.log" 2>&1
echo "    cull: exit $?"
unchanged "symlinks: files outside the state directory changed" "$outside" "$OUT"
grep -rlF -e OUTSIDE-MARKER -e "$k2body" "$STATE" >"$T/sym.leaks" 2>/dev/null &&
    fail "symlinks: outside content reached the state directory: $(cat "$T/sym.leaks")"
grep -lF -e OUTSIDE-MARKER -e "$k2body" "$T"/sym.*.log "$T/sym.status.json" >"$T/sym.logleaks" &&
    fail "symlinks: outside content reached the logs: $(cat "$T/sym.logleaks")"
grep -q 'desired/evil' "$T/sym.1.log" || fail "symlinks: desired/evil (a link to the outside) is not refused by name"
[[ -e $STATE/live/secret.outside.test ]] && fail "symlinks: the outside desired file was obeyed"
grep -rl secret.outside.test "$STATE/certs" >/dev/null 2>&1 && fail "symlinks: a certificate for the outside desired file"
for n in s1 s2 s3; do
    k=$(readlink -f "$STATE/live/$n.sym.test/privkey" 2>/dev/null)
    [[ $k == "$(readlink -f "$STATE")"/keys/*/privkey ]] ||
        fail "symlinks: live/$n.sym.test/privkey leads to '${k:-nothing}', not into keys/"
done
[[ $(tl_live_cert s1.sym.test) != "$c1" ]] || fail "symlinks: s1 still uses the certificate whose privkey leads out"
[[ $(tl_live_cert s2.sym.test) != "$c2" ]] || fail "symlinks: s2 still uses the certificate whose key directory leads out"
# state/<file>.json leading out: refused by name (the target fails), or replaced by a file.
if [[ -L $STATE/state/s4.sym.test.json ]]; then
    grep -q 'state/s4.sym.test.json' "$T/sym.1.log" || fail "symlinks: the state file link is neither replaced nor refused by name"
    echo "    state/s4.sym.test.json (a link out): refused: $(grep -m1 -o 'state/s4.sym.test.json.*' "$T/sym.1.log")"
fi
no_tmp "$STATE" "symlinks"

tl_report "symlinks planted out of the state directory" "links in live/, certs/<id>/privkey, keys/<id>, desired/, state/: refused, outside files unchanged"

# ---- two daemons on one directory -----------------------------------------------------------
section lock
STATE=$T/umask/state
"$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" \
    >"$T/lock.d1.log" 2>&1 &
d1=$!
PIDS+=("$d1")
holds() { [[ $(cat "$STATE/.lock" 2>/dev/null) == "$d1" ]]; }
wait_for 15 holds || fail "lock: the first daemon did not take the lock"
timeout 20 "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" \
    >"$T/lock.d2.log" 2>&1
rc=$?
[[ $rc == 4 ]] || { cat "$T/lock.d2.log" >&2; fail "lock: the second daemon exited $rc, wanted 4"; }
grep -q "pid $d1\b" "$T/lock.d2.log" || fail "lock: the second daemon does not name pid $d1"
tl_acmed --once >"$T/lock.once.log" 2>&1
rc=$?
[[ $rc == 4 ]] || fail "lock: --once beside the daemon exited $rc, wanted 4"
grep -q "pid $d1\b" "$T/lock.once.log" || fail "lock: --once does not name pid $d1"
kill -TERM $d1
wait_for 15 gone $d1 || fail "lock: the first daemon did not stop on SIGTERM"
wait $d1 2>/dev/null
echo "    second daemon: $(grep -m1 'locked' "$T/lock.d2.log")"

tl_report "two reconcilers on one directory" "a second daemon and a --once beside a running daemon: exit 4 naming its pid"

# ---- clock skew -----------------------------------------------------------------------------
section skew
STATE=$T/skew/state
tl_conf_target
mkdir -p "$STATE/desired"
now=$(date +%s)
: >"$STATE/desired/minus.skew.test"
ACMED_FAKE_NOW=$((now - 240)) tl_acmed --once >"$T/skew.1.log" 2>&1 ||
    { cat "$T/skew.1.log" >&2; fail "skew: issuance 4 minutes behind failed"; }
m1=$(tl_live_cert minus.skew.test)
[[ -n $m1 ]] && check "skew: the chain issued 4 minutes behind does not verify" tl_verify_chain "$STATE/certs/$m1"
# A day behind, a new certificate is not valid yet: refused, nothing installed.
: >"$STATE/desired/late.skew.test"
ACMED_FAKE_NOW=$((now - 86400)) tl_acmed --once >"$T/skew.late.log" 2>&1
rc=$?
[[ $rc == 1 ]] || fail "skew: issuance a day behind exited $rc, wanted 1"
grep -q 'late.skew.test: download: .*chain does not verify: the leaf (CN "late.skew.test") is not valid before' \
    "$T/skew.late.log" || fail "skew: a chain not valid for a day was not refused as such"
[[ -z $(tl_live_cert late.skew.test) ]] || fail "skew: a certificate not valid for a day was installed"
rm -f "$STATE/desired/late.skew.test"
o0=$(orders)
ACMED_FAKE_NOW=$((now - 86400)) tl_acmed --once >"$T/skew.2.log" 2>&1 || fail "skew: second run a day behind failed"
tl_acmed --once >"$T/skew.3.log" 2>&1 || fail "skew: run on the real clock failed"
[[ $(orders) == "$o0" ]] || fail "skew: a certificate just issued was renewed (a day behind or on time)"
[[ $(tl_live_cert minus.skew.test) == "$m1" ]] || fail "skew: live/ moved without an order"
ACMED_FAKE_NOW=$((now - 86400)) tl_acmed status --json >"$T/skew.status.json" 2>/dev/null ||
    fail "skew: status a day behind is not satisfied"
tr -d ' \n' <"$T/skew.status.json" | grep -q '"file":"minus.skew.test","names":\["minus.skew.test"\],"state":"satisfied"' ||
    { cat "$T/skew.status.json" >&2; fail "skew: status a day behind does not show the certificate satisfied"; }
# A day ahead: issuance works, the certificate just issued is not renewed.
: >"$STATE/desired/plus.skew.test"
ACMED_FAKE_NOW=$((now + 86400)) tl_acmed --once >"$T/skew.4.log" 2>&1 ||
    { cat "$T/skew.4.log" >&2; fail "skew: issuance a day ahead failed"; }
[[ -n $(tl_live_cert plus.skew.test) ]] || fail "skew: nothing issued a day ahead"
[[ $(tl_live_cert minus.skew.test) == "$m1" ]] || fail "skew: a day ahead renewed the certificate just issued"
[[ $(orders) == $((o0 + 1)) ]] || fail "skew: a day ahead made $(($(orders) - o0)) orders, wanted 1"
# Back a day behind: the certificate issued "tomorrow" (notBefore in its future) is kept.
o0=$(orders)
ACMED_FAKE_NOW=$((now - 86400)) tl_acmed --once >"$T/skew.5.log" 2>&1 || fail "skew: run a day behind after a day ahead failed"
[[ $(orders) == "$o0" ]] || fail "skew: a day behind renewed a certificate whose notBefore is in its future"
# A day ahead renews what falls due within the day: a margin puts the due time of minus
# between 0.5 and 1.5 days from now; 12 hours before it nothing happens, a day later (12 hours
# past it) the certificate is renewed.
na=$(not_after "$STATE/certs/$m1/cert")
m=$(((na - $(date +%s) - 43200) / 86400))
due=$((na - m * 86400))
printf 'satisfy:\n  margin: %d\n' "$m" >"$STATE/desired/minus.skew.test"
o0=$(orders)
ACMED_FAKE_NOW=$((due - 43200)) tl_acmed --once >"$T/skew.6.log" 2>&1 || fail "skew: run 12 h before the margin failed"
[[ $(orders) == "$o0" ]] || fail "skew: renewed 12 h before the margin"
ACMED_FAKE_NOW=$((due - 43200 + 86400)) tl_acmed --once >"$T/skew.7.log" 2>&1 ||
    fail "skew: renewal a day ahead failed"
[[ $(tl_live_cert minus.skew.test) != "$m1" ]] || fail "skew: a day ahead did not renew what is due within the day"
no_tmp "$STATE" "skew"

tl_report "clock skewed a day either way" "9 runs minutes or a day behind, on time and a day ahead: issued (a chain not yet valid refused), nothing renewed early, what falls due within the day renewed"
echo "runtime: ${SECONDS}s"
tl_done
