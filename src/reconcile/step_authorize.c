/* step_authorize: every pending authorization of the order is answered and polled until the
 * CA decides. For now http-01 through the target's webroot paths; the answer files are
 * removed afterwards whatever the outcome. All authorizations run in parallel. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/keyauth.h"
#include "challenge/webroot.h"
#include "crypto/jwk.h"
#include "reconcile/job.h"
#include "util/clock.h"
#include "util/log.h"

#define AUTHZ_DEADLINE_MS (120 * 1000)

struct authz_work {
    struct job *j;
    char *url;
    char *token; /* published in the webroots, removed in authz_end */
};

static void authz_end(struct authz_work *w)
{
    struct job *j = w->j;
    struct err e;

    if (w->token && webroot_unpublish((const char *const *)j->t->webroot_paths,
                                      j->t->nwebroot_paths, w->token, &e) < 0)
        log_warn("%s: %s", j->t->file, err_msg(&e));
    free(w->token);
    free(w->url);
    free(w);
    if (--j->authz_left > 0)
        return;
    if (j->authz_failed) {
        struct acme_problem prob = {.type = j->fail_problem};
        struct acme_result rr = {.retry_after = -1, .problem = j->fail_problem ? &prob : NULL};

        job_fail(j, j->fail_rc, &rr, &j->fail_err, "authorization");
        free(j->fail_problem);
        j->fail_problem = NULL;
        return;
    }
    job_step_done(j);
}

/* Records the first failure; the job fails once every authorization has ended. */
static void authz_failed(struct authz_work *w, int rc, const struct acme_problem *p,
                         const struct err *e)
{
    struct job *j = w->j;

    if (!j->authz_failed) {
        j->authz_failed = true;
        j->fail_rc = rc < 0 ? rc : -EIO;
        err_set(&j->fail_err, j->fail_rc, "%s: %s", w->url, err_msg(e));
        if (p && p->type)
            j->fail_problem = strdup(p->type);
    }
}

static void on_polled(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct authz_work *w = arg;
    struct err pe;

    if (rc == 0 && r->authz->status != AUTHZ_VALID) {
        const struct acme_problem *p = NULL;
        char *text;

        for (size_t i = 0; i < r->authz->nchallenges && !p; i++)
            p = r->authz->challenges[i].error;
        text = p ? acme_problem_format(p) : NULL;
        err_set(&pe, ACME_EPROBLEM, "%s is %s: %s", r->authz->identifier.value,
                acme_authz_status_str(r->authz->status), text ? text : "no reason given");
        free(text);
        authz_failed(w, ACME_EPROBLEM, p, &pe);
    } else if (rc < 0) {
        authz_failed(w, rc, r->problem, e);
    }
    authz_end(w);
}

static void on_answered(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct authz_work *w = arg;
    struct err pe;

    if (rc == 0 && acme_authz_poll(w->j->prov->acme, w->url, clock_mono_ms() + AUTHZ_DEADLINE_MS,
                                   on_polled, w, &pe) == 0)
        return;
    authz_failed(w, rc < 0 ? rc : pe.code, r->problem, rc < 0 ? e : &pe);
    authz_end(w);
}

/* The challenge types this build can answer for the target, in its order of preference. */
static size_t usable_types(const struct target *t, const char **out)
{
    size_t n = 0;

    for (size_t i = 0; i < t->nchallenge_types; i++)
        if (!strcmp(t->challenge_types[i], "http-01") && t->nwebroot_paths > 0)
            out[n++] = "http-01";
    return n;
}

static int answer(struct authz_work *w, const struct acme_authz *a, struct err *e)
{
    struct job *j = w->j;
    const char *types[8];
    size_t ntypes = usable_types(j->t, types);
    const struct acme_challenge *ch = acme_challenge_select(a, types, ntypes);
    char *tp = NULL, *ka = NULL;
    int rc;

    if (!ch)
        return err_set(e, -ENOTSUP,
                       "%s: no challenge acmed can answer (set request.challenge.webroot-paths "
                       "for http-01)",
                       a->identifier.value);
    if ((rc = jwk_key_thumbprint(j->prov->acct.key, &tp, e)) < 0 ||
        (rc = acme_key_authorization(ch->token, tp, &ka, e)) < 0)
        goto out;
    rc = webroot_publish((const char *const *)j->t->webroot_paths, j->t->nwebroot_paths,
                         ch->token, ka, strlen(ka), e);
    if (rc < 0)
        goto out;
    if (!(w->token = strdup(ch->token))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    rc = acme_challenge_answer(j->prov->acme, ch->url, on_answered, w, e);
out:
    free(tp);
    free(ka);
    return rc;
}

static void on_authz(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct authz_work *w = arg;
    struct err ae;

    if (rc < 0) {
        authz_failed(w, rc, r->problem, e);
    } else if (r->authz->status == AUTHZ_VALID) {
        /* Already valid (reused, or done before a crash). */
    } else if (r->authz->status != AUTHZ_PENDING) {
        err_set(&ae, -EPROTO, "%s is %s", r->authz->identifier.value,
                acme_authz_status_str(r->authz->status));
        authz_failed(w, -EPROTO, NULL, &ae);
    } else if (answer(w, r->authz, &ae) == 0) {
        return;
    } else {
        authz_failed(w, ae.code, NULL, &ae);
    }
    authz_end(w);
}

void step_authorize(struct job *j)
{
    struct acme_order *o = j->order;
    struct err e;

    if (o->status != ORDER_PENDING || o->nauthorizations == 0) {
        job_step_done(j);
        return;
    }
    j->authz_failed = false;
    j->authz_left = o->nauthorizations;
    for (size_t i = 0; i < o->nauthorizations; i++) {
        struct authz_work *w = calloc(1, sizeof *w);

        if (!w || !(w->url = strdup(o->authorizations[i]))) {
            free(w);
            err_set(&e, -ENOMEM, "out of memory");
            /* Count the ones never started as ended with this failure. */
            j->authz_failed = true;
            j->fail_rc = -ENOMEM;
            j->fail_err = e;
            j->authz_left -= o->nauthorizations - i - 1;
            if (--j->authz_left == 0)
                job_fail(j, -ENOMEM, NULL, &e, "authorization");
            return;
        }
        w->j = j;
        if (acme_authz_get(j->prov->acme, w->url, on_authz, w, &e) < 0) {
            authz_failed(w, e.code, NULL, &e);
            authz_end(w);
        }
    }
}
