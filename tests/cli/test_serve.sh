#!/usr/bin/env bash
# acmed serve (issue 15 items 2-4): the seed's client commands, exactly (openssl req with a SAN
# config, then curl posting the file, with and without the HMAC header openssl dgst and sed
# make), get a chain that verifies and matches their key; a wrong HMAC, a peer outside the
# ranges, a name outside the globs, an oversized body, a body without Content-Length and a
# garbage body each get their code and start no order; the same CSR twice gives the same chain
# from one order, and so do two identical CSRs at once; a failed validation is 421, a client
# over its rate 429 with Retry-After; two web servers proxying /.well-known/acme-challenge/ to
# one serve (on 127.0.0.1 and 127.0.0.2) both get certificates; unknown tokens are 404 on the
# held http-01 listener, whatever the Host; SIGTERM stops it.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_proxy
mkdir -p "$STATE/conf" "$T/web"
cat >"$STATE/conf/target" <<'YAML'
request:
  challenge:
    type: [http-01]
  account:
    agree-tos: true
YAML
read -r SP HP HP6 <<<"$(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)] + [socket.socket(socket.AF_INET6)]
ss[0].bind(("127.0.0.1", 0)); ss[1].bind(("127.0.0.1", 0)); ss[2].bind(("::1", 0))
print(*[s.getsockname()[1] for s in ss])')"
KEY='s3cret key'
printf '%s\n' "$KEY" >"$T/hmac.key"
chmod 600 "$T/hmac.key"
cat >"$STATE/conf/serve.yaml" <<YAML
listen: ["127.0.0.1:$SP"]
http-01-listen: ["127.0.0.1:$HP", "[::1%lo]:$HP6"]
max-size: 4096
request-timeout: 60
clients:
  web:    {ip: [127.0.0.1/32], domains: [example.org, www.example.org, "*.plain.test"]}
  secure: {ip: [127.0.0.2], hmac-key-file: $T/hmac.key, domains: ["*.hmac.test"]}
  rated:  {ip: [127.0.0.4], domains: ["*.rated.test"], rate: 1/h}
  dnsc:   {ip: ["::ffff:127.0.0.5/128", 127.0.0.5], domains: ["*.dns.test"],
           challenge: {type: [dns-01]}}
YAML
# dns-01 through the usual hooks, which learn the client's name.
cp "$TL_SRC/examples/hooks/dns-challtestsrv" "$HOOKS/dns"
cat >"$HOOKS/record" <<HOOK
#!/bin/sh
case "\$1" in challenge-dns-start) echo "\$1 \$2 client=\$ACMED_SERVE_CLIENT" >>"$T/dns-events" ;; *) exit 42 ;; esac
HOOK
chmod 755 "$HOOKS/dns" "$HOOKS/record"
# The fleet's two web servers, each proxying the challenge path to serve's http-01 listener.
python3 "$TL_SRC/tests/cli/fleet_web.py" 127.0.0.1 "$PEBBLE_HTTP_PORT" "127.0.0.1:$HP" \
    >"$T/webA.log" 2>&1 &
PIDS+=($!)
python3 "$TL_SRC/tests/cli/fleet_web.py" 127.0.0.2 "$PEBBLE_HTTP_PORT" "127.0.0.1:$HP" \
    >"$T/webB.log" 2>&1 &
PIDS+=($!)
for a in 127.0.0.1 127.0.0.2; do
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/$a/$PEBBLE_HTTP_PORT") 2>/dev/null && break
        sleep 0.05
    done
    (exec 3<>"/dev/tcp/$a/$PEBBLE_HTTP_PORT") 2>/dev/null || fail "web server $a did not start"
done
# Web server B's names resolve to it; a name nobody answers for, to a third address.
for h in b.hmac.test b2.hmac.test; do
    curl -s --max-time 5 -d "{\"host\":\"$h.\",\"addresses\":[\"127.0.0.2\"]}" \
        "$CHALLTESTSRV_MGMT/add-a" >/dev/null || fail "challtestsrv add-a $h"
done
curl -s --max-time 5 -d '{"host":"fail.plain.test.","addresses":["127.0.0.3"]}' \
    "$CHALLTESTSRV_MGMT/add-a" >/dev/null || fail "challtestsrv add-a"

