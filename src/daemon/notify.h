/* notify: the systemd notification protocol (sd_notify(3)) without libsystemd.
 *
 * A state string such as "READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1" or
 * "STATUS=..." is sent as one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET. Nothing
 * here blocks: the socket is non-blocking and the send uses MSG_DONTWAIT, so a stuck service
 * manager costs a lost notification (-EAGAIN), never a stalled loop. */
#ifndef ACMED_DAEMON_NOTIFY_H
#define ACMED_DAEMON_NOTIFY_H

#include <stdint.h>

/* Sends `state` (borrowed, e.g. "READY=1\nSTATUS=3 certificates, next renewal in 5 days") as
 * one datagram to the socket named by $NOTIFY_SOCKET: an absolute path, or a name in the Linux
 * abstract namespace when it starts with '@'. Returns 1 when sent, 0 when NOTIFY_SOCKET is
 * unset (nothing to do), -EINVAL when it (or `state`) is malformed, another negative errno
 * when the send fails (-EAGAIN when the receiver's queue is full). Never blocks. */
int notify_send(const char *state);

/* notify_send() of a printf-style formatted state. Returns the same, or -ENOMEM. */
int notify_sendf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog interval in microseconds from $WATCHDOG_USEC when $WATCHDOG_PID is unset or
 * equals getpid(); 0 when no watchdog is requested or either variable is malformed. Callers
 * usually send "WATCHDOG=1" every half of it. */
uint64_t notify_watchdog_usec(void);

#endif
