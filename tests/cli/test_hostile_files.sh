#!/usr/bin/env bash
# Hostile files (corpus: tests/data/hostile, see its README):
#   desired/   every bad desired file of the corpus, a few made here (10 MB files, hostile
#              file names, control characters in file names, a symlink, a FIFO, a directory)
#              and two good ones, in one state directory: --once exits 1, reports each bad
#              file with its path (and its line, where the file has lines), issues the good
#              ones, orders nothing else, writes nothing outside the state directory, makes
#              no live link for any hostile name, and the hook hears only the good names;
#              status lists each bad file as invalid; a second pass asks the CA nothing.
#              challenge.env naming LD_PRELOAD, PATH, BASH_ENV... is refused as such. As
#              root, a good file that is group-writable or owned by another user is issued
#              all the same, with a loud warning naming it.
#              `acmed want` refuses hostile names (exit 2, nothing written).
#   conf/      every bad conf/target and conf/acmed.yaml of the corpus, and a few made here
#              (10 MB, a symlink to a good file outside, a dangling symlink, a directory, a
#              FIFO): exit 2 naming the file, not one request to the CA (counted by the fault
#              proxy).
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_proxy
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87"
export LC_ALL=C
CORPUS=$TL_SRC/tests/data/hostile
PY=$(python3 -c 'import sys; print(sys.executable)')
mkdir -p "$T/logs"
# The state directory two levels below an otherwise empty box, so that anything written
# above it (a name like "../../x" resolved against some subdirectory) shows.
BOX=$T/box
STATE=$BOX/a/b/state
tl_conf_target

# count: requests the fault proxy saw.
count() {
    curl -s --max-time 5 "$PROXY_CTL/count" | sed -n 's/.*"count": *\([0-9]*\).*/\1/p'
}

# run LOG ARGS...: acmed, bounded by a timeout; sets RC.
run() {
    local log=$T/logs/$1
    shift
    timeout -k 5 "${HF_TIMEOUT:-60}" "$ACMED" --state "$STATE" --hooks "$HOOKS" \
        --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" "$@" >"$log" 2>&1
    RC=$?
    if grep -q 'Sanitizer\|runtime error:' "$log"; then
        fail "sanitizer report in $log"
        sed -n '1,40p' "$log" >&2
    fi
    [[ $RC == 124 || $RC == 137 ]] && fail "acmed $* did not finish within ${HF_TIMEOUT:-60} s (see $log)"
    return 0
}

# snapshot: every path under $T outside the state directory and the test's own files.
snapshot() {
    find "$T" \( -path "$STATE" -o -path "$T/logs" -o -path "$T/pebble" -o -path "$T/proxy" \) \
        -prune -o -print | sort
}

