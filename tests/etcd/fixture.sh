#!/usr/bin/env bash
# fixture.sh: starts and stops a throwaway three-member etcd cluster on free loopback ports,
# for the tests of the etcd client (src/net/etcd.h).
#
#   fixture.sh start DIR   start three members (data in DIR/m1..m3), wait until every member
#                          answers a linearizable read, write DIR/env (KEY=VALUE lines)
#   fixture.sh stop DIR    stop exactly the processes recorded in DIR/m*.pid
#   fixture.sh env DIR     print DIR/env
#
# DIR/env holds ETCD_ENDPOINTS (the three plain client URLs, comma-separated), ETCD_URL_1..3,
# ETCD_TLS_URL_1..3 (each member also serves HTTPS, demanding a client certificate signed by
# the fixture's CA), ETCD_CA, ETCD_CLIENT_CERT, ETCD_CLIENT_KEY, ETCD_PID_1..3 and ETCD_DIR.
# Debian 12's etcd 3.4 has no --unsafe-no-fsync (3.5 added it).
# The members run in their own session with every descriptor redirected, so that ctest, which
# waits for the setup test's pipes to close, does not wait for them.
set -euo pipefail

readonly WAIT_SECONDS=30
readonly START_ATTEMPTS=4
readonly MEMBERS=3

