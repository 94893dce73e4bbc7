/* lockset: a node's target locks under one lease (see lockset.h). */
#include "cluster/lockset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/seal.h"
#include "store/conf_cluster.h"
#include "util/clock.h"
#include "util/log.h"

struct acq {
    struct lockset *ls;
    char target[CKV_NAME_MAX];
    lockset_cb cb;
    void *arg;
    int64_t fence;
    bool cancelled;
    struct acq *next;
};

struct lockset {
    uv_loop_t *loop;
    struct etcd *c;
    struct ckv *kv;
    char *node;
    int64_t ttl;
    int64_t lease;        /* 0: none yet (or lost) */
    bool granting;        /* a lease grant is in flight: acquisitions wait in queue */
    uint64_t renewed_ms;  /* last successful grant or renewal */
    uv_timer_t keepalive; /* every ttl / 3 */
    lockset_lost_cb lost;
    void *lost_arg;
    struct acq *queue; /* waiting for the lease */
    struct acq *busy;  /* in etcd */
    unsigned inflight; /* etcd calls whose callbacks have not run: ls lives until 0 */
    bool freeing, closed;
};

static void ls_maybe_free(struct lockset *ls)
{
    if (ls->freeing && ls->closed && ls->inflight == 0) {
        while (ls->queue) {
            struct acq *a = ls->queue;

            ls->queue = a->next;
            free(a);
        }
        free(ls->node);
        free(ls);
    }
}

/* One etcd call of ls's has answered; false when ls is being freed (the caller stops). */
static bool ls_answered(struct lockset *ls)
{
    ls->inflight--;
    if (!ls->freeing)
        return true;
    ls_maybe_free(ls);
    return false;
}

