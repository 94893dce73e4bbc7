#!/usr/bin/env bash
# A forced stop is a real stop (issue 13): with a challenge hook that ignores SIGTERM and
# sleeps far longer than the grace, two SIGTERMs to `acmed --once`, one SIGTERM and the 10 s
# grace, and two SIGTERMs to the daemon (whose stop hook hangs too: it gets 5 s) end the
# process within seconds of the forced stop with exit 0 (a stop is no failure), after it has
# killed the hook's whole process group (SIGTERM, then SIGKILL), taken its webroot answer
# down, run the stop hook and released the state directory: `acmed status` reads it, and the
# next `--once` issues the certificate by resuming the same order.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_conf_target
mkdir -p "$STATE/desired"

# The hook records its pid and its child's (its process group) and sleeps until killed; it
# ignores SIGTERM, and so does the child (an ignored signal stays ignored across exec), so
# only the SIGKILL that follows ends them. Once $T/quick exists it answers at once.
cat >"$HOOKS/10-slow" <<HOOK
#!/bin/bash
case "\$1" in
challenge-http-start)
    [ -e "$T/quick" ] && exit 0
    trap '' TERM
    echo \$\$ >"$T/hook.pid.tmp" && mv "$T/hook.pid.tmp" "$T/hook.pid"
    sleep 300 &
    echo \$! >"$T/child.pid"
    wait
    echo "start hook ended" >>"$T/hook.log"
    ;;
challenge-http-stop)
    echo "stop \$2" >>"$T/hook.log"
    [ -e "$T/slowstop" ] || exit 0
    trap '' TERM
    echo \$\$ >"$T/stop.pid"
    sleep 300 &
    echo \$! >"$T/stopchild.pid"
    wait
    ;;
*) exit 42 ;;
esac
HOOK
chmod 755 "$HOOKS/10-slow"

# wait_for SECONDS CMD...: polls CMD every 0.1 s; true when it succeeded in time.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    while ((SECONDS < end)); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}
gone() { ! kill -0 "$1" 2>/dev/null || [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]; }
answers() { find "$WEBROOT" -type f | wc -l; }
now_ms() { date +%s%3N; }

