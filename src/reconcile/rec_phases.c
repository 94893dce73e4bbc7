/* rec_phases: the order of the phases of one pass, in one table. Each phase is a module's
 * function that ends, however it ends, by calling its done callback (r->phase_end, set
 * here); only this file knows what comes next, and no phase calls back into it by name. */
#include "reconcile/rec_phases.h"
#include "util/log.h"

static const struct {
    const char *name;
    void (*run)(struct rec *r);
} phases[] = {
    {"fleet", rec_phase_fleet},        /* fleet mode: targets and certificates (rec_fleet.c) */
    {"accounts", rec_phase_accounts},  /* contact updates (rec_account.c) */
    {"revoke", rec_phase_revoke},      /* revoke requests (rec_revoke.c) */
    {"ari", rec_phase_ari},            /* renewal information of current certificates */
    {"jobs", rec_phase_jobs},          /* the per-target state machines (rec.c) */
    {"ari-new", rec_phase_after_jobs}, /* renewal information of new certificates */
    {"hooks", rec_phase_hooks},        /* the end-of-pass hook events (rec.c) */
};

#define NPHASES (sizeof phases / sizeof phases[0])

static void rec_phase_end(struct rec *r);

static void run(struct rec *r)
{
    log_debug("pass: phase %s", phases[r->phase].name);
    phases[r->phase].run(r);
}

void rec_phases_start(struct rec *r, void (*done)(struct rec *r))
{
    r->phase = 0;
    r->phase_end = rec_phase_end;
    r->phases_done = done;
    run(r);
}

static void rec_phase_end(struct rec *r)
{
    if (++r->phase < NPHASES)
        run(r);
    else
        r->phases_done(r);
}
