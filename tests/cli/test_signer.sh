#!/usr/bin/env bash
# `acmed signer`: the server side of the signer protocol (DESIGN.md §10), driven by acmed's own
# signer client (tests/tools/signer_sign, $SIGNER_SIGN) over the socket and over --stdio, and by
# a raw python3 client for what the client never sends (malformed, oversized, bare-LF lines).
# Usage: test_signer.sh PATH-TO-ACMED
. "$(dirname "$0")/lib.sh"
tl_init "${1:?usage: test_signer.sh ACMED}"
SIGN=${SIGNER_SIGN:?SIGNER_SIGN must name tests/tools/signer_sign}

CA=https://ca.test/acme
order() { # order NAME...: a newOrder payload
    local ids="" n
    for n in "$@"; do ids+="${ids:+,}{\"type\":\"dns\",\"value\":\"$n\"}"; done
    printf '{"identifiers":[%s]}' "$ids"
}
KEYCHANGE='{"protected":"e30","payload":"e30","signature":"AAAA"}'

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null ||
    fail "openssl cannot make a P-256 key"
mkdir -m 0700 "$T/run"
SOCK=$T/run/S.signer

# ---- the socket: mode 0600, allowed name signed, other name and keyChange refused ----
"$ACMED" signer --key "$T/ec.pem" --socket "$SOCK" --allow-name '*.example.test' \
    --allow-url "$CA/" 2>"$T/sock.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
check "socket created" test -S "$SOCK"
mode=$(stat -c %a "$SOCK")
[ "$mode" = 600 ] || fail "socket mode is $mode, not 600"

out=$("$SIGN" "$CA/new-order" "$(order a.example.test)" "unix:$SOCK")
[ "$out" = signed ] || fail "a.example.test not signed: $out"
out=$("$SIGN" "$CA/new-order" "$(order a.example.test b.example.org)" "unix:$SOCK") &&
    fail "b.example.org signed"
[[ $out == *refused* ]] || fail "b.example.org: no refusal in '$out'"
out=$("$SIGN" "$CA/key-change" "$KEYCHANGE" "unix:$SOCK") && fail "keyChange signed"
[[ $out == *refused* ]] || fail "keyChange: no refusal in '$out'"
out=$("$SIGN" "https://evil.test/acme/new-order" "$(order a.example.test)" "unix:$SOCK") &&
    fail "a URL outside --allow-url signed"
# after refusals the signer still serves
out=$("$SIGN" "$CA/order/1" "" "unix:$SOCK")
[ "$out" = signed ] || fail "POST-as-GET after refusals not signed: $out"

# ---- raw clients: the greeting's shape, and bad input closes with one log line ----
python3 - "$SOCK" >"$T/raw.out" 2>&1 <<'PY' || fail "raw client: $(cat "$T/raw.out")"
import base64, json, socket, sys

def b64(s):
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")

def connect():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
    f = s.makefile("rb")
    greeting, jwk = f.readline(), f.readline()
    assert greeting.startswith(b"1 OK {") and greeting.endswith(b"}\r\n"), greeting
    g = json.loads(greeting[5:])
    assert g["alg"] == "ES256" and g["jwk-thumbprint"] and "kid" not in g, g
    assert jwk.endswith(b"}\r\n") and json.loads(jwk)["kty"] == "EC", jwk
    return s, f

def closed_after(data):
    s, f = connect()
    s.sendall(data)
    rest = f.read()  # EOF: the signer closed the connection
    s.close()
    return rest

hdr = {"alg": "ES256", "url": "https://ca.test/acme/x", "kid": "k"}
cases = {
    "malformed": b"not a jws line\r\n",
    "bare LF": (b64(json.dumps(dict(hdr, nonce="n"))) + "." + b64("{}") + "\n").encode(),
    "oversized": b"A" * 70000,
    "no nonce": (b64(json.dumps(hdr)) + "." + b64("{}") + "\r\n").encode(),
}
for what, data in cases.items():
    rest = closed_after(data)
    assert rest == b"", (what, rest)

# a good line on a raw connection is answered by one base64url line
s, f = connect()
s.sendall((b64(json.dumps(dict(hdr, nonce="n"))) + "." + b64("{}") + "\r\n").encode())
ans = f.readline()
assert ans.endswith(b"\r\n") and len(base64.urlsafe_b64decode(ans[:-2] + b"==")) == 64, ans
s.close()
print("raw: ok")
PY
sleep 0.2
n=$(grep -c 'bad input' "$T/sock.log")
[ "$n" = 4 ] || fail "$n 'bad input' log lines for 4 bad connections"
grep -q 'signed url=https://ca.test/acme/new-order identifiers=a.example.test$' "$T/sock.log" ||
    fail "no log line for the signature"
