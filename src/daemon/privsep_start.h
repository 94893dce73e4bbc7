/* privsep_start: whether a command runs privilege-separated, and starting it (DESIGN.md §10).
 *
 * The daemon, `--once` and the commands that talk to a CA call this before their first
 * operation: when it applies (started as root, conf/acmed.yaml does not say `privsep: false`)
 * it starts the keeper's worker on the caller's loop and points the options' engine factory at
 * it, so every CA operation goes through the worker. */
#ifndef ACMED_DAEMON_PRIVSEP_START_H
#define ACMED_DAEMON_PRIVSEP_START_H

#include <uv.h>

#include "privsep/keeper.h"
#include "privsep/listener_proxy.h"
#include "reconcile/reconcile.h"

/* A running separation: the keeper and the listeners its worker serves. */
struct privsep_run {
    struct keeper *keeper; /* NULL when not separated */
    struct listener_proxy *listeners;
};

/* Starts privilege separation for o when it applies: *out holds the keeper and o's engine
 * factory and listener factory point at it (privsep_stop, which the loop needs before it can
 * end); when it does not apply out->keeper is NULL and o is unchanged. Returns 0, or negative
 * with e set: a `user:` naming a missing user or root, or a worker that cannot be started
 * (exit 2). */
int privsep_start(uv_loop_t *loop, struct rec_opts *o, struct privsep_run *out, struct err *e);

/* Stops the worker and frees what privsep_start made (nothing when it did not apply). */
void privsep_stop(struct privsep_run *run);

#endif
