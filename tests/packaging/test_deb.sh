#!/usr/bin/env bash
# The Debian package (packaging/debian/): built as packaging/README.md says, from a copy of
# the tree (build*/ and .git left out) in which packaging/debian/ is debian/, with
# `DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b` (this compiles acmed once: a minute
# or two). Then:
#   - `dpkg-deb -c`: exactly the expected files (lib.sh: expected_layout, plus copyright and
#     changelog), the same as `cmake --install` of the package's own build tree; modes;
#   - `dpkg-deb -I`: the control fields, Version = what `acmed --version` says, library
#     dependencies from dpkg-shlibdeps;
#   - the maintainer scripts: nothing enabled or started, nothing stopped before an upgrade,
#     units stopped on removal, no recursive removal in postrm, the worker's system user
#     created (adduser, which the package depends on) and never deleted;
#   - the extracted acmed runs (--version), units and man pages are the source's;
#   - postinst configure (twice, umask 077), prerm/postrm remove and postrm purge run for
#     real, as dpkg would, in a private mount namespace: /var/lib, /etc/systemd and
#     /lib/systemd/system (with the package's units) are tmpfs, /run/systemd hidden, so no
#     systemd is told anything: DESIGN.md section 2's modes, idempotence, no unit enabled,
#     and keys kept on purge. /etc is a copy there too, so the postinst's adduser adds the
#     system user acmed (no home, no shell; once, kept on purge) to the copy only.
# Nothing is installed on the machine, and no user is added to it.
# Usage: test_deb.sh SOURCE-DIR ACMED
. "$(dirname "$0")/lib.sh"
pk_init "${1:-}" "${2:-}"

for t in dpkg-buildpackage dpkg-deb dh dh_installsystemd cmake; do
    command -v "$t" >/dev/null || fail "$t not found (dpkg-dev, debhelper; tests/install-deps.sh)"