grep -q 'refused url=https://ca.test/acme/new-order identifiers=a.example.test,b.example.org: b.example.org' \
    "$T/sock.log" || fail "no log line for the refusal of b.example.org"
grep -q 'refused url=https://ca.test/acme/key-change.*allow-account-change' "$T/sock.log" ||
    fail "no log line for the keyChange refusal"
kill -TERM "${PIDS[0]}"
wait "${PIDS[0]}"
[ -e "$SOCK" ] && fail "socket left behind after SIGTERM"

# ---- --allow-account-change lets the keyChange through ----
"$ACMED" signer --key "$T/ec.pem" --socket "$SOCK" --allow-account-change 2>"$T/change.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
out=$("$SIGN" "$CA/key-change" "$KEYCHANGE" "unix:$SOCK")
[ "$out" = signed ] || fail "keyChange with --allow-account-change not signed: $out"
kill -TERM "${PIDS[1]}"
wait "${PIDS[1]}"

# ---- a parent directory writable by group or others is refused ----
mkdir -m 0770 "$T/gw"
chmod 0770 "$T/gw"
"$ACMED" signer --key "$T/ec.pem" --socket "$T/gw/S" 2>"$T/gw.log"
rc=$?
[ "$rc" = 2 ] || fail "signer in a group-writable directory: exit $rc, not 2"
grep -q 'insecure permissions' "$T/gw.log" || fail "no reason given: $(cat "$T/gw.log")"
[ -e "$T/gw/S" ] && fail "socket created in a group-writable directory"

# ---- --stdio through exec, with a kid ----
out=$("$SIGN" "$CA/new-order" "$(order w.example.test)" -- \
    "$ACMED" signer --key "$T/ec.pem" --stdio --allow-name '*.example.test' 2>"$T/stdio.err")
[ "$out" = signed ] || fail "--stdio: not signed: $out"
out=$("$SIGN" "$CA/new-order" "$(order b.example.org)" -- \
    "$ACMED" signer --key "$T/ec.pem" --stdio --allow-name '*.example.test') &&
    fail "--stdio: b.example.org signed"
[[ $out == *refused* ]] || fail "--stdio: no refusal in '$out'"
greet=$(printf '' | "$ACMED" signer --key "$T/ec.pem" --stdio --kid "$CA/acct/9" 2>/dev/null | od -c)
[[ $greet == *'"   k   i   d   "   :   "   h   t   t   p   s'* ]] || fail "--kid: no kid in the greeting"
[[ $greet == *'{   }  \r  \n'* ]] || fail "--kid: the JWK line is not {}"

# ---- the real lacme client's greeting parser (/usr/libexec/lacme/client 0.8.2) accepts ours ----
for kid in "" "--kid=$CA/acct/9"; do
    # shellcheck disable=SC2086
    printf '' | "$ACMED" signer --key "$T/ec.pem" --stdio $kid 2>/dev/null | perl -MJSON -e '
        my $greeting = <STDIN>;
        $greeting =~ /\A(\d+) OK(?: (.*))?\r\n\z/ and $1 == 1 or die "greeting: $greeting";
        my $h = JSON::->new->decode($2);
        defined $h->{"jwk-thumbprint"} and $h->{alg} eq "ES256" or die "members: $2";
        my $jwk = JSON::->new->decode(scalar <STDIN>);
        ($h->{kid} // "") eq ($ARGV[0] =~ s/^--kid=//r) or die "kid: $2";
        $h->{kid} ? !%$jwk : $jwk->{kty} eq "EC" or die "jwk";' -- "$kid" ||
        fail "lacme's greeting parser rejects ours (${kid:-no kid})"
done

# ---- usage ----
"$ACMED" signer --key "$T/ec.pem" 2>/dev/null
[ $? = 2 ] || fail "no --socket/--stdio is not a usage error"
"$ACMED" signer --help | grep -q -- '--allow-account-change' || fail "signer --help"
"$ACMED" --help | grep -q 'signer --key' || fail "acmed --help does not list signer"

[ "$FAILED" = 0 ] && echo "signer: ok"
exit "$FAILED"
