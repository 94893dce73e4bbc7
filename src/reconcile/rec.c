/* rec: one reconcile pass, as a chain of asynchronous phases on a loop of its own:
 * accounts' contact -> revocations asked for -> renewal information due -> one job per
 * target needing work (at most REC_MAX_JOBS at once) -> renewal information of the new
 * certificates -> the live-updated hook -> the exit code. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hooks/hooks.h"
#include "reconcile/plan.h"
#include "reconcile/rec_fleet.h"
#include "reconcile/rec_phases.h"
#include "reconcile/responders.h"
#include "util/clock.h"
#include "util/log.h"

#define REC_MAX_JOBS 8

void rec_changed(struct rec *r, const char *name)
{
    char **g;

    for (size_t i = 0; i < r->nchanged; i++)
        if (!strcmp(r->changed[i], name))
            return;
    g = realloc(r->changed, (r->nchanged + 1) * sizeof *g);
    if (!g)
        return;
    r->changed = g;
    if ((r->changed[r->nchanged] = strdup(name)))
        r->nchanged++;
}

int rec_link_target(struct rec *r, const struct target *t, const char *cert_id, struct err *e)
{
    char name[512];
    int rc;

    for (size_t i = 0; i < t->nnames; i++) {
        bool changed = false;

        /* A name listed by several targets belongs to one (acmetool's rule). */
        if (plan_owner(&r->owners, t->names[i].name) != t)
            continue;
        snprintf(name, sizeof name, "%s%s%s", t->names[i].name, *t->label ? ":" : "", t->label);
        if ((rc = store_live_set(&r->st, name, cert_id, &changed, e)) < 0)
            return rc;
        if (changed)
            rec_changed(r, t->names[i].name);
    }
    return 0;
}

const char *rec_provider_url(const struct rec *r, const struct target *t)
{
    if (t && t->provider)
        return t->provider;
    return desired_provider_url(r->o->provider ? r->o->provider : "letsencrypt");
}

const struct target *rec_cert_target(const struct rec *r, const struct store_cert *c)
{
    for (size_t i = 0; i < r->ds.ntargets && c->nnames > 0; i++)
        for (size_t k = 0; k < r->ds.targets[i].nnames; k++)
            if (!strcasecmp(r->ds.targets[i].names[k].name, c->names[0]))
                return &r->ds.targets[i];
    return NULL;
}

/* ---- jobs ---- */

static void ctx_hooks_opts(void *arg, const struct target *t, struct hooks_opts *ho)
{
    rec_hooks_opts(arg, t, ho);
}

static struct chal_listener *ctx_responder_get(void *arg, bool tls, const struct target *t,
                                               struct err *e)
{
    struct responder *p = tls ? responder_tls(arg, t, e) : responder_http(arg, t, e);

    return p ? &p->l : NULL;
}

static void ctx_responder_release(void *arg, struct chal_listener *l)
{
    responder_release(arg, (struct responder *)((char *)l - offsetof(struct responder, l)));
}

static int ctx_link(void *arg, const struct target *t, const char *cert_id, struct err *e)
{
    return rec_link_target(arg, t, cert_id, e);
}

void rec_job_ctx_init(struct rec *r)
{
    struct job_ctx *c = &r->jctx;

    c->st = &r->st;
    c->loop = r->loop;
    c->stopping = &r->stopping;
    c->certs = r->certs;
    c->ncerts = r->ncerts;
    c->steps = job_steps;
    c->mgmt_steps = job_steps_mgmt;
    c->arg = r;
    c->hooks_opts = ctx_hooks_opts;
    c->responder_get = ctx_responder_get;
    c->responder_release = ctx_responder_release;
    c->link = ctx_link;
}