done
[[ -d $SRC/packaging/debian ]] || fail "packaging/debian missing"
[[ $FAILED == 0 ]] || pk_done
case $T/ in
/var/lib/* | /run/systemd/* | /etc/systemd/*)
    fail "temp dir $T lies where the namespace test mounts tmpfs; set ACMED_TEST_TMP elsewhere"
    pk_done
    ;;
esac

# The package does not depend on how the acmed under test was built, so a sanitizer build
# (tests/run.sh's build-asan/) leaves it to the normal build's run: no second compile.
if grep -qx 'ACMED_SANITIZE:BOOL=ON' "$(dirname "$ACMED")/CMakeCache.txt" 2>/dev/null; then
    skip "acmed is a sanitizer build: the package is built and checked by the normal build's run"
fi

# ---- build ----
B=$T/build
mkdir -p "$B/acmed"
tar -C "$SRC" --exclude='./build*' --exclude=./.git --exclude=./debian -cf - . |
    tar -C "$B/acmed" -xf - || fail "copying the source tree failed"
mv "$B/acmed/packaging/debian" "$B/acmed/debian" || fail "moving packaging/debian failed"
# One compiler at a time: ctest runs other tests beside this one.
(cd "$B/acmed" && DEB_BUILD_OPTIONS="nocheck parallel=1" dpkg-buildpackage -us -uc -b) \
    >"$T/build.log" 2>&1 ||
    fail "dpkg-buildpackage failed; the end of its log:
$(tail -n 40 "$T/build.log")"
arch=$(dpkg --print-architecture)
version=$("$ACMED" --version | sed -n 's/^acmed //p')
deb=$B/acmed_${version}_${arch}.deb
[[ -f $deb ]] || fail "no $deb ($(ls "$B"))"
[[ $FAILED == 0 ]] || pk_done
grep -E '^(dpkg-buildpackage|dpkg-source|dpkg-gencontrol|dpkg-shlibdeps|dh_[a-z]+): warning' \
    "$T/build.log" >"$T/build.warnings" &&
    fail "the package build warns: $(cat "$T/build.warnings")"

# ---- contents ----
dpkg-deb -c "$deb" >"$T/contents" || fail "dpkg-deb -c failed"
# "-rwxr-xr-x root/root 1234 date time ./usr/bin/acmed": files and links, relative, .gz off.
awk '$1 ~ /^[-l]/ { print $1, $6 }' "$T/contents" | sed 's| \./| |' >"$T/files.modes"
awk '{ print $2 }' "$T/files.modes" | sed -E 's/\.gz$//' | LC_ALL=C sort >"$T/files"
{
    expected_layout
    echo usr/share/doc/acmed/changelog
    echo usr/share/doc/acmed/copyright
} | LC_ALL=C sort >"$T/expected"
diff "$T/expected" "$T/files" >"$T/files.diff" ||
    fail "the package's files differ from the expected layout (< expected, > in the .deb):
$(cat "$T/files.diff")"
for f in usr/bin/acmed lib/systemd/system/acmed.service lib/systemd/system/acmed-once.service \
    lib/systemd/system/acmed-once.timer usr/lib/acme/hooks/reload usr/lib/acme/hooks/haproxy \
    usr/lib/acme/hooks/dns-nsupdate usr/lib/acme/hooks/export usr/share/man/man8/acmed.8 \
    usr/share/man/man5/acmed-desired.5; do
    grep -qx "$f" "$T/files" || fail "the package lacks /$f"
done
# mode PATH MODE: the packaged file has that mode string.
mode() {
    local m
    m=$(awk -v p="$1" '$2 == p { print $1 }' "$T/files.modes")
    [[ $m == "$2" ]] || fail "/$1 has mode ${m:-?} in the package, not $2"
}
mode usr/bin/acmed -rwxr-xr-x
for h in reload haproxy dns-nsupdate export; do mode "usr/lib/acme/hooks/$h" -rwxr-xr-x; done
for u in acmed.service acmed-once.service acmed-once.timer; do
    mode "lib/systemd/system/$u" -rw-r--r--
done
mode usr/share/man/man8/acmed.8.gz -rw-r--r--
awk '{ print $2 }' "$T/contents" | grep -v '^root/root$' >"$T/owners" &&
    fail "files not owned by root/root: $(head "$T/owners")"

# The same layout as `cmake --install` of the package's own build tree (prefix /usr).
if DESTDIR=$T/cmake-install cmake --install "$B/acmed/debian/build" >"$T/cmake-install.log" 2>&1; then
    files_under "$T/cmake-install" >"$T/cmake-files"
    grep -vxE 'usr/share/doc/acmed/(changelog|copyright)' "$T/files" >"$T/deb-files"
    diff "$T/cmake-files" "$T/deb-files" >"$T/cmake.diff" ||
        fail "cmake --install and the .deb differ (< cmake, > .deb): $(cat "$T/cmake.diff")"
else
    fail "cmake --install of debian/build failed: $(tail "$T/cmake-install.log")"
fi

# ---- control fields ----
dpkg-deb -I "$deb" >"$T/info" || fail "dpkg-deb -I failed"
field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == acmed ]] || fail "Package: $(field Package)"
[[ $(field Version) == "$version" ]] || fail "Version: $(field Version), acmed --version: $version"
[[ $(field Architecture) == "$arch" ]] || fail "Architecture: $(field Architecture)"
[[ -n $(field Maintainer) ]] || fail "no Maintainer"
[[ $(field Section) == net ]] || fail "Section: $(field Section)"
[[ $(field Priority) == optional ]] || fail "Priority: $(field Priority)"
[[ $(field Description) == *acmetool* ]] || fail "Description does not mention acmetool"
[[ $(field Recommends) == *ca-certificates* ]] || fail "Recommends: $(field Recommends)"
deps=$(field Depends)
for lib in adduser libc6 libgnutls30 libnettle8 libcurl3-gnutls libuv1 libyaml-0-2 libjansson4 libidn2-0; do
    [[ $deps == *"$lib"* ]] || fail "Depends lacks $lib: $deps"
done
for s in postinst postrm prerm; do
    grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\* +$s " "$T/info" ||
        fail "dpkg-deb -I: no executable $s"
done

# ---- maintainer scripts ----
dpkg-deb -e "$deb" "$T/control" || fail "dpkg-deb -e failed"
C=$T/control
for s in postinst postrm prerm preinst; do
    [[ -f $C/$s ]] || continue
    sh -n "$C/$s" || fail "$s: syntax error"
done
grep -qE 'deb-systemd-invoke +(start|restart)\b|systemctl +(enable|start)\b' "$C/postinst" &&
    fail "postinst enables or starts a unit: $(grep -nE 'deb-systemd-invoke|systemctl' "$C/postinst")"
grep -q 'try-restart' "$C/postinst" || fail "postinst does not try-restart running units on upgrade"
[[ -f $C/preinst ]] && grep -q 'deb-systemd-invoke stop' "$C/preinst" &&
    fail "preinst stops the units before an upgrade (then nothing would start them again)"
grep -qE 'deb-systemd-invoke stop .*acmed\.service' "$C/prerm" ||
    fail "prerm does not stop the units on removal"
grep -nE '^[^#]*\brm +(-[a-zA-Z]*[rR]|--recursive)' "$C/postrm" >"$T/rmr" &&
    fail "postrm removes recursively: $(cat "$T/rmr")"
grep -qi 'never' "$C/postrm" || fail "postrm does not document that it never deletes the keys"
# The worker's user (acmed(8), PROCESSES): made once, as a system user without a home; never
# deleted (Debian keeps system users: files may still carry their ids).
grep -qE '^[^#]*adduser --system --group --no-create-home --home /nonexistent( --quiet)? acmed$' \
    "$C/postinst" || fail "postinst does not create the system user acmed"
grep -qE '^[^#]*getent passwd acmed' "$C/postinst" ||
    fail "postinst does not check for an existing acmed user first"
grep -nE '^[^#]*\b(deluser|userdel|delgroup|groupdel)\b' "$C/postrm" "$C/prerm" >"$T/deluser" &&
    fail "the package deletes a user or group: $(cat "$T/deluser")"

# ---- the extracted package ----
R=$T/root
dpkg-deb -x "$deb" "$R" || fail "dpkg-deb -x failed"
got=$("$R/usr/bin/acmed" --version 2>&1) || fail "the packaged acmed --version exited $?"
[[ $got == "acmed $version" ]] || fail "the packaged acmed --version says \"$got\""
"$R/usr/bin/acmed" --help >/dev/null 2>&1 || fail "the packaged acmed --help failed"
for u in acmed.service acmed-once.service acmed-once.timer; do
    cmp -s "$R/lib/systemd/system/$u" "$SRC/packaging/systemd/$u" ||
        fail "the packaged $u differs from packaging/systemd/$u"
done
zcat "$R/usr/share/man/man8/acmed.8.gz" | cmp -s - "$SRC/doc/acmed.8" ||
    fail "the packaged acmed.8 differs from doc/acmed.8"
zcat "$R/usr/share/man/man5/acmed-desired.5.gz" | cmp -s - "$SRC/doc/acmed-desired.5" ||
    fail "the packaged acmed-desired.5 differs from doc/acmed-desired.5"
for h in reload haproxy dns-nsupdate export; do
    cmp -s "$R/usr/lib/acme/hooks/$h" "$SRC/hooks/$h" || fail "the packaged hook $h differs"
done

# ---- postinst / postrm against a tmpfs /var/lib ----
if [[ $(id -u) != 0 ]] || ! unshare -m --propagation private true 2>/dev/null; then
    echo "note: no private mount namespace here (needs root): postinst and postrm not run" >&2
    pk_done
fi
cat >"$T/ns.sh" <<'EOF'
# In a private mount namespace: /var/lib is an empty tmpfs, and systemd is out of sight.
# The scripts' own output goes to $LOG; stdout says what /var/lib/acme holds after each step.
# /lib/systemd/system holds only the package's units, for deb-systemd-helper to read. /etc is
# a copy ($ETC), so that users and groups the postinst adds go there, not to the machine.
set -u
C=$1 LOG=$2 R=$3 ETC=$4
mkdir -p "$ETC" && cp -a /etc/. "$ETC/" || exit 90
mount --bind "$ETC" /etc || exit 90
mount -t tmpfs acmed-test /var/lib || exit 90
mount -t tmpfs acmed-test /etc/systemd || exit 90
if [ -d /run/systemd ]; then mount -t tmpfs acmed-test /run/systemd || exit 90; fi
mount -t tmpfs acmed-test /lib/systemd/system || exit 90
cp "$R"/lib/systemd/system/* /lib/systemd/system/ || exit 90
# As dpkg runs them (deb-systemd-helper insists).
DPKG_MAINTSCRIPT_PACKAGE=acmed
DPKG_MAINTSCRIPT_ARCH=$(dpkg --print-architecture)
export DPKG_MAINTSCRIPT_PACKAGE DPKG_MAINTSCRIPT_ARCH
modes() { # what is under /var/lib/acme, with modes
    (cd /var/lib && find acme -printf '%m %y %p\n' | LC_ALL=C sort -k3)
}
run() { # run SCRIPT ARGS...: as dpkg would, output to $LOG, "rc=N" on stdout if it fails
    echo "== $*" >>"$LOG"
    s=$1
    shift
    DPKG_MAINTSCRIPT_NAME=$s "$C/$s" "$@" >>"$LOG" 2>&1 || echo "rc=$? ($s $*)"
}
users() { # the acmed user and group as the (copied) system sees them
    getent passwd acmed
    getent group acmed
    grep -c '^acmed:' /etc/passwd
    if [ -e /nonexistent ]; then echo "/nonexistent exists"; fi
}
umask 077
echo "== postinst 1"
run postinst configure
modes
echo "== user 1"
users
echo "== enabled"
(cd /etc/systemd && find . -mindepth 1 | LC_ALL=C sort)
# An administrator's changes: a loosened private dir, a group-readable live/, a key.
chmod 0755 /var/lib/acme/keys
chmod 0750 /var/lib/acme/live
mkdir -m 0700 /var/lib/acme/keys/k1
echo KEY >/var/lib/acme/keys/k1/privkey
chmod 0600 /var/lib/acme/keys/k1/privkey
echo "== postinst 2"
run postinst configure
modes
cat /var/lib/acme/keys/k1/privkey
echo "== user 2"
users
echo "== remove"
run prerm remove
run postrm remove
modes
echo "== postrm purge 1"
run postrm purge
modes
rm -r /var/lib/acme/keys/k1
echo "== postrm purge 2"
run postrm purge
if [ -e /var/lib/acme ]; then echo "state dir left"; else echo "state dir gone"; fi
echo "== user purged"
users
EOF
# The machine's own users and groups before, to show after that the namespace kept them.
ids() { getent passwd acmed; getent group acmed; cat /etc/passwd /etc/group | md5sum; }
ids_before=$(ids)
unshare -m --propagation private sh "$T/ns.sh" "$C" "$T/ns.log" "$R" "$T/etc" >"$T/ns.out" 2>&1
rc=$?
[[ $rc == 0 ]] || fail "the maintainer script run exited $rc: $(cat "$T/ns.out")"
[[ -e /var/lib/acme/keys/k1 ]] && fail "the namespace leaked: /var/lib/acme/keys/k1 on the machine"
[[ $(ids) == "$ids_before" ]] || fail "the namespace leaked: the machine's users or groups changed"
grep -q '^rc=' "$T/ns.out" &&
    fail "a maintainer script failed: $(grep '^rc=' "$T/ns.out"); its output: $(cat "$T/ns.log")"
# part NAME: the output between "== NAME" and the next "==".
part() { awk -v s="== $1" '/^== / { on = ($0 == s); next } on' "$T/ns.out"; }
expect() { # expect PART LINES...: the part is exactly these lines
    local p=$1
    shift
    part "$p" >"$T/got"
    printf '%s\n' "$@" >"$T/want"
    diff "$T/want" "$T/got" >"$T/diff" ||
        fail "after $p, /var/lib/acme is not as expected (< expected, > found):
$(cat "$T/diff")"
}
expect "postinst 1" \
    "755 d acme" "700 d acme/accounts" "755 d acme/certs" "755 d acme/conf" \
    "755 d acme/desired" "700 d acme/keys" "755 d acme/live" "700 d acme/state"
[[ -z $(part enabled) ]] || fail "postinst enabled units: $(part enabled)"
grep -q 'error' "$T/ns.log" && fail "the maintainer scripts report errors: $(cat "$T/ns.log")"
after2=("755 d acme" "700 d acme/accounts" "755 d acme/certs" "755 d acme/conf"
    "755 d acme/desired" "700 d acme/keys" "700 d acme/keys/k1" "600 f acme/keys/k1/privkey"
    "750 d acme/live" "700 d acme/state")
expect "postinst 2" "${after2[@]}" KEY
expect remove "${after2[@]}"
expect "postrm purge 1" "755 d acme" "700 d acme/keys" "700 d acme/keys/k1" \
    "600 f acme/keys/k1/privkey"
awk '/^== postrm purge/ { on = 1; next } /^== / { on = 0 } on' "$T/ns.log" | grep -q 'kept' ||
    fail "postrm purge does not say that it kept /var/lib/acme: $(cat "$T/ns.log")"
expect "postrm purge 2" "state dir gone"
# The worker's user: a system user (uid and gid below 1000) with its own group, no home, no
# login shell, made once and kept on purge.
mapfile -t u1 < <(part "user 1")
if [[ ${#u1[@]} != 3 ]]; then
    fail "after postinst, the acmed user and group are not as expected: ${u1[*]}"
else
    IFS=: read -r name _ uid gid _ home shell <<<"${u1[0]}"
    IFS=: read -r gname _ ggid _ <<<"${u1[1]}"
    [[ $name == acmed && $uid =~ ^[0-9]+$ && $uid -gt 0 && $uid -lt 1000 ]] ||
        fail "postinst's acmed user is no system user: ${u1[0]}"
    [[ $gname == acmed && $ggid == "$gid" ]] ||
        fail "postinst's acmed user has not its own group acmed: ${u1[0]} / ${u1[1]}"
    [[ $home == /nonexistent && $shell == /usr/sbin/nologin ]] ||
        fail "postinst's acmed user has a home or a shell: ${u1[0]}"
    [[ ${u1[2]} == 1 ]] || fail "postinst made ${u1[2]} acmed lines in /etc/passwd"
fi
[[ $(part "user 2") == "$(part "user 1")" ]] ||
    fail "a second postinst changed the acmed user: $(part "user 1") -> $(part "user 2")"
[[ $(part "user purged") == "$(part "user 1")" ]] ||
    fail "purge did not keep the acmed user as it was: $(part "user purged")"

pk_done
