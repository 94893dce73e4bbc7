#!/usr/bin/env bash
# `cmake --install` of the build tree that holds ACMED, into a DESTDIR: with prefix /usr it
# lays out exactly the package's files (lib.sh: expected_layout; test_deb.sh checks the .deb
# against the same list and against cmake --install of its own build), with the right
# modes, the units and man pages as in the source and ExecStart=/usr/bin/acmed; with
# another prefix the units go to <prefix>/lib/systemd/system and name <prefix>/bin/acmed.
# Nothing is installed on the machine.
# Usage: test_install.sh SOURCE-DIR ACMED   (ACMED in the top of its cmake build tree)
. "$(dirname "$0")/lib.sh"
pk_init "${1:-}" "${2:-}"

BUILD=$(dirname "$ACMED")
[[ -f $BUILD/CMakeCache.txt && -f $BUILD/cmake_install.cmake ]] || {
    fail "$BUILD is not a cmake build tree (no CMakeCache.txt): pass the acmed it built"
    pk_done
}

R=$T/usr-root
DESTDIR=$R cmake --install "$BUILD" --prefix /usr >"$T/install.log" 2>&1 ||
    fail "cmake --install --prefix /usr failed: $(tail -n 20 "$T/install.log")"
files_under "$R" >"$T/files"
expected_layout >"$T/expected"
diff "$T/expected" "$T/files" >"$T/files.diff" ||
    fail "cmake --install --prefix /usr does not give the package's layout (< expected, > installed):
$(cat "$T/files.diff")"

# mode PATH MODE: the installed file has that (octal) mode.
mode() {
    local m
    m=$(stat -c %a "$R/$1" 2>/dev/null)
    [[ $m == "$2" ]] || fail "/$1 installed with mode ${m:-?}, not $2"
}
mode usr/bin/acmed 755
for h in reload haproxy dns-nsupdate export; do mode "usr/lib/acme/hooks/$h" 755; done
for u in acmed.service acmed-once.service acmed-once.timer; do
    mode "lib/systemd/system/$u" 644
    cmp -s "$R/lib/systemd/system/$u" "$SRC/packaging/systemd/$u" ||
        fail "the installed $u differs from packaging/systemd/$u"
done
mode usr/share/man/man8/acmed.8 644
mode usr/share/man/man5/acmed-desired.5 644
mode usr/share/doc/acmed/examples/hooks/dns-challtestsrv 755
cmp -s "$R/usr/share/man/man8/acmed.8" "$SRC/doc/acmed.8" || fail "installed acmed.8 differs"
cmp -s "$R/usr/share/man/man5/acmed-desired.5" "$SRC/doc/acmed-desired.5" ||
    fail "installed acmed-desired.5 differs"
got=$("$R/usr/bin/acmed" --version 2>&1) || fail "the installed acmed --version exited $?"
[[ $got == "$("$ACMED" --version)" ]] || fail "the installed acmed --version says \"$got\""

# Another prefix: the units follow it.
O=$T/opt-root
DESTDIR=$O cmake --install "$BUILD" --prefix /opt/acmed >"$T/install-opt.log" 2>&1 ||
    fail "cmake --install --prefix /opt/acmed failed: $(tail -n 20 "$T/install-opt.log")"
for u in acmed.service acmed-once.service acmed-once.timer; do
    [[ -f $O/opt/acmed/lib/systemd/system/$u ]] ||
        fail "with prefix /opt/acmed, $u is not in /opt/acmed/lib/systemd/system"
done
grep -qx 'ExecStart=/opt/acmed/bin/acmed' "$O/opt/acmed/lib/systemd/system/acmed.service" ||
    fail "with prefix /opt/acmed, acmed.service does not run /opt/acmed/bin/acmed"
grep -qx 'ExecStart=/opt/acmed/bin/acmed --once' "$O/opt/acmed/lib/systemd/system/acmed-once.service" ||
    fail "with prefix /opt/acmed, acmed-once.service does not run /opt/acmed/bin/acmed --once"
[[ -x $O/opt/acmed/bin/acmed ]] || fail "with prefix /opt/acmed, no /opt/acmed/bin/acmed"
[[ -e $O/lib || -e $O/usr ]] && fail "with prefix /opt/acmed, files outside /opt/acmed: $(cd "$O" && ls)"

pk_done
