#!/usr/bin/env bash
# fixture.sh: starts and stops a throwaway Pebble ACME server and pebble-challtestsrv on
# free loopback ports, for the integration tests.
#
#   fixture.sh start DIR CONFIG   generate a CA and a localhost certificate, start both servers,
#                                 wait until they answer, write DIR/env (KEY=VALUE lines)
#   fixture.sh stop DIR           stop exactly the processes recorded in DIR/*.pid
#   fixture.sh env DIR            print DIR/env
#
# CONFIG names a configuration (see config_* below; add new ones there). The environment
# variables FIXTURE_STRICT (0/1), FIXTURE_NONCEREJECT (percent), FIXTURE_EAB (0/1),
# FIXTURE_ALT_ROOTS (N), FIXTURE_VALIDITY (seconds), FIXTURE_OWN_RESPONDERS (0/1) and
# FIXTURE_BLOCKLIST (comma-separated names) override whatever the configuration sets.
#
# The servers run in their own session with every descriptor redirected, so that ctest, which
# waits for the setup test's pipes to close, does not wait for them.
set -euo pipefail

readonly EAB_KID="kid-1"
readonly EAB_KEY="zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
readonly WAIT_SECONDS=20
readonly START_ATTEMPTS=5

die() {
    echo "fixture.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ---- configurations ------------------------------------------------------------------------
# Each sets the cfg_* variables; config_default runs first, so the others only state what
# differs.

config_default() {
    cfg_strict=1
    cfg_noncereject=0
    cfg_eab=0
    cfg_alt_roots=0
    cfg_validity=""
    cfg_own_responders=0
    cfg_blocklist="blocked.test"
}
config_own_responders() { cfg_own_responders=1; }
config_nonce50() { cfg_noncereject=50; }
config_nonce99() { cfg_noncereject=99; }
config_eab() { cfg_eab=1; }
config_altroots() { cfg_alt_roots=2; }
config_shortlived() { cfg_validity=120; }

load_config() { # load_config NAME
    local fn="config_${1//-/_}"
    [[ $1 =~ ^[a-z0-9-]+$ ]] || die "invalid configuration name '$1'"
    declare -F "$fn" >/dev/null || die "unknown configuration '$1'"
    config_default
    "$fn"
    cfg_strict=${FIXTURE_STRICT:-$cfg_strict}
    cfg_noncereject=${FIXTURE_NONCEREJECT:-$cfg_noncereject}
    cfg_eab=${FIXTURE_EAB:-$cfg_eab}
    cfg_alt_roots=${FIXTURE_ALT_ROOTS:-$cfg_alt_roots}
    cfg_validity=${FIXTURE_VALIDITY:-$cfg_validity}
    cfg_own_responders=${FIXTURE_OWN_RESPONDERS:-$cfg_own_responders}
    cfg_blocklist=${FIXTURE_BLOCKLIST:-$cfg_blocklist}
    local v
    for v in "$cfg_strict" "$cfg_noncereject" "$cfg_eab" "$cfg_alt_roots" "$cfg_own_responders"; do
        [[ $v =~ ^[0-9]+$ ]] || die "configuration value '$v' is not a number"
    done
    [[ -z $cfg_validity || $cfg_validity =~ ^[0-9]+$ ]] || die "bad FIXTURE_VALIDITY"
    [[ $cfg_blocklist =~ ^[A-Za-z0-9.,*-]*$ ]] || die "bad FIXTURE_BLOCKLIST"
}

# ---- certificates --------------------------------------------------------------------------

gen_certs() { # gen_certs DIR
    local d=$1
    rm -f "$d"/ca-key.pem "$d"/ca.pem "$d"/key.pem "$d"/cert.pem "$d"/*.tmpl
    cat >"$d/ca.tmpl" <<TMPL
cn = "acmed test fixture CA"
ca
cert_signing_key
crl_signing_key
expiration_days = 30
TMPL
    cat >"$d/cert.tmpl" <<TMPL
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
ip_address = "::1"
tls_www_server
signing_key
encryption_key
expiration_days = 30
TMPL
    {
        certtool --generate-privkey --key-type ecdsa --curve secp256r1 \
            --outfile "$d/ca-key.pem" &&
            certtool --generate-self-signed --load-privkey "$d/ca-key.pem" \
                --template "$d/ca.tmpl" --outfile "$d/ca.pem" &&
            certtool --generate-privkey --key-type ecdsa --curve secp256r1 \
                --outfile "$d/key.pem" &&
            certtool --generate-certificate --load-privkey "$d/key.pem" \
                --load-ca-certificate "$d/ca.pem" --load-ca-privkey "$d/ca-key.pem" \
                --template "$d/cert.tmpl" --outfile "$d/cert.pem"
    } >"$d/certtool.log" 2>&1 || {
        cat "$d/certtool.log" >&2
        die "certtool failed"
    }
    chmod 600 "$d/ca-key.pem" "$d/key.pem"
}

# ---- ports ---------------------------------------------------------------------------------

port_in_use() { # port_in_use PORT: true when something accepts TCP connections on it
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Picks N distinct ports in 10000-32000 that nothing listens on; prints them.
pick_ports() {
    local n=$1 p tries=0
    local -a got=()
    while ((${#got[@]} < n)); do
        ((tries++ < 1000)) || die "no free ports found"
        p=$((10000 + RANDOM % 22001))
        [[ " ${got[*]} " == *" $p "* ]] && continue
        port_in_use "$p" && continue
        got+=("$p")
    done
    echo "${got[@]}"
}

# ---- processes -----------------------------------------------------------------------------

alive() { # alive PID: running, not a zombie waiting for a parent that never reaps it
    [[ -n $1 ]] && kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# stop_pid PID NAME: SIGKILL (these are throwaway test servers holding nothing worth a
# graceful shutdown, which takes pebble almost two seconds), then wait up to 2 s. Only if
# the PID still runs the program we started (a recycled PID belongs to someone else).
stop_pid() {
    local pid=$1 want=$2 comm i
    alive "$pid" || return 0
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    [[ $comm == "$want"* ]] || return 0
    kill -KILL "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 40; i++)); do
        alive "$pid" || return 0
        sleep 0.05
    done
}

do_stop() { # do_stop DIR
    local d=$1 pid
    if [[ -f $d/pebble.pid ]]; then
        pid=$(cat "$d/pebble.pid")
        [[ $pid =~ ^[0-9]+$ ]] && stop_pid "$pid" pebble
        rm -f "$d/pebble.pid"
    fi
    if [[ -f $d/challtestsrv.pid ]]; then
        pid=$(cat "$d/challtestsrv.pid")
        # /proc/PID/comm is truncated to 15 characters.
        [[ $pid =~ ^[0-9]+$ ]] && stop_pid "$pid" pebble-challtes
        rm -f "$d/challtestsrv.pid"
    fi
    return 0
}

show_logs() {
    local d=$1 f
    for f in "$d/challtestsrv.log" "$d/pebble.log"; do
        [[ -f $f ]] || continue
        echo "---- $f" >&2
        tail -n 60 "$f" >&2
    done
}

write_pebble_config() { # DIR LISTEN MGMT HTTP TLS
    local d=$1 listen=$2 mgmt=$3 http=$4 tls=$5 extra="" name first=1
    if ((cfg_eab)); then
        extra+=$',\n    "externalAccountBindingRequired": true'
        extra+=$',\n    "externalAccountMACKeys": {"'"$EAB_KID"'": "'"$EAB_KEY"'"}'
    else
        extra+=$',\n    "externalAccountBindingRequired": false'
    fi
    if [[ -n $cfg_validity ]]; then
        extra+=$',\n    "certificateValidityPeriod": '"$cfg_validity"
    fi
    if [[ -n $cfg_blocklist ]]; then
        extra+=$',\n    "domainBlocklist": ['
        local IFS=,
        for name in $cfg_blocklist; do
            [[ -n $name ]] || continue
            ((first)) || extra+=", "
            extra+="\"$name\""
            first=0
        done
        extra+="]"
    fi
    cat >"$d/pebble-config.json" <<JSON
{
  "pebble": {
    "listenAddress": "127.0.0.1:$listen",
    "managementListenAddress": "127.0.0.1:$mgmt",
    "certificate": "$d/cert.pem",
    "privateKey": "$d/key.pem",
    "httpPort": $http,
    "tlsPort": $tls,
    "ocspResponderURL": ""$extra
  }
}
JSON
}

# One attempt: returns 0 when both servers answer, 1 on a failure worth retrying with other
# ports (a server exited, e.g. because a port was taken), 2 on any other failure.
start_once() {
    local d=$1 listen mgmt dns cmgmt http tls
    read -r listen mgmt dns cmgmt http tls <<<"$(pick_ports 6)"

    write_pebble_config "$d" "$listen" "$mgmt" "$http" "$tls"
    local http01="127.0.0.1:$http" tlsalpn01="127.0.0.1:$tls"
    if ((cfg_own_responders)); then
        http01=""
        tlsalpn01=""
    fi

    : >"$d/challtestsrv.log"
    : >"$d/pebble.log"
    setsid pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
        -dns01 "127.0.0.1:$dns" -management "127.0.0.1:$cmgmt" -https01 "" \
        -http01 "$http01" -tlsalpn01 "$tlsalpn01" \
        </dev/null >>"$d/challtestsrv.log" 2>&1 &
    local cpid=$!
    echo "$cpid" >"$d/challtestsrv.pid"

    local -a strict=()
    ((cfg_strict)) && strict=(-strict)
    local -a penv=(PEBBLE_VA_NOSLEEP=1 "PEBBLE_WFE_NONCEREJECT=$cfg_noncereject")
    ((cfg_alt_roots > 0)) && penv+=("PEBBLE_ALTERNATE_ROOTS=$cfg_alt_roots")
    env "${penv[@]}" setsid pebble -config "$d/pebble-config.json" \
        -dnsserver "127.0.0.1:$dns" "${strict[@]}" \
        </dev/null >>"$d/pebble.log" 2>&1 &
    local ppid=$!
    echo "$ppid" >"$d/pebble.pid"

    # Wait until pebble serves its directory over TLS verified by our CA and challtestsrv's
    # management interface answers HTTP at all (any status).
    local i code pebble_ok=0 chall_ok=0
    for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
        if ! alive "$ppid" || ! alive "$cpid"; then
            return 1
        fi
        if ((!pebble_ok)); then
            code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$d/ca.pem" \
                "https://127.0.0.1:$listen/dir" || true)
            [[ $code == 200 ]] && pebble_ok=1
        fi
        if ((!chall_ok)); then
            code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
                "http://127.0.0.1:$cmgmt/" || true)
            [[ -n $code && $code != 000 ]] && chall_ok=1
        fi
        ((pebble_ok && chall_ok)) && break
        sleep 0.2
    done
    ((pebble_ok && chall_ok)) || {
        echo "fixture.sh: servers did not answer within ${WAIT_SECONDS}s" >&2
        return 2
    }
    # A bind failure of a listener pebble opens after its directory can still kill it.
    alive "$ppid" && alive "$cpid" || return 1

    cat >"$d/env.tmp" <<ENV
PEBBLE_DIRECTORY=https://127.0.0.1:$listen/dir
PEBBLE_MGMT=https://127.0.0.1:$mgmt
PEBBLE_CA=$d/ca.pem
PEBBLE_HTTP_PORT=$http
PEBBLE_TLS_PORT=$tls
CHALLTESTSRV_MGMT=http://127.0.0.1:$cmgmt
CHALLTESTSRV_DNS=127.0.0.1:$dns
PEBBLE_PID=$ppid
CHALLTESTSRV_PID=$cpid
ENV
    mv -f "$d/env.tmp" "$d/env"
    return 0
}

do_start() { # do_start DIR CONFIG
    local d=$1 attempt rc
    load_config "$2"
    command -v certtool >/dev/null || die "certtool not found (apt-get install gnutls-bin)"
    command -v pebble >/dev/null || die "pebble not found"
    command -v pebble-challtestsrv >/dev/null || die "pebble-challtestsrv not found"
    mkdir -p "$d"
    d=$(cd "$d" && pwd)
    # A previous run that was never stopped: stop what it recorded first.
    do_stop "$d"
    rm -f "$d/env"
    gen_certs "$d"
    for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
        rc=0
        start_once "$d" || rc=$?
        if ((rc == 0)); then
            echo "fixture.sh: pebble ($2) ready in $d"
            cat "$d/env"
            return 0
        fi
        show_logs "$d"
        do_stop "$d"
        ((rc == 1)) || break
        echo "fixture.sh: attempt $attempt failed, retrying with other ports" >&2
    done
    die "could not start pebble ($2) in $d"
}

cmd=${1:-}
case "$cmd" in
start)
    (($# == 3)) || usage
    do_start "$2" "$3"
    ;;
stop)
    (($# == 2)) || usage
    [[ -d $2 ]] || exit 0
    do_stop "$(cd "$2" && pwd)"
    ;;
env)
    (($# == 2)) || usage
    [[ -f $2/env ]] || die "no environment file in $2 (not started?)"
    cat "$2/env"
    ;;
*) usage ;;
esac
