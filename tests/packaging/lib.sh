# shellcheck shell=bash disable=SC2034
# lib.sh: shared set-up for the packaging tests (tests/packaging/test_*.sh). Nothing here
# changes the machine: files go to a temp dir, and what must sit at a fixed path (/usr/bin/acmed
# for systemd-analyze, /var/lib/acme for the postinst) is put there inside a private mount
# namespace (unshare -m) that disappears with the test. Source it, then:
#
#   pk_init SOURCE-DIR ACMED  $SRC, $ACMED (absolute), temp dir $T (removed when the test
#                             passes, kept when it fails or KEEP is set)
#   fail MSG                  record a failure (the test exits 1 at the end: pk_done)
#   skip MSG                  the test cannot run here: exit 77 (ctest: SKIP_RETURN_CODE)
#   pk_done                   prints the verdict and exits
#   expected_layout           the files the package installs, one path a line, relative to /,
#                             sorted, man pages and docs uncompressed (the .deb gzips them)
#   files_under DIR           the files and links under DIR, relative to it, sorted
set -u

T=""
FAILED=0

pk_cleanup() {
    [[ -n $T && $FAILED == 0 && -z ${KEEP:-} ]] && rm -rf "$T"
    [[ -n $T && $FAILED != 0 ]] && echo "test files kept in $T" >&2
    return 0
}

pk_init() {
    SRC=$(cd "${1:?usage: $0 SOURCE-DIR ACMED}" && pwd)
    ACMED=${2:?usage: $0 SOURCE-DIR ACMED}
    [[ $ACMED == /* ]] || ACMED=$PWD/$ACMED
    [[ -x $ACMED ]] || {
        echo "FAIL: $ACMED is not an executable" >&2
        exit 1
    }
    mkdir -p "${ACMED_TEST_TMP:-/tmp}"
    T=$(mktemp -d "${ACMED_TEST_TMP:-/tmp}/acmed-packaging.XXXXXX")
    trap pk_cleanup EXIT
}

fail() {
    echo "FAIL: $*" >&2
    FAILED=1
}

skip() {
    echo "SKIP: $*" >&2
    exit 77
}

pk_done() {
    if [[ $FAILED != 0 ]]; then
        echo "FAILED" >&2
        exit 1
    fi
    echo "ok"
    exit 0
}

expected_layout() {
    LC_ALL=C sort <<'EOF'
lib/systemd/system/acmed-once.service
lib/systemd/system/acmed-once.timer
lib/systemd/system/acmed.service
usr/bin/acmed
usr/lib/acme/hooks/dns-nsupdate
usr/lib/acme/hooks/export
usr/lib/acme/hooks/haproxy
usr/lib/acme/hooks/reload
usr/share/doc/acmed/README.hooks.md
usr/share/doc/acmed/README.md
usr/share/doc/acmed/README.packaging.md
usr/share/doc/acmed/examples/apache-acme.conf
usr/share/doc/acmed/examples/conf-target
usr/share/doc/acmed/examples/desired/example.com
usr/share/doc/acmed/examples/desired/full.example.com
usr/share/doc/acmed/examples/export.conf
usr/share/doc/acmed/examples/export.systemd.conf
usr/share/doc/acmed/examples/hooks/dns-challtestsrv
usr/share/doc/acmed/examples/nginx-acme.conf
usr/share/man/man5/acmed-desired.5
usr/share/man/man8/acmed.8
EOF
}

files_under() {
    (cd "$1" && find . \( -type f -o -type l \) -printf '%P\n' | LC_ALL=C sort)
}

# The hardening every service unit must carry (tests/packaging/test_units.sh), one
# "Key=value" a line, exactly as in the unit.
hardening_settings() {
    cat <<'EOF'
ProtectSystem=strict
ReadWritePaths=/var/lib/acme /var/run/acme
NoNewPrivileges=yes
PrivateTmp=yes
LimitCORE=0
ProtectHome=yes
CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_DAC_OVERRIDE CAP_CHOWN CAP_SETUID CAP_SETGID CAP_SETPCAP
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
SystemCallFilter=@system-service
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
RestrictNamespaces=yes
RestrictSUIDSGID=yes
LockPersonality=yes
EOF
}
