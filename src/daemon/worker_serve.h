/* worker_serve: acmed serve's endpoint in the worker (privilege separation, DESIGN.md §11):
 * the sockets and TLS credentials the keeper sends (WMSG_SERVE) are served with serve_front;
 * each request goes to the keeper as WMSG_ASK and is answered when WMSG_ANSWER comes back;
 * a client that goes away is reported (WMSG_GONE). The worker decides nothing. */
#ifndef ACMED_DAEMON_WORKER_SERVE_H
#define ACMED_DAEMON_WORKER_SERVE_H

#include <uv.h>

#include "privsep/ipc.h"
#include "privsep/ipc_chan.h"
#include "util/err.h"

struct worker_serve;

struct worker_serve *worker_serve_new(uv_loop_t *loop, struct ipc_chan *chan);

/* WMSG_SERVE (with its socket fd, taken) and WMSG_ANSWER. Returns 0, or -EPROTO/-ENOMEM with
 * e set for a message out of order. */
int worker_serve_handle(struct worker_serve *w, const struct ipc_msg *m, int fd, struct err *e);

/* Closes the endpoint (waiting requests are dropped) and frees w. NULL is ignored. */
void worker_serve_free(struct worker_serve *w);

#endif