# ---- desired/ ---------------------------------------------------------------------------
D=$STATE/desired
mkdir -p "$D"
cp "$CORPUS"/desired/* "$D/"
mapfile -t corpus_bad < <(ls "$CORPUS/desired")
# Too big to commit: 10 MB of one byte, and 10 MB of valid YAML.
head -c 10485760 /dev/zero | tr '\0' 'a' >"$D/huge-10mb"
{
    printf 'satisfy:\n  names:\n'
    yes '    - ok.hostile.test' | head -n 500000
} >"$D/huge-10mb-yaml"
# Empty files whose hostile file name would be the hostname.
name_files=('_x.hostile.test' '*.*.x.hostile.test' 'x.*.y.hostile.test' 'a b.hostile.test'
    $'\xe2\x98\x83\xe2\x8c\x98.hostile.test' 'localhost' 'xn--a.hostile.test' "$(printf 'a%.0s' {1..64}).hostile.test")
for f in "${name_files[@]}"; do : >"$D/$f"; done
# Control characters in file names must not reach the log raw.
: >"$D/"$'evil\nacmed: notice: forged line'
printf 'satisfy:\n  names: ["x y"]\n' >"$D/"$'esc\e[31m.hostile.test'
# Not targets at all: skipped (and never followed or opened).
ln -s /etc/passwd "$D/symlink-out"
ln -s ../../../../../../etc/shadow "$D/symlink-up"
mkdir "$D/subdir"
mkfifo "$D/fifo"
# The two good targets (one with an unknown key: a warning with file:line, not an error).
printf 'satisfy:\n  names:\n    - g1.hostile.test\n    - www.g1.hostile.test\n' >"$D/good1"
printf 'satisfy:\n  names: [g2.hostile.test]\nunknown-key: 1\n' >"$D/g2.hostile.test"
# As root, good files that others could write to are issued all the same, with a loud
# warning each: write access to desired/ is root-equivalent.
if [[ $(id -u) == 0 ]]; then
    chmod 664 "$D/good1"
    chown 65534 "$D/g2.hostile.test"
fi
good_names="g1.hostile.test g2.hostile.test www.g1.hostile.test"
nbad=$(($(find "$D" -mindepth 1 -maxdepth 1 | wc -l) - 2))
cat >"$HOOKS/10-record" <<HOOK
#!/bin/sh
[ "\$1" = live-updated ] || exit 42
cat >>"$T/logs/live-updated.txt"
HOOK
chmod 755 "$HOOKS/10-record"

[[ -e /tmp/hostile-x ]] && had_tmp_x=1 || had_tmp_x=0
snapshot >"$T/logs/before.txt"
run desired1.log --once
[[ $RC == 1 ]] || fail "bad desired files among good ones: exit $RC, wanted 1"
snapshot >"$T/logs/after.txt"
diff "$T/logs/before.txt" "$T/logs/after.txt" >"$T/logs/outside.diff" ||
    fail "written outside the state directory: $(grep '^>' "$T/logs/outside.diff" | head -n 5 | tr '\n' ' ')"
[[ $(find "$BOX" -mindepth 1 -maxdepth 2 | sort | tr '\n' ' ') == "$BOX/a $BOX/a/b " ]] ||
    fail "something appeared next to the state directory: $(find "$BOX" -mindepth 1 -maxdepth 2)"
((had_tmp_x)) || [[ ! -e /tmp/hostile-x ]] || fail "/tmp/hostile-x was created"
log=$T/logs/desired1.log

# Every bad file is reported with its path and line.
for f in "${corpus_bad[@]}"; do
    grep -Eq "desired/$f(: line [0-9]+|:[0-9]+)" "$log" ||
        fail "desired/$f is not reported with its path and line: $(grep -F "desired/$f" "$log" | head -n 1)"
done
# challenge.env that would let the file run code in the (root) hooks: refused as such.
for f in "$CORPUS"/desired/env-*; do
    f=${f##*/}
    want='request.challenge.env: variable [A-Z0-9_]* is not allowed (it would let the desired file run code in hooks)'
    [[ $f == env-bash-func ]] && want='request.challenge.env: expected environment variable names'
    grep -F "desired/$f:" "$log" | grep -q "$want" ||
        fail "desired/$f is not refused for its challenge.env: $(grep -F "desired/$f:" "$log" | head -n 1)"
done
if [[ $(id -u) == 0 ]]; then
    grep -Fq "SECURITY: $D/good1 is writable by group or others (owner uid 0, group gid 0, mode 0664): write access" "$log" ||
        fail "no warning about the group-writable desired/good1: $(grep SECURITY "$log" | head -n 3)"
    grep -Fq "SECURITY: $D/g2.hostile.test is not owned by root (owner uid 65534" "$log" ||
        fail "no warning about desired/g2.hostile.test owned by uid 65534: $(grep SECURITY "$log" | head -n 3)"
    [[ $(grep -c 'SECURITY:' "$log") == 2 ]] || fail "unexpected security warnings: $(grep SECURITY "$log")"
fi
# Once each, and counted in the summary line.
n=$(grep -c 'desired/duplicate-key:' "$log")
[[ $n == 1 ]] || fail "desired/duplicate-key is reported $n times, wanted once"
grep -Eq 'reconcile: .* [0-9]+ invalid desired files' "$log" ||
    fail "the summary does not count the invalid desired files: $(grep 'reconcile:' "$log")"
for f in huge-10mb huge-10mb-yaml; do
    grep -F "desired/$f" "$log" | grep -Eqi 'too large|too big|limit|at most' ||
        fail "desired/$f is not reported as too large"
done
for f in "${name_files[@]}"; do
    [[ $f == *$'\xe2'* ]] && continue # shown escaped or raw: the file is checked below
    grep -Fq "desired/$f" "$log" || fail "desired/$f (a hostile file name) is not reported"
done
grep -Fq -e 'desired/\xe2\x98\x83' -e $'desired/\xe2\x98\x83' "$log" ||
    fail "the desired file named with a snowman is not reported"
