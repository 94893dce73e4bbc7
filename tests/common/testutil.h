/* testutil: small helpers shared by the unit and integration tests. */
#ifndef ACMED_TESTS_TESTUTIL_H
#define ACMED_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Creates a fresh private directory under $ACMED_TEST_TMP (or /tmp) and returns its path
 * (caller frees). Aborts the test program on failure. */
char *tu_mkdtemp(const char *prefix);

/* Removes a directory tree (like rm -rf). Returns 0 or -1. */
int tu_rmtree(const char *path);

/* Reads a file from $ACMED_TEST_DATA/<rel> into a NUL-terminated buffer (caller frees).
 * Aborts on failure. */
char *tu_read_data(const char *rel, size_t *len);

/* Writes a file (mode 0644), aborting on failure. */
void tu_write_file(const char *path, const char *content);

/* Reads a whole file (caller frees), NULL when missing. */
char *tu_read_file(const char *path, size_t *len);

/* Runs `loop` until *flag is non-zero or `ms` milliseconds pass (a watchdog timer, closed
 * again before returning). Returns 1 when the flag was set, 0 on timeout. */
int tu_run_until(uv_loop_t *loop, const int *flag, uint64_t ms);

/* Waits (at most ms) until something accepts connections on the UNIX socket at path: a
 * server's socket file exists once bound, a moment before it listens. Returns 1 or 0. */
int tu_wait_unix_listening(const char *path, unsigned ms);

#endif
