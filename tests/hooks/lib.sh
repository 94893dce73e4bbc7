# shellcheck shell=bash disable=SC2034
# lib.sh: shared set-up for the tests of the shipped hooks (tests/hooks/test_*.sh). Nothing
# touches the network or a real service: whatever a hook runs (systemctl, nsupdate, curl...)
# is a fake first on PATH that records how it was called. Source it, then:
#
#   th_init SRC-DIR          $SRC, temp dir $T (removed when the test passes), $REC (where fakes
#                            record), $FAKES (fake programs), $TOOLS (links to the few real
#                            programs the hooks may use, and nothing else)
#   th_fake NAME BODY        an executable $FAKES/NAME: "#!/bin/sh" then BODY
#   th_run [VAR=VAL...] HOOK ARGS...
#                            runs HOOK in an empty environment plus PATH=$FAKES:$TOOLS,
#                            REC, ACME_RELOAD_CONF= (no system configuration) and the VARs,
#                            stdin from the file $IN (default /dev/null); sets RC, and the
#                            files $T/out and $T/err
#   expect_rc N WHAT         fail unless RC is N
#   expect_file FILE TEXT WHAT   fail unless FILE holds exactly TEXT
#   fail MSG                 record a failure (the test exits 1 at the end: th_done)
#   th_done                  prints the verdict and exits
set -u

T=""
FAILED=0

th_cleanup() {
    [[ -n $T && $FAILED == 0 && -z ${KEEP:-} ]] && rm -rf "$T"
    [[ -n $T && $FAILED != 0 ]] && echo "test files kept in $T" >&2
    return 0
}

th_init() {
    SRC=$(cd "${1:?usage: $0 SOURCE-DIR}" && pwd)
    mkdir -p "${ACMED_TEST_TMP:-/tmp}"
    T=$(mktemp -d "${ACMED_TEST_TMP:-/tmp}/acmed-hooks.XXXXXX")
    REC=$T/rec
    FAKES=$T/fakes
    TOOLS=$T/tools
    mkdir -p "$REC" "$FAKES" "$TOOLS"
    trap th_cleanup EXIT
    local tool path
    for tool in cat mv rm chmod mktemp readlink ln mkdir sync date grep sleep; do
        path=$(command -v "$tool") || {
            echo "FAIL: $tool not found" >&2
            exit 1
        }
        ln -s "$path" "$TOOLS/$tool"
    done
    IN=/dev/null
}

th_fake() {
    printf '#!/bin/sh\n%s\n' "$2" >"$FAKES/$1"
    chmod 755 "$FAKES/$1"
}

th_run() {
    local envs=()
    while [[ $# -gt 0 && $1 == [A-Za-z_]*=* ]]; do
        envs+=("$1")
        shift
    done
    env -i PATH="$FAKES:$TOOLS" REC="$REC" ACME_RELOAD_CONF= "${envs[@]}" "$@" \
        <"$IN" >"$T/out" 2>"$T/err"
    RC=$?
}

fail() {
    echo "FAIL: $*" >&2
    FAILED=1
}

expect_rc() {
    if [[ $RC != "$1" ]]; then
        fail "$2: exit $RC, wanted $1; stdout: $(cat "$T/out"); stderr: $(cat "$T/err")"
    fi
}

expect_file() {
    local got
    if [[ ! -e $1 ]]; then
        fail "$3: $1 does not exist"
        return
    fi
    got=$(cat "$1"; echo .)
    got=${got%.}
    if [[ $got != "$2" ]]; then
        fail "$3: $1 holds:"$'\n'"$got"$'\n'"wanted:"$'\n'"$2"
    fi
}

th_done() {
    if [[ $FAILED == 0 ]]; then
        echo "$(basename "$0"): ok"
        exit 0
    fi
    exit 1
}