CHALLTESTSRV_MGMT=$CHALLTESTSRV_MGMT "$ACMED" --state "$STATE" --hooks "$HOOKS" \
    --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" serve >"$T/serve.log" 2>&1 &
spid=$!
PIDS+=("$spid")
tl_wait_port "$SP" || { cat "$T/serve.log" >&2; fail "serve is not listening"; exit 1; }
curl -s --max-time 5 "$PEBBLE_MGMT/roots/0" --cacert "$PEBBLE_CA" >"$T/root.pem"
URL=http://127.0.0.1:$SP/sign

# verify_chain PEM KEY: a chain that verifies against Pebble's root, for KEY.
verify_chain() {
    openssl verify -CAfile "$T/root.pem" -untrusted "$1" "$1" >/dev/null 2>&1 &&
        [[ $(openssl x509 -in "$1" -noout -pubkey | openssl sha256) == \
            $(openssl pkey -in "$2" -pubout | openssl sha256) ]]
}
# post FILE OUT [curl args...]: POSTs FILE to /sign, prints the status code.
post() {
    local f=$1 out=$2
    shift 2
    curl -s --max-time 60 -o "$out" -w '%{http_code}' --data-binary "@$f" "$@" "$URL"
}
orders() { tl_proxy_count 'path=new-order|order-plz'; }

cd "$T/web" || exit 1
# ---- first, on a fresh state directory, a burst: four distinct CSRs at once share one pass
# (one account registered, not one per request) ----
openssl ecparam -name prime256v1 -genkey -noout -out burst.key
for i in 1 2 3 4; do
    openssl req -new -sha256 -key burst.key -subj "/CN=burst$i.plain.test" \
        -addext "subjectAltName=DNS:burst$i.plain.test" >burst$i.csr
done
bp=()
for i in 1 2 3 4; do
    post burst$i.csr burst$i.pem >burst$i.code &
    bp+=($!)
done
wait "${bp[@]}"
for i in 1 2 3 4; do
    [[ $(cat burst$i.code) == 200 ]] || fail "burst $i: HTTP $(cat burst$i.code): $(cat burst$i.pem)"
done
[[ $(tl_proxy_count 'path=sign-me-up') == 1 ]] ||
    fail "a burst on a fresh state directory registered $(tl_proxy_count 'path=sign-me-up') accounts"
# ---- the seed's client, exactly: key once, CSR with a SAN config, curl without HMAC ----
openssl genrsa 4096 >domain.key 2>/dev/null
openssl req -new -sha256 -key domain.key -subj "/CN=example.org" -reqexts SAN -config \
    <(cat /etc/ssl/openssl.cnf <(printf "[SAN]\nsubjectAltName=DNS:example.org,DNS:www.example.org")) \
    >domain-201512.csr || fail "openssl req"
o0=$(orders)
code=$(curl -s --max-time 60 -o domain-201512.pem -w '%{http_code}' --data-binary @domain-201512.csr "$URL")
[[ $code == 200 ]] || fail "plain client: HTTP $code: $(cat domain-201512.pem)"
verify_chain domain-201512.pem domain.key || fail "plain client: the chain does not verify or is not for domain.key"
openssl x509 -in domain-201512.pem -noout -ext subjectAltName | grep -q www.example.org ||
    fail "plain client: www.example.org missing"
[[ $(orders) == $((o0 + 1)) ]] || fail "plain client: $(($(orders) - o0)) orders, expected 1"

# ---- the same CSR again: the same chain, no order ----
o1=$(orders)
code=$(post domain-201512.csr again.pem)
[[ $code == 200 ]] || fail "the same CSR again: HTTP $code"
cmp -s domain-201512.pem again.pem || fail "the same CSR got another chain"
[[ $(orders) == "$o1" ]] || fail "the same CSR made a new order"
[[ -L $STATE/served/$(openssl req -in domain-201512.csr -outform DER | sha256sum | cut -d' ' -f1) ]] ||
    fail "served/<sha256 of the CSR> is missing"

