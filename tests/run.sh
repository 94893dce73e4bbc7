#!/usr/bin/env bash
# The project's test command (README.md; .ci/run calls it).
#
# On a fresh Debian 12 machine (as root, or with sudo) it installs every package the build and
# the tests need, builds acmed twice -- build/ (release with debug info) and build-asan/
# (AddressSanitizer + UndefinedBehaviorSanitizer) -- and runs the whole ctest suite in both,
# then builds the libFuzzer targets with clang in build-fuzz/ and runs each for a bounded time
# (tests/fuzz/run.sh), and finally removes each safeguard (fsync, the lock, the checkpoint, name
# validation) from a copy of the tree in turn to check that a test catches it
# (tests/safeguards/check.py). It exits non-zero if anything fails.
#
#   tests/run.sh            the CI suite (bounded: well under 30 minutes on 2 cores)
#   tests/run.sh --long     the long soak: 600 kills in the torture instead of 100, and 300 s
#                           per fuzz target instead of 15 (ACMED_LONG=1)
#   tests/run.sh --no-asan  no build-asan/ (quicker local iteration)
#   tests/run.sh --no-fuzz  no fuzzing (quicker local iteration)
#   tests/run.sh --no-safeguards  no safeguard-removal check (quicker local iteration)
set -euo pipefail

cd "$(dirname "$0")/.."
asan=1
fuzz=1
safeguards=1
long=OFF
for arg in "$@"; do
    case "$arg" in
    --long) export ACMED_LONG=1 long=ON ;;
    --no-asan) asan=0 ;;
    --no-fuzz) fuzz=0 ;;
    --no-safeguards) safeguards=0 ;;
    -h | --help)
        sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "tests/run.sh: unknown option $arg" >&2
        exit 2
        ;;
    esac
done

tests/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
build() { # build DIR CMAKE-ARGS...
    local dir=$1
    shift
    cmake -S . -B "$dir" -DACMED_LONG="$long" "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
}
run_ctest() { # run_ctest DIR
    local rc=0
    echo "== ctest in $1 =="
    rm -rf "$1/test-tmp/reliability"
    (cd "$1" && ctest --output-on-failure -j"$jobs" --timeout 600) || rc=1
    report "$1"
    return "$rc"
}
# The reliability suites' report (tl_report in tests/cli/lib.sh): each scenario, how many
# times it ran, and whether anything was lost.
report() { # report DIR
    local d=$1/test-tmp/reliability
    [ -d "$d" ] || return 0
    echo "== reliability report ($1) =="
    cat "$d"/*.txt | awk -F '\t' '{ printf "  %s: %s -- %s\n", $1, $2, $3 }'
}

build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "$asan" = 1 ]; then
    build build-asan -DCMAKE_BUILD_TYPE=Debug -DACMED_SANITIZE=ON
fi
status=0
run_ctest build || status=1
if [ "$asan" = 1 ]; then
    run_ctest build-asan || status=1
fi
# The fuzz targets: a clang build of their own (tests/fuzz/README.md); about 3 minutes (18
# targets, two at a time on 2 cores), or 50 with --long. They replay the committed corpora, then fuzz each target for a bounded time.
if [ "$fuzz" = 1 ]; then
    echo "== fuzz targets in build-fuzz =="
    tests/fuzz/run.sh || status=1
fi
# Each safeguard removed in turn from a copy of the tree: a release build and the tests that
# must notice (about 9 minutes).
if [ "$safeguards" = 1 ]; then
    echo "== safeguards: each removed in turn must fail a test =="
    python3 tests/safeguards/check.py || status=1
fi
if [ "$status" = 0 ]; then
    echo "tests/run.sh: all suites passed"
else
    echo "tests/run.sh: FAILED" >&2
fi
exit "$status"
