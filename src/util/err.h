/* err: an error value that travels up the call chain collecting context.
 *
 * Every fallible function in acmed returns 0 on success or a negative errno-style code on
 * failure, and fills a caller-provided `struct err` (which may be NULL) with a human message.
 * Callers add context on the way up with err_wrap(); the top level logs the message once. */
#ifndef ACMED_UTIL_ERR_H
#define ACMED_UTIL_ERR_H

#include <stddef.h>

/* Room for context around a server's text (itself at most SANITIZE_MAX, util/sanitize.h), so
 * that a rateLimited detail with its unpause URL is shown whole. */
#define ERR_MSG_MAX 2048

struct err {
    int code;              /* negative errno-style code, 0 when no error was set */
    char msg[ERR_MSG_MAX]; /* NUL-terminated, never contains secrets */
};

/* Clears `e` (no error). `e` may be NULL. */
void err_clear(struct err *e);

/* Records an error: sets e->code = code (forced negative; 0 becomes -EIO) and formats the
 * message. Returns the stored (negative) code so callers can `return err_set(e, ...)`.
 * `e` may be NULL, in which case only the code is returned. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like err_set() with the text of strerror(-code) appended after ": ". */
int err_sys(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes context to an existing message ("context: old message"). Returns e->code, or
 * -EIO when `e` holds no error. `e` may be NULL (then returns -EIO). */
int err_wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message of `e`, or "unknown error" when e is NULL or empty. Borrowed. */
const char *err_msg(const struct err *e);

#endif