static void acq_done(struct acq *a, int rc, int64_t fence, const char *holder, const struct err *e)
{
    struct lockset *ls = a->ls;

    for (struct acq **p = &ls->busy; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    if (!a->cancelled)
        a->cb(a->arg, rc, fence, holder, e);
    free(a);
}

static void lease_lost(struct lockset *ls, const char *why)
{
    if (!ls->lease)
        return;
    log_warn("cluster: lease %llx of node %s lost (%s): its locks are gone",
             (unsigned long long)ls->lease, ls->node, why);
    ls->lease = 0;
    uv_timer_stop(&ls->keepalive);
    if (ls->lost)
        ls->lost(ls->lost_arg);
}

static void on_keepalive(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct lockset *ls = arg;

    if (!ls_answered(ls))
        return;
    if (rc == 0 && r->ttl > 0) {
        ls->renewed_ms = clock_mono_ms();
        return;
    }
    if (rc == 0 || rc == -ENOENT) {
        lease_lost(ls, "etcd says it expired");
        return;
    }
    /* No answer: the lease may still live; once a whole TTL has gone without a renewal,
     * assume it does not (etcd will have expired it). */
    if (clock_mono_ms() - ls->renewed_ms >= (uint64_t)ls->ttl * 1000)
        lease_lost(ls, err_msg(e));
}

static void on_timer(uv_timer_t *t)
{
    struct lockset *ls = t->data;
    struct err e;

    if (!ls->lease)
        return;
    if (etcd_lease_keepalive(ls->c, ls->lease, on_keepalive, ls, &e) < 0)
        log_warn("cluster: lease renewal: %s", err_msg(&e));
    else
        ls->inflight++;
}

static void try_lock(struct acq *a);

static void on_granted(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct lockset *ls = arg;
    uint64_t every = (uint64_t)ls->ttl * 1000 / 3;

    ls->granting = false;
    if (!ls_answered(ls))
        return;
    if (rc == 0) {
        ls->lease = r->lease_id;
        ls->renewed_ms = clock_mono_ms();
        uv_timer_start(&ls->keepalive, on_timer, every, every);
    }
    while (ls->queue) {
        struct acq *a = ls->queue;

        ls->queue = a->next;
        a->next = ls->busy;
        ls->busy = a;
        if (rc == 0)
            try_lock(a);
        else
            acq_done(a, rc, 0, NULL, e);
    }
}

static void on_holder(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                      const struct err *e)
{
    struct acq *a = arg;
    struct lockset *ls = a->ls;
    char holder[128];

    (void)bad;
    (void)e;
    ls->inflight--;
    snprintf(holder, sizeof holder, "%.*s", rc == 0 && n ? (int)it[0].len : 1,
             rc == 0 && n ? (const char *)it[0].value : "?");
    acq_done(a, -EBUSY, 0, holder, NULL);
    ls_maybe_free(ls);
}

static void on_txn(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct acq *a = arg;
    struct lockset *ls = a->ls;
    struct err ge;
    char name[CKV_NAME_MAX + 8];

    ls->inflight--;
    if (rc < 0) {
        acq_done(a, rc, 0, NULL, e);
    } else if (r->succeeded) {
        /* The put created the key: its create revision is the transaction's revision. */
        acq_done(a, 0, r->revision, NULL, NULL);
    } else {
        snprintf(name, sizeof name, "locks/%s", a->target);
        if (ls->freeing || ckv_get(ls->kv, name, on_holder, a, &ge) < 0)
            acq_done(a, -EBUSY, 0, "?", NULL);
        else
            ls->inflight++;
    }
    ls_maybe_free(ls);
}

static void try_lock(struct acq *a)
{
    char name[CKV_NAME_MAX + 8];
    struct err e;

    snprintf(name, sizeof name, "locks/%s", a->target);
    if (ckv_put_absent(a->ls->kv, name, a->ls->node, strlen(a->ls->node), a->ls->lease, on_txn, a,
                       &e) < 0)
        acq_done(a, e.code, 0, NULL, &e);
    else
        a->ls->inflight++;
}

int lockset_acquire(struct lockset *ls, const char *target, lockset_cb cb, void *arg, struct err *e)
{
    struct acq *a;
    char name[CKV_NAME_MAX + 8];

    if (snprintf(name, sizeof name, "locks/%s", target) >= (int)sizeof name ||
        !ckv_key(ls->kv, name, (char[ETCD_MAX_KEY]){0}, ETCD_MAX_KEY) || strchr(target, '/'))
        return err_set(e, -EINVAL, "cluster: \"%.64s\" cannot name a lock", target);
    if (!(a = calloc(1, sizeof *a)))
        return err_set(e, -ENOMEM, "out of memory");
    *a = (struct acq){.ls = ls, .cb = cb, .arg = arg};
    snprintf(a->target, sizeof a->target, "%s", target);
    if (ls->lease) {
        a->next = ls->busy;
        ls->busy = a;
        try_lock(a);
        return 0;
    }
    a->next = ls->queue;
    ls->queue = a;
    if (!ls->granting) {
        ls->granting = true;
        if (etcd_lease_grant(ls->c, ls->ttl, on_granted, ls, e) < 0) {
            ls->granting = false;
            ls->queue = a->next;
            free(a);
            return e->code;
        }
        ls->inflight++;
    }
    return 0;
}

static void on_released(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    (void)rc, (void)r, (void)e;
    ls_answered(arg);
}

int64_t lockset_lease(const struct lockset *ls)
{
    return ls->lease;
}

void lockset_release(struct lockset *ls, const char *target, int64_t fence)
{
    char name[CKV_NAME_MAX + 8];
    struct err e;

    snprintf(name, sizeof name, "locks/%s", target);
    if (ckv_delete_fenced(ls->kv, name, fence, on_released, ls, &e) < 0)
        log_warn("cluster: releasing %s: %s", name, err_msg(&e));
    else
        ls->inflight++;
}

int lockset_new(uv_loop_t *loop, struct etcd *c, struct ckv *kv, const char *node, int64_t ttl,
                lockset_lost_cb lost, void *arg, struct lockset **out, struct err *e)
{
    struct lockset *ls = calloc(1, sizeof *ls);

    *out = NULL;
    if (!ls || !(ls->node = strdup(node))) {
        free(ls);
        return err_set(e, -ENOMEM, "out of memory");
    }
    ls->loop = loop;
    ls->c = c;
    ls->kv = kv;
    ls->ttl = ttl > 0 ? ttl : LOCKSET_TTL_DEFAULT;
    ls->lost = lost;
    ls->lost_arg = arg;
    uv_timer_init(loop, &ls->keepalive);
    ls->keepalive.data = ls;
    *out = ls;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct lockset *ls = h->data;

    ls->closed = true;
    ls_maybe_free(ls);
}

void lockset_free(struct lockset *ls, bool crash)
{
    struct err e;

    if (!ls)
        return;
    ls->freeing = true;
    for (struct acq *a = ls->queue; a; a = a->next)
        a->cancelled = true;
    for (struct acq *a = ls->busy; a; a = a->next)
        a->cancelled = true;
    if (ls->lease && !crash) {
        if (etcd_lease_revoke(ls->c, ls->lease, on_released, ls, &e) < 0)
            log_warn("cluster: revoking the lease: %s", err_msg(&e));
        else
            ls->inflight++;
    }
    uv_close((uv_handle_t *)&ls->keepalive, on_timer_closed);
}

/* One lockset_holders call in flight. */
struct holders {
    struct ckv *kv;
    lockset_holders_cb cb;
    void *arg;
};

/* The holder's name in a lock's opened value, or "?" when it is none: the value is read
 * back from etcd, so only a node name (printable, short) reaches a terminal or a log. */
static void holder_name(const uint8_t *pt, size_t len, char *out, size_t out_len)
{
    snprintf(out, out_len, "%.*s", (int)(len < out_len ? len : out_len - 1), (const char *)pt);
    if (strlen(out) != len || !conf_cluster_node_ok(out))
        snprintf(out, out_len, "?");
}

static void on_holders(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct holders *q = arg;
    struct lockset_holder *h = NULL;
    char(*nodes)[CONF_CLUSTER_NODE_MAX + 1] = NULL;
    size_t n = 0;
    struct err oe;

    if (rc == 0 && r->nkvs &&
        (!(h = calloc(r->nkvs, sizeof *h)) || !(nodes = calloc(r->nkvs, sizeof *nodes))))
        rc = err_set(&oe, -ENOMEM, "out of memory"), e = &oe;
    for (size_t i = 0; rc == 0 && i < r->nkvs; i++) {
        const char *name = NULL;
        uint8_t *pt = NULL;
        size_t len = 0;
        struct err se;

        if (ckv_open(q->kv, &r->kvs[i], &name, &pt, &len, &se) < 0) {
            if (!name) /* outside the prefix: not a lock (etcd cannot answer that) */
                continue;
            snprintf(nodes[n], sizeof nodes[n], "?");
        } else {
            holder_name(pt, len, nodes[n], sizeof nodes[n]);
            seal_free_secret(pt, len);
        }
        h[n].target = name + strlen("locks/");
        h[n].node = nodes[n];
        n++;
    }
    q->cb(q->arg, rc, rc == 0 ? h : NULL, n, rc < 0 ? e : NULL);
    free(nodes);
    free(h);
    free(q);
}

int lockset_holders(struct ckv *kv, lockset_holders_cb cb, void *arg, struct err *e)
{
    char key[ETCD_MAX_KEY];
    struct holders *q;
    int rc;

    if (!ckv_key(kv, "locks/", key, sizeof key))
        return err_set(e, -EINVAL, "cluster: the prefix is too long for locks/");
    if (!(q = calloc(1, sizeof *q)))
        return err_set(e, -ENOMEM, "out of memory");
    *q = (struct holders){.kv = kv, .cb = cb, .arg = arg};
    if ((rc = etcd_get_prefix(ckv_etcd(kv), key, 0, on_holders, q, e)) < 0)
        free(q);
    return rc;
}
