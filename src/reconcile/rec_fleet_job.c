/* rec_fleet_job: a job in fleet mode (see rec_fleet.h): its lock, the fleet's checkpoint,
 * fenced checkpoints, shared answers, the published certificate; and the fleet's account,
 * registered by one node under a lock of its own. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/caccount.h"
#include "cluster/ccert.h"
#include "cluster/fleet.h"
#include "reconcile/policy.h"
#include "reconcile/rec_fleet.h"
#include "util/clock.h"
#include "util/log.h"

struct job_fleet {
    struct rec *r;
    int64_t fence;               /* the lock's create revision; 0 when not held */
    char *cert;                  /* the certificate the fleet's record names, or NULL */
    bool key_published;          /* the order's key is in etcd */
    bool ended;                  /* rec_fleet_job_end ran */
    bool started;                /* a step ran: its outcome goes to etcd */
    void (*next)(struct job *j); /* after the checkpoint */
};

static struct ckv *kv_of(const struct rec *r)
{
    return r->o->fleet->cl->kv;
}

static struct lockset *locks_of(const struct rec *r)
{
    return r->o->fleet->locks;
}

static void start(struct job *j)
{
    j->fl->started = true;
    job_start(j);
}

/* The job ends without a step: another node holds it, or etcd cannot tell. */
static void wait_job(struct job *j, bool again)
{
    j->interrupted = true;
    j->finished = true;
    if (again)
        j->fl->r->sum.fleet_again = true;
    j->done(j);
}

/* etcd cannot tell: renew alone only inside the critical window (DESIGN.md §12). */
static void alone_or_wait(struct rec *r, struct job *j, const char *why)
{
    struct policy_cert pc = {0};

    if (j->cur) {
        pc.not_before = j->cur->not_before;
        pc.not_after = j->cur->not_after;
    }
    if (j->cur && policy_critical(&pc, j->t->critical_days, clock_now())) {
        log_warn("%s: etcd unreachable (%s) and its certificate is in its critical window: "
                 "renewing alone; the newer certificate wins once etcd is back",
                 j->t->file, why);
        job_start(j);
        return;
    }
    log_info("%s: waiting for etcd (%s)", j->t->file, why);
    fleet_set_up(r->o->fleet, false, why);
    wait_job(j, true);
}

/* state/<file>: {"v":1,"node":...,"ts":"<progress record>","cert":"<id>"}. */
static char *record_json(const struct rec *r, const struct job *j, const char *cert)
{
    char *ts = tstate_json(&j->ts, true), *out = NULL;
    json_t *o =
        ts ? json_pack("{s:i, s:s, s:s}", "v", 1, "node", r->o->fleet->cl->node, "ts", ts) : NULL;

    if (o && (!cert || !json_object_set_new(o, "cert", json_string(cert))))
        out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(ts);
    return out;
}

static int put_record(struct job *j, const char *cert, etcd_cb cb, struct err *e)
{
    struct rec *r = j->fl->r;
    char lock[CKV_NAME_MAX], name[CKV_NAME_MAX];
    char *json = record_json(r, j, cert);
    int rc;

    if (!json)
        return err_set(e, -ENOMEM, "out of memory");
    snprintf(lock, sizeof lock, "locks/%s", j->t->file);
    snprintf(name, sizeof name, "state/%s", j->t->file);
    rc = ckv_put_fenced(kv_of(r), lock, j->fl->fence, name, json, strlen(json), cb, j, e);
    free(json);
    return rc;
}

/* ---- starting: the lock, then the fleet's checkpoint ---- */

static void on_key_back(void *arg, int rc, const struct err *e)
{
    struct job *j = arg;

    if (rc < 0) {
        log_warn("%s: the resumed order's key is not in etcd (%s): ordering afresh", j->t->file,
                 err_msg(e));
        tstate_clear_order(&j->ts);
    }
    start(j);
}

static void resume(struct job *j);

static void on_cert_back(void *arg, int rc, const struct err *e)
{
    struct job *j = arg;

    if (rc < 0) {
        /* Unusable: this node orders (its record replaces the fleet's under the lock). */
        log_err("%s: the fleet's certificate %s: %s", j->t->file, j->fl->cert, err_msg(e));
        resume(j);
        return;
    }
    log_info("%s: installed the certificate another node obtained (%s)", j->t->file, j->fl->cert);
    j->fl->r->sum.fleet_now = true; /* the next pass, at once, plans and links with it */
    wait_job(j, false);
}

/* The fleet's record for the target: hostile until its fields check out (it opened with the
 * secret, so it is the fleet's, but of any version). */
