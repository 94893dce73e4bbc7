#!/usr/bin/env bash
# Regenerates the chain-verification fixtures with certtool (gnutls-bin) from the keys that
# gen.sh made (root.key, inter.key, leaf.key, other.key), so root.pem, inter.pem and leaf.pem
# stay as they are. Run by hand from this directory (gen.sh runs it too); the outputs are
# committed. Every certificate is valid until 2099 or later unless it is meant to be expired.
#   forged.pem        a leaf for leaf.key and a.example, b.example, 127.0.0.1, ::1 that names
#                     inter.pem as its issuer (name and authority key identifier) but is signed
#                     by a throwaway key, followed by the real inter.pem: only the signature
#                     gives it away
#   inter-expired.pem "Acmed Test Intermediate" again, for inter.key and signed by root, but
#                     valid only 2020-01-01 .. 2021-01-01 UTC: leaf.pem verifies under it
#   not-ca.pem        CN "sub.a.example" (other.key), issued by leaf.pem, which is no CA
#   sub-ca.pem        CA "Acmed Test Sub CA" (a throwaway key) signed by inter, whose path_len is 0
#   sub-leaf.pem      CN c.example (leaf.key) signed by sub-ca: [sub-leaf, sub-ca, inter]
#                     breaks inter's path length constraint
#   root-forged.pem   root.pem's twin (same name and key, so inter.pem verifies under it) but
#                     signed by a throwaway key: [leaf, inter, root-forged, root-forged] has
#                     a self-issued certificate "followed by itself" that is not self-signed
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text >"$tmp/rogue.key"
certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text >"$tmp/sub-ca.key"

ca_tmpl() { # CN NOT-BEFORE NOT-AFTER SERIAL [path_len]
    echo "cn = \"$1\""
    echo "serial = $4"
    echo "activation_date = \"$2\""
    echo "expiration_date = \"$3\""
    echo ca
    [[ -n ${5:-} ]] && echo "path_len = $5"
    echo cert_signing_key
    echo crl_signing_key
}
leaf_tmpl() { # CN SERIAL NAME...
    local n
    echo "cn = \"$1\""
    echo "serial = $2"
    echo 'activation_date = "2024-01-01 00:00:00 UTC"'
    echo 'expiration_date = "2099-01-01 00:00:00 UTC"'
    shift 2
    for n; do
        case $n in
        *:* | [0-9]*) echo "ip_address = \"$n\"" ;;
        *) echo "dns_name = \"$n\"" ;;
        esac
    done
    echo tls_www_server
    echo signing_key
}

# certtool signs with the key it is given whatever the CA certificate says: the forgery
# names inter.pem as its issuer (name and authority key identifier) but is signed by rogue.key.
leaf_tmpl a.example 0x0a1b2c3d4e60 a.example b.example 127.0.0.1 ::1 >"$tmp/forged.tmpl"
certtool --generate-certificate --load-privkey leaf.key --load-ca-certificate inter.pem \
    --load-ca-privkey "$tmp/rogue.key" --template "$tmp/forged.tmpl" --no-text \
    --outfile "$tmp/forged-leaf.pem"
cat "$tmp/forged-leaf.pem" inter.pem >forged.pem

ca_tmpl "Acmed Test Intermediate" "2020-01-01 00:00:00 UTC" "2021-01-01 00:00:00 UTC" 3 0 \
    >"$tmp/inter-expired.tmpl"
certtool --generate-certificate --load-privkey inter.key --load-ca-certificate root.pem \
    --load-ca-privkey root.key --template "$tmp/inter-expired.tmpl" --no-text \
    --outfile inter-expired.pem

leaf_tmpl sub.a.example 0x0a1b2c3d4e61 sub.a.example >"$tmp/not-ca.tmpl"
certtool --generate-certificate --load-privkey other.key --load-ca-certificate leaf.pem \
    --load-ca-privkey leaf.key --template "$tmp/not-ca.tmpl" --no-text --outfile not-ca.pem

ca_tmpl "Acmed Test Sub CA" "2020-01-01 00:00:00 UTC" "2110-01-01 00:00:00 UTC" 4 \
    >"$tmp/sub-ca.tmpl"
certtool --generate-certificate --load-privkey "$tmp/sub-ca.key" --load-ca-certificate inter.pem \
    --load-ca-privkey inter.key --template "$tmp/sub-ca.tmpl" --no-text --outfile sub-ca.pem
leaf_tmpl c.example 0x0a1b2c3d4e62 c.example >"$tmp/sub-leaf.tmpl"
certtool --generate-certificate --load-privkey leaf.key --load-ca-certificate sub-ca.pem \
    --load-ca-privkey "$tmp/sub-ca.key" --template "$tmp/sub-leaf.tmpl" --no-text \
    --outfile sub-leaf.pem

ca_tmpl "Acmed Test Root" "2020-01-01 00:00:00 UTC" "2110-01-01 00:00:00 UTC" 5 \
    >"$tmp/root-forged.tmpl"
certtool --generate-certificate --load-privkey root.key --load-ca-certificate root.pem \
    --load-ca-privkey "$tmp/rogue.key" --template "$tmp/root-forged.tmpl" --no-text \
    --outfile root-forged.pem
