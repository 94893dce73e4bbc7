/* rec_main: setting up and tearing down a pass, and its exit code (DESIGN.md §7). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks/hooks.h"
#include "reconcile/plan.h"
#include "reconcile/rec_fleet.h"
#include "reconcile/rec_phases.h"
#include "reconcile/responders.h"
#include "util/clock.h"
#include "util/log.h"

/* The timeout of the hooks a forced stop still starts: the stop hooks that withdraw the
 * answers of start hooks that ran. They get a short chance; a stop must not wait on them for
 * the configured hook-timeout (5 minutes by default). */
#define FORCED_HOOK_TIMEOUT_S 5

static void on_finish(uv_timer_t *t);

/* The last phase is over: the end of the pass runs from the loop, out of the phase's call
 * chain (whose callers may still look at the pass when this returns). */
static void rec_phase_done(struct rec *r)
{
    r->finished = true;
    uv_timer_start(&r->finish, on_finish, 0, 0);
}

/* Counts the jobs' outcomes into the summary. */
static void tally_jobs(struct rec *r)
{
    time_t now = clock_now();

    for (size_t i = 0; i < r->njobs; i++) {
        const struct job *j = r->jobs[i];

        if (j->ok) {
            r->sum.issued++;
            r->sum.satisfied++;
            continue;
        }
        if (j->interrupted)
            continue;
        r->sum.failed++;
        if (j->cur) {
            struct policy_cert pc = {j->cur->not_before, j->cur->not_after, 0};

            if (policy_critical(&pc, j->t->critical_days, now))
                r->sum.critical++;
        }
    }
}

static int exit_code(const struct rec_summary *s)
{
    if (s->critical)
        return REC_CRITICAL;
    if (s->failed || s->bad_files)
        return REC_FAILED;
    return REC_OK;
}

/* The pass's last line. Invalid desired files are not among the targets that "failed" (they
 * never started) but count: they make the exit code 1. */
static void log_summary(const struct rec_summary *s)
{
    char bad[48] = "";

    if (s->bad_files)
        snprintf(bad, sizeof bad, ", %u invalid desired file%s", s->bad_files,
                 s->bad_files == 1 ? "" : "s");
    log_info("reconcile: %u targets, %u satisfied, %u issued, %u failed%s%s", s->targets,
             s->satisfied, s->issued, s->failed, bad, s->critical ? " (critical)" : "");
}