static int parse_record(struct job *j, const struct ckv_item *it, struct tstate *ts, struct err *e)
{
    json_t *o = json_loadb((const char *)it->value, it->len, JSON_REJECT_DUPLICATES, NULL);
    const char *tsj = json_string_value(json_object_get(o, "ts"));
    json_t *c = json_object_get(o, "cert");
    int rc = 0;

    memset(ts, 0, sizeof *ts);
    if (!tsj || (c && (!json_is_string(c) || !store_id_valid(json_string_value(c)))))
        rc = err_set(e, -EBADMSG, "state/%s in etcd is not a progress record", j->t->file);
    else if ((rc = tstate_parse(tsj, strlen(tsj), ts, e)) == 0 && c &&
             !(j->fl->cert = strdup(json_string_value(c))))
        rc = err_set(e, -ENOMEM, "out of memory");
    json_decref(o);
    return rc;
}

static bool have_key(const struct rec *r, const char *id)
{
    struct ckey *k = NULL;
    struct err e;
    bool ok = store_key_load(&r->st, id, &k, &e) == 0;

    key_free(k);
    return ok;
}

static void on_record(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                      const struct err *e)
{
    struct job *j = arg;
    struct rec *r = j->fl->r;
    struct tstate ts;
    struct err pe;

    (void)bad;
    if (rc == -ENOENT || (rc == 0 && n == 0)) {
        start(j);
        return;
    }
    if (rc == 0 && parse_record(j, &it[0], &ts, &pe) < 0)
        rc = pe.code, e = &pe;
    if (rc == -EBADMSG) {
        /* Not a record of ours (another secret's, a forgery): this node's replaces it. */
        log_err("%s: its progress in etcd: %s; starting afresh", j->t->file, err_msg(e));
        start(j);
        return;
    }
    if (rc < 0) {
        log_err("%s: its progress in etcd: %s", j->t->file, err_msg(e));
        wait_job(j, true);
        return;
    }
    /* The fleet's record decides: its backoff, its order in progress, its certificate. */
    tstate_free(&j->ts);
    j->ts = ts;
    job_checkpoint(j); /* this node's plan sees the fleet's backoff too */
    if (j->fl->cert) {
        bool local = false;

        for (size_t i = 0; i < r->ncerts && !local; i++)
            local = !strcmp(r->certs[i].id, j->fl->cert);
        if (!local && ccert_materialize(kv_of(r), &r->st, j->fl->cert, on_cert_back, j, &pe) == 0)
            return;
    }
    resume(j);
}

/* The fleet's record adopted: its backoff, then its order in progress (with its key). */
static void resume(struct job *j)
{
    struct rec *r = j->fl->r;
    const struct tstate *ts = &j->ts;
    time_t now = clock_now();
    struct err pe;

    if (ts->retry_until > now || (!r->o->force && ts->next_attempt > now)) {
        log_info("%s: backing off after %u failures (the fleet's record; last error: %s)",
                 j->t->file, ts->failures, ts->last_error ? ts->last_error : "none");
        wait_job(j, false);
        return;
    }
    if (ts->key_id && !have_key(r, ts->key_id)) {
        /* The key of an order in progress comes from etcd; one made for an order that was
         * never placed is forgotten (this node makes its own). */
        if (ts->order_url &&
            ccert_key_materialize(kv_of(r), &r->st, ts->key_id, on_key_back, j, &pe) == 0)
            return;
        tstate_clear_order(&j->ts);
    }
    start(j);
}

static void on_locked(void *arg, int rc, int64_t fence, const char *holder, const struct err *e)
{
    struct job *j = arg;
    struct rec *r = j->fl->r;
    char name[CKV_NAME_MAX];
    struct err ge;

    if (rc == -EBUSY) {
        log_info("%s: node %s holds it", j->t->file, holder ? holder : "?");
        r->sum.fleet_elsewhere++;
        wait_job(j, true);
        return;
    }
    if (rc < 0) {
        alone_or_wait(r, j, err_msg(e));
        return;
    }
    j->fl->fence = fence;
    if (r->stopping) {
        wait_job(j, false); /* the lock goes back at the end */
        return;
    }
    log_info("%s: this node holds it now", j->t->file);
    snprintf(name, sizeof name, "state/%s", j->t->file);
    if (ckv_get(kv_of(r), name, on_record, j, &ge) < 0) {
        log_err("%s: %s", j->t->file, err_msg(&ge));
        wait_job(j, true);
    }
}

void rec_fleet_job_begin(struct rec *r, struct job *j)
{
    struct err e;

    if (!(j->fl = calloc(1, sizeof *j->fl))) {
        job_fail(j, -ENOMEM, NULL, (err_set(&e, -ENOMEM, "out of memory"), &e), "cluster");
        return;
    }
    j->fl->r = r;
    if (!r->o->fleet->up) {
        alone_or_wait(r, j, r->o->fleet->why);
        return;
    }
    if (lockset_acquire(locks_of(r), j->t->file, on_locked, j, &e) < 0)
        alone_or_wait(r, j, err_msg(&e));
}

/* ---- checkpoints after each step ---- */