grep -Eq 'desired/g2.hostile.test:3\b|desired/g2.hostile.test: line 3' "$log" ||
    fail "the unknown key is not warned about with file:line"
# Nothing but printable text and newlines on the log: file names are not terminal escapes
# or forged log lines.
if grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$log"; then
    fail "raw control characters in the log: $(grep -n $'[\x01-\x08\x0b-\x1f\x7f]' "$log" | cat -v | head -n 2)"
fi
grep -q '^acmed: notice: forged line' "$log" && fail "a file name forged a log line"
grep -q 'fifo' "$log" || fail "the FIFO in desired/ was not mentioned"

# The good ones are issued; nothing else is, or is even ordered.
for n in $good_names; do
    [[ -n $(tl_live_cert "$n") ]] || fail "good name $n was not issued"
done
[[ $(ls "$STATE/live" | sort | tr '\n' ' ') == "$good_names " ]] ||
    fail "live/ holds more than the good names: $(ls "$STATE/live" | tr '\n' ' ')"
[[ $(ls "$STATE/certs" | wc -l) == 2 && $(ls "$STATE/keys" | wc -l) == 2 ]] ||
    fail "certs/ or keys/ hold more than the two good targets' ($(ls "$STATE/certs" | wc -l), $(ls "$STATE/keys" | wc -l))"
curl -s --max-time 5 "$PROXY_CTL/log?method=POST&path=%5E/order-plz" >"$T/logs/orders.json"
"$PY" - "$T/logs/orders.json" "$good_names" <<'PY' || fail "an order asked for a name that is not a good one"
import json, sys
log = json.load(open(sys.argv[1]))
log = log if isinstance(log, list) else log.get("entries", log.get("log", []))
good = set(sys.argv[2].split())
asked = {i["value"] for e in log if isinstance(e.get("payload"), dict)
         for i in e["payload"].get("identifiers", [])}
assert asked and asked <= good, asked - good
PY
sort "$T/logs/live-updated.txt" 2>/dev/null | tr '\n' ' ' >"$T/logs/lu.txt"
[[ $(cat "$T/logs/lu.txt") == "$good_names " ]] || fail "live-updated got: $(cat "$T/logs/lu.txt")"
check "the good chain does not verify" tl_verify_chain "$STATE/live/g1.hostile.test"
[[ -z $(ls -A "$WEBROOT") ]] || fail "files left in the webroot: $(ls -A "$WEBROOT")"

# status lists every bad file as invalid, with its error.
"$ACMED" --state "$STATE" status --json >"$T/logs/status.json" 2>"$T/logs/status.err"
rc=$?
[[ $rc == 1 ]] || fail "status with bad desired files exited $rc, wanted 1"
"$PY" - "$T/logs/status.json" "${corpus_bad[@]}" huge-10mb huge-10mb-yaml <<'PY' ||
import json, sys
s = {t["file"]: t for t in json.load(open(sys.argv[1]))["targets"]}
bad = [f for f in sys.argv[2:] if f not in s or s[f]["state"] != "invalid" or not s[f].get("last_error")]
assert not bad, bad
assert all(s[f]["state"] == "satisfied" for f in ("good1", "g2.hostile.test")), s
PY
    fail "status --json does not list every bad file as invalid"

# A second pass: the bad files are still reported, and the CA hears nothing.
n0=$(count)
run desired2.log --once
[[ $RC == 1 ]] || fail "second pass with bad desired files: exit $RC, wanted 1"
[[ $(count) == "$n0" ]] || fail "the second pass made $(($(count) - n0)) requests"

# `acmed want` refuses hostile names before writing anything.
ls -A "$D" | sort >"$T/logs/desired-before.txt"
want_bad=('../x' 'a/b' '*.*.x.hostile.test' 'x.*.y.hostile.test' '_x.hostile.test' $'a\nb.hostile.test'
    '' 'a b.hostile.test' "$(printf 'a%.0s' {1..64}).hostile.test" 'xn--a.hostile.test' '*.192.0.2.1')
for n in "${want_bad[@]}"; do
    n0=$(count)
    run want.log want "$n"
    [[ $RC == 2 ]] || fail "want $(printf '%q' "$n"): exit $RC, wanted 2"
    [[ $(count) == "$n0" ]] || fail "want $(printf '%q' "$n"): the CA was asked"
