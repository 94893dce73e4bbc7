/* tu_http: a plain HTTP client for the http-01 listeners in unit tests, on one thread: the
 * request is written at once (loopback buffers it), and the answer is awaited while the test's
 * loop runs, so that a listener or a lookup on that loop can answer. 127.0.0.1 only. */
#ifndef ACMED_TESTS_TU_HTTP_H
#define ACMED_TESTS_TU_HTTP_H

#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Connects to 127.0.0.1:port and sends `method` (GET, HEAD) for
 * /.well-known/acme-challenge/<token>. Returns the socket, or -1. */
int tu_http_send(int port, const char *method, const char *token);

/* Runs loop (when not NULL) until the server has sent its whole answer on fd and closed, or
 * ms pass; closes fd. Returns the status (body, NUL-terminated, in body[0..n)) or -1. */
int tu_http_wait(uv_loop_t *loop, int fd, uint64_t ms, char *body, size_t n);

/* Closes fd with a reset (SO_LINGER 0): the server sees an error, not an end of stream. */
void tu_http_reset(int fd);

/* Runs loop for ms milliseconds (a non-blocking round every millisecond). */
void tu_http_pump(uv_loop_t *loop, unsigned ms);

/* Runs loop until *count reaches n or ms pass; true when it is then exactly n. */
bool tu_http_pump_until(uv_loop_t *loop, const int *count, int n, unsigned ms);

/* A free TCP port on 127.0.0.1 now (bound to port 0, then released). */
int tu_http_free_port(void);

#endif