static void start_more_jobs(struct rec *r)
{
    unsigned max = r->max_jobs ? r->max_jobs : REC_MAX_JOBS;

    for (size_t i = 0; i < r->njobs && r->running < max; i++) {
        struct job *j = r->jobs[i];

        if (r->stopping && !j->finished && !j->prov) {
            /* A stop arrived: jobs not yet started wait for the next run. */
            j->interrupted = true;
            j->finished = true;
            r->done++;
            continue;
        }
        if (!j->finished && j->step == STEP_ACCOUNT && !j->prov) {
            j->prov = provider_for_target(&r->provs, rec_provider_url(r, j->t), j->t);
            r->running++;
            if (r->running > r->sum.max_in_flight)
                r->sum.max_in_flight = (unsigned)r->running;
            log_info("%s: starting (orders in flight: %zu, at most %u)", j->t->file, r->running,
                     max);
            if (!j->prov) {
                struct err e;

                err_set(&e, -ENOMEM, "out of memory");
                job_fail(j, -ENOMEM, NULL, &e, "provider");
                continue;
            }
            if (r->o->fleet && !r->o->nextra)
                rec_fleet_job_begin(r, j);
            else
                job_start(j);
        }
    }
}

void rec_job_finished(struct job *j)
{
    struct rec *r = j->done_arg;
    struct policy_cert pc = {0};

    if (rec_fleet_job_end(r, j))
        return; /* its outcome goes to etcd first; this runs again then */
    r->running--;
    r->done++;
    if (j->extra)
        rec_extra_report(j);
    if (r->finished)
        return; /* the pass was cut short: nothing more happens in it */
    if (!j->ok && !j->interrupted) {
        bool crit = false;

        if (j->cur) {
            pc.not_before = j->cur->not_before;
            pc.not_after = j->cur->not_after;
            crit = policy_critical(&pc, j->t->critical_days, clock_now());
        }
        if (crit) {
            char when[32];

            log_crit("%s: renewal failed with the certificate in its critical window "
                     "(expires %s): %s",
                     j->t->file, clock_rfc3339(j->cur->not_after, when, sizeof when),
                     err_msg(&j->fail_err));
        } else {
            log_err("%s: %s", j->t->file, err_msg(&j->fail_err));
        }
    }
    if (r->stopping)
        start_more_jobs(r); /* only marks the jobs not started as interrupted */
    if (r->done == r->njobs) {
        r->jobs_open = false;
        r->phase_end(r);
    } else {
        start_more_jobs(r);
    }
}

/* A job for a caller's target (rec_opts.extra, reconcile_add_extra); false when out of
 * memory (x's done has then been told). */
static bool add_extra_job(struct rec *r, const struct rec_extra *x)
{
    struct job *j = calloc(1, sizeof *j);
    struct job **g = j ? realloc(r->jobs, (r->njobs + 1) * sizeof *g) : NULL;

    if (!g) {
        struct rec_extra_result res = {.problem = "local"};
        struct err e;

        free(j);
        err_set(&e, -ENOMEM, "out of memory");
        res.err = &e;
        r->sum.failed++;
        x->done(x->arg, x->t, &res);
        return false;
    }
    r->jobs = g;
    j->ctx = &r->jctx;
    j->done = rec_job_finished;
    j->done_arg = r;
    j->t = x->t;
    j->extra = x;
    r->jobs[r->njobs++] = j;
    return true;
}

int reconcile_add_extra(struct rec *r, const struct rec_extra *x)
{
    if (!r->jobs_open || r->stopping || r->finished || !r->o->nextra)
        return -EBUSY;
    if (add_extra_job(r, x))
        start_more_jobs(r);
    return 0;
}

