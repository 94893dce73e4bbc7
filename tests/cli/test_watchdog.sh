#!/usr/bin/env bash
# The daemon's loop never stands still while a pass runs: with WATCHDOG_USEC=2s and a
# challenge hook that sleeps 6 s, the WATCHDOG=1 pings keep coming at least every 2 s (the
# pass runs on the daemon's own loop, not on a nested one), and the certificate is issued.
. "$(dirname "$0")/lib.sh"
tl_init "$1"
tl_pebble
tl_webroot
tl_conf_target
mkdir -p "$STATE/desired"
cat >"$HOOKS/10-slow" <<HOOK
#!/bin/sh
[ "\$1" = challenge-http-start ] || exit 42
date +%s.%N >"$T/hook.start"
sleep 6
date +%s.%N >"$T/hook.end"
HOOK
chmod 755 "$HOOKS/10-slow"

# sd_notify: a datagram socket that records each message with the time it arrived.
tl_notify_listen "$T/notify.sock" "$T/notify.log" || fail "the notify socket did not appear"

NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=2000000 "$ACMED" --state "$STATE" --hooks "$HOOKS" \
    --ca-bundle "$PEBBLE_CA" --provider "$PROVIDER" >>"$T/daemon.log" 2>&1 &
DAEMON=$!
PIDS+=($DAEMON)
printf 'satisfy:\n  names: [w.watchdog.test]\n' >"$STATE/desired/w"
for ((i = 0; i < 300; i++)); do
    [[ -n $(tl_live_cert w.watchdog.test) ]] && break
    sleep 0.1
done
[[ -n $(tl_live_cert w.watchdog.test) ]] || fail "the daemon did not issue within 30 s: $(tail -5 "$T/daemon.log")"
kill -TERM "$DAEMON"
wait "$DAEMON" || fail "the daemon did not stop cleanly"
[[ -s $T/hook.end ]] || fail "the slow hook did not run to its end"
python3 - "$T/notify.log" "$T/hook.start" "$T/hook.end" <<'PY' || fail "the watchdog was not fed while the hook slept"
import sys
pings = [float(l.split()[0]) for l in open(sys.argv[1]) if l.split()[1:] == ["WATCHDOG=1"]]
h0, h1 = (float(open(p).read()) for p in sys.argv[2:4])
assert h1 - h0 >= 5.5, ("the hook did not sleep", h1 - h0)
during = [t for t in pings if h0 - 1 <= t <= h1 + 1]
assert len(during) >= 5, ("too few pings while the hook slept", len(during), pings)
gaps = [b - a for a, b in zip(pings, pings[1:])]
assert max(gaps) < 2.0, ("a gap between WATCHDOG=1 pings reached the interval", max(gaps))
print("watchdog: %d pings, longest gap %.2f s, hook slept %.1f s" % (len(pings), max(gaps), h1 - h0))
PY
tl_done