done
run want.log want ok.hostile.test '../../x'
[[ $RC == 2 ]] || fail "want with one hostile name among good ones: exit $RC, wanted 2"
ls -A "$D" | sort | diff "$T/logs/desired-before.txt" - >/dev/null || fail "want wrote into desired/ for a hostile name"

# ---- conf/target and conf/acmed.yaml ----------------------------------------------------
# Only the good targets and one new one remain: with a good conf/target the new one would
# be ordered at once.
find "$D" -mindepth 1 -maxdepth 1 ! -name good1 ! -name g2.hostile.test -exec rm -rf {} +
printf 'satisfy:\n  names: [ct.hostile.test]\n' >"$D/ct"
cp "$STATE/conf/target" "$T/good-target"
# bad_conf FILE-IN-CONF LABEL [line]: --once must exit 2 naming the file, asking the CA
# nothing; "line" also wants the line number.
BAD_CONF=0
bad_conf() {
    local rel=$1 label=$2 n0 log=conf-$2.log
    BAD_CONF=$((BAD_CONF + 1))
    n0=$(count)
    HF_TIMEOUT=5 run "$log" --once
    [[ $RC == 2 ]] || fail "$rel ($label): exit $RC, wanted 2"
    [[ $(count) == "$n0" ]] || fail "$rel ($label): $(($(count) - n0)) requests to the CA"
    grep -q "$rel" "$T/logs/$log" || fail "$rel ($label): the error does not name the file: $(head -n 1 "$T/logs/$log")"
    if [[ ${3:-} == line ]]; then
        grep -Eq "$rel(: line [0-9]+|:[0-9]+)" "$T/logs/$log" ||
            fail "$rel ($label): the error does not give the line: $(grep "$rel" "$T/logs/$log" | head -n 1)"
    fi
}
for f in "$CORPUS"/target/*; do
    cp "$f" "$STATE/conf/target"
    bad_conf conf/target "target-$(basename "$f")" line
done
for v in LD_PRELOAD PATH; do
    f=$T/logs/conf-target-env-$(tr A-Z_ a-z- <<<"$v").log
    grep -q "conf/target: line 4, column 7: request.challenge.env: variable $v is not allowed (it would let conf/target run code in hooks" "$f" ||
        fail "conf/target setting $v for hooks is not refused as such: $(grep conf/target "$f" | head -n 1)"
done
head -c 10485760 /dev/zero | tr '\0' '#' >"$STATE/conf/target"
bad_conf conf/target target-10mb
rm -f "$STATE/conf/target"
ln -s "$T/good-target" "$STATE/conf/target"
bad_conf conf/target target-symlink-outside
rm -f "$STATE/conf/target"
ln -s "$T/no-such-file" "$STATE/conf/target"
bad_conf conf/target target-dangling-symlink
rm -f "$STATE/conf/target"
mkdir "$STATE/conf/target"
bad_conf conf/target target-directory
rmdir "$STATE/conf/target"
mkfifo "$STATE/conf/target"
bad_conf conf/target target-fifo
rm -f "$STATE/conf/target"
cp "$T/good-target" "$STATE/conf/target"
for f in "$CORPUS"/acmed/*; do
    cp "$f" "$STATE/conf/acmed.yaml"
    bad_conf conf/acmed.yaml "acmed-$(basename "$f")" line
done
rm -f "$STATE/conf/acmed.yaml"
mkfifo "$STATE/conf/acmed.yaml"
bad_conf conf/acmed.yaml acmed-fifo
rm -f "$STATE/conf/acmed.yaml"

# With the configuration good again, the new target is issued: the refusals above were the
# configuration's doing.
run conf-good.log --once
[[ $RC == 0 ]] || fail "with a good configuration again: exit $RC, wanted 0"
[[ -n $(tl_live_cert ct.hostile.test) ]] || fail "ct.hostile.test was not issued once the configuration was good"
tl_report "hostile desired files" "$nbad bad entries beside 2 good files in one pass (corpus ${#corpus_bad[@]}, 10 MB 2, hostile file names ${#name_files[@]} + 2, symlinks, a directory, a FIFO): each refused (files with path and line), the good ones issued, nothing written outside"
tl_report "hostile conf/target and conf/acmed.yaml" "$BAD_CONF bad configurations, one --once each: exit 2, no request to the CA, then issued with a good one"
tl_done
