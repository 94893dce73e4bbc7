#!/usr/bin/env bash
# Installs, from Debian's apt, everything acmed's build, tests and demo need. Does nothing
# when all of it is already installed (so it needs no network then).
set -euo pipefail

pkgs=(
    gcc make libc6-dev cmake pkg-config
    libgnutls28-dev nettle-dev libcurl4-gnutls-dev libyaml-dev libuv1-dev libjansson-dev
    libidn2-dev libcmocka-dev libmicrohttpd-dev
    pebble gnutls-bin curl ca-certificates python3 procps
    etcd-server etcd-client                           # tests/etcd/fixture.sh (etcd 3.4); cli.fleet's snapshot
    clang libclang-rt-14-dev clang-format binutils   # fuzz, check.format, check.structure (nm)
    lacme-accountd libcrypt-openssl-rsa-perl openssl  # signer interop (RSA: only Recommended)
    dpkg-dev debhelper man-db bsdextrautils systemd   # tests/packaging/
    time                                              # bench/once.sh
)

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
