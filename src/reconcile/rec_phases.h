/* rec_phases: the phases of one pass. Their order lives only in the table of rec_phases.c;
 * each phase ends by calling r->phase_end, never by naming the next. Private to
 * src/reconcile. */
#ifndef ACMED_RECONCILE_REC_PHASES_H
#define ACMED_RECONCILE_REC_PHASES_H

#include "reconcile/pass.h"

/* Runs the first phase (rec_main.c, once the pass is set up); done(r) runs after the last.
 * Every phase ends by calling r->phase_end(r), which runs the next one. */
void rec_phases_start(struct rec *r, void (*done)(struct rec *r));

void rec_phase_fleet(struct rec *r);      /* rec_fleet.c */
void rec_phase_accounts(struct rec *r);   /* rec_account.c */
void rec_phase_revoke(struct rec *r);     /* rec_revoke.c */
void rec_phase_ari(struct rec *r);        /* rec_ari.c */
void rec_phase_jobs(struct rec *r);       /* rec.c */
void rec_phase_after_jobs(struct rec *r); /* rec_ari.c */
void rec_phase_hooks(struct rec *r);      /* rec.c */
/* The earliest time a target needs a pass (reconcile_next_wake's answer) computed from a
 * snapshot: the desired set, the certificates and their index (plan_index_certs); only the
 * saved progress of targets that are not satisfied is read from st. *wake is 0 when nothing is
 * scheduled; why (why_len bytes, may be NULL) says what is due. */
void rec_wake_compute(const struct store *st, const struct desired_set *ds,
                      const struct store_cert *certs, size_t ncerts, const struct plan_index *ix,
                      time_t now, time_t *wake, char *why, size_t why_len);

#endif
