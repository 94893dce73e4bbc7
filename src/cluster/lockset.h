/* lockset: one node's locks on targets in fleet mode (DESIGN.md §12, issue 16 item 3). A node
 * works on a target only while it holds locks/<target>: a key created in a transaction (only
 * when absent) under the node's lease, which the lockset keeps alive (a renewal every third of
 * the TTL). The lock's create revision is its fence: results are written with
 * ckv_put_fenced(kv, "locks/<target>", fence, ...), so a node that lost its lease (paused,
 * partitioned, its keepalives failing) can never overwrite a newer holder's work. A node that
 * dies leaves its locks to expire with its lease, within the TTL.
 *
 * The lock's value is the holder's node name, sealed like every value (cluster/ckv.h). */
#ifndef ACMED_CLUSTER_LOCKSET_H
#define ACMED_CLUSTER_LOCKSET_H

#include <stdint.h>
#include <uv.h>

#include "cluster/ckv.h"
#include "net/etcd.h"
#include "util/err.h"

#define LOCKSET_TTL_DEFAULT 10 /* seconds */

struct lockset;

/* The lease is gone (etcd said so, or no renewal succeeded for a whole TTL): every lock of
 * this lockset is lost; work under them must stop at its next fenced write (which fails). A
 * later lockset_acquire starts a new lease. */
typedef void (*lockset_lost_cb)(void *arg);

/* A lockset for node (copied) over kv (borrowed) and etcd c (borrowed), on loop. ttl 0:
 * LOCKSET_TTL_DEFAULT. Returns 0 with *out, or negative with e set. */
int lockset_new(uv_loop_t *loop, struct etcd *c, struct ckv *kv, const char *node, int64_t ttl,
                lockset_lost_cb lost, void *arg, struct lockset **out, struct err *e);

/* The outcome of lockset_acquire: rc 0 and the fence (the lock key's create revision); -EBUSY
 * with holder (the node holding it, or "?" when its value does not open); other errors as
 * net/etcd.h. Called once, from the loop. */
typedef void (*lockset_cb)(void *arg, int rc, int64_t fence, const char *holder,
                           const struct err *e);

/* Takes locks/<target> unless another node holds it. Returns 0 when started, or negative
 * with e set. */
int lockset_acquire(struct lockset *ls, const char *target, lockset_cb cb, void *arg,
                    struct err *e);

/* The lease the locks are bound to (0 while there is none): values that must go when this
 * node dies (challenge answers) are put under it. */
int64_t lockset_lease(const struct lockset *ls);

/* Gives locks/<target> back if it is still the one taken with fence (fire and forget). */
void lockset_release(struct lockset *ls, const char *target, int64_t fence);

/* One lock as lockset_holders lists it: the target (after "locks/") and the node holding it,
 * "?" when the value does not open under this node's secret (or is no node name). */
struct lockset_holder {
    const char *target;
    const char *node;
};

/* The outcome of lockset_holders: rc 0 with every lock held now (h borrowed for the
 * callback, in target order, n may be 0); other errors as net/etcd.h. Called once, from the
 * loop. */
typedef void (*lockset_holders_cb)(void *arg, int rc, const struct lockset_holder *h, size_t n,
                                   const struct err *e);

/* Lists who holds which target under kv's locks/, read-only (a linearizable range: no lease,
 * no lockset needed, so a command line can ask). Returns 0 when started (cb will run) or
 * negative with e set (cb will not run). */
int lockset_holders(struct ckv *kv, lockset_holders_cb cb, void *arg, struct err *e);

/* Revokes the lease (every lock goes at once) and frees ls, or, with crash, only stops
 * renewing it, as a node that dies would (for tests). Pending acquisitions end with
 * -ECANCELED before this returns. */
void lockset_free(struct lockset *ls, bool crash);

#endif