void rec_phase_jobs(struct rec *r)
{
    time_t now = clock_now();

    for (size_t i = 0; i < r->ds.ntargets; i++) {
        const struct target *t = &r->ds.targets[i];
        struct tstate ts;
        struct plan p;
        struct job *j, **g;
        struct err e;

        if (tstate_load(&r->st, t->file, &ts, &e) < 0) {
            log_err("%s: %s", t->file, err_msg(&e));
            r->sum.failed++;
            continue;
        }
        plan_target_ix(t, r->certs, r->ncerts, &r->certix, &ts, now, r->o->force, &p);
        if (p.action == PLAN_SATISFIED) {
            /* A certificate installed by a pass that died before its links, or a link
             * removed by hand: the links follow the certificate that satisfies. */
            if (rec_link_target(r, t, p.cur->id, &e) < 0)
                log_err("%s: %s", t->file, err_msg(&e));
            r->sum.satisfied++;
            tstate_free(&ts);
            continue;
        }
        if (p.action == PLAN_BACKOFF) {
            char when[32];

            log_info("%s: %s after %u failures, next attempt at %s (last error: %s)", t->file,
                     plan_action_str(p.action), ts.failures,
                     clock_rfc3339(p.next_attempt, when, sizeof when),
                     ts.last_error ? ts.last_error : "none");
            r->sum.failed++;
            if (p.cur && p.critical)
                r->sum.critical++;
            tstate_free(&ts);
            continue;
        }
        log_info("%s: %s%s", t->file, plan_action_str(p.action),
                 p.resume ? " (resuming the order in progress)" : "");
        j = calloc(1, sizeof *j);
        g = j ? realloc(r->jobs, (r->njobs + 1) * sizeof *g) : NULL;
        if (!g) {
            free(j);
            tstate_free(&ts);
            r->sum.failed++;
            continue;
        }
        r->jobs = g;
        j->ctx = &r->jctx;
        j->done = rec_job_finished;
        j->done_arg = r;
        j->t = t;
        j->cur = p.cur;
        j->ts = ts;
        r->jobs[r->njobs++] = j;
    }
    for (size_t i = 0; i < r->o->nextra; i++)
        add_extra_job(r, &r->o->extra[i]);
    if (r->njobs == 0) {
        r->phase_end(r);
        return;
    }
    r->jobs_open = true;
    rec_fleet_spread(r);
    start_more_jobs(r);
}

void rec_extra_report(struct job *j)
{
    struct rec_extra_result res = {.ok = j->ok, .interrupted = j->interrupted};
    struct err e;

    if (j->ok) {
        res.cert_id = j->installed.id;
        res.chain = j->chain;
        res.chain_len = j->chain_len;
    } else {
        if (j->interrupted)
            err_set(&e, -ECANCELED, "interrupted by a stop");
        res.err = j->interrupted ? &e : &j->fail_err;
        res.problem = j->ts.last_problem ? j->ts.last_problem : "local";
        res.step = j->ctx->steps[j->step].name;
        res.retry_until = j->ts.retry_until;
    }
    j->extra->done(j->extra->arg, j->t, &res);
}

void rec_jobs_free(struct rec *r)
{
    for (size_t i = 0; i < r->njobs; i++) {
        struct job *j = r->jobs[i];

        rec_fleet_job_free(j);
        tstate_free(&j->ts);
        key_free(j->key);
        engine_order_free(j->order);
        free(j->chain);
        free(j->fail_problem);
        if (j->have_installed)
            store_cert_clear(&j->installed);
        free(j);
    }
    free(r->jobs);
}

/* ---- the end: hook events ---- */

/* Events for the jobs that failed (renewal-failed, and expiry-warning in the critical
 * window), one after another, then live-updated once with every changed name. */
static void next_event(struct rec *r);

static void on_event_done(void *arg, int rc, unsigned nran, const struct err *e)
{
    struct rec *r = arg;

    if (rc < 0)
        log_err("hook: %s", err_msg(e));
    next_event(r);
}

/* The target's names, one per line. Caller frees. */
static char *names_text(const struct target *t, size_t *len)
{
    char *in;

    *len = 0;
    for (size_t i = 0; i < t->nnames; i++)
        *len += strlen(t->names[i].name) + 1;
    if (!(in = malloc(*len + 1)))
        return NULL;
    in[0] = '\0';
    for (size_t i = 0; i < t->nnames; i++) {
        strcat(in, t->names[i].name);
        strcat(in, "\n");
    }
    return in;
}

