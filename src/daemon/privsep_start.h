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
#include "reconcile/reconcile.h"

/* Starts privilege separation for o when it applies: *out is the keeper (keeper_free, which
 * the loop needs before it can end) and o->new_engine/new_engine_arg are set; when it does not
 * apply *out is NULL and o is unchanged. Returns 0, or negative with e set: a `user:` naming a
 * missing user or root, or a worker that cannot be started (exit 2). */
int privsep_start(uv_loop_t *loop, struct rec_opts *o, struct keeper **out, struct err *e);

#endif