# ---- web server B, with the HMAC header as the seed makes it (openssl dgst | sed) ----
openssl genrsa 2048 >b.key 2>/dev/null
openssl req -new -sha256 -key b.key -subj "/CN=b.hmac.test" -addext "subjectAltName=DNS:b.hmac.test" >b.csr
code=$(curl -s --max-time 60 -o b.pem -w '%{http_code}' --interface 127.0.0.2 --data-binary @b.csr \
    --header "$(openssl dgst -sha256 -hmac "$KEY" b.csr | sed -e 's/(.*)=/:/')" "$URL")
[[ $code == 200 ]] || fail "HMAC client (seed header): HTTP $code: $(cat b.pem)"
verify_chain b.pem b.key || fail "HMAC client: the chain does not verify"
grep -q 'GET /.well-known/acme-challenge/' "$T/webB.log" || fail "web server B proxied no challenge"
grep -q 'GET /.well-known/acme-challenge/' "$T/webA.log" || fail "web server A proxied no challenge"
# acme-mgmtserver's later header form.
openssl req -new -sha256 -key b.key -subj "/CN=b2.hmac.test" -addext "subjectAltName=DNS:b2.hmac.test" >b2.csr
mac=$(openssl dgst -sha256 -hmac "$KEY" -r b2.csr | cut -d' ' -f1)
code=$(post b2.csr b2.pem --interface 127.0.0.2 -H "Authentication: hmac name=SHA2-256, hash=$mac")
[[ $code == 200 ]] || fail "HMAC client (Authentication header): HTTP $code: $(cat b2.pem)"

# ---- refusals: each its code, none an order ----
o2=$(orders)
openssl req -new -sha256 -key b.key -subj "/CN=c.hmac.test" -addext "subjectAltName=DNS:c.hmac.test" >c.csr
code=$(post c.csr r1 --interface 127.0.0.2 -H "HMAC-SHA256: $(printf %064d 0)")
[[ $code == 403 ]] || fail "wrong HMAC: HTTP $code"
code=$(post c.csr r2 --interface 127.0.0.2)
[[ $code == 403 ]] || fail "no HMAC where one is required: HTTP $code"
code=$(post c.csr r3 --interface 127.0.0.3)
[[ $code == 403 ]] || fail "peer outside every range: HTTP $code"
printf 'this is not a CSR\n' >garbage.csr
code=$(post garbage.csr r3b --interface 127.0.0.3)
[[ $code == 403 ]] || fail "a stranger's garbage: HTTP $code (the peer is decided on first)"
openssl req -new -sha256 -key b.key -subj "/CN=www.other.test" -addext "subjectAltName=DNS:www.other.test" >out.csr
code=$(post out.csr r4)
[[ $code == 403 ]] || fail "name outside the globs: HTTP $code: $(cat r4)"
openssl req -new -sha256 -key b.key -subj "/CN=a.b.plain.test" -addext "subjectAltName=DNS:a.b.plain.test" >deep.csr
code=$(post deep.csr r5)
[[ $code == 403 ]] || fail "'*' matched across a dot: HTTP $code"
head -c 5000 /dev/urandom | base64 >big.csr
code=$(post big.csr r6)
[[ $code == 413 ]] || fail "oversized body: HTTP $code"
code=$(post domain-201512.csr r7 -H 'Transfer-Encoding: chunked')
[[ $code == 413 ]] || fail "no Content-Length: HTTP $code"
printf 'this is not a CSR\n' >garbage.csr
code=$(post garbage.csr r8)
[[ $code == 415 ]] || fail "garbage body: HTTP $code"
for r in r1 r2 r3 r4 r6 r8; do
    [[ $(wc -l <$r) == 1 && -s $r ]] || fail "the $r answer is not one line: $(cat $r)"
done
[[ $(orders) == "$o2" ]] || fail "a refused request started an order"

# ---- two identical CSRs at once: one order, one chain ----
openssl req -new -sha256 -key b.key -subj "/CN=twin.plain.test" -addext "subjectAltName=DNS:twin.plain.test" >twin.csr
o3=$(orders)
post twin.csr t1 >t1.code &
p1=$!
post twin.csr t2 >t2.code &
p2=$!
wait $p1 $p2
[[ $(cat t1.code) == 200 && $(cat t2.code) == 200 ]] || fail "twins: HTTP $(cat t1.code) $(cat t2.code)"
cmp -s t1 t2 || fail "twins got different chains"
[[ $(orders) == $((o3 + 1)) ]] || fail "twins made $(($(orders) - o3)) orders"

