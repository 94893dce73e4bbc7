#!/usr/bin/env bash
# hooks/export: on live-updated, with an export.conf (ACME_EXPORT_CONF), each changed name's
# full chain and key land in the configured directories: copies written atomically (certs
# 0644, keys 0640 with EXPORT_GROUP, 0600 without) or links into live/; file name patterns
# ({name}, {name_}); examples/export.conf's values are the defaults; nothing at all without
# the file, with a file others may write, or with a wrong setting; hostile names and links
# leading out of the state directory write nothing.
# Usage: test_export.sh SOURCE-DIR
. "$(dirname "$0")/lib.sh"
th_init "${1:-}"
hook=$SRC/hooks/export
x509=$SRC/tests/data/x509
for tool in ls id chgrp; do
    ln -s "$(command -v "$tool")" "$TOOLS/$tool"
done

# A state directory as acmed leaves it: live/<name> -> ../certs/ID, certs/ID/privkey ->
# ../../keys/KID/privkey. ID3 was issued for a CSR (no key here); ID4's key link leads out.
S=$T/state
ID=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
ID2=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
ID3=dddddddddddddddddddddddddddddddddddddddddddddddddddd
ID4=eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee
KID=cccccccccccccccccccccccccccccccccccccccccccccccccccc
mkdir -p "$S/live" "$S/keys/$KID" "$T/outside"
cp "$x509/leaf.key" "$S/keys/$KID/privkey"
for id in "$ID" "$ID2" "$ID3" "$ID4"; do
    mkdir -p "$S/certs/$id"
    cp "$x509/chain.pem" "$S/certs/$id/fullchain"
done
cp "$x509/leaf.pem" "$S/certs/$ID2/fullchain" # tells ID2 from ID
for id in "$ID" "$ID2"; do ln -s "../../keys/$KID/privkey" "$S/certs/$id/privkey"; done
ln -s "../../keys/$KID/../../../outside/privkey" "$S/certs/$ID4/privkey"
cp "$x509/other.key" "$T/outside/privkey"
ln -s "../certs/$ID" "$S/live/a.example"
ln -s "../certs/$ID2" "$S/live/*.c.example"
ln -s "../certs/$ID3" "$S/live/csr.example"
ln -s "../certs/$ID4" "$S/live/d.example"
ln -s ../../outside "$S/live/evil.example"
ln -s "../certs/$ID" "$S/live/.hidden"
ln -s "../certs/$ID" "$S/live/labelled.example:blue"

E=$T/etc/ssl
CONF=$T/export.conf
# A group other than our own for the keys, when we may hand files to one.
grp=$(id -gn)
[[ $(id -u) == 0 ]] && getent group daemon >/dev/null && grp=daemon

mode() { stat -c %a "$1"; }
group() { stat -c %G "$1"; }
snapshot() { (cd "$T" && find . -path ./rec -prune -o -printf '%p %y %m %l\n' | LC_ALL=C sort) >"$1"; }
# export NAMES [VAR=VAL...]: runs the hook on live-updated with NAMES (one a line) on stdin.
run_export() {
    printf '%b' "$1" >"$T/names"
    shift
    IN=$T/names th_run ACME_STATE_DIR="$S" ACME_EXPORT_CONF="$CONF" "$@" "$hook" live-updated
}

# ---- no configuration file: nothing at all ----
run_export 'a.example\n'
expect_rc 0 "no export.conf"
[[ ! -e $T/etc ]] || fail "something was created without export.conf: $(find "$T/etc")"
[[ ! -s $T/out && ! -s $T/err ]] || fail "the hook said something without export.conf"
IN=/dev/null th_run ACME_STATE_DIR="$S" ACME_EXPORT_CONF="$CONF" "$hook" expiry-warning x y
expect_rc 42 "another event"

# ---- copy mode, the default names, a group for the keys ----
cat >"$CONF" <<EOF
EXPORT_CERT_DIR=$E/certs
EXPORT_KEY_DIR=$E/private
EXPORT_GROUP=$grp
EOF
chmod 644 "$CONF"
mkdir -p "$E/certs"
printf 'old\n' >"$E/certs/a.example.pem"
chmod 666 "$E/certs/a.example.pem"
ino=$(stat -c %i "$E/certs/a.example.pem")
run_export 'a.example\n\n*.c.example\nnot-live.example\nlabelled.example:blue\ncsr.example'
expect_rc 0 "copy mode"
expect_file "$E/certs/a.example.pem" "$(cat "$x509/chain.pem")"$'\n' "a.example's full chain"
expect_file "$E/private/a.example.key" "$(cat "$x509/leaf.key")"$'\n' "a.example's key"
expect_file "$E/certs/*.c.example.pem" "$(cat "$x509/leaf.pem")"$'\n' "the wildcard's chain"
expect_file "$E/private/*.c.example.key" "$(cat "$x509/leaf.key")"$'\n' "the wildcard's key"
expect_file "$E/certs/csr.example.pem" "$(cat "$x509/chain.pem")"$'\n' "the CSR certificate's chain"
[[ ! -e $E/private/csr.example.key ]] || fail "a key was exported for a certificate without one"
for f in "$E/certs/a.example.pem" "$E/certs/*.c.example.pem"; do
    [[ -f $f && ! -L $f && $(mode "$f") == 644 ]] || fail "$f: not a 0644 file ($(mode "$f"))"