# stop_hard PID LOG [MODE]: once the start hook sleeps, two SIGTERMs (MODE grace: one, and
# the grace of 10 s runs out; MODE slowstop: the stop hook hangs too, and gets 5 s); checks
# what a real stop leaves.
stop_hard() {
    local pid=$1 log=$2 mode=${3:-} hook child t0 t1 rc limit=5000 p
    wait_for 30 test -s "$T/hook.pid" || {
        fail "the start hook did not run within 30 s: $(tail -5 "$log")"
        return
    }
    wait_for 5 test -s "$T/child.pid"
    hook=$(cat "$T/hook.pid")
    child=$(cat "$T/child.pid")
    PIDS+=($hook $child) # killed at the end should acmed leave them behind
    [[ $(answers) -ge 1 ]] || fail "no webroot answer was published while the hook ran"
    t0=$(now_ms)
    kill -TERM "$pid"
    [[ $mode == slowstop ]] && limit=10000
    if [[ $mode == grace ]]; then
        limit=15000
        sleep 5
        kill -0 "$pid" 2>/dev/null || fail "$log: one SIGTERM did not wait for the grace"
    else
        sleep 0.3
        kill -TERM "$pid"
    fi
    for ((i = 0; i < limit / 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "acmed ($log) still runs $((limit / 1000)) s after the stop: $(tail -5 "$log")"
        kill -KILL "$pid"
    fi
    wait "$pid"
    rc=$?
    t1=$(now_ms)
    echo "$(basename "$log" .log): exit $rc, $((t1 - t0)) ms after the first SIGTERM"
    ((t1 - t0 < limit)) || fail "$log: the forced stop took $((t1 - t0)) ms"
    [[ $mode != grace ]] || ((t1 - t0 >= 9500)) || fail "$log: stopped before the grace was over"
    if [[ $mode == slowstop ]]; then
        for p in stop stopchild; do
            if [[ -s $T/$p.pid ]]; then
                PIDS+=($(cat "$T/$p.pid"))
                wait_for 3 gone "$(cat "$T/$p.pid")" || fail "$log: the $p hook process still runs"
            else
                fail "$log: no $p.pid: the stop hook did not hang"
            fi
        done
        grep -q '(challenge-http-stop) timed out' "$log" || fail "$log: the stop hook did not time out"
    fi
    [[ $rc == 0 ]] || fail "$log: exit $rc after a forced stop (documented: 0)"
    wait_for 3 gone "$hook" || fail "$log: the hook ($hook) still runs after acmed ended"
    wait_for 3 gone "$child" || fail "$log: the hook's child ($child) still runs after acmed ended"
    [[ $(answers) == 0 ]] || fail "$log: webroot answers left behind: $(find "$WEBROOT" -type f)"
    grep -q '^stop ' "$T/hook.log" 2>/dev/null || fail "$log: the stop hook did not run"
    grep -q 'start hook ended' "$T/hook.log" 2>/dev/null &&
        fail "$log: the start hook went on after its SIGTERM (it must be killed)"
    grep -q 'stopping now: cancelling' "$log" || fail "$log: the forced stop is not logged"
    grep -q 'stopped: acmed is stopping' "$log" || fail "$log: the hook's end is not logged"
    grep -qi 'AddressSanitizer\|LeakSanitizer\|runtime error' "$log" &&
        fail "$log: sanitizer report: $(grep -i -m3 'Sanitizer\|runtime error' "$log")"
    tl_acmed status >"$T/status.txt" 2>&1
    rc=$?
    [[ $rc == 0 || $rc == 1 ]] || fail "status exited $rc after the forced stop: $(cat "$T/status.txt")"
    rm -f "$T/hook.pid" "$T/child.pid" "$T/hook.log" "$T/stop.pid" "$T/stopchild.pid" "$T/slowstop"
}

# resumes NAME LOG: a plain --once issues NAME, resuming the interrupted order.
resumes() {
    local rc
    touch "$T/quick"
    tl_acmed --once >"$T/resume-$1.log" 2>&1
    rc=$?
    rm -f "$T/quick"
    [[ $rc == 0 ]] || fail "--once after the forced stop exited $rc: $(tail -5 "$T/resume-$1.log")"
    [[ -n $(tl_live_cert "$1") ]] || fail "--once after the forced stop issued no certificate for $1"
    grep -q 'resuming the order in progress' "$T/resume-$1.log" ||
        fail "--once after the forced stop did not resume the order of $1"
}

# --once
printf 'satisfy:\n  names: [once.stop.test]\n' >"$STATE/desired/once"
"$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" \
    --once >"$T/once.log" 2>&1 &
ONCE=$!
PIDS+=($ONCE)
stop_hard "$ONCE" "$T/once.log"
resumes once.stop.test

# --once with one SIGTERM: the grace (REC_STOP_GRACE_MS, 10 s) runs out, the same stop.
printf 'satisfy:\n  names: [grace.stop.test]\n' >"$STATE/desired/grace"
"$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" \
    --once >"$T/grace.log" 2>&1 &
GRACE=$!
PIDS+=($GRACE)
stop_hard "$GRACE" "$T/grace.log" grace
resumes grace.stop.test

# The daemon.
"$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" \
    >"$T/daemon.log" 2>&1 &
DAEMON=$!
PIDS+=($DAEMON)
printf 'satisfy:\n  names: [daemon.stop.test]\n' >"$STATE/desired/d"
touch "$T/slowstop"
stop_hard "$DAEMON" "$T/daemon.log" slowstop
grep -q 'daemon stopped' "$T/daemon.log" || fail "the daemon did not leave through its cleanup"
resumes daemon.stop.test

tl_done
