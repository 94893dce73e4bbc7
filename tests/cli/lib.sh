# lib.sh: shared set-up for the shell integration tests that drive the acmed binary against
# a Pebble of their own (tests/pebble/fixture.sh) on loopback ports. Source it, then:
#
#   tl_init ACMED-BINARY            temp dir $T, cleanup on exit (servers stopped by PID)
#   tl_pebble [CONFIG]              own Pebble (default config own-responders: our answers
#                                   are served by tl_webroot on Pebble's http-01 port)
#   tl_webroot                      static server for $T/www on PEBBLE_HTTP_PORT; webroot path
#                                   $WEBROOT (= $T/www/.well-known/acme-challenge)
#   tl_proxy                        the fault proxy in front of Pebble; $PROXY_DIR, $PROXY_CTL
#   tl_conf_target [EXTRA-YAML]     conf/target with the webroot and agree-tos
#   tl_conf_listener [TYPES]        conf/target with the built-in http-01 listener on Pebble's
#                                   validation port (TYPES, default "http-01") and agree-tos
#   wait_stopped PID                waits (bounded) until PID is stopped (SIGSTOP at a failpoint)
#   tl_acmed ARGS...                acmed --state $STATE --ca-bundle ... --provider ...
#   fail MSG / check COND-CMD MSG
#   tl_report SCENARIO WHAT         a line of the reliability report (see tl_done)
#   tl_done                         exit 0 or 1 after publishing the report
set -u

T=""
PIDS=()
FAILED=0

tl_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        { kill -KILL "$pid" && wait "$pid"; } 2>/dev/null
    done
    [[ -n $T && -d $T/pebble ]] && "$TL_SRC/tests/pebble/fixture.sh" stop "$T/pebble" >/dev/null 2>&1
    [[ -n $T && $FAILED == 0 && -z ${KEEP:-} ]] && rm -rf "$T"
    [[ $FAILED != 0 ]] && echo "test files kept in $T" >&2
    return 0
}

tl_init() {
    # acmed runs a hook only when it and every directory above it are not writable by group
    # or others (DESIGN.md §5): what a test creates must not depend on the caller's umask.
    umask 022
    ACMED=$(readlink -f "$1")
    TL_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    mkdir -p "${ACMED_TEST_TMP:-/tmp}"
    T=$(mktemp -d "${ACMED_TEST_TMP:-/tmp}/acmed-test.XXXXXX")
    STATE=$T/state
    HOOKS=$T/hooks
    mkdir -p "$HOOKS"
    # The one-process runs of tests/CMakeLists.txt (cli1.*): no worker even as root.
    if [[ ${ACMED_TEST_ONE_PROCESS:-0} == 1 ]]; then
        mkdir -p "$STATE/conf"
        printf 'privsep: false\n' >"$STATE/conf/acmed.yaml"
    fi
    trap tl_cleanup EXIT
}

fail() {
    echo "FAIL: $*" >&2
    FAILED=1
}

# check DESCRIPTION CMD...: runs CMD, fails the test with DESCRIPTION when it fails.
check() {
    local what=$1
    shift
    "$@" || fail "$what"
}

tl_pebble() {
    local cfg=${1:-own-responders}
    "$TL_SRC/tests/pebble/fixture.sh" start "$T/pebble" "$cfg" >"$T/pebble.start.log" 2>&1 ||
        {
            cat "$T/pebble.start.log" >&2
            fail "pebble did not start"
            exit 1
        }
    # shellcheck disable=SC1091
    . "$T/pebble/env"
    PROVIDER=$PEBBLE_DIRECTORY
}

