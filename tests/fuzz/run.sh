#!/usr/bin/env bash
# Builds acmed's libFuzzer targets with clang into build-fuzz/ and runs them
# (tests/fuzz/README.md; tests/run.sh calls it).
#
#   tests/fuzz/run.sh                 build, replay the corpora, then fuzz each target
#   tests/fuzz/run.sh --regression    build and replay every committed corpus file once
#   tests/fuzz/run.sh --time N        fuzz each target for N seconds (default 15; 300 when
#                                     ACMED_LONG=1)
#   tests/fuzz/run.sh ... fuzz_b64    only the named targets
#
# Fuzzing works on a copy of tests/fuzz/corpus/<target>/ in a temporary directory, so the
# committed corpus never changes. Any crash, leak, timeout or out-of-memory fails the run; the
# reproducer is kept under build-fuzz/artifacts/<target>/ and its path printed. Environment:
# ACMED_FUZZ_CC (default clang; not CC, which may name the main build's gcc), ACMED_FUZZ_BUILD
# (default build-fuzz), ACMED_FUZZ_TIME (seconds).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
fuzzdir=$root/tests/fuzz
build=${ACMED_FUZZ_BUILD:-$root/build-fuzz}
mode=fuzz
if [ "${ACMED_LONG:-0}" = 1 ]; then
    secs=${ACMED_FUZZ_TIME:-300}
else
    secs=${ACMED_FUZZ_TIME:-15}
fi
targets=()
named=0
while [ $# -gt 0 ]; do
    case "$1" in
    --regression) mode=regression ;;
    --time)
        secs=${2:?--time needs a number of seconds}
        shift
        ;;
    -h | --help)
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    fuzz_*)
        targets+=("$1")
        named=1
        ;;
    *)
        echo "tests/fuzz/run.sh: unknown argument $1" >&2
        exit 2
        ;;
    esac
    shift
done
case "$secs" in
'' | *[!0-9]*)
    echo "tests/fuzz/run.sh: --time wants whole seconds, not '$secs'" >&2
    exit 2
    ;;
esac
if [ "${#targets[@]}" -eq 0 ]; then
    for src in "$fuzzdir"/fuzz_*.c; do
        targets+=("$(basename "$src" .c)")
    done
fi

echo "== fuzz: building ${targets[*]} in $build =="
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$fuzzdir" -B "$build" -DCMAKE_C_COMPILER="${ACMED_FUZZ_CC:-clang}" >/dev/null
if [ "$named" = 1 ]; then
    cmake --build "$build" -j"$jobs" --target "${targets[@]}"
else
    cmake --build "$build" -j"$jobs"
fi

# Leaks are failures (libFuzzer's -detect_leaks defaults to 1 under ASan); UBSan aborts.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
opts=(-timeout=5 -rss_limit_mb=2048 -print_final_stats=0)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/acmed-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0

# Moves libFuzzer's reproducers for target $1 from $2 to build-fuzz/artifacts/$1/ and prints
# where they went, with the command that replays each.
keep_artifacts() {
    local t=$1 from=$2 dest=$build/artifacts/$1 f c
    mkdir -p "$dest"
    for f in "$from"/*; do
        [ -e "$f" ] || continue
        mv -f "$f" "$dest/"
        echo "fuzz: $t: reproducer $dest/$(basename "$f")" >&2
        for c in "$fuzzdir/corpus/$t"/*; do
            if cmp -s "$c" "$dest/$(basename "$f")"; then
                echo "fuzz: $t:   (the committed input ${c#"$root"/})" >&2
            fi
        done
        echo "fuzz: $t:   replay with: $build/$t $dest/$(basename "$f")" >&2
    done
}

# Runs target $1 with libFuzzer arguments $4...; $2 names the step in file names, $3 in
# messages. The log goes to a file whose tail is shown on failure, so that a passing run prints
# one line.
run_target() {
    local t=$1 step=$2 what=$3 rc=0
    local log=$tmp/$t.$step.log art=$tmp/$t.$step.artifacts
    shift 3
    mkdir -p "$art"
    "$build/$t" "${opts[@]}" -artifact_prefix="$art/" "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] || compgen -G "$art/*" >/dev/null; then
        echo "fuzz: $t: $what FAILED (exit $rc); last lines of its log:" >&2
        tail -n 60 "$log" >&2
        keep_artifacts "$t" "$art"
        return 1
    fi
    echo "fuzz: $t: $what ok ($(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" |
        tail -n 1 | sed 's/Done //; s/ second/ s/' || true))"
}

for t in "${targets[@]}"; do
    seeds=$fuzzdir/corpus/$t
    if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
        echo "fuzz: $t: no seed corpus in $seeds" >&2
        status=1
        continue
    fi
    # Regression: every committed input once (the crash-* files are past bugs).
    run_target "$t" regression regression -runs=0 "$seeds" || status=1
done

# One target per core at a time: each fuzzes for its whole time on a core of its own.
if [ "$mode" = fuzz ] && [ "$status" = 0 ]; then
    running=()
    for t in "${targets[@]}"; do
        work=$tmp/corpus-$t
        cp -r "$fuzzdir/corpus/$t" "$work"
        dict=()
        if [ -f "$fuzzdir/$t.dict" ]; then
            dict=(-dict="$fuzzdir/$t.dict")
        fi
        run_target "$t" fuzz "fuzzing for ${secs}s" -max_total_time="$secs" "${dict[@]}" "$work" &
        running+=($!)
        if [ "${#running[@]}" -ge "$jobs" ]; then
            wait "${running[0]}" || status=1
            running=("${running[@]:1}")
        fi
    done
    for p in "${running[@]}"; do
        wait "$p" || status=1
    done
fi

if [ "$status" = 0 ]; then
    echo "tests/fuzz/run.sh: all fuzz targets passed"
else
    echo "tests/fuzz/run.sh: FAILED" >&2
fi
exit "$status"