# ---- the CA cannot validate: 421 ----
openssl req -new -sha256 -key b.key -subj "/CN=fail.plain.test" -addext "subjectAltName=DNS:fail.plain.test" >fail.csr
code=$(post fail.csr f1)
[[ $code == 421 ]] || fail "failed validation: HTTP $code: $(cat f1)"

# ---- rate: 1/h ----
openssl req -new -sha256 -key b.key -subj "/CN=x.rated.test" -addext "subjectAltName=DNS:x.rated.test" >rated.csr
code=$(post rated.csr q1 --interface 127.0.0.4)
[[ $code == 200 ]] || fail "rated client, first: HTTP $code: $(cat q1)"
hdr=$(curl -s --max-time 10 -D - -o q2 --interface 127.0.0.4 --data-binary @rated.csr "$URL")
grep -q '^HTTP/1.1 429' <<<"$hdr" || fail "rated client, second: $(head -1 <<<"$hdr")"
grep -qi '^Retry-After: [1-9]' <<<"$hdr" || fail "429 without Retry-After"

# ---- dns-01 for a client whose rule says so (a wildcard), through the hooks ----
openssl req -new -sha256 -key b.key -subj "/CN=*.dns.test" -addext "subjectAltName=DNS:*.dns.test" >dns.csr
code=$(post dns.csr d1 --interface 127.0.0.5)
[[ $code == 200 ]] || fail "dns-01 client: HTTP $code: $(cat d1)"
grep -q 'challenge-dns-start dns.test client=dnsc' "$T/dns-events" 2>/dev/null ||
    fail "the dns hook did not run for client dnsc: $(cat "$T/dns-events" 2>/dev/null)"

# ---- the held listener: unknown tokens 404 whatever the Host; GET only there ----
grep -q 'answering http-01 on \[::1%lo\]:' "$T/serve.log" || fail "no http-01 listener on [::1%lo]"
code=$(curl -s -g --max-time 5 -o /dev/null -w '%{http_code}' \
    "http://[::1]:$HP6/.well-known/acme-challenge/unknownToken123")
[[ $code == 404 ]] || fail "unknown token on [::1%lo]: HTTP $code"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H 'Host: anything.example' \
    "http://127.0.0.1:$HP/.well-known/acme-challenge/unknownToken123")
[[ $code == 404 ]] || fail "unknown token: HTTP $code"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SP/other" -d x)
[[ $code == 404 ]] || fail "POST elsewhere than /sign: HTTP $code"

# ---- privilege separation: the worker serves the endpoint and never holds the HMAC key ----
if [[ ${ACMED_TEST_ONE_PROCESS:-0} != 1 && $(id -u) == 0 ]]; then
    grep -q 'listening on 127.0.0.1:[0-9]* (served by the worker)' "$T/serve.log" ||
        fail "the endpoint is not served by the worker"
    wpid=$(pgrep -P "$spid" | head -1)
    [[ -n $wpid ]] || fail "no worker process"
    # mem_has PID STRING: the process's writable memory holds STRING.
    mem_has() {
        python3 - "$1" "$2" <<'PY'
import re, sys
pid, needle = sys.argv[1], sys.argv[2].encode()
found = False
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
        if not m or "r" not in m.group(3):
            continue
        start, end = int(m.group(1), 16), int(m.group(2), 16)
        # Sanitizers' shadow memory is terabytes of reserved pages: not where a heap is.
        if end - start > (1 << 30):
            continue
        pos, tail = start, b""
        while pos < end and not found:
            try:
                mem.seek(pos)
                chunk = mem.read(min(1 << 24, end - pos))
            except (OSError, ValueError, OverflowError):
                break
            found = needle in tail + chunk
            tail = chunk[-len(needle):]
            pos += 1 << 24
        if found:
            break
sys.exit(0 if found else 1)
PY
    }
    mem_has "$spid" "$KEY" || fail "the scan does not find the key in the keeper (the check is broken)"
    [[ -n $wpid ]] && mem_has "$wpid" "$KEY" && fail "the HMAC key is in the worker's memory"
    # A worker that dies: the next one serves the same endpoint.
    kill -KILL "$wpid"
    for _ in $(seq 100); do
        nw=$(pgrep -P "$spid" | head -1)
        [[ -n $nw && $nw != "$wpid" ]] && break
        sleep 0.1
    done
    [[ -n $nw && $nw != "$wpid" ]] || fail "no new worker after the first was killed"
    openssl req -new -sha256 -key b.key -subj "/CN=after.plain.test" \
        -addext "subjectAltName=DNS:after.plain.test" >after.csr
    code=""
    for _ in $(seq 50); do
        code=$(post after.csr a1)
        [[ $code == 000 ]] || break
        sleep 0.1
    done
    [[ $code == 200 ]] || fail "after the worker was replaced: HTTP $code: $(cat a1)"
