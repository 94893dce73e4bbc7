/* rec_fleet: what a pass does differently in fleet mode (rec_opts.fleet, DESIGN.md §12,
 * issue 16). Private to src/reconcile.
 *
 * The pass's first phase reads the fleet's targets from etcd (decoded over this node's
 * conf/target; kept in state/fleet-targets.cache for when etcd does not answer) and installs
 * the certificates other nodes obtained (ccert). Each job then works only under its target's
 * lock, resumes the fleet's checkpoint, writes a fenced checkpoint after every step, publishes
 * its answers and its certificate, and gives the lock back (rec_fleet_job.c). */
#ifndef ACMED_RECONCILE_REC_FLEET_H
#define ACMED_RECONCILE_REC_FLEET_H

#include "reconcile/pass.h"

/* Where the last known fleet targets are kept (their JSON as in etcd; no secret). */
#define REC_FLEET_CACHE "state/fleet-targets.cache"

/* The phase: a no-op outside fleet mode. */
void rec_phase_fleet(struct rec *r);

/* Starts job j in fleet mode: its lock, then the fleet's checkpoint, then job_start; a target
 * another node holds, or that etcd cannot tell about, ends without a step. */
void rec_fleet_job_begin(struct rec *r, struct job *j);
/* The job has finished: its outcome goes to etcd under its lock (fenced), then the lock is
 * given back and rec_job_finished runs again. Returns true when it took the job over. */
bool rec_fleet_job_end(struct rec *r, struct job *j);
/* Fleet mode: the jobs start from a place of their own on each node (a hash of its name), so
 * that nodes take different targets' locks first rather than all wait on the same ones. */
void rec_fleet_spread(struct rec *r);
/* Fills the fleet's hooks of r->jctx and r->provs (nothing outside fleet mode). */
void rec_fleet_init(struct rec *r);
/* The fleet's account hooks of r->provs (rec_fleet_acct.c). */
void rec_fleet_acct_init(struct rec *r);
/* Frees what the job held for fleet mode. */
void rec_fleet_job_free(struct job *j);
/* Gives back what the pass still holds (an account's lock). */
void rec_fleet_release(struct rec *r);

#endif
