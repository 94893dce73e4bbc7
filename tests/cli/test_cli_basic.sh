#!/usr/bin/env bash
# The command line's basic contract: --version, --help, and a usage error (exit 2) for
# anything unknown. Usage: test_cli_basic.sh PATH-TO-ACMED
set -u
acmed=${1:?usage: test_cli_basic.sh ACMED}
fail=0
check() { # check DESCRIPTION EXPECTED-RC CMD...
    local what=$1 want=$2 rc
    shift 2
    "$@" >/tmp/acmed-cli.$$ 2>&1
    rc=$?
    if [ "$rc" != "$want" ]; then
        echo "FAIL: $what: exit $rc, wanted $want; output:" >&2
        cat /tmp/acmed-cli.$$ >&2
        fail=1
    fi
}

out=$("$acmed" --version)
if ! [[ "$out" =~ ^acmed\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "FAIL: --version printed '$out'" >&2
    fail=1
fi
check "--help" 0 "$acmed" --help
grep -q -- '--version' /tmp/acmed-cli.$$ || { echo "FAIL: --help does not list --version" >&2; fail=1; }
check "unknown option" 2 "$acmed" --no-such-option
grep -q 'no-such-option' /tmp/acmed-cli.$$ || { echo "FAIL: error does not name the option" >&2; fail=1; }
check "unknown command" 2 "$acmed" frobnicate
grep -q 'frobnicate' /tmp/acmed-cli.$$ || { echo "FAIL: error does not name the command" >&2; fail=1; }
check "bad ACMED_FAKE_NOW" 2 env ACMED_FAKE_NOW=tomorrow "$acmed" --version
rm -f /tmp/acmed-cli.$$
[ "$fail" = 0 ] && echo "cli basic: ok"
exit "$fail"