static bool run_event(struct rec *r, const struct target *t, const char *event,
                      const char *const *args, size_t nargs, const char *in, size_t len)
{
    struct hooks_opts ho;
    struct err e;

    rec_hooks_opts(r, t, &ho);
    if (hooks_run(r->loop, &ho, event, args, nargs, in, len, on_event_done, r, &e) == 0)
        return true;
    log_err("%s hook: %s", event, err_msg(&e));
    return false;
}

/* A forced stop runs no hook: the events are dropped, and the changed names are logged, as
 * nothing will tell the services about them. */
static void drop_events(struct rec *r)
{
    for (size_t i = 0; i < r->nchanged; i++)
        log_warn("live/%s changed but the live-updated hook did not run (forced stop)",
                 r->changed[i]);
    r->event_cursor = 2 * r->njobs + 1;
    r->phase_end(r);
}

static void next_event(struct rec *r)
{
    if (r->forced) {
        drop_events(r);
        return;
    }
    while (r->event_cursor < 2 * r->njobs) {
        size_t k = r->event_cursor++;
        struct job *j = r->jobs[k / 2];
        const char *args[2] = {j->t->file, NULL};
        char when[32], *in;
        size_t len;
        bool started;

        if (j->ok || j->interrupted)
            continue; /* an interrupted job resumes: not a failure */
        if (k % 2 == 0) {
            args[1] = j->ts.last_problem ? j->ts.last_problem : "local";
            in = names_text(j->t, &len);
            started = in && run_event(r, j->t, "renewal-failed", args, 2, in, len);
        } else {
            struct policy_cert pc = {0};

            if (!j->cur)
                continue;
            pc.not_before = j->cur->not_before;
            pc.not_after = j->cur->not_after;
            if (!policy_critical(&pc, j->t->critical_days, clock_now()))
                continue;
            args[1] = clock_rfc3339(j->cur->not_after, when, sizeof when);
            in = names_text(j->t, &len);
            started = in && run_event(r, j->t, "expiry-warning", args, 2, in, len);
        }
        free(in);
        if (started)
            return;
    }
    if (r->event_cursor == 2 * r->njobs) {
        r->event_cursor++;
        if (r->nchanged > 0) {
            size_t len = 0;
            char *in;
            bool started;

            for (size_t i = 0; i < r->nchanged; i++)
                len += strlen(r->changed[i]) + 1;
            if ((in = malloc(len + 1))) {
                in[0] = '\0';
                for (size_t i = 0; i < r->nchanged; i++) {
                    strcat(in, r->changed[i]);
                    strcat(in, "\n");
                }
                started = run_event(r, NULL, "live-updated", NULL, 0, in, len);
                free(in);
                if (started)
                    return;
            }
        }
    }
    r->phase_end(r);
}

/* Names under live/ that no target wants any more (a desired file was removed, or unwant):
 * their links go, so nothing keeps serving a certificate nobody renews. Skipped while some
 * desired file is malformed, as it may be the owner. */
static void unlink_unwanted(struct rec *r)
{
    char **names = NULL;
    size_t n = 0;
    struct err e;

    if (r->ds.nerrors > 0 || store_live_list(&r->st, &names, &n, &e) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        char *colon = strchr(names[i], ':');
        const char *label = colon ? colon + 1 : "";
        const struct target *t;

        if (colon)
            *colon = '\0';
        t = plan_owner(&r->owners, names[i]);
        if (t && !strcmp(t->label, label))
            continue;
        if (colon)
            *colon = ':';
        if (store_live_remove(&r->st, names[i], &e) < 0) {
            log_warn("%s", err_msg(&e));
            continue;
        }
        log_notice("live/%s removed: no target wants it any more", names[i]);
        if (colon)
            *colon = '\0';
        rec_changed(r, names[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void rec_phase_hooks(struct rec *r)
{
    if (r->o->nextra) {
        r->phase_end(r); /* a caller's targets: none of desired/'s links nor events */
        return;
    }
    if (!r->stopping)
        unlink_unwanted(r);
    r->event_cursor = 0;
    next_event(r);
}
