#!/usr/bin/env bash
# Kill torture: six targets (two with two names, one RSA) issued and then renewed round after
# round (the clock moved with ACMED_FAKE_NOW to the renewal time of the newest live
# certificate, so every target is due), while acmed -- `--once` in even rounds, the daemon in
# odd ones -- is SIGKILLed at random moments, at least TORTURE_KILLS (100; 600 with
# ACMED_LONG=1, the soak of `tests/run.sh --long`) times in all.
# Within a round acmed is started and killed 1..TORTURE_CHAIN_MAX (8) times in a row, each
# run resuming what the killed one left, so that kills land in every step and not only in
# the first few hundred milliseconds; then a clean `--once` must exit 0 and finish the round.
#
# After every kill (tests/torture/torture_check.py): no live link dangles; every live
# certificate verifies against pebble's root, covers its target (names, key type) and has
# its own key; every file under certs/, keys/, accounts/ and state/ parses whole; no key file
# and no complete certificate ever changes. After every clean run, also: every target has one
# live certificate for all its names, renewed in this round; no .tmp-* file and no
# half-installed certificate directory is left; each target opened (POST /order-plz through
# the fault proxy) one order in the round plus at most one per kill -- a kill can cost every
# target in flight its order: the one it was opening, or the one whose validation died with
# the listener.
#
# Seeded: TORTURE_SEED=N repeats the choices (modes, chain lengths, delays; timing still
# varies). Kill delays are uniform in 0..D ms: D starts at 300 ms plus the start-up time of a
# no-op `acmed --once` on this build and follows the machine's speed (see below), or is fixed
# by TORTURE_MAX_DELAY_MS. On failure the state directory and every run's log (runs/, with
# runs/kills.log: what was killed when) are kept.
# shellcheck source-path=SCRIPTDIR source=../cli/lib.sh
. "$(dirname "$0")/../cli/lib.sh"
tl_init "$1"
HERE=$(cd "$(dirname "$0")" && pwd)
# Several hundred starts over minutes: a copy, so that a rebuild meanwhile cannot get in.
cp "$ACMED" "$T/acmed" || exit 1
ACMED=$T/acmed
# The checker runs a few hundred times: the system's interpreter, not a (slow) version shim.
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3

if [[ ${ACMED_LONG:-0} == 1 ]]; then
    KILLS_MIN=${TORTURE_KILLS:-600}
else
    KILLS_MIN=${TORTURE_KILLS:-100}
fi
CHAIN_MAX=${TORTURE_CHAIN_MAX:-8}
seed=${TORTURE_SEED:-$(($(date +%s%N) / 1000 % 1000000))}
[[ $seed =~ ^[0-9]+$ && $KILLS_MIN =~ ^[0-9]+$ && $CHAIN_MAX =~ ^[1-9][0-9]*$ ]] || {
    echo "TORTURE_SEED, TORTURE_KILLS and TORTURE_CHAIN_MAX must be numbers" >&2
    exit 2
}
RANDOM=$seed
echo "torture: seed $seed (TORTURE_SEED=$seed repeats it), at least $KILLS_MIN kills"
t_start=$EPOCHREALTIME

# die MSG: the first broken invariant ends the test (what follows would only cascade).
die() {
    fail "$* (seed $seed, round ${round:-0})"
    exit 1
}

# Every renewal validates afresh: pebble reuses no authorization, so the http-01 listener is
# in play in every round, not only the first.
export PEBBLE_AUTHZREUSE=0
tl_pebble own-responders
unset PEBBLE_AUTHZREUSE
tl_proxy
curl -s --max-time 5 --cacert "$PEBBLE_CA" "$PEBBLE_MGMT/roots/0" >"$T/root.pem"
grep -q 'BEGIN CERTIFICATE' "$T/root.pem" || die "cannot fetch pebble's root"

mkdir -p "$T/runs"
tl_conf_listener

