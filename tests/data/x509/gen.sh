#!/usr/bin/env bash
# Regenerates the x509 fixtures with certtool (gnutls-bin). Run by hand from this directory;
# the outputs are committed so the tests never depend on certtool's key generation.
#   root.pem      "Acmed Test Root" (self-signed CA), valid until 2110-01-01: before the
#                 intermediate (2120-01-01), so an expired anchor can be tested
#   inter.pem     "Acmed Test Intermediate", signed by root
#   leaf.pem      CN a.example, SANs a.example b.example 127.0.0.1 ::1, serial 0x0a1b2c3d4e5f,
#                 2024-01-01 00:00:00 UTC .. 2100-01-01 00:00:00 UTC, signed by inter
#   leaf.der, inter.der the same certificates in DER
#   chain.pem     leaf.pem followed by inter.pem (what a CA sends)
#   other-root.pem an unrelated self-signed CA with the same CN as root
#   *.key         the private keys (leaf.key is EC P-256 "EC PRIVATE KEY", other.key unrelated)
#   gen-chains.sh then makes the fixtures of chain verification from these keys
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

certtool --generate-privkey --key-type=ecdsa --curve=secp384r1 --no-text >root.key
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text >inter.key
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text >leaf.key
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text >other.key
certtool --generate-privkey --key-type=ecdsa --curve=secp384r1 --no-text >"$tmp/other-root.key"

cat >"$tmp/root.tmpl" <<'T'
cn = "Acmed Test Root"
serial = 1
activation_date = "2020-01-01 00:00:00 UTC"
expiration_date = "2110-01-01 00:00:00 UTC"
ca
cert_signing_key
crl_signing_key
T
cat >"$tmp/inter.tmpl" <<'T'
cn = "Acmed Test Intermediate"
serial = 2
activation_date = "2020-01-01 00:00:00 UTC"
expiration_date = "2120-01-01 00:00:00 UTC"
ca
path_len = 0
cert_signing_key
crl_signing_key
T
cat >"$tmp/leaf.tmpl" <<'T'
cn = "a.example"
serial = 0x0a1b2c3d4e5f
activation_date = "2024-01-01 00:00:00 UTC"
expiration_date = "2100-01-01 00:00:00 UTC"
dns_name = "a.example"
dns_name = "b.example"
ip_address = "127.0.0.1"
ip_address = "::1"
tls_www_server
signing_key
T

certtool --generate-self-signed --load-privkey root.key --template "$tmp/root.tmpl" \
    --no-text --outfile root.pem
certtool --generate-self-signed --load-privkey "$tmp/other-root.key" \
    --template "$tmp/root.tmpl" --no-text --outfile other-root.pem
certtool --generate-certificate --load-privkey inter.key --load-ca-certificate root.pem \
    --load-ca-privkey root.key --template "$tmp/inter.tmpl" --no-text --outfile inter.pem
certtool --generate-certificate --load-privkey leaf.key --load-ca-certificate inter.pem \
    --load-ca-privkey inter.key --template "$tmp/leaf.tmpl" --no-text --outfile leaf.pem
certtool --certificate-info --infile leaf.pem --outder --outfile leaf.der >/dev/null
certtool --certificate-info --infile inter.pem --outder --outfile inter.der >/dev/null
cat leaf.pem inter.pem >chain.pem
# The chain-verification fixtures, from the keys above.
./gen-chains.sh