# Waits (bounded) until something accepts TCP connections on 127.0.0.1:$1.
tl_wait_port() {
    local i
    for ((i = 0; i < 100; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

tl_webroot() {
    WEBROOT=$T/www/.well-known/acme-challenge
    mkdir -p "$WEBROOT"
    python3 "$TL_SRC/tests/cli/webroot_server.py" "$PEBBLE_HTTP_PORT" "$T/www" \
        >"$T/www.log" 2>&1 </dev/null &
    PIDS+=($!)
    tl_wait_port "$PEBBLE_HTTP_PORT" || {
        fail "webroot server did not start"
        exit 1
    }
}

tl_proxy() {
    local d=$T/proxy i
    mkdir -p "$d"
    python3 "$TL_SRC/tests/faultproxy/faultproxy.py" --listen 127.0.0.1:0 \
        --control 127.0.0.1:0 --upstream "${PEBBLE_DIRECTORY%/dir}" \
        --upstream-ca "$PEBBLE_CA" --cert "$(dirname "$PEBBLE_CA")/cert.pem" \
        --key "$(dirname "$PEBBLE_CA")/key.pem" --ready-file "$d/ready" \
        >"$d/log" 2>&1 </dev/null &
    PIDS+=($!)
    for ((i = 0; i < 200; i++)); do
        [[ -s $d/ready ]] && break
        sleep 0.05
    done
    [[ -s $d/ready ]] || {
        cat "$d/log" >&2
        fail "fault proxy did not start"
        exit 1
    }
    read -r PROXY_PORT PROXY_CTL_PORT <"$d/ready"
    PROVIDER=https://127.0.0.1:$PROXY_PORT/dir
    PROXY_CTL=http://127.0.0.1:$PROXY_CTL_PORT
}

# tl_proxy_count [QUERY]: number of requests the proxy saw (QUERY like "method=POST").
tl_proxy_count() {
    curl -s --max-time 5 "$PROXY_CTL/count${1:+?$1}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}

tl_conf_target() {
    mkdir -p "$STATE/conf"
    cat >"$STATE/conf/target" <<YAML
request:
  challenge:
    webroot-paths:
      - $WEBROOT
  account:
    agree-tos: true
${1:-}
YAML
}

tl_conf_listener() {
    mkdir -p "$STATE/conf" "$STATE/desired"
    cat >"$STATE/conf/target" <<YAML
request:
  challenge:
    type: [${1:-http-01}]
    http-ports: ["127.0.0.1:$PEBBLE_HTTP_PORT"]
  account:
    agree-tos: true
YAML
}

# tl_notify_listen SOCKET LOG: an sd_notify socket that writes each line it receives to LOG as
# "<unix time with milliseconds> <line>"; returns once the socket exists (at most 5 s). The
# listener ends by itself after 600 s without a message, and is killed with the test's PIDS.
tl_notify_listen() {
    python3 - "$1" "$2" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(600)
with open(sys.argv[2], "a") as f:
    while True:
        try:
            data = s.recv(4096)
        except OSError:
            break
        for line in data.decode().splitlines():
            f.write("%.3f %s\n" % (time.time(), line))
        f.flush()
PY
    PIDS+=($!)
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -S $1 ]] && return 0
        sleep 0.1
    done
    return 1
}

# wait_stopped PID: true once PID is stopped (state T), false if it ends or after 30 s.
wait_stopped() {
    local i st
    for ((i = 0; i < 600; i++)); do
        st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        st=${st##*) }
        [[ ${st:0:1} == T ]] && return 0
        sleep 0.05
    done
    return 1
}

tl_acmed() {
    "$ACMED" --state "$STATE" --hooks "$HOOKS" --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" "$@"
}

# tl_live_cert NAME: the cert-id live/NAME points at ("" when none).
tl_live_cert() {
    local l
    l=$(readlink "$STATE/live/$1" 2>/dev/null) || {
        echo ""
        return
    }
    basename "$l"
}

# tl_verify_chain CERT-DIR: the fullchain verifies against Pebble's root 0.
tl_verify_chain() {
    curl -s --max-time 5 --cacert "$PEBBLE_CA" "$PEBBLE_MGMT/roots/0" >"$T/root.pem" &&
        certtool --verify --load-ca-certificate "$T/root.pem" --infile "$1/fullchain" \
            >"$T/verify.log" 2>&1
}

# tl_report SCENARIO WHAT: records how often a scenario ran and what it injected ("40 kills",
# "12 faults injected, 3 acmed runs"). tl_done publishes the lines, each ending "nothing lost"
# when the whole test passed (its checks are what "nothing lost" means) or "FAILED", to
# $ACMED_TEST_TMP/reliability/<test>.txt; tests/run.sh prints them after each ctest run.
tl_report() {
    printf '%s\t%s\n' "$1" "$2" >>"$T/report"
}

tl_publish_report() {
    local dir=${ACMED_TEST_TMP:-/tmp}/reliability verdict="nothing lost"
    [[ -s $T/report ]] || return 0
    [[ $FAILED == 0 ]] || verdict="FAILED"
    mkdir -p "$dir"
    sed "s/\$/\t$verdict/" "$T/report" >"$dir/$(basename "$0" .sh).txt"
}

tl_done() {
    tl_publish_report
    if [[ $FAILED == 0 ]]; then
        echo "$(basename "$0"): ok"
        exit 0
    fi
    exit 1
}
