/* pass: the state of one reconcile pass, shared by the pass's own modules (rec_*.c). Steps and
 * providers never see it: they get a job_ctx (job.h) and a providers set (provider.h).
 * Private to src/reconcile. */
#ifndef ACMED_RECONCILE_PASS_H
#define ACMED_RECONCILE_PASS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "net/http.h"
#include "reconcile/job.h"
#include "reconcile/plan.h"
#include "reconcile/provider.h"
#include "reconcile/reconcile.h"
#include "store/desired.h"
#include "store/store.h"

struct responder;

/* One pass. */
struct rec {
    const struct rec_opts *o;
    uv_loop_t *loop;     /* the caller's (reconcile_start) */
    rec_done_cb done_cb; /* called once the pass has ended and released what it held */
    void *done_arg;
    int code;          /* the pass's exit code, once finished */
    struct err err;    /* what made it REC_USAGE or REC_LOCKED */
    uv_timer_t finish; /* runs the end of the pass from the loop, never from a step */
    struct store st;
    struct http_client *http;
    struct desired_set ds;
    struct store_cert *certs;
    size_t ncerts;
    struct plan_index certix; /* certs by name (plan_target_ix) */
    struct plan_index owners; /* each satisfy name's owning target (plan_owner) */
    struct providers provs;   /* the CAs of the pass (provider.c) */
    struct job_ctx jctx;      /* what the pass hands every job (rec.c) */
    struct job **jobs;
    size_t njobs, running, done;
    char **changed; /* hostnames whose live link changed, for live-updated */
    size_t nchanged;
    struct rec_summary sum;
    unsigned ari_pending;          /* renewal-information checks under way */
    size_t event_cursor;           /* hook events of the end of the pass (rec.c) */
    unsigned hook_timeout_s;       /* conf/acmed.yaml hook-timeout, or --hook-timeout */
    struct responder **responders; /* challenge listeners (responders.c) */
    size_t nresponders;
    unsigned accounts_pending; /* rec_account.c: accounts whose contact is being updated */
    unsigned revoke_pending;
    unsigned phase;                     /* index in rec_phases.c's table */
    void (*phase_end)(struct rec *r);   /* each phase's done callback (rec_phases.c) */
    void (*phases_done)(struct rec *r); /* after the last phase (rec_phases_start's caller) */
    bool finished;
    bool jobs_open;    /* the jobs phase runs: a caller's target may join (reconcile_add_extra) */
    bool stopping;     /* reconcile_stop: no new steps */
    bool forced;       /* reconcile_force_stop: everything in flight was cancelled */
    unsigned max_jobs; /* conf/acmed.yaml max-orders */
    /* Fleet mode (rec_opts.fleet; rec_fleet*.c). */
    char *fleet_defaults; /* conf/target's text, that the fleet's targets are merged over */
    size_t fleet_defaults_len;
    char **fleet_mat; /* certificates other nodes obtained, to install here */
    size_t nfleet_mat, fleet_mat_i;
    bool fleet_materialised;
    char **fleet_rec; /* per target of ds (same index): the certificate its record names */
    size_t fleet_pub; /* the next target whose newer certificate may go to the fleet */
    int64_t fleet_fence;
    struct rec_fleet_acct **fleet_accts; /* the fleet's accounts being looked up or registered */
    size_t nfleet_accts;
};

/* The pass's job->done (rec.c). */
void rec_job_finished(struct job *j);
/* Tells an extra target's caller how its job went (rec_opts.extra). */
void rec_extra_report(struct job *j);
/* Points live/ at cert_id for every name target t owns (acmetool's rule for names several
 * targets list), recording the names whose link changed. Returns 0 or negative. */
int rec_link_target(struct rec *r, const struct target *t, const char *cert_id, struct err *e);
/* Records a hostname whose live link changed (for live-updated). */
void rec_changed(struct rec *r, const char *name);

/* The directory URL serving target t (its provider, else --provider, else Let's Encrypt). */
const char *rec_provider_url(const struct rec *r, const struct target *t);
/* The target whose satisfy names include the certificate's first name, or NULL. */
const struct target *rec_cert_target(const struct rec *r, const struct store_cert *c);
void rec_jobs_free(struct rec *r);
/* Fills r->jctx for the jobs of pass r. */
void rec_job_ctx_init(struct rec *r);

#endif