# The targets: desired file, names, key type.
TARGETS=(a b c d e f)
declare -A NAMES=(
    [a]="a.torture.test"
    [b]="b.torture.test www.b.torture.test"
    [c]="c.torture.test"
    [d]="d.torture.test www.d.torture.test"
    [e]="e.torture.test"
    [f]="f.torture.test"
)
declare -A RSA=([c]=1)
{
    sep=""
    printf '{'
    for t in "${TARGETS[@]}"; do
        printf '%s"%s": {"names": [' "$sep" "$t"
        s2=""
        for n in ${NAMES[$t]}; do
            printf '%s"%s"' "$s2" "$n"
            s2=", "
        done
        printf '], "rsa": %s}' "$([[ -n ${RSA[$t]:-} ]] && echo true || echo false)"
        sep=", "
    done
    printf '}\n'
} >"$T/targets.json"

# acmed_bg once|daemon LOG: starts acmed (debug log: its steps) in the background; PID is
# acmed itself.
acmed_bg() {
    if [[ $1 == once ]]; then
        "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" \
            --provider "$PROVIDER" -v --once >>"$2" 2>&1 &
    else
        "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" \
            --provider "$PROVIDER" -v >>"$2" 2>&1 &
    fi
    PID=$!
}

# where_killed LOG: what the killed acmed was doing last, from its log: startup (nothing
# planned yet), plan, a step name (of whichever target logged last), or over (the pass
# was over: the daemon idling, or --once on its way out).
where_killed() {
    local l
    if grep -q 'reconcile: [0-9]* targets' "$1"; then
        echo over
        return
    fi
    l=$(grep -o 'step [a-z]*$' "$1" | tail -n 1)
    if [[ -n $l ]]; then
        echo "${l#step }"
    elif grep -q 'due for renewal\|needs a certificate' "$1"; then
        echo plan
    else
        echo startup
    fi
}
declare -A WHERE

# The checker (tests/torture/torture_check.py) runs as a coprocess for the whole test: it
# remembers what it saw (key hashes, complete certificates, contents parsed) between checks.
coproc CHECKER { "$PY" "$HERE/torture_check.py" --serve --state "$STATE" --root "$T/root.pem" \
    --targets "$T/targets.json" 2>"$T/check.err"; }
PIDS+=("$CHECKER_PID")
exec {CK_IN}>&"${CHECKER[1]}" {CK_OUT}<&"${CHECKER[0]}"

# ask CMD...: sends one command to the checker; its KEY=VALUE answers go to CK, its FAIL lines
# to stderr. False when something failed.
declare -A CK
ask() {
    local l st=1
    CK=()
    echo "$*" >&"$CK_IN" || return 1
    while IFS= read -r -t 120 l <&"$CK_OUT"; do
        case $l in
        "END "*)
            st=${l#END }
            break
            ;;
        FAIL:*) echo "$l" >&2 ;;
        *=*) CK[${l%%=*}]=${l#*=} ;;
        esac
    done
    [[ $st == 0 ]] || { cat "$T/check.err" >&2; return 1; }
}

# check_state kill|clean [--require-live]: the invariants after a kill or a clean run.
check_state() {
    local t0=$EPOCHREALTIME
    ask check "$1" "$([[ ${2:-} == --require-live ]] && echo 1 || echo 0)" || return 1
    echo "check $1 took $(ms_since "$t0") ms" >>"$T/runs/kills.log"
}

# orders: the orders opened so far per target (POST /order-plz through the fault proxy, by
# the identifiers in their payload, unless the CA refused them) into ORD[target].
declare -A ORD
orders() {
    local t
    ask orders "$PROXY_CTL/log?method=POST&path=%5E/order-plz" || return 1
    ORD=()
    for t in "${TARGETS[@]}"; do ORD[$t]=${CK[$t]}; done
}

ms_since() { # ms_since EPOCHREALTIME-VALUE
    local a=${1/./} b=${EPOCHREALTIME/./}
    echo $(((b - a) / 1000))
}

# Start-up time of a no-op reconcile on this build (no desired file yet): the kill delays
# reach that far past it.
if [[ -n ${TORTURE_MAX_DELAY_MS:-} ]]; then
    DMAX=$TORTURE_MAX_DELAY_MS
else
    best=999999
    for _ in 1 2 3; do
        t0=$EPOCHREALTIME
        tl_acmed --once >"$T/noop.log" 2>&1 || {
            cat "$T/noop.log" >&2
            die "a no-op --once failed"
        }
        ms=$(ms_since "$t0")
        ((ms < best)) && best=$ms
    done
    DMAX=$((300 + best))
    ((DMAX > 1000)) && DMAX=1000
