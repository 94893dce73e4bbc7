#!/usr/bin/env bash
# bench/run.sh: builds acmed (release) and times issuance against a throwaway local Pebble
# (PEBBLE_VA_NOSLEEP=1, nonce rejection off): one certificate, then ten in parallel, each on
# a fresh account. Prints time, requests, connections and peak memory for each run.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target bench_issue >/dev/null
dir=$(mktemp -d /tmp/acmed-bench.XXXXXX)
trap 'tests/pebble/fixture.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
FIXTURE_STRICT=1 tests/pebble/fixture.sh start "$dir" default >/dev/null
for n in 1 10; do
    echo "== $n certificate(s)"
    build/bench/bench_issue "$dir/env" "$n" | grep -v '^\[' 
done
