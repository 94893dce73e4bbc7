#!/usr/bin/env bash
# hooks/reload: on live-updated, reloads (else restarts) the running services of its list,
# through systemctl or, without it, service. Fakes of both record their calls.
# Usage: test_reload.sh SOURCE-DIR
. "$(dirname "$0")/lib.sh"
th_init "${1:-}"
hook=$SRC/hooks/reload

# systemctl: is-active succeeds for the services in $ACTIVE; reload fails for $RELOAD_FAIL,
# restart for $RESTART_FAIL. Every call is recorded, one per line.
systemctl_body='echo "$*" >>"$REC/systemctl"
has() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
case $1 in
is-active) [ "$2" = --quiet ] || exit 3; has "$3" "$ACTIVE" ;;
reload) ! has "$2" "$RELOAD_FAIL" ;;
restart) ! has "$2" "$RESTART_FAIL" ;;
*) exit 1 ;;
esac'
th_fake systemctl "$systemctl_body"
printf 'a.example\nb.example\n' >"$T/names"
IN=$T/names

# Only the active services are reloaded, in the list's order, and each is named.
th_run ACTIVE="nginx haproxy" "$hook" live-updated
expect_rc 0 "live-updated"
expect_file "$T/out" $'reloaded nginx\nreloaded haproxy\n' "live-updated output"
grep '^reload\|^restart' "$REC/systemctl" >"$T/acts"
expect_file "$T/acts" $'reload nginx\nreload haproxy\n' "systemctl reload calls"
grep -q '^is-active --quiet postfix$' "$REC/systemctl" ||
    fail "is-active was not asked about postfix (the default list)"

# Any other event is not the hook's business, and nothing is touched.
rm -f "$REC/systemctl"
for ev in challenge-http-start challenge-dns-start expiry-warning renewal-failed ""; do
    th_run ACTIVE="nginx" "$hook" "$ev"
    expect_rc 42 "event \"$ev\""
done
[[ ! -e $REC/systemctl ]] || fail "systemctl called for another event"

# A failed reload falls back to a restart; when both fail, the hook says so and exits 1 after
# doing the rest.
rm -f "$REC/systemctl"
th_run ACTIVE="nginx postfix dovecot" RELOAD_FAIL="nginx postfix" RESTART_FAIL="postfix" \
    "$hook" live-updated
expect_rc 1 "reload and restart failing"
expect_file "$T/out" $'restarted nginx (reload failed)\nreloaded dovecot\n' "fallback output"
grep -q 'cannot reload or restart postfix' "$T/err" || fail "postfix's failure not reported"
grep -q '^restart nginx$' "$REC/systemctl" || fail "nginx was not restarted"

# ACME_RELOAD_SERVICES replaces the list; names that could be options or paths are refused.
rm -f "$REC/systemctl"
th_run ACTIVE="nginx myapp" ACME_RELOAD_SERVICES="myapp -x ../y nginx@a" "$hook" live-updated
expect_rc 0 "ACME_RELOAD_SERVICES"
expect_file "$T/out" $'reloaded myapp\n' "ACME_RELOAD_SERVICES output"
expect_file "$REC/systemctl" $'is-active --quiet myapp\nreload myapp\nis-active --quiet nginx@a\n' \
    "ACME_RELOAD_SERVICES calls"
grep -q 'invalid service name "-x"' "$T/err" || fail "-x not refused"
grep -q 'invalid service name "../y"' "$T/err" || fail "../y not refused"

# acmetool's configuration file and its SERVICES variable are honoured; the environment wins.
printf 'SERVICES="postfix"\n' >"$T/acme-reload"
rm -f "$REC/systemctl"
th_run ACTIVE="nginx postfix" ACME_RELOAD_CONF="$T/acme-reload $T/missing" "$hook" live-updated
expect_rc 0 "SERVICES from the configuration file"
expect_file "$T/out" $'reloaded postfix\n' "SERVICES output"
th_run ACTIVE="nginx postfix" ACME_RELOAD_CONF="$T/acme-reload" ACME_RELOAD_SERVICES=nginx \
    "$hook" live-updated
expect_file "$T/out" $'reloaded nginx\n' "ACME_RELOAD_SERVICES over SERVICES"

# Without systemctl: service, asked for the status first.
rm -f "$FAKES/systemctl" "$REC/systemctl"
th_fake service 'echo "$*" >>"$REC/service"
case " $ACTIVE " in *" $1 "*) ;; *) exit 3 ;; esac
case $2 in status | reload) exit 0 ;; esac
exit 1'
th_run ACTIVE="nginx" "$hook" live-updated
expect_rc 0 "service"
expect_file "$T/out" $'reloaded nginx\n' "service output"
grep -q '^nginx reload$' "$REC/service" || fail "service nginx reload not run"
[[ $(grep -c 'reload' "$REC/service") == 1 ]] || fail "service reloaded something else"
grep -q '^apache2 status$' "$REC/service" || fail "service apache2 status not asked"

# Neither: nothing to do, said on stderr.
rm -f "$FAKES/service"
th_run "$hook" live-updated
expect_rc 0 "no service manager"
grep -q 'neither systemctl nor service' "$T/err" || fail "missing service manager not reported"

th_done
