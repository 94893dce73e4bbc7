/* job: one target's state machine. The order of the steps lives only in the table the
 * pass hands it (job_steps.c); each step is a module of its own (step_*.c) that ends by calling
 * job_step_done. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile/job.h"
#include "reconcile/policy.h"
#include "reconcile/provider.h"
#include "store/names.h"
#include "util/clock.h"
#include "util/failpoint.h"
#include "util/fsio.h"
#include "util/log.h"

/* A bundle of roots is a few hundred kilobytes (Debian's whole ca-certificates.crt ~220 KB). */
#define TRUST_ANCHORS_MAX (4u << 20)

void job_checkpoint(struct job *j)
{
    struct err e;

    if (j->extra)
        return; /* a caller's target: its caller keeps what it needs */
    if (tstate_save(j->ctx->st, j->t->file, &j->ts, &e) < 0)
        log_warn("%s: cannot save progress: %s", j->t->file, err_msg(&e));
}

/* The job's transition table: a central certificate server's target has its own. */
static const struct job_step_def *steps_of(const struct job *j)
{
    return j->prov && j->prov->mgmt && j->ctx->mgmt_steps ? j->ctx->mgmt_steps : j->ctx->steps;
}

static void job_run(struct job *j)
{
    const struct job_step_def *steps = steps_of(j);

    while (!steps[j->step].run && j->step + 1 < STEP_COUNT)
        j->step++; /* not a step for this target */
    log_debug("%s: step %s", j->t->file, steps[j->step].name);
    steps[j->step].run(j);
}

void job_start(struct job *j)
{
    j->step = STEP_ACCOUNT;
    job_run(j);
}

static void job_step_next(struct job *j);

void job_step_done(struct job *j)
{
    if (j->step != STEP_INSTALL) { /* step_install saved its own outcome */
        job_checkpoint(j);
        if (j->ctx->fleet_checkpoint && !j->extra) {
            j->ctx->fleet_checkpoint(j->ctx->arg, j, job_step_next);
            return;
        }
    }
    job_step_next(j);
}

/* After the checkpoints: the next step, or the end. */
static void job_step_next(struct job *j)
{
    char fp[64];

    snprintf(fp, sizeof fp, "after-%s", steps_of(j)[j->step].name);
    failpoint(fp);
    if (*j->ctx->stopping && j->step + 1 < STEP_COUNT) {
        /* Stopping: the progress is checkpointed, the next run resumes from here. */
        log_info("%s: stopping after step %s", j->t->file, steps_of(j)[j->step].name);
        j->interrupted = true;
        j->finished = true;
        j->done(j);
        return;
    }
    if (j->step + 1 < STEP_COUNT) {
        j->step++;
        job_run(j);
        return;
    }
    j->ok = true;
    j->finished = true;
    j->done(j);
}

void job_fail(struct job *j, int rc, const struct engine_result *r, const struct err *e,
              const char *what)
{
    time_t now = clock_now();
    time_t ra = r ? r->retry_after : -1;
    const char *problem = r && r->problem && r->problem->type ? r->problem->type : "local";
    char msg[ERR_MSG_MAX + 128];

    if (*j->ctx->stopping) {
        /* Cut short by a stop: not a failure of the target; the next run resumes. */
        log_info("%s: interrupted by the stop (%s: %s); the next run resumes it", j->t->file, what,
                 err_msg(e));
        j->interrupted = true;
        j->finished = true;
        j->done(j);
        return;
    }
    if (rc == ENGINE_ELOST && j->lost < JOB_LOST_MAX) {
        /* The engine's worker died mid-operation (privilege separation): its outcome is
         * unknown, so the job resumes from its checkpoint, as the next run would, now. */
        j->lost++;
        log_warn("%s: %s: resuming from the last checkpoint", j->t->file, err_msg(e));
        engine_order_free(j->order);
        j->order = NULL;
        key_free(j->key);
        j->key = NULL;
        j->step = STEP_ACCOUNT;
        job_run(j);
        return;
    }
    if (j->prov && !j->reregistered &&
        ((r && engine_problem_is(r->problem, "accountDoesNotExist")) ||
         j->prov->state == PROV_DIRECTORY || j->prov->state == PROV_ACCOUNT)) {
        /* The CA forgot the account (a reset test CA, a purge): register the same key
         * again and start over from the account step, once. */
        j->reregistered = true;
        provider_forget_account(j->prov);
        engine_order_free(j->order);
        j->order = NULL;
        key_free(j->key);
        j->key = NULL;
        j->step = STEP_ACCOUNT;
        job_run(j);
        return;
    }
    snprintf(msg, sizeof msg, "%s: %s", what, err_msg(e));
    j->fail_rc = rc < 0 ? rc : -EIO;
    err_set(&j->fail_err, j->fail_rc, "%s", msg);
    j->ts.failures++;
    j->ts.last_failure = now;
    tstate_set_text(&j->ts.last_error, msg);
    tstate_set_text(&j->ts.last_problem, problem);
    j->ts.next_attempt = policy_next_attempt(now, j->ts.failures, ra);
    j->ts.retry_until = ra >= 0 ? now + ra : 0;
    /* An order the CA has declared invalid cannot be resumed: start afresh next time. */
    if (j->order && (j->order->status == EORDER_INVALID))
        tstate_clear_order(&j->ts);
    job_checkpoint(j);
    j->finished = true;
    j->ok = false;
    j->done(j);
}

int job_read_trust_anchors(const struct job *j, char **pem, size_t *len, struct err *e)
{
    int rc;

    *pem = NULL;
    *len = 0;
    if (!j->t->trust_anchors)
        return 0;
    rc = fsio_read_file(j->t->trust_anchors, TRUST_ANCHORS_MAX, pem, len, e);
    if (rc == 0 && *len == 0) {
        free(*pem);
        *pem = NULL;
        rc = err_set(e, -EINVAL, "%s is empty", j->t->trust_anchors);
    }
    if (rc < 0)
        err_wrap(e, "request.trust-anchors");
    return rc;
}

void job_identifiers(const struct job *j, struct engine_identifier *ids)
{
    for (size_t i = 0; i < j->t->nreq_names; i++) {
        ids[i].ip = j->t->req_names[i].ip;
        ids[i].value = j->t->req_names[i].name;
    }
}

int job_check_identifier(const struct job *j, const char *url, struct engine_authz *az,
                         struct err *e)
{
    struct engine_identifier *id = &az->identifier;
    const char *v = id->value ? id->value : "";
    char *norm = NULL;
    bool is_ip = false;
    struct err ne;
    int rc = -EPROTO;

    if (name_normalize(v, strlen(v), &norm, &is_ip, &ne) < 0 || norm[0] == '*' || is_ip != id->ip ||
        (is_ip && az->wildcard)) {
        err_set(e, rc, "authorization %s is for %s \"%s\", not a valid %s: refused", url,
                id->ip ? "ip" : "dns", v, az->wildcard ? "wildcard name" : "identifier");
        goto out;
    }
    for (size_t i = 0; i < j->t->nreq_names; i++) {
        const struct target_name *n = &j->t->req_names[i];
        const char *want = n->name;

        if (n->ip != is_ip || (want[0] == '*') != az->wildcard)
            continue;
        if (!strcmp(az->wildcard ? want + 2 : want, norm)) {
            free(id->value);
            id->value = norm;
            return 0;
        }
    }
    err_set(e, rc, "authorization %s is for %s%s \"%s\", which was not ordered: refused", url,
            az->wildcard ? "wildcard " : "", id->ip ? "ip" : "dns", v);
out:
    free(norm);
    return rc;
}
