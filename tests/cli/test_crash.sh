#!/usr/bin/env bash
# kill -9 of `acmed --once` at each step boundary, then a clean run: one certificate, the
# same order resumed while the CA still has it, no stray temp files, live/ never dangling.
# acmed stops itself at the named failpoint (ACMED_FAILPOINT, SIGSTOP); the test kills it.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_conf_target
mkdir -p "$STATE/desired"

# No link under live/ may dangle.
check_live() {
    local l
    for l in "$STATE"/live/*; do
        [[ -e $l ]] || [[ ! -L $l ]] || fail "$1: live link $l dangles"
    done
}

kills=0
for fp in after-order after-authorize after-finalize after-download before-install \
    install-cert before-live; do
    name=$fp.crash.test
    printf 'satisfy:\n  names:\n    - %s\n' "$name" >"$STATE/desired/$name"
    # A simple command, so that $! is acmed itself.
    ACMED_FAILPOINT=$fp "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" \
        --provider "$PROVIDER" --once >"$T/$fp.1.log" 2>&1 &
    pid=$!
    if ! wait_stopped $pid; then
        cat "$T/$fp.1.log" >&2
        fail "$fp: acmed did not stop at the failpoint"
        { kill -KILL $pid && wait $pid; } 2>/dev/null
        continue
    fi
    { kill -KILL $pid && wait $pid; } 2>/dev/null
    kills=$((kills + 1))
    check_live "$fp (after the kill)"
    tl_acmed --once >"$T/$fp.2.log" 2>&1
    rc=$?
    [[ $rc == 0 ]] || { cat "$T/$fp.2.log" >&2; fail "$fp: the clean run exited $rc"; }
    case $fp in
    after-order | after-authorize | after-finalize | after-download | before-install | install-cert)
        grep -q "resuming order" "$T/$fp.2.log" || fail "$fp: the order was not resumed"
        ;;
    esac
    id=$(tl_live_cert "$name")
    [[ -n $id && -f $STATE/certs/$id/cert ]] || fail "$fp: no live certificate after the clean run"
    n=$(grep -l "$name" "$STATE"/certs/*/url 2>/dev/null | wc -l)
    m=0
    for c in "$STATE"/certs/*/cert; do
        certtool -i --infile "$c" 2>/dev/null | grep -q "$name" && m=$((m + 1))
    done
    [[ $m == 1 ]] || fail "$fp: $m certificates for $name, wanted 1"
    check_live "$fp (after the clean run)"
    leftovers=$(find "$STATE" -name '.tmp-*' | wc -l)
    [[ $leftovers == 0 ]] || fail "$fp: $leftovers temp files left"
    : "$n"
done
tl_report "kill -9 at each step boundary" "$kills kills (one at each of 7 failpoints), each followed by a clean run: order resumed, one certificate, no temp file, no dangling link"
tl_done