static int setup(struct rec *r, struct err *e)
{
    struct http_client_opts ho = {.ca_bundle = r->o->ca_bundle};
    struct acmed_conf conf;
    int rc;

    if ((rc = store_open(r->o->state_dir, &r->st, e)) < 0)
        return REC_USAGE;
    /* Every pass, as desired files come and go: only warnings, never a refusal. */
    store_check_ownership(r->st.root);
    if (!r->o->locked && (rc = store_lock(&r->st, e)) < 0)
        return rc == -EWOULDBLOCK ? REC_LOCKED : REC_USAGE;
    if ((rc = acmed_conf_load(r->st.root, &conf, e)) < 0)
        return REC_USAGE;
    r->hook_timeout_s = r->o->hook_timeout_s ? r->o->hook_timeout_s : conf.hook_timeout_s;
    r->max_jobs = conf.max_orders;
    r->provs.max_requests = conf.max_requests_per_ca;
    r->provs.allow_insecure_http = ho.allow_insecure_http = conf.allow_insecure_http;
    if (conf.cluster && !r->o->fleet && !r->o->nextra) {
        acmed_conf_clear(&conf);
        return err_set(e, -EINVAL,
                       "%s/conf/acmed.yaml: cluster: fleet mode runs as the daemon (acmed with "
                       "no command), which holds the fleet's locks; a single pass would work "
                       "alone beside it",
                       r->st.root),
               REC_USAGE;
    }
    acmed_conf_clear(&conf);
    if (r->o->nextra || r->o->fleet) {
        struct target deft;

        /* A caller's targets alone, or the fleet's (read by the fleet phase): conf/target
         * gives the accounts' contact. */
        if ((rc = desired_load_defaults(r->st.root, &deft, e)) < 0)
            return REC_USAGE;
        r->ds.contact = deft.contact;
        r->ds.ncontact = deft.ncontact;
        deft.contact = NULL;
        target_clear(&deft);
    } else if ((rc = desired_load(r->st.root, &r->ds, e)) < 0) {
        return REC_USAGE;
    }
    /* desired_load logged each bad file already, with its path and line. */
    r->sum.bad_files = r->ds.nerrors;
    r->sum.targets = r->ds.ntargets + r->ds.nerrors;
    /* The pass holds the lock: it keeps state/certs.cache up to date for the next. A caller's
     * targets are ordered whatever certs/ holds. */
    if (!r->o->nextra && (rc = store_certs_load_cached(&r->st, true, &r->certs, &r->ncerts, e)) < 0)
        return REC_FAILED;
    /* Thousands of targets: each finds its certificates and its names' owners in O(log n). */
    if (plan_index_certs(&r->certix, r->certs, r->ncerts) < 0 ||
        plan_index_owners(&r->owners, r->ds.targets, r->ds.ntargets) < 0)
        return err_set(e, -ENOMEM, "out of memory"), REC_FAILED;
    /* Engines made elsewhere (a privilege-separated worker) bring their own connections: the
     * pass then opens none. */
    if (!r->o->new_engine && (rc = http_client_new(r->loop, &ho, &r->http, e)) < 0)
        return REC_USAGE;
    r->provs.st = &r->st;
    r->provs.ds = &r->ds;
    r->provs.loop = r->loop;
    r->provs.http = r->http;
    r->provs.o = r->o;
    r->provs.stopping = &r->stopping;
    r->provs.new_engine = r->o->new_engine;
    r->provs.new_engine_arg = r->o->new_engine_arg;
    rec_job_ctx_init(r);
    rec_fleet_init(r);
    return REC_OK;
}

/* ---- the end of a pass ---- */

/* Everything is closed: the caller hears how the pass went, then the pass is freed. */
static void on_finish_closed(uv_handle_t *h)
{
    struct rec *r = h->data;
    struct rec_snapshot snap = {&r->ds, r->certs, r->ncerts, &r->certix};

    /* A pass that changed nothing lends what it loaded to the callback (the daemon's metrics). */
    r->sum.snap = r->sum.wake_known ? &snap : NULL;
    r->done_cb(r->done_arg, r->code, &r->sum, &r->err);
    plan_index_free(&r->certix);
    plan_index_free(&r->owners);
    store_certs_free(r->certs, r->ncerts);
    for (size_t i = 0; r->fleet_rec && i < r->ds.ntargets; i++)
        free(r->fleet_rec[i]);
    free(r->fleet_rec);
    desired_set_clear(&r->ds);
    for (size_t i = 0; i < r->nfleet_mat; i++)
        free(r->fleet_mat[i]);
    free(r->fleet_mat);
    free(r->fleet_defaults);
    free(r);
}

/* The HTTP client has cancelled and closed what it held: release the rest, the lock last. */
static void on_http_closed(void *arg)
{
    struct rec *r = arg;

    for (size_t i = 0; i < r->nchanged; i++)
        free(r->changed[i]);
    free(r->changed);
    store_close(&r->st);
    uv_close((uv_handle_t *)&r->finish, on_finish_closed);
}

/* Counts the ACME requests, frees the jobs and providers, closes the listeners and the HTTP
 * client; on_http_closed goes on from there. */
static void release(struct rec *r)
{
    for (size_t i = 0; i < r->provs.n; i++) {
        struct engine_stats cs;

        if (r->provs.v[i]->eng) {
            engine_stats(r->provs.v[i]->eng, &cs);
            r->sum.requests += cs.requests;
        }
    }
    rec_jobs_free(r);
    rec_fleet_release(r);
    responders_close_all(r);
    providers_free(&r->provs);
    if (r->http)
        http_client_close(r->http, on_http_closed, r);
    else
        on_http_closed(r);
}