die() {
    echo "fixture.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

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

# A CA, a certificate for the members (server and client use: etcd's gateway presents it to
# the member's own gRPC server) and one for the tests' client.
gen_certs() { # gen_certs DIR
    local d=$1
    cat >"$d/ca.tmpl" <<TMPL
cn = "acmed etcd test CA"
ca
cert_signing_key
expiration_days = 30
TMPL
    cat >"$d/server.tmpl" <<TMPL
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
tls_www_client
signing_key
encryption_key
expiration_days = 30
TMPL
    cat >"$d/client.tmpl" <<TMPL
cn = "acmed"
tls_www_client
signing_key
expiration_days = 30
TMPL
    {
        certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$d/ca-key.pem" &&
            certtool --generate-self-signed --load-privkey "$d/ca-key.pem" \
                --template "$d/ca.tmpl" --outfile "$d/ca.pem" &&
            for n in server client; do
                certtool --generate-privkey --key-type ecdsa --curve secp256r1 \
                    --outfile "$d/$n-key.pem" &&
                    certtool --generate-certificate --load-privkey "$d/$n-key.pem" \
                        --load-ca-certificate "$d/ca.pem" --load-ca-privkey "$d/ca-key.pem" \
                        --template "$d/$n.tmpl" --outfile "$d/$n.pem" || return 1
            done
    } >"$d/certtool.log" 2>&1 || {
        cat "$d/certtool.log" >&2
        die "certtool failed"
    }
    chmod 600 "$d"/*-key.pem
}

alive() { # alive PID: running, not a zombie
    [[ -n $1 ]] && kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# stop_pid PID: SIGKILL, then wait up to 2 s; only if the PID still runs etcd (a recycled PID
# belongs to someone else).
stop_pid() {
    local pid=$1 comm i
    alive "$pid" || return 0
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    [[ $comm == etcd ]] || return 0
    kill -KILL "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 40; i++)); do
        alive "$pid" || return 0
        sleep 0.05
    done
}

do_stop() { # do_stop DIR
    local d=$1 i pid
    for ((i = 1; i <= MEMBERS; i++)); do
        [[ -f $d/m$i.pid ]] || continue
        pid=$(cat "$d/m$i.pid")
        [[ $pid =~ ^[0-9]+$ ]] && stop_pid "$pid"
        rm -f "$d/m$i.pid"
    done
    return 0
}

show_logs() {
    local d=$1 i
    for ((i = 1; i <= MEMBERS; i++)); do
        [[ -f $d/m$i.log ]] || continue
        echo "---- $d/m$i.log" >&2
        tail -n 30 "$d/m$i.log" >&2
    done
}

# One attempt: 0 when every member answers, 1 when a member exited (e.g. a port was taken:
# retry with other ports), 2 on any other failure.
start_once() {
    local d=$1 i cluster="" code ok
    local -a ports client tls peer pids
    read -r -a ports <<<"$(pick_ports $((3 * MEMBERS)))"
    for ((i = 1; i <= MEMBERS; i++)); do
        client[i]="http://127.0.0.1:${ports[3 * i - 3]}"
        peer[i]="http://127.0.0.1:${ports[3 * i - 2]}"
        tls[i]="https://127.0.0.1:${ports[3 * i - 1]}"
        cluster+="${cluster:+,}m$i=${peer[i]}"
    done
    for ((i = 1; i <= MEMBERS; i++)); do
        rm -rf "$d/m$i"
        : >"$d/m$i.log"
        # Short heartbeats and elections: a killed leader is replaced within a second.
        setsid etcd --name "m$i" --data-dir "$d/m$i" \
            --listen-client-urls "${client[i]},${tls[i]}" \
            --advertise-client-urls "${client[i]},${tls[i]}" \
            --cert-file "$d/server.pem" --key-file "$d/server-key.pem" \
            --trusted-ca-file "$d/ca.pem" --client-cert-auth \
            --listen-peer-urls "${peer[i]}" --initial-advertise-peer-urls "${peer[i]}" \
            --initial-cluster "$cluster" --initial-cluster-state new \
            --initial-cluster-token "acmed-test-$$" \
            --heartbeat-interval 50 --election-timeout 500 --snapshot-count 10000 \
            --logger zap --log-level warn \
            </dev/null >>"$d/m$i.log" 2>&1 &
        pids[i]=$!
        echo "${pids[i]}" >"$d/m$i.pid"
    done
    for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
        ok=0
        for ((m = 1; m <= MEMBERS; m++)); do
            alive "${pids[m]}" || return 1
            # A linearizable range answers only once the cluster has a leader and quorum.
            code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST \
                -d '{"key":"AA=="}' "${client[m]}/v3/kv/range" || true)
            [[ $code == 200 ]] && ok=$((ok + 1))
        done
        ((ok == MEMBERS)) && break
        sleep 0.2
    done
    ((ok == MEMBERS)) || {
        echo "fixture.sh: the cluster did not answer within ${WAIT_SECONDS}s" >&2
        return 2
    }
    {
        echo "ETCD_ENDPOINTS=${client[1]},${client[2]},${client[3]}"
        for ((i = 1; i <= MEMBERS; i++)); do
            echo "ETCD_URL_$i=${client[i]}"
            echo "ETCD_TLS_URL_$i=${tls[i]}"
            echo "ETCD_PID_$i=${pids[i]}"
        done
        echo "ETCD_CA=$d/ca.pem"
        echo "ETCD_CLIENT_CERT=$d/client.pem"
        echo "ETCD_CLIENT_KEY=$d/client-key.pem"
        echo "ETCD_DIR=$d"
    } >"$d/env.tmp"
    mv -f "$d/env.tmp" "$d/env"
    return 0
}

do_start() { # do_start DIR
    local d=$1 attempt rc
    command -v etcd >/dev/null || die "etcd not found (apt-get install etcd-server)"
    command -v certtool >/dev/null || die "certtool not found (apt-get install gnutls-bin)"
    mkdir -p "$d"
    d=$(cd "$d" && pwd)
    do_stop "$d"
    rm -f "$d/env"
    gen_certs "$d"
    for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
        rc=0
        start_once "$d" || rc=$?
        if ((rc == 0)); then
            echo "fixture.sh: etcd cluster ready in $d"
            cat "$d/env"
            return 0
        fi
        show_logs "$d"
        do_stop "$d"
        ((rc == 1)) || break
        echo "fixture.sh: attempt $attempt failed, retrying with other ports" >&2
    done
    die "could not start the etcd cluster in $d"
}

cmd=${1:-}
case "$cmd" in
start)
    (($# == 2)) || usage
    do_start "$2"
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
