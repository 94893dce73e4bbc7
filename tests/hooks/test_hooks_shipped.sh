#!/usr/bin/env bash
# What every shipped hook script must be: POSIX sh that parses, executable (the mode is what
# gets committed and installed), "not mine" (42) for events it does not handle and for events
# that do not exist yet, and installed by CMake (hooks/) or documented (hooks/README.md).
# Usage: test_hooks_shipped.sh SOURCE-DIR
. "$(dirname "$0")/lib.sh"
th_init "${1:-}"

shipped=(hooks/reload hooks/haproxy hooks/dns-nsupdate hooks/export)
scripts=("${shipped[@]}" examples/hooks/dns-challtestsrv)

for s in "${scripts[@]}"; do
    f=$SRC/$s
    if [[ ! -f $f ]]; then
        fail "$s missing"
        continue
    fi
    [[ $(head -n 1 "$f") == '#!/bin/sh' ]] || fail "$s does not start with #!/bin/sh"
    [[ $(stat -c %a "$f") == 755 ]] || fail "$s has mode $(stat -c %a "$f"), wanted 755"
    sh -n "$f" || fail "$s: sh -n fails"
    if command -v dash >/dev/null; then
        dash -n "$f" || fail "$s: dash -n fails"
    fi
    if command -v shellcheck >/dev/null; then
        shellcheck -s sh "$f" >"$T/sc" 2>&1 || fail "$s: shellcheck: $(cat "$T/sc")"
    fi
    # Events it does not handle, including ones a later acmed may add: 42, nothing printed.
    for ev in brand-new-event expiry-warning renewal-failed challenge-tls-alpn-start ""; do
        th_run ACME_STATE_DIR="$T/state" ACME_NSUPDATE_SERVER=ns.example \
            CHALLTESTSRV_MGMT=http://127.0.0.1:1 HAPROXY_ALWAYS_GENERATE=1 "$f" "$ev" a b c d
        expect_rc 42 "$s \"$ev\""
        [[ ! -s $T/out && ! -s $T/err ]] || fail "$s \"$ev\" printed something"
    done
done

# Installed where acmetool's packaged hooks live (lib/acme/hooks under the prefix).
install_rule="install(PROGRAMS ${shipped[*]} DESTINATION lib/acme/hooks)"
grep -qF "$install_rule" "$SRC/CMakeLists.txt" || fail "CMakeLists.txt lacks: $install_rule"

for s in "${shipped[@]}"; do
    grep -q "^## .*\`${s#hooks/}\`" "$SRC/hooks/README.md" ||
        fail "hooks/README.md has no section for ${s#hooks/}"
done

th_done
