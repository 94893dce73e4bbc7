/* serve_front: the HTTP side of acmed serve (DESIGN.md §11): `POST /sign` on the endpoint's
 * sockets (httpd.h), each request handed to a backend that decides and answers, perhaps much
 * later (the order runs while the request waits). The front reads no file and holds no key
 * but the endpoint's own TLS key when one is configured: under privilege separation it runs
 * in the worker and its backend forwards to the keeper.
 *
 * Only the headers the client rules read travel to the backend (HMAC-SHA256, HMAC-SHA2-256,
 * Authentication). Another path than /sign is 404; the limits of httpd.h apply (413 for a body
 * over max-size or without Content-Length, 405 for another method). */
#ifndef ACMED_SERVE_SERVE_FRONT_H
#define ACMED_SERVE_SERVE_FRONT_H

#include <stddef.h>
#include <uv.h>

#include "serve/serve_back.h"
#include "util/err.h"

/* Where requests go: serve_back_ask/serve_back_forget in one process, the channel to the
 * keeper under privilege separation. ask answers through cb (inside the call, or later with
 * *ticket set); forget(ticket) says the client has gone. */
struct serve_backend {
    int (*ask)(void *ctx, const struct serve_ask *a, serve_answer_cb cb, void *arg, void **ticket);
    void (*forget)(void *ctx, void *ticket);
    void *ctx;
};

struct serve_front;

/* Serves on fds[0..n) (borrowed listening sockets) on loop; tls_cert_pem/tls_key_pem
 * (NUL-terminated PEM, or both NULL: plain HTTP) are read now. max_body is max-size.
 * Returns 0 with *out, or negative with e set. */
int serve_front_new(uv_loop_t *loop, const int *fds, size_t n, size_t max_body,
                    const char *tls_cert_pem, const char *tls_key_pem,
                    const struct serve_backend *be, struct serve_front **out, struct err *e);

/* Requests answered since the start, by status class (for tests and bench). */
unsigned long serve_front_answered(const struct serve_front *f);

/* Stops listening and drops waiting requests (their backend is told: forget); done(arg) runs
 * from the loop once everything is closed. */
void serve_front_close(struct serve_front *f, void (*done)(void *arg), void *arg);

#endif