fi
echo "torture: kill delays 0..$DMAX ms to begin with, chains of 1..$CHAIN_MAX kills per round"
dmax_lo=$DMAX dmax_hi=$DMAX

for t in "${TARGETS[@]}"; do
    printf 'satisfy:\n  names: [%s]\n' "${NAMES[$t]// /, }" >"$STATE/desired/$t"
    [[ -n ${RSA[$t]:-} ]] && printf 'request:\n  key:\n    type: rsa\n' >>"$STATE/desired/$t"
done

kills=0 kills_daemon=0 kills_once=0 round=0 orders_total=0 selfexit=0
resumed=0 abandoned=0 issued=0 extra=0 multi=0
declare -A PREV ORD0
prev_nb=0 prev_due=0
while ((kills < KILLS_MIN)); do
    mode=once
    ((round % 2)) && mode=daemon
    if ((round == 0)); then
        unset ACMED_FAKE_NOW
    else
        # The clock of this round: the renewal time of the newest live certificate, so that
        # every live one is due. Fake time runs on from there, so a certificate issued in
        # this round is not due as long as its notBefore (whole seconds) is later than the
        # newest live one's by more than the second that a reconciler may have run before
        # planning: start half a second past the next second (issuance takes longer).
        until [[ ${EPOCHREALTIME/./} -ge $(((prev_nb + 1) * 1000000 + 500000)) ]]; do
            sleep 0.05
        done
        export ACMED_FAKE_NOW=$prev_due
    fi
    orders || die "cannot read the proxy's log"
    ORD0=()
    for t in "${TARGETS[@]}"; do ORD0[$t]=${ORD[$t]}; done
    chain=$((1 + RANDOM % CHAIN_MAX))
    rkills=0
    for ((k = 1; k <= chain; k++)); do
        log=$T/runs/r$round.k$k.$mode.log
        d=$((RANDOM % (DMAX + 1)))
        acmed_bg "$mode" "$log"
        sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
        { kill -KILL "$PID"; wait "$PID"; } 2>/dev/null
        rc=$? w=""
        if ((rc == 137)); then
            kills=$((kills + 1)) rkills=$((rkills + 1))
            w=$(where_killed "$log")
            WHERE[$w]=$((${WHERE[$w]:-0} + 1))
            if [[ $mode == daemon ]]; then kills_daemon=$((kills_daemon + 1)); else kills_once=$((kills_once + 1)); fi
        elif [[ $mode == once && $rc == 0 ]]; then
            selfexit=$((selfexit + 1)) # finished before the kill came
        else
            cat "$log" >&2
            die "round $round run $k ($mode, kill after ${d} ms): acmed exited $rc by itself"
        fi
        echo "$EPOCHREALTIME round $round run $k: $mode killed after $d ms (rc $rc, ${w:-})" \
            >>"$T/runs/kills.log"
        req=()
        ((round > 0)) && req=(--require-live)
        check_state kill "${req[@]}" ||
            die "round $round: broken after a kill of the $mode $d ms in (run $k, log $log)"
    done

    echo "$EPOCHREALTIME clean run starts" >>"$T/runs/kills.log"
    # The clean run.
    clog=$T/runs/r$round.clean.log
    tl_acmed --once >"$clog" 2>&1
    rc=$?
    [[ $rc == 0 ]] || {
        cat "$clog" >&2
        die "round $round: the clean --once exited $rc after $rkills kills of the $mode"
    }
    echo "$EPOCHREALTIME clean run done" >>"$T/runs/kills.log"
    check_state clean --require-live || die "round $round: broken after the clean run ($clog)"
    # Kill delays follow the machine's speed: when the kills of a round all came before any
    # certificate was issued, the next delays reach further; when they left the clean run
    # nothing to do, less far (within 300 ms .. 2 s).
    left=$(grep -o 'reconcile: [0-9]* targets, [0-9]* satisfied, [0-9]* issued' "$clog")
    left=${left##*satisfied, }
    left=${left%% issued}
    if [[ -z ${TORTURE_MAX_DELAY_MS:-} && -n $left ]]; then
        if ((left == ${#TARGETS[@]} && DMAX < 2000)); then
            DMAX=$((DMAX + 50))
        elif ((left == 0 && DMAX > 300)); then
            DMAX=$((DMAX - 50))
        fi
    fi
    ((DMAX > dmax_hi)) && dmax_hi=$DMAX
    ((DMAX < dmax_lo)) && dmax_lo=$DMAX
    for t in "${TARGETS[@]}"; do
        [[ -n ${CK[live_$t]:-} ]] || die "round $round: $t has no live certificate"
        if ((round > 0)) && [[ ${CK[live_$t]} == "${PREV[$t]}" ]]; then
            die "round $round: $t was due but still has certificate ${PREV[$t]}"
        fi
        PREV[$t]=${CK[live_$t]}
    done
    prev_nb=${CK[max_nb]} prev_due=${CK[max_due]} ncerts=${CK[certs]} nkeys=${CK[keys]}
    # Each target needs one order per round, and each kill can cost it at most one more: the
    # order it was opening when killed (before its checkpoint), or the one whose validation
    # died with the listener.
    orders || die "cannot read the proxy's log"
    n=0
    for t in "${TARGETS[@]}"; do
        nt=$((ORD[$t] - ORD0[$t]))
        n=$((n + nt))
        ((nt >= 1 && nt <= 1 + rkills)) ||
            die "round $round: $nt orders opened for $t with $rkills kills (want 1..$((1 + rkills)))"
    done
    orders_total=$((orders_total + n))
    extra=$((extra + n - ${#TARGETS[@]}))
    ((n - ${#TARGETS[@]} > rkills)) && multi=$((multi + 1))
    issued=$((issued + ${#TARGETS[@]}))
    resumed=$((resumed + $(cat "$T"/runs/r$round.* | grep -c 'resuming order')))
    abandoned=$((abandoned + $(cat "$T"/runs/r$round.* | grep -c 'cannot be resumed')))
    echo "$EPOCHREALTIME round $round ($mode): $rkills kills, $n orders, $ncerts certificates" \
        >>"$T/runs/kills.log"
    round=$((round + 1))
done

# The checker reads certificates and keys through GnuTLS in-process; certtool itself has the
# last word on the final live certificates.
pkid() { certtool "$@" 2>/dev/null | grep -A2 'Public Key ID' | grep -o 'sha256:[0-9a-f]*'; }
for t in "${TARGETS[@]}"; do
    dir=$STATE/certs/${PREV[$t]}
    certtool --verify --load-ca-certificate "$T/root.pem" --infile "$dir/fullchain" \
        >"$T/verify.log" 2>&1
    grep -q 'Chain verification output: Verified' "$T/verify.log" ||
        die "$t: certtool --verify fails on the final live certificate"
    kc=$(pkid -i --infile "$dir/cert") kk=$(pkid -k --infile "$dir/privkey")
    [[ -n $kc && $kc == "$kk" ]] || die "$t: certtool: the final privkey ($kk) is not the cert's ($kc)"
done

where=""
for w in startup plan account key order authorize finalize download install over; do
    where+=" $w ${WHERE[$w]:-0},"
done
echo "torture: kills landed in:${where%,}; kill delays up to $dmax_lo..$dmax_hi ms"
secs=$(($(ms_since "$t_start") / 1000))
echo "torture: seed $seed, kills $kills (daemon $kills_daemon, once $kills_once; $selfexit runs" \
    "finished first), rounds $round, orders opened $orders_total ($extra beyond one per target" \
    "and round; $multi rounds with more extra orders than kills; $resumed resumptions," \
    "$abandoned abandoned), certificates $ncerts ($issued needed)," \
    "keys $nkeys, ${secs}s: nothing lost"
((kills_daemon > 0 && kills_once > 0)) || fail "kills did not hit both the daemon and --once"
tl_report "kill torture (seed $seed)" "$kills SIGKILLs (daemon $kills_daemon, --once $kills_once) in $round rounds, each round ending in a clean run and the invariant check; $orders_total orders, $resumed resumptions, $ncerts certificates"
tl_done