fi

# ---- a clean stop ----
kill -TERM "$spid"
for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$spid" 2>/dev/null && fail "serve did not stop on SIGTERM"
wait "$spid"
rc=$?
[[ $rc == 0 ]] || fail "serve exited $rc after SIGTERM"
grep -q "$KEY" "$T/serve.log" && fail "the HMAC key reached the log"

# ---- over HTTPS (the endpoint's own certificate), and request-timeout: a validation that
# hangs (a web server that never answers) ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=serve \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null ||
    fail "openssl req -x509"
chmod 600 "$T/tls.key"
sed -i 's/^request-timeout: .*/request-timeout: 1/' "$STATE/conf/serve.yaml"
printf 'tls: {cert: %s, key: %s}\n' "$T/tls.crt" "$T/tls.key" >>"$STATE/conf/serve.yaml"
curl -s --max-time 5 -d '{"host":"slow.plain.test.","addresses":["127.0.0.6"]}' \
    "$CHALLTESTSRV_MGMT/add-a" >/dev/null || fail "challtestsrv add-a"
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.6", int(sys.argv[1]))); s.listen(16)
held = []
end = time.time() + 60
while time.time() < end:
    s.settimeout(1)
    try: held.append(s.accept()[0])
    except OSError: pass
'  "$PEBBLE_HTTP_PORT" &
PIDS+=($!)
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.6/$PEBBLE_HTTP_PORT") 2>/dev/null && break
    sleep 0.05
done
CHALLTESTSRV_MGMT=$CHALLTESTSRV_MGMT "$ACMED" --state "$STATE" --hooks "$HOOKS" \
    --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" serve >"$T/serve2.log" 2>&1 &
spid=$!
PIDS+=("$spid")
tl_wait_port "$SP" || fail "serve did not start again"
URL=https://127.0.0.1:$SP/sign
code=$(post garbage.csr g1 --cacert "$T/tls.crt")
[[ $code == 415 ]] || fail "over https: HTTP $code: $(cat g1 2>/dev/null) $(tail -3 "$T/serve2.log")"
openssl req -new -sha256 -key b.key -subj "/CN=slow.plain.test" \
    -addext "subjectAltName=DNS:slow.plain.test" >slow.csr
start=$(date +%s%N)
code=$(post slow.csr s1 --cacert "$T/tls.crt")
ms=$((($(date +%s%N) - start) / 1000000))
[[ $code == 500 ]] || fail "a hanging order: HTTP $code: $(cat s1)"
grep -q 'request-timeout' s1 || fail "the 500 does not say request-timeout: $(cat s1)"
((ms < 20000)) || fail "request-timeout 1 s answered after $ms ms"
kill -TERM "$spid"
wait "$spid"
rc=$?
[[ $rc == 0 ]] || fail "serve exited $rc after SIGTERM during an order"

# ---- cull: a served/ link whose certificate is gone goes too ----
sha=$(openssl req -in domain-201512.csr -outform DER | sha256sum | cut -d' ' -f1)
gone=$(basename "$(readlink "$STATE/served/$sha")")
rm -rf "${STATE:?}/certs/$gone"
tl_acmed cull >"$T/cull.log" 2>&1 || fail "cull exited $?: $(cat "$T/cull.log")"
[[ -L $STATE/served/$sha ]] && fail "cull left served/$sha pointing at a removed certificate"
[[ -n $(ls "$STATE/served") ]] || fail "cull removed served/ links to certificates still there"
[[ $FAILED == 0 ]] || tail -40 "$T/serve.log" >&2
tl_done