done
for f in "$E/private/a.example.key" "$E/private/*.c.example.key"; do
    [[ -f $f && ! -L $f && $(mode "$f") == 640 && $(group "$f") == "$grp" ]] ||
        fail "$f: not a 0640 file of group $grp ($(mode "$f") $(group "$f"))"
done
[[ $(stat -c %i "$E/certs/a.example.pem") != "$ino" ]] || fail "the old file was rewritten in place, not replaced"
[[ $(mode "$E/private") == 710 && $(group "$E/private") == "$grp" ]] ||
    fail "the key directory was made $(mode "$E/private") $(group "$E/private"), wanted 710 $grp"
[[ -z $(find "$E" -name '*not-live*' -o -name '*labelled*' -o -name '.*') ]] ||
    fail "files for names not exported: $(find "$E" -name '*not-live*' -o -name '*labelled*' -o -name '.*')"
compgen -G "$E/*/.tmp-*" >/dev/null && fail "temp files left behind"
grep -qx "exported a.example (copy): $E/certs/a.example.pem and $E/private/a.example.key" "$T/out" ||
    fail "nothing said about a.example: $(cat "$T/out")"

# ---- examples/export.conf, uncommented (its values are the defaults), under $T ----
sed -e 's/^#EXPORT_/EXPORT_/' -e "s|/etc/ssl/|$E/example-|" -e '/^EXPORT_GROUP=/d' \
    "$SRC/examples/export.conf" >"$CONF"
grep -q "^EXPORT_MODE=copy$" "$CONF" || fail "examples/export.conf does not show EXPORT_MODE=copy"
run_export 'a.example
'
expect_rc 0 "examples/export.conf"
expect_file "$E/example-certs/a.example.pem" "$(cat "$x509/chain.pem")"$'\n' "the example's chain"
expect_file "$E/example-private/a.example.key" "$(cat "$x509/leaf.key")"$'\n' "the example's key"
# The systemd drop-in opens the default directories (test_units.sh verifies it).
grep -qx 'ReadWritePaths=/etc/ssl/certs /etc/ssl/private' "$SRC/examples/export.systemd.conf" ||
    fail "examples/export.systemd.conf does not open /etc/ssl/certs and /etc/ssl/private"

# ---- patterns, and no group: keys 0600 ----
cat >"$CONF" <<EOF
EXPORT_CERT_DIR=$E/pattern-certs
EXPORT_KEY_DIR=$E/pattern-keys
EXPORT_CERT_NAME='{name_}-fullchain.crt'
EXPORT_KEY_NAME='acme-{name_}-{name}.key'
EOF
run_export 'a.example\n*.c.example\n'
expect_rc 0 "patterns"
expect_file "$E/pattern-certs/a_example-fullchain.crt" "$(cat "$x509/chain.pem")"$'\n' "{name_} pattern"
expect_file "$E/pattern-certs/wildcard_c_example-fullchain.crt" "$(cat "$x509/leaf.pem")"$'\n' \
    "{name_} pattern for a wildcard"
expect_file "$E/pattern-keys/acme-a_example-a.example.key" "$(cat "$x509/leaf.key")"$'\n' \
    "both placeholders"
[[ $(mode "$E/pattern-keys/acme-a_example-a.example.key") == 600 ]] ||
    fail "a key without EXPORT_GROUP has mode $(mode "$E/pattern-keys/acme-a_example-a.example.key"), wanted 600"
[[ $(find "$E/pattern-certs" "$E/pattern-keys" -type f | wc -l) == 4 ]] ||
    fail "pattern directories hold: $(ls "$E/pattern-certs" "$E/pattern-keys")"