static void on_finish(uv_timer_t *t)
{
    struct rec *r = t->data;

    if (r->code == REC_OK) {
        tally_jobs(r);
        r->code = exit_code(&r->sum);
        log_summary(&r->sum);
        /* Nothing the snapshot holds has changed but in memory (renewal information,
         * revocation markers): the daemon need not read everything again for its next wake. */
        if (r->njobs == 0 && !r->stopping) {
            rec_wake_compute(&r->st, &r->ds, r->certs, r->ncerts, &r->certix, clock_now(),
                             &r->sum.next_wake, r->sum.next_why, sizeof r->sum.next_why);
            r->sum.wake_known = true;
        }
    }
    release(r);
}

int reconcile_start(uv_loop_t *loop, const struct rec_opts *o, rec_done_cb done, void *arg,
                    struct rec **out, struct err *e)
{
    struct rec *r = calloc(1, sizeof *r);

    if (out)
        *out = NULL;
    if (!r)
        return err_set(e, -ENOMEM, "out of memory");
    r->o = o;
    r->loop = loop;
    r->done_cb = done;
    r->done_arg = arg;
    r->st.lock_fd = -1;
    err_clear(&r->err);
    uv_timer_init(loop, &r->finish);
    r->finish.data = r;
    if (out)
        *out = r;
    r->code = setup(r, &r->err);
    if (r->code == REC_OK)
        rec_phases_start(r, rec_phase_done);
    else
        uv_timer_start(&r->finish, on_finish, 0, 0); /* done is never called from here */
    return 0;
}

void reconcile_stop(struct rec *r)
{
    if (r->stopping || r->finished)
        return;
    r->stopping = true;
    r->sum.stop_requested = true;
}

void reconcile_force_stop(struct rec *r)
{
    if (r->forced || r->finished)
        return; /* a finished pass is only releasing what it held */
    reconcile_stop(r);
    r->forced = true;
    if (r->hook_timeout_s == 0 || r->hook_timeout_s > FORCED_HOOK_TIMEOUT_S)
        r->hook_timeout_s = FORCED_HOOK_TIMEOUT_S;
    log_warn("stopping now: cancelling the requests, polls and hooks in flight; the steps they "
             "belong to resume on the next run");
    /* Each cancelled operation calls back with -ECANCELED from the loop; its step fails,
     * which during a stop interrupts its job (job_fail), withdrawing what it published. */
    hooks_cancel(r->loop);
    http_client_cancel(r->http);
    for (size_t i = 0; i < r->provs.n; i++)
        engine_cancel(r->provs.v[i]->eng);
}

/* ---- a pass on a loop of its own ---- */

struct once {
    bool done;
    int code;
    struct rec_summary *sum;
    struct err *e;
};

static void on_once_done(void *arg, int code, const struct rec_summary *sum, const struct err *e)
{
    struct once *w = arg;

    w->done = true;
    w->code = code;
    if (w->sum)
        *w->sum = *sum;
    if (w->e && (code == REC_USAGE || code == REC_LOCKED))
        *w->e = *e;
}

int reconcile_once(const struct rec_opts *o, struct rec_summary *sum, struct err *e)
{
    struct once w = {.sum = sum, .e = e};
    uv_loop_t loop;
    int rc;

    if (uv_loop_init(&loop) < 0)
        return err_set(e, -ENOMEM, "cannot create the event loop"), REC_USAGE;
    if ((rc = reconcile_start(&loop, o, on_once_done, &w, NULL, e)) < 0) {
        uv_loop_close(&loop);
        return REC_USAGE;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!w.done) {
        log_err("internal error: the pass stopped before its end");
        w.code = REC_FAILED;
    }
    uv_loop_close(&loop);
    return w.code;
}
