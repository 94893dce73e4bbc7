/* serve_keeper: acmed serve under privilege separation, the keeper's side (DESIGN.md §11,
 * issue 15 item 6). The keeper binds the endpoint's sockets and hands them, with the
 * endpoint's TLS certificate and key when configured (the one secret the worker holds), to
 * every worker it starts (WMSG_SERVE); the worker serves POST /sign (daemon/worker_serve.h)
 * and forwards each request's peer, body and rule headers (WMSG_ASK); the keeper decides with
 * serve_back, whose HMAC keys never leave it, and sends the answer (WMSG_ANSWER). A client gone
 * (WMSG_GONE) is forgotten; a worker that dies takes its waiting requests with it, and the next
 * worker serves the same sockets. */
#ifndef ACMED_SERVE_SERVE_KEEPER_H
#define ACMED_SERVE_SERVE_KEEPER_H

#include <stddef.h>

#include "privsep/keeper.h"
#include "serve/serve_back.h"
#include "util/err.h"

struct serve_keeper;

/* Starts serving through k's workers on fds[0..n) (listening sockets; taken: closed by
 * serve_keeper_stop), bodies of at most max_body bytes, TLS when cert_pem and key_pem (copied)
 * are not NULL, decisions by b (borrowed). Returns 0 with *out, or negative with e set. */
int serve_keeper_start(struct keeper *k, struct serve_back *b, const int *fds, size_t n,
                       size_t max_body, const char *cert_pem, const char *key_pem,
                       struct serve_keeper **out, struct err *e);

/* Stops: waiting requests are forgotten (serve_back_forget), the worker is told nothing more,
 * the sockets are closed. s may be NULL. */
void serve_keeper_stop(struct serve_keeper *s);

#endif
