/* rec_main: setting up and tearing down a pass, and its exit code (DESIGN.md §7). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
        r->sum.failed++;
        if (j->cur) {
            struct policy_cert pc = {j->cur->not_before, j->cur->not_after, 0};

            if (policy_critical(&pc, now))
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

static int setup(struct rec *r, struct err *e)
{
    struct http_client_opts ho = {.ca_bundle = r->o->ca_bundle};
    struct acmed_conf conf;
    int rc;

    if ((rc = store_open(r->o->state_dir, &r->st, e)) < 0)
        return REC_USAGE;
    if ((rc = store_lock(&r->st, e)) < 0)
        return rc == -EWOULDBLOCK ? REC_LOCKED : REC_USAGE;
    if ((rc = acmed_conf_load(r->st.root, &conf, e)) < 0)
        return REC_USAGE;
    r->hook_timeout_s = r->o->hook_timeout_s ? r->o->hook_timeout_s : conf.hook_timeout_s;
    acmed_conf_free(&conf);
    if ((rc = desired_load(r->st.root, &r->ds, e)) < 0)
        return REC_USAGE;
    for (size_t i = 0; i < r->ds.nerrors; i++)
        log_err("%s", r->ds.errors[i].message);
    r->sum.bad_files = r->ds.nerrors;
    r->sum.targets = r->ds.ntargets + r->ds.nerrors;
    if ((rc = store_certs_load(&r->st, &r->certs, &r->ncerts, e)) < 0)
        return REC_FAILED;
    if ((rc = http_client_new(&r->loop, &ho, &r->http, e)) < 0)
        return REC_USAGE;
    return REC_OK;
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
        rec_phase_revoke(&r);
        while (!r.finished && uv_run(&r.loop, UV_RUN_ONCE))
            ;
        if (!r.finished)
            log_err("internal error: the pass stopped before its end");
        tally_jobs(&r);
        code = exit_code(&r.sum);
        log_info("reconcile: %u targets, %u satisfied, %u issued, %u failed%s", r.sum.targets,
                 r.sum.satisfied, r.sum.issued, r.sum.failed,
                 r.sum.critical ? " (critical)" : "");
    }
    if (sum)
        *sum = r.sum;
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
