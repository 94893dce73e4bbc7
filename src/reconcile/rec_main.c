/* rec_main: setting up and tearing down a pass, and its exit code (DESIGN.md §7). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "reconcile/plan.h"
#include "reconcile/rec_phases.h"
#include "reconcile/responders.h"
#include "util/clock.h"
#include "util/log.h"

const struct target *rec_cert_target(const struct rec *r, const struct store_cert *c)
{
    for (size_t i = 0; i < r->ds.ntargets && c->nnames > 0; i++)
        for (size_t k = 0; k < r->ds.targets[i].nnames; k++)
            if (!strcasecmp(r->ds.targets[i].names[k].name, c->names[0]))
                return &r->ds.targets[i];
    return NULL;
}

void rec_phase_done(struct rec *r)
{
    r->finished = true;
}

static void on_http_closed(void *arg)
{
    (void)arg;
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
    r->max_requests = conf.max_requests_per_ca;
    r->allow_insecure_http = ho.allow_insecure_http = conf.allow_insecure_http;
    acmed_conf_free(&conf);
    if ((rc = desired_load(r->st.root, &r->ds, e)) < 0)
        return REC_USAGE;
    /* desired_load logged each bad file already, with its path and line. */
    r->sum.bad_files = r->ds.nerrors;
    r->sum.targets = r->ds.ntargets + r->ds.nerrors;
    if ((rc = store_certs_load(&r->st, &r->certs, &r->ncerts, e)) < 0)
        return REC_FAILED;
    if ((rc = http_client_new(&r->loop, &ho, &r->http, e)) < 0)
        return REC_USAGE;
    return REC_OK;
}

/* ---- signals during a pass ---- */

/* The stop cannot wait any longer. What is in flight (requests, retry and poll timers, hooks,
 * key generation) cannot be unwound from here without running its callbacks into a pass being
 * torn down; the state directory, though, is valid at every moment (written atomically, with
 * a checkpoint after each step: the kill torture proves it). So the answer files published in
 * webroots are taken down and the process ends at once, as a kill would; the next run resumes
 * the steps that were cut short. */
static void on_grace_over(uv_timer_t *t)
{
    struct rec *r = t->data;

    log_warn("stopping: in-flight steps did not reach a checkpoint in time; exiting now, they "
             "resume on the next run");
    for (size_t i = 0; i < r->njobs; i++)
        step_authorize_abandon(r->jobs[i]);
    _exit(REC_OK);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct rec *r = h->data;

    if (signum == SIGHUP || signum == SIGUSR1) {
        r->sum.rerun_requested = true;
        return;
    }
    if (r->stopping) {
        /* A second SIGTERM/SIGINT: no more waiting for checkpoints. */
        on_grace_over(&r->grace);
        return;
    }
    log_notice("signal %d: stopping at the next checkpoint (again to stop now)", signum);
    r->stopping = true;
    r->sum.stop_requested = true;
    uv_timer_start(&r->grace, on_grace_over, REC_STOP_GRACE_MS, 0);
}

static void watch_signals(struct rec *r)
{
    static const int sigs[4] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};

    uv_timer_init(&r->loop, &r->grace);
    r->grace.data = r;
    for (int i = 0; i < 4; i++) {
        uv_signal_init(&r->loop, &r->sigs[i]);
        r->sigs[i].data = r;
        uv_signal_start(&r->sigs[i], on_signal, sigs[i]);
        uv_unref((uv_handle_t *)&r->sigs[i]);
    }
    r->watching = true;
}

static void unwatch_signals(struct rec *r)
{
    if (!r->watching)
        return;
    for (int i = 0; i < 4; i++)
        uv_close((uv_handle_t *)&r->sigs[i], NULL);
    uv_close((uv_handle_t *)&r->grace, NULL);
    r->watching = false;
}

int reconcile_once(const struct rec_opts *o, struct rec_summary *sum, struct err *e)
{
    struct rec r;
    int code;

    memset(&r, 0, sizeof r);
    r.o = o;
    r.st.lock_fd = -1;
    if (uv_loop_init(&r.loop) < 0)
        return err_set(e, -ENOMEM, "cannot create the event loop"), REC_USAGE;
    code = setup(&r, e);
    if (code == REC_OK) {
        if (o->handle_signals)
            watch_signals(&r);
        rec_phase_revoke(&r);
        while (!r.finished && uv_run(&r.loop, UV_RUN_ONCE))
            ;
        if (!r.finished)
            log_err("internal error: the pass stopped before its end");
        tally_jobs(&r);
        code = exit_code(&r.sum);
        log_summary(&r.sum);
    }
    for (size_t i = 0; i < r.nprovs; i++) {
        struct acme_client_stats cs;

        if (r.provs[i]->acme) {
            acme_client_stats(r.provs[i]->acme, &cs);
            r.sum.requests += cs.requests;
        }
    }
    if (sum)
        *sum = r.sum;
    unwatch_signals(&r);
    rec_jobs_free(&r);
    responders_close_all(&r);
    for (size_t i = 0; i < r.nprovs; i++)
        provider_free(r.provs[i]);
    free(r.provs);
    if (r.http)
        http_client_close(r.http, on_http_closed, NULL);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    uv_loop_close(&r.loop);
    for (size_t i = 0; i < r.nchanged; i++)
        free(r.changed[i]);
    free(r.changed);
    store_certs_free(r.certs, r.ncerts);
    desired_set_free(&r.ds);
    store_close(&r.st);
    return code;
}