static void on_checkpoint(void *arg, int rc, const struct etcd_result *res, const struct err *e)
{
    struct job *j = arg;

    if (rc < 0 || !res->succeeded) {
        /* The lock is gone or etcd cannot say: another node may work on it now. */
        log_warn("%s: the checkpoint in etcd failed (%s): stopping here; whoever holds the "
                 "lock now resumes it",
                 j->t->file, rc < 0 ? err_msg(e) : "the lock is no longer this node's");
        j->interrupted = true; /* the lock goes back at the end if it is still this node's */
        j->finished = true;
        j->done(j);
        return;
    }
    j->fl->next(j);
}

static void on_key_published(void *arg, int rc, const struct err *e)
{
    struct job *j = arg;
    struct etcd_result res = {0};
    struct err pe;

    if (rc == 0) {
        j->fl->key_published = true;
        if (put_record(j, j->fl->cert, on_checkpoint, &pe) == 0)
            return;
        e = &pe;
        rc = pe.code;
    }
    on_checkpoint(j, rc, &res, e);
}

static void fleet_checkpoint(void *arg, struct job *j, void (*next)(struct job *j))
{
    struct etcd_result res = {0};
    struct err e;
    int rc;

    (void)arg;
    if (!j->fl || !j->fl->fence) {
        next(j);
        return;
    }
    j->fl->next = next;
    /* The order's key goes first: a checkpoint naming it must let another node resume. */
    if (j->key && j->ts.key_id && !strcmp(j->ts.key_id, j->key_id) && !j->fl->key_published)
        rc = ccert_key_publish(kv_of(j->fl->r), &j->fl->r->st, j->ts.key_id, on_key_published, j,
                               &e);
    else
        rc = put_record(j, j->fl->cert, on_checkpoint, &e);
    if (rc < 0)
        on_checkpoint(j, rc, &res, &e);
}

/* ---- the end: the outcome under the lock, then the lock back ---- */

static void on_end_record(void *arg, int rc, const struct etcd_result *res, const struct err *e)
{
    struct job *j = arg;
    struct rec *r = j->fl->r;

    if (rc < 0 || !res->succeeded)
        log_warn("%s: its outcome was not recorded in etcd (%s)", j->t->file,
                 rc < 0 ? err_msg(e) : "the lock is no longer this node's");
    lockset_release(locks_of(r), j->t->file, j->fl->fence);
    j->fl->fence = 0;
    j->done(j); /* rec_job_finished, which sees the job ended */
}

static void on_published(void *arg, int rc, const struct err *e)
{
    struct job *j = arg;
    struct etcd_result res = {0};
    struct err pe;

    if (rc < 0) {
        log_err("%s: certificate %s not published to the fleet: %s", j->t->file, j->installed.id,
                err_msg(e));
    } else {
        log_info("%s: certificate %s published to the fleet", j->t->file, j->installed.id);
        free(j->fl->cert);
        j->fl->cert = strdup(j->installed.id);
    }
    if (put_record(j, j->fl->cert, on_end_record, &pe) < 0)
        on_end_record(j, pe.code, &res, &pe);
}

bool rec_fleet_job_end(struct rec *r, struct job *j)
{
    struct etcd_result res = {0};
    struct err e;

    if (!j->fl || j->fl->ended)
        return false;
    j->fl->ended = true;
    if (!j->fl->fence)
        return false;
    if (!j->fl->started) {
        /* Nothing was done under the lock: etcd has nothing new to hear. */
        lockset_release(locks_of(r), j->t->file, j->fl->fence);
        j->fl->fence = 0;
        return false;
    }
    if (j->ok && j->have_installed) {
        if (ccert_publish(kv_of(r), &r->st, j->installed.id, on_published, j, &e) < 0)
            on_published(j, e.code, &e);
        return true;
    }
    if (put_record(j, j->fl->cert, on_end_record, &e) < 0)
        on_end_record(j, e.code, &res, &e);
    return true;
}

void rec_fleet_job_free(struct job *j)
{
    if (j->fl)
        free(j->fl->cert);
    free(j->fl);
    j->fl = NULL;
}

/* ---- challenge answers, for any node to serve ---- */

static int share_answer(void *arg, struct job *j, bool tls, const char *key, const char *keyauth,
                        etcd_cb cb, void *cbarg, struct err *e)
{
    struct rec *r = arg;
    enum canswer_type type = tls ? CANSWER_TLSALPN01 : CANSWER_HTTP01;

    if (!j->fl || !j->fl->fence)
        return 1; /* renewing alone: the answer is this node's only */
    if (!keyauth) {
        canswer_withdraw(kv_of(r), type, key, NULL, NULL, e);
        return 1;
    }
    return canswer_publish(kv_of(r), type, key, keyauth, lockset_lease(locks_of(r)), cb, cbarg, e);
}

void rec_fleet_init(struct rec *r)
{
    if (!r->o->fleet || r->o->nextra)
        return;
    r->jctx.fleet_checkpoint = fleet_checkpoint;
    r->jctx.share_answer = share_answer;
    rec_fleet_acct_init(r);
}
