/* fleet: a node's standing connection to its fleet (see fleet.h). */
#include "cluster/fleet.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/seal.h"
#include "net/etcd_watch.h"
#include "util/log.h"

#define WATCH_AGAIN_MS 2000 /* a watch that could not start (etcd down) is tried again */
/* A watch whose members stop answering (paused, cut off without a reset) may stay silent:
 * etcd is asked this often whether it still answers, so that status says so. */
#define PROBE_MS 5000

static void watch(struct fleet *f);

static void on_lost(void *arg)
{
    (void)arg; /* lockset logged it; work under the locks stops at its next fenced write */
}

void fleet_set_up(struct fleet *f, bool up, const char *why)
{
    bool flip = up != f->up;

    if (up && !f->up)
        log_notice("cluster: etcd answers again");
    else if (!up && f->up)
        log_warn("cluster: etcd unreachable: %s; keeping what this node has", why ? why : "?");
    f->up = up;
    snprintf(f->why, sizeof f->why, "%s", up || !why ? "" : why);
    if (flip && !f->closing)
        f->changed(f->arg); /* a pass says so (status, metrics) and catches up */
}

/* A record of state/ that ends an order with a certificate: the other nodes install it. The
 * checkpoints in between (an order in progress) concern only the lock's holder. */
static bool record_done(const struct fleet *f, const struct etcd_kv *kv)
{
    const char *name;
    uint8_t *pt = NULL;
    size_t len = 0;
    struct err e;
    json_t *o, *ts = NULL;
    bool done;

    if (ckv_open(f->cl->kv, kv, &name, &pt, &len, &e) < 0)
        return false;
    o = json_loadb((const char *)pt, len, 0, NULL);
    if (json_is_string(json_object_get(o, "ts")))
        ts = json_loads(json_string_value(json_object_get(o, "ts")), 0, NULL);
    done = json_is_string(json_object_get(o, "cert")) && ts && !json_object_get(ts, "order_url");
    json_decref(ts);
    json_decref(o);
    seal_free_secret(pt, len);
    return done;
}

/* What matters to passes: a target wanted or unwanted, a certificate obtained. Locks,
 * answers and checkpoints change often and concern their holder only. */
static bool interesting(const struct fleet *f, const struct etcd_event *ev)
{
    const char *key = ev->kv.key;
    char full[ETCD_MAX_KEY];
    size_t n;

    if (!ckv_key(f->cl->kv, "desired/", full, sizeof full))
        return true;
    n = strlen(full) - strlen("desired/");
    if (strncmp(key, full, n))
        return false;
    if (!strncmp(key + n, "desired/", 8))
        return true;
    return !strncmp(key + n, "state/", 6) && ev->type == ETCD_EVENT_PUT && record_done(f, &ev->kv);
}

static void on_probed(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct fleet *f = arg;

    (void)r;
    f->probing = false;
    if (!f->closing && rc != -ECANCELED)
        fleet_set_up(f, rc == 0, rc == 0 ? NULL : err_msg(e));
}

static void on_probe(uv_timer_t *t)
{
    struct fleet *f = t->data;
    char full[ETCD_MAX_KEY];
    struct err e;

    if (f->probing || f->closing || !ckv_key(f->cl->kv, "state/", full, sizeof full))
        return;
    if (etcd_get(f->cl->etcd, full, on_probed, f, &e) == 0)
        f->probing = true;
}

static void on_again(uv_timer_t *t)
{
    watch(t->data);
}

static void on_watch(void *arg, int rc, const struct etcd_watch_msg *m, const struct err *e)
{
    struct fleet *f = arg;
    bool hit = false;

    if (rc < 0) {
        f->w = NULL;
        if (rc == -ECANCELED || f->closing)
            return;
        if (rc == -ESTALE)
            f->rev = 0; /* compacted: follow from now; the pass reads everything anyway */
        fleet_set_up(f, false, err_msg(e));
        uv_timer_start(&f->again, on_again, WATCH_AGAIN_MS, 0);
        return;
    }
    if (m->kind == ETCD_WATCH_CREATED) {
        if (m->revision > f->rev && !f->rev)
            f->rev = m->revision;
        fleet_set_up(f, true, NULL); /* back: what changed meanwhile was not seen */
        return;
    }
    for (size_t i = 0; i < m->nevents; i++) {
        const struct etcd_event *ev = &m->events[i];

        if (ev->kv.mod_revision > f->rev)
            f->rev = ev->kv.mod_revision;
        hit = hit || interesting(f, ev);
    }
    if (hit)
        f->changed(f->arg);
}

static void watch(struct fleet *f)
{
    char full[ETCD_MAX_KEY];
    struct err e;

    if (f->closing)
        return;
    /* Every key under the prefix: the name "" is not one, so build the prefix from one. */
    if (!ckv_key(f->cl->kv, "desired/", full, sizeof full)) {
        log_err("cluster: the prefix is too long to follow");
        return;
    }
    full[strlen(full) - strlen("desired/")] = '\0';
    if (etcd_watch_start(f->cl->etcd, full, f->rev ? f->rev + 1 : 0, on_watch, f, &f->w, &e) < 0) {
        fleet_set_up(f, false, err_msg(&e));
        uv_timer_start(&f->again, on_again, WATCH_AGAIN_MS, 0);
    }
}

int fleet_open(uv_loop_t *loop, const struct acmed_cluster *c, void (*changed)(void *arg),
               void *arg, struct fleet **out, struct err *e)
{
    struct fleet *f = calloc(1, sizeof *f);
    int rc;

    *out = NULL;
    if (!f)
        return err_set(e, -ENOMEM, "out of memory");
    f->loop = loop;
    f->changed = changed;
    f->arg = arg;
    f->up = true;
    if ((rc = cluster_open(loop, c, &f->cl, e)) < 0) {
        free(f);
        return rc;
    }
    if ((rc = lockset_new(loop, f->cl->etcd, f->cl->kv, f->cl->node, 0, on_lost, f, &f->locks, e)) <
            0 ||
        (rc = canswers_new(loop, f->cl->etcd, f->cl->kv, &f->answers, e)) < 0) {
        lockset_free(f->locks, false);
        cluster_close(f->cl, NULL, NULL);
        free(f);
        return rc;
    }
    uv_timer_init(loop, &f->again);
    f->again.data = f;
    uv_timer_init(loop, &f->probe);
    f->probe.data = f;
    uv_timer_start(&f->probe, on_probe, PROBE_MS, PROBE_MS);
    watch(f);
    *out = f;
    return 0;
}

static void on_cluster_closed(void *arg)
{
    struct fleet *f = arg;

    if (f->closed)
        f->closed(f->closed_arg);
    free(f);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct fleet *f = h->data;

    if (++f->nclosed == 2)
        cluster_close(f->cl, on_cluster_closed, f);
}

void fleet_close(struct fleet *f, void (*done)(void *arg), void *arg)
{
    if (!f)
        return;
    f->closing = true;
    f->closed = done;
    f->closed_arg = arg;
    etcd_watch_cancel(f->w);
    f->w = NULL;
    canswers_free(f->answers);
    /* Without etcd a revocation would only wait: the lease ends by itself. */
    lockset_free(f->locks, !f->up);
    uv_close((uv_handle_t *)&f->again, on_timer_closed);
    uv_close((uv_handle_t *)&f->probe, on_timer_closed);
}