# ---- link mode: links into live/, replacing the copies, following renewals ----
cat >"$CONF" <<EOF
EXPORT_CERT_DIR=$E/certs
EXPORT_KEY_DIR=$E/private
EXPORT_MODE=link
EOF
run_export 'a.example\n'
expect_rc 0 "link mode"
[[ -L $E/certs/a.example.pem && $(readlink "$E/certs/a.example.pem") == "$S/live/a.example/fullchain" ]] ||
    fail "certs/a.example.pem is not a link to live/a.example/fullchain: $(readlink "$E/certs/a.example.pem")"
[[ -L $E/private/a.example.key && $(readlink "$E/private/a.example.key") == "$S/live/a.example/privkey" ]] ||
    fail "private/a.example.key is not a link to live/a.example/privkey: $(readlink "$E/private/a.example.key")"
rm "$S/live/a.example"
ln -s "../certs/$ID2" "$S/live/a.example" # a renewal
expect_file "$E/certs/a.example.pem" "$(cat "$x509/leaf.pem")"$'\n' "the link after a renewal"
rm "$S/live/a.example"
ln -s "../certs/$ID" "$S/live/a.example"
compgen -G "$E/*/.tmp-*" >/dev/null && fail "temp links left behind"
# A relative state directory still gives absolute links.
(cd "$T" && IN=$T/names th_run ACME_STATE_DIR=state ACME_EXPORT_CONF="$CONF" "$hook" live-updated)
[[ $(readlink "$E/certs/a.example.pem") == "$S/live/a.example/fullchain" ]] ||
    fail "a relative ACME_STATE_DIR gave the link $(readlink "$E/certs/a.example.pem")"

# ---- hostile names, and links leading out: nothing written anywhere ----
snapshot "$REC/before"
run_export '../../etc\n/etc/passwd\na/b\n.hidden\n..\na example\na.example;touch x\n$(touch x)\na\tb\nevil.example\n../x:label\nd.example\n'
expect_rc 1 "hostile names"
snapshot "$REC/after"
diff "$REC/before" "$REC/after" >"$REC/diff" || fail "hostile names changed files: $(cat "$REC/diff")"
for n in ../../etc /etc/passwd a/b .hidden .. 'a example' 'a.example;touch x' '$(touch x)' ../x:label; do
    grep -qF "ignoring invalid hostname \"$n\"" "$T/err" || fail "\"$n\" was not refused"
done
grep -q 'evil.example: live/evil.example is missing or does not lead to certs/' "$T/err" ||
    fail "a live link leading outside certs/ was not refused"
grep -q "d.example: certs/$ID4/privkey is missing or does not lead to keys/; skipped" "$T/err" ||
    fail "a key link leading out of keys/ was not refused"

# ---- a configuration it cannot trust or use: nothing exported ----
bad_conf() { # bad_conf WHAT MESSAGE-PART: export.conf holds something wrong
    snapshot "$REC/before"
    run_export 'a.example\n'
    expect_rc 1 "$1"
    snapshot "$REC/after"
    diff "$REC/before" "$REC/after" >/dev/null || fail "$1: files changed"
    grep -qF -- "$2" "$T/err" || fail "$1: the error does not say \"$2\": $(cat "$T/err")"
}
good="EXPORT_CERT_DIR=$E/certs2 EXPORT_KEY_DIR=$E/private2"
printf '%s\n' "$good" EXPORT_MODE=symlink >"$CONF"
bad_conf "an unknown mode" 'EXPORT_MODE must be copy or link'
printf '%s\n' "$good" "EXPORT_CERT_NAME='../{name}.pem'" >"$CONF"
bad_conf "a pattern with a slash" "may not hold '/'"
printf '%s\n' "$good" "EXPORT_KEY_NAME=all.key" >"$CONF"
bad_conf "a pattern without {name}" 'must hold {name}'
printf '%s\n' "$good" "EXPORT_KEY_DIR=relative/keys" >"$CONF"
bad_conf "a relative directory" 'must be absolute paths'
printf '%s\n' "$good" "EXPORT_GROUP='-x;y'" >"$CONF"
bad_conf "a bad group" 'EXPORT_GROUP is not a group name'
printf '%s\n' "EXPORT_CERT_DIR=$E/same EXPORT_KEY_DIR=$E/same" "EXPORT_CERT_NAME='{name}'" \
    "EXPORT_KEY_NAME='{name}'" >"$CONF"
bad_conf "certificates and keys on the same files" 'would share their file names'
printf '%s\n' "$good" >"$CONF"
chmod 666 "$CONF"
bad_conf "an export.conf others may write" 'that no one else may write'
chmod 644 "$CONF"
[[ ! -e $E/certs2 ]] || fail "a directory was made from a configuration refused"

th_done
