#!/usr/bin/env bash
# Regenerates the CSR fixtures of tests/unit/test_csr_read.c with openssl (3.x). Run by hand
# from this directory; the outputs are committed, the private keys are not (they live in a
# temporary directory and die with it), so every run makes new files with new keys.
#   cn-only.pem     EC P-256, subject CN=cn-only.example, no subjectAltName
#   sans.pem        EC P-384, CN=www.example.org, SANs in this order: DNS:www.example.org,
#                   DNS:Example.ORG, IP:192.0.2.7, IP:2001:db8::7, DNS:WWW.EXAMPLE.ORG,
#                   IP:192.0.2.7 (the CN and two SANs repeat names: csr_names de-duplicates)
#   sans.der        sans.pem in DER; sans.der.sha256 its SHA-256 in hex (openssl dgst)
#   sans-new.pem    sans.pem under the old "NEW CERTIFICATE REQUEST" label, with CRLF lines
#                   and blank lines around the block
#   no-cn.pem       RSA 3072, subject O=No CN Inc, SANs DNS:a.example, IP:::1
#   rsa2048.pem     RSA 2048, CN=rsa.example, SAN DNS:rsa.example
#   rsa1024.pem     RSA 1024, CN=weak.example (refused: too small)
#   p521.pem        EC P-521, CN=p521.example (refused: ACME CAs do not take P-521)
#   ed25519.pem     Ed25519, CN=ed.example (refused: no publicly trusted CA issues for it)
#   email-san.pem   EC P-256, CN=mail.example, SANs DNS:mail.example, email:admin@example.org
#   uri-san.pem     EC P-256, CN=uri.example, SANs DNS:uri.example, URI:https://uri.example/x
#   two-cn.pem      EC P-256, subject CN=a.example + CN=b.example (refused: which one?)
#   no-names.pem    EC P-256, subject O=Nameless only, no subjectAltName (refused: no name)
#   ctl-cn.pem      EC P-256, CN "ctl\x01.example" (a control character: refused)
#   ctl-san.pem     EC P-256, CN=x.example, SAN DNS:"ctl\x01.example" (refused)
#   long-san.pem    EC P-256, CN=x.example, SAN DNS of 263 characters (refused: over 255)
#   tampered.der    sans.der with the last byte (inside the signature) flipped
#   two-blocks.pem  cn-only.pem followed by rsa2048.pem
#   sans-cert.der   a self-signed certificate made with sans.pem's key (openssl x509 -req
#                   -signkey): csr_matches_cert says yes for sans.pem
#   other-cert.der  the same made with another P-384 key: csr_matches_cert says no
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() { # key FILE ALGORITHM-OPTIONS...
    local out=$1
    shift
    openssl genpkey "$@" -out "$tmp/$out" 2>/dev/null
}
csr() { # csr OUT KEY SUBJECT [SAN]
    local out=$1 k=$2 subj=$3 san=${4:-}
    if [ -n "$san" ]; then
        openssl req -new -key "$tmp/$k" -subj "$subj" -addext "subjectAltName=$san" -out "$out"
    else
        openssl req -new -key "$tmp/$k" -subj "$subj" -out "$out"
    fi
}

key p256.key -algorithm EC -pkeyopt ec_paramgen_curve:P-256
key p384.key -algorithm EC -pkeyopt ec_paramgen_curve:P-384
key other.key -algorithm EC -pkeyopt ec_paramgen_curve:P-384
key p521.key -algorithm EC -pkeyopt ec_paramgen_curve:P-521
key rsa1024.key -algorithm RSA -pkeyopt rsa_keygen_bits:1024
key rsa2048.key -algorithm RSA -pkeyopt rsa_keygen_bits:2048
key rsa3072.key -algorithm RSA -pkeyopt rsa_keygen_bits:3072
key ed25519.key -algorithm ED25519

csr cn-only.pem p256.key "/CN=cn-only.example"
csr sans.pem p384.key "/CN=www.example.org" \
    "DNS:www.example.org,DNS:Example.ORG,IP:192.0.2.7,IP:2001:db8::7,DNS:WWW.EXAMPLE.ORG,IP:192.0.2.7"
openssl req -in sans.pem -outform DER -out sans.der
{
    printf '\r\n\n'
    sed -e 's/CERTIFICATE REQUEST/NEW CERTIFICATE REQUEST/' -e 's/$/\r/' sans.pem
    printf '\n  \n'
} >sans-new.pem
csr no-cn.pem rsa3072.key "/O=No CN Inc" "DNS:a.example,IP:::1"
csr rsa2048.pem rsa2048.key "/CN=rsa.example" "DNS:rsa.example"
csr rsa1024.pem rsa1024.key "/CN=weak.example"
csr p521.pem p521.key "/CN=p521.example"
csr ed25519.pem ed25519.key "/CN=ed.example"
csr email-san.pem p256.key "/CN=mail.example" "DNS:mail.example,email:admin@example.org"
csr uri-san.pem p256.key "/CN=uri.example" "DNS:uri.example,URI:https://uri.example/x"
csr no-names.pem p256.key "/O=Nameless"
csr two-cn.pem p256.key "/CN=a.example/CN=b.example"
csr ctl-cn.pem p256.key $'/CN=ctl\x01.example'
csr ctl-san.pem p256.key "/CN=x.example" $'DNS:ctl\x01.example'
long=$(printf 'a%.0s' {1..63}).$(printf 'b%.0s' {1..63}).$(printf 'c%.0s' {1..63})
csr long-san.pem p256.key "/CN=x.example" "DNS:$long.$(printf 'd%.0s' {1..63}).example"

# Flip the last byte of the DER: it is the last byte of the signature's s integer.
python3 - <<'PY'
d = bytearray(open("sans.der", "rb").read())
d[-1] ^= 0x01
open("tampered.der", "wb").write(bytes(d))
PY
cat cn-only.pem rsa2048.pem >two-blocks.pem

openssl x509 -req -in sans.pem -signkey "$tmp/p384.key" -days 3650 -outform DER \
    -out sans-cert.der 2>/dev/null
csr "$tmp/other.csr" other.key "/CN=www.example.org" "DNS:www.example.org"
openssl x509 -req -in "$tmp/other.csr" -signkey "$tmp/other.key" -days 3650 -outform DER \
    -out other-cert.der 2>/dev/null

# The SHA-256 of sans.der as openssl computes it (csr_info.sha256_hex must match).
openssl dgst -sha256 -r sans.der | cut -d' ' -f1 >sans.der.sha256
