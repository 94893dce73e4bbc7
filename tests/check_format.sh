#!/usr/bin/env bash
# Checks that every C source and header under src/ is formatted as .clang-format says
# (clang-format --dry-run -Werror). Usage: check_format.sh SRC_DIR
set -euo pipefail
src=${1:?usage: check_format.sh SRC_DIR}
command -v clang-format >/dev/null || { echo "check_format: clang-format is not installed (tests/install-deps.sh)" >&2; exit 1; }
cd "$src/.."
if ! clang-format --dry-run -Werror src/*/*.c src/*/*.h; then
    echo "check_format: run 'clang-format -i src/*/*.[ch]'" >&2
    exit 1
fi
echo "format: ok"
