/* worker_lookup: the lookups of the worker's http-01 listeners (privilege separation,
 * DESIGN.md §10/§12): a miss is asked of the keeper (WMSG_LOOKUP) and answered when
 * WMSG_LOOKED comes back, or as unknown after CHAL_LOOKUP_TIMEOUT_MS. The worker learns only
 * key authorizations, which are public (served over plain HTTP). */
#ifndef ACMED_DAEMON_WORKER_LOOKUP_H
#define ACMED_DAEMON_WORKER_LOOKUP_H

#include <stdint.h>
#include <uv.h>

#include "challenge/lookup.h"
#include "privsep/ipc.h"
#include "privsep/ipc_chan.h"
#include "util/err.h"

struct worker_lookup;

/* What one listener asks through: a struct chal_lookup over it (worker_lookup_bind). */
struct worker_lookup_ref {
    struct worker_lookup *wl;
    uint64_t responder;
};

/* The lookups sent over chan (borrowed; must outlive the result). NULL when out of memory. */
struct worker_lookup *worker_lookup_new(uv_loop_t *loop, struct ipc_chan *chan);

/* Fills *lk (for http01_set_lookup) and *ref (what lk->arg points at; both the caller's, and
 * to outlive the listener's use of lk) so that responder's misses are asked of the keeper. */
void worker_lookup_bind(struct worker_lookup *wl, uint64_t responder, struct worker_lookup_ref *ref,
                        struct chal_lookup *lk);

/* WMSG_LOOKED: answers the lookup it names (one that timed out meanwhile is ignored). Returns
 * 0, or -ENOMEM with e set. */
int worker_lookup_answer(struct worker_lookup *wl, const struct ipc_msg *m, struct err *e);

/* Answers every lookup in flight as unknown (now) and frees wl once its timer is closed.
 * NULL is ignored. */
void worker_lookup_free(struct worker_lookup *wl);

#endif
