/* daemon_serve: `acmed serve` (DESIGN.md §11) is the daemon plus the certificate server: its
 * endpoint (serve_front), the decisions and orders (serve_back), and the http-01 listener it
 * holds for its life (serve_listen), all on the daemon's loop, configured by conf/serve.yaml.
 * The daemon's own passes answer their http-01 challenges through that listener too. */
#ifndef ACMED_DAEMON_DAEMON_SERVE_H
#define ACMED_DAEMON_DAEMON_SERVE_H

#include <stdbool.h>
#include <uv.h>

#include "privsep/keeper.h"
#include "reconcile/reconcile.h"
#include "util/err.h"

struct daemon_serve;

/* Reads conf/serve.yaml under state_dir (under privilege separation, k is the keeper: the
 * endpoint is served by its worker, serve_keeper.h; NULL: in this process), opens the endpoint and
 * the http-01 listener, and points po->listeners at the held listener (po is the options of every
 * pass, the daemon's and the server's; it must outlive the server). max_orders bounds the orders in
 * flight. Returns 0 with *out, or negative with e set (the file and line of a configuration error,
 * the address that cannot be bound). */
int daemon_serve_start(uv_loop_t *loop, struct keeper *k, const char *state_dir,
                       struct rec_opts *po, unsigned max_orders, struct daemon_serve **out,
                       struct err *e);

/* Stops serving: the endpoint closes, orders end at their next checkpoint (force: at once;
 * a second call may force), the listener closes; done(arg) runs from the loop when all is
 * closed, and s is freed. */
void daemon_serve_stop(struct daemon_serve *s, bool force, void (*done)(void *arg), void *arg);

#endif
