#!/usr/bin/env bash
# The man pages (doc/acmed.8, doc/acmed-desired.5): `man --warnings` renders them without a
# word on stderr; acmed(8) names every command, subcommand, option, environment variable and
# exit code that `acmed --help` lists (parsed from the help text, so a new option without
# documentation fails here); acmed-desired(5) names every key of the desired file schema
# (examples/desired/full.example.com and src/store/desired_schema.c) and of conf/acmed.yaml
# (src/store/conf.c, and src/store/conf_cluster.c for cluster:); both carry the version
# `acmed --version` prints.
# Usage: test_man.sh SOURCE-DIR ACMED
. "$(dirname "$0")/lib.sh"
pk_init "${1:-}" "${2:-}"

command -v man >/dev/null || fail "man (man-db) is not installed (tests/install-deps.sh)"
[[ $FAILED == 0 ]] || pk_done
export MANWIDTH=80

page8=$SRC/doc/acmed.8
page5=$SRC/doc/acmed-desired.5
for p in "$page8" "$page5"; do
    [[ -f $p ]] || fail "${p#"$SRC"/} missing"
done
[[ $FAILED == 0 ]] || pk_done

# ---- rendering: no warnings, plain ASCII source ----
for p in "$page8" "$page5"; do
    name=${p##*/}
    man --warnings -l "$p" >"$T/$name.out" 2>"$T/$name.err" || fail "man -l $name failed"
    [[ -s $T/$name.err ]] && fail "man --warnings on $name: $(head -c 2000 "$T/$name.err")"
    [[ -s $T/$name.out ]] || fail "man -l $name rendered nothing"
    # The same in the C locale (what cron mails and old terminals get).
    LC_ALL=C man --warnings -l "$p" >/dev/null 2>"$T/$name.err.C" || true
    [[ -s $T/$name.err.C ]] && fail "man --warnings on $name (LC_ALL=C): $(head -c 2000 "$T/$name.err.C")"
    LC_ALL=C grep -n '[^[:print:][:space:]]' "$p" >"$T/$name.nonascii" &&
        fail "$name has non-ASCII bytes (use roff escapes): $(head -3 "$T/$name.nonascii")"
    # Plain text for the checks below: ASCII rendering, overstrikes removed.
    LC_ALL=C man -l "$p" 2>/dev/null | col -b >"$T/$name.txt"
done
txt8=$T/acmed.8.txt
txt5=$T/acmed-desired.5.txt

# section NAME FILE: the rendered text of one section (headings start in column 0).
section() {
    awk -v s="$1" '/^[A-Z]/ { on = ($0 == s); next } on' "$2"
}
# has WORD FILE: WORD occurs as a whole word (options may be followed by ',' or ']').
has() {
    grep -qFw -e "$1" "$2"
}

for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS ENVIRONMENT FILES "EXIT STATUS" HOOKS \
    EXAMPLES "SEE ALSO"; do
    grep -qx "$s" "$txt8" || fail "acmed(8) has no $s section"
done
for s in NAME SYNOPSIS DESCRIPTION "DESIRED FILE" CONF/TARGET CONF/ACMED.YAML CONF/RESPONSES \
    EXAMPLES "SEE ALSO"; do
    grep -qx "$s" "$txt5" || fail "acmed-desired(5) has no $s section"
done
section SYNOPSIS "$txt8" >"$T/synopsis"
section COMMANDS "$txt8" >"$T/commands"
section OPTIONS "$txt8" >"$T/options"
section ENVIRONMENT "$txt8" >"$T/environment"
section "EXIT STATUS" "$txt8" >"$T/exit"

# ---- acmed(8) against acmed --help ----
"$ACMED" --help >"$T/help" 2>"$T/help.err" || fail "acmed --help exited $?"
[[ -s $T/help ]] || fail "acmed --help printed nothing"
awk '/^commands:/ { on = 1; next } /^[^ ]/ { on = 0 } on && /^  [^ ]/' "$T/help" >"$T/help.commands"
awk '/^options:/ { on = 1; next } /^$/ { on = 0 } on && /^  -/' "$T/help" >"$T/help.options"
[[ -s $T/help.commands ]] || fail "no commands found in acmed --help (has its format changed?)"
[[ -s $T/help.options ]] || fail "no options found in acmed --help (has its format changed?)"

# Commands: the first word of each command line ("--once," "reconcile" for the first), and
# the options shown with them ([--force], [--json], -n...), anywhere in the commands section.
commands=()
while read -r first second _; do
    first=${first%,}
    commands+=("$first")
    [[ $second != "["* && $second != [A-Z]* && $second != *"|"* && -n $second ]] &&
        commands+=("$second")
done <"$T/help.commands"
mapfile -t cmdopts < <(awk '/^commands:/ { on = 1; next } /^[^ ]/ { on = 0 } on' "$T/help" |
    grep -oE '(^|[[ (])-{1,2}[a-z][a-z-]*' | sed -E 's/^[[ (]//' | sort -u)
# account's subcommands: list|thumbprint|...
mapfile -t subs < <(grep -E '^  account ' "$T/help.commands" | awk '{print $2}' | tr '|' '\n')
[[ ${#commands[@]} -ge 8 ]] || fail "only ${#commands[@]} commands parsed from --help: ${commands[*]}"
[[ ${#subs[@]} -ge 2 ]] || fail "account's subcommands not found in --help"
for c in "${commands[@]}"; do
    has "$c" "$T/synopsis" || fail "acmed(8) SYNOPSIS does not show the command $c"
    has "$c" "$T/commands" || fail "acmed(8) COMMANDS does not describe $c"
done
for o in "${cmdopts[@]}"; do
    has "$o" "$T/synopsis" || fail "acmed(8) SYNOPSIS does not show the command option $o"
    has "$o" "$T/commands" || fail "acmed(8) COMMANDS does not describe the option $o"
done
for s in "${subs[@]}"; do
    has "$s" "$T/commands" || fail "acmed(8) COMMANDS does not describe account $s"
done
grep -qiE 'no command.*daemon|daemon.*no command|default mode' "$txt8" ||
    fail "acmed(8) does not say that the daemon is the default with no command"

# Global options: each one a tag of the OPTIONS section (a line starting with it).
mapfile -t gopts < <(sed -E 's/^  //; s/   .*//' "$T/help.options" | grep -oE -- '-{1,2}[a-z][a-z-]*')
[[ ${#gopts[@]} -ge 8 ]] || fail "only ${#gopts[@]} global options parsed from --help: ${gopts[*]}"
for o in "${gopts[@]}"; do
    grep -qE -- "^ {7}(-[a-z], )?$o( |,|$)" "$T/options" ||
        fail "acmed(8) OPTIONS has no entry for $o"
done

# Environment variables named in --help (ACME_STATE_DIR...), and ACMED_FAKE_NOW (DESIGN.md).
mapfile -t envs < <(grep -oE '\bACMED?_[A-Z_]+\b' "$T/help" | sort -u)
[[ ${#envs[@]} -ge 4 ]] || fail "only ${#envs[@]} environment variables parsed from --help"
for v in "${envs[@]}" ACMED_FAKE_NOW; do
    grep -qE "^ {7}$v\b" "$T/environment" || fail "acmed(8) ENVIRONMENT has no entry for $v"
done

# Exit codes: "exit codes: 0 all satisfied, 1 ..." in --help; each an entry of EXIT STATUS.
mapfile -t codes < <(sed -n '/^exit codes:/,$p' "$T/help" | tr '\n' ' ' |
    grep -oE '(: |, )[0-9]+ ' | grep -oE '[0-9]+')
[[ ${#codes[@]} -ge 5 ]] || fail "only ${#codes[@]} exit codes parsed from --help"
for c in "${codes[@]}"; do
    grep -qE "^ {7}$c +[A-Z]" "$T/exit" || fail "acmed(8) EXIT STATUS has no entry for $c"
done

# Hook events (DESIGN.md section 5) in the HOOKS section.
section HOOKS "$txt8" >"$T/hooks"
for e in live-updated challenge-http-start challenge-dns-start challenge-tls-alpn-start \
    expiry-warning renewal-failed; do
    grep -qF -- "${e%-start}" "$T/hooks" || fail "acmed(8) HOOKS does not describe $e"
done

# ---- acmed-desired(5) against the schema ----
mapfile -t keys < <({
    grep -oE '^\s*#?\s*[a-z][a-z0-9-]*:(\s|$)' "$SRC/examples/desired/full.example.com" |
        sed -E 's/^\s*#?\s*//; s/:.*//'
    awk '/k_root\[\]/,/k_eab\[\]/' "$SRC/src/store/desired_schema.c" |
        grep -oE '"[a-z][a-z0-9-]*"' | tr -d '"'
} | sort -u)
[[ ${#keys[@]} -ge 20 ]] || fail "only ${#keys[@]} desired file keys found: ${keys[*]}"
for k in "${keys[@]}"; do
    has "$k" "$txt5" || fail "acmed-desired(5) does not describe the key $k"
done
mapfile -t ckeys < <(grep -oE 'strcmp\(k->str, "[a-z-]+"\)' "$SRC/src/store/conf.c" |
    grep -oE '"[a-z-]+"' | tr -d '"')
[[ ${#ckeys[@]} -ge 6 ]] || fail "only ${#ckeys[@]} conf/acmed.yaml keys found in src/store/conf.c"
section CONF/ACMED.YAML "$txt5" >"$T/confyaml"
# cluster:'s keys, by the full paths src/store/conf_cluster.c compares them with.
mapfile -t clkeys < <(grep -oE '"cluster(\.[a-z-]+)+"' "$SRC/src/store/conf_cluster.c" |
    tr -d '"' | sort -u)
[[ ${#clkeys[@]} -ge 10 ]] || fail "only ${#clkeys[@]} cluster keys found in src/store/conf_cluster.c"
for k in "${ckeys[@]}" "${clkeys[@]}"; do
    grep -qE "^ {7}$k\$" "$T/confyaml" || fail "acmed-desired(5) CONF/ACMED.YAML has no entry for $k"
done
grep -qF 'acme-agreement:' "$txt5" || fail "acmed-desired(5) does not show conf/responses' form"

# ---- versions ----
version=$("$ACMED" --version) || fail "acmed --version exited $?"
for p in "$page8" "$page5"; do
    th=$(grep -m1 '^\.TH ' "$p")
    [[ $th == *"\"$version\""* ]] ||
        fail "${p##*/}: .TH says ${th:-nothing}, acmed --version says $version"
done

pk_done
