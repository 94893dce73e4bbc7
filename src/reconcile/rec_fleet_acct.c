/* rec_fleet_acct: the fleet's account per CA (issue 16 item 2): a node with no account for a
 * CA first installs the fleet's (caccount); when the fleet has none, the node that takes the
 * lock .account-<dir-id> registers it and publishes it before giving the lock back, while the
 * others wait for it. Nodes never race to register. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/caccount.h"
#include "cluster/fleet.h"
#include "reconcile/rec_fleet.h"
#include "util/log.h"

#define ACCT_WAIT_MS 1000 /* another node registers the account: look again after this */
#define ACCT_WAIT_TRIES 30

struct rec_fleet_acct {
    struct rec *r;
    struct provider *p;
    provider_cb cb;
    void *cbarg;
    char lock[96];
    int64_t fence; /* held until the account is published */
    unsigned tries;
    uv_timer_t again;
    bool held; /* in r->fleet_accts until published or the pass ends */
};

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Gives the lock back and forgets the gate (once nothing refers to it). */
static void gate_free(struct rec_fleet_acct *g)
{
    for (size_t i = 0; i < g->r->nfleet_accts; i++)
        if (g->r->fleet_accts[i] == g)
            g->r->fleet_accts[i] = NULL;
    if (g->fence)
        lockset_release(g->r->o->fleet->locks, g->lock, g->fence);
    g->fence = 0;
    uv_close((uv_handle_t *)&g->again, on_closed);
}

static void gate_done(struct rec_fleet_acct *g, int rc, const struct err *e, bool keep)
{
    provider_cb cb = g->cb;
    void *arg = g->cbarg;

    if (!keep)
        gate_free(g);
    else
        g->held = true;
    cb(arg, rc, e);
}

static void try_lock(struct rec_fleet_acct *g);

static void on_again(uv_timer_t *t)
{
    try_lock(t->data);
}

static void on_fleet_account(void *arg, int rc, const struct err *e)
{
    struct rec_fleet_acct *g = arg;

    if (rc == -ENOENT) {
        log_info("cluster: the fleet has no account at %s yet: this node registers it", g->p->url);
        gate_done(g, 0, NULL, true);
        return;
    }
    if (rc == 0)
        log_info("cluster: installed the fleet's account at %s", g->p->url);
    gate_done(g, rc, e, false);
}

static void on_locked(void *arg, int rc, int64_t fence, const char *holder, const struct err *e)
{
    struct rec_fleet_acct *g = arg;
    struct err me;

    if (rc == -EBUSY && ++g->tries < ACCT_WAIT_TRIES) {
        if (g->tries == 1)
            log_info("cluster: node %s registers the fleet's account at %s: waiting for it",
                     holder ? holder : "?", g->p->url);
        uv_timer_start(&g->again, on_again, ACCT_WAIT_MS, 0);
        return;
    }
    if (rc < 0) {
        err_set(&me, rc, "the fleet's account at %s: %s", g->p->url,
                rc == -EBUSY ? "another node is still registering it" : err_msg(e));
        gate_done(g, rc, &me, false);
        return;
    }
    g->fence = fence;
    if (caccount_materialize(g->r->o->fleet->cl->kv, &g->r->st, g->p->url, on_fleet_account, g,
                             &me) < 0)
        gate_done(g, me.code, &me, false);
}

static void try_lock(struct rec_fleet_acct *g)
{
    struct err e;

    if (g->r->stopping) {
        gate_done(g, err_set(&e, -ECANCELED, "stopping"), &e, false);
        return;
    }
    if (lockset_acquire(g->r->o->fleet->locks, g->lock, on_locked, g, &e) < 0)
        gate_done(g, e.code, &e, false);
}

static struct rec_fleet_acct **slot_of(struct rec *r, const struct provider *p)
{
    for (size_t i = 0; i < r->nfleet_accts; i++)
        if (r->fleet_accts[i] && r->fleet_accts[i]->p == p)
            return &r->fleet_accts[i];
    return NULL;
}

static void account_gate(void *arg, struct provider *p, provider_cb cb, void *cbarg)
{
    struct rec *r = arg;
    struct rec_fleet_acct *g = calloc(1, sizeof *g), **v;
    struct err e;

    v = g ? realloc(r->fleet_accts, (r->nfleet_accts + 1) * sizeof *v) : NULL;
    if (!v) {
        free(g);
        cb(cbarg, err_set(&e, -ENOMEM, "out of memory"), &e);
        return;
    }
    r->fleet_accts = v;
    r->fleet_accts[r->nfleet_accts++] = g;
    *g = (struct rec_fleet_acct){.r = r, .p = p, .cb = cb, .cbarg = cbarg};
    snprintf(g->lock, sizeof g->lock, ".account-%.64s", p->dir_id);
    uv_timer_init(r->loop, &g->again);
    g->again.data = g;
    try_lock(g);
}

static void on_account_published(void *arg, int rc, const struct err *e)
{
    struct rec_fleet_acct *g = arg;

    if (rc < 0)
        log_err("cluster: the account at %s was not published to the fleet: %s", g->p->url,
                err_msg(e));
    else
        log_info("cluster: the account at %s is the fleet's now", g->p->url);
    gate_free(g);
}

static void account_registered(void *arg, struct provider *p)
{
    struct rec *r = arg;
    struct rec_fleet_acct **s = slot_of(r, p), *g;
    struct err e;

    if (!s || !(*s)->held)
        return;
    g = *s;
    if (caccount_publish(r->o->fleet->cl->kv, &r->st, p->url, p->acct.eab_kid, on_account_published,
                         g, &e) < 0)
        on_account_published(g, e.code, &e);
}

void rec_fleet_acct_init(struct rec *r)
{
    r->provs.account_gate = account_gate;
    r->provs.account_registered = account_registered;
    r->provs.fleet_arg = r;
}

void rec_fleet_release(struct rec *r)
{
    for (size_t i = 0; i < r->nfleet_accts; i++)
        if (r->fleet_accts[i] && r->fleet_accts[i]->held)
            gate_free(r->fleet_accts[i]);
    free(r->fleet_accts);
    r->fleet_accts = NULL;
    r->nfleet_accts = 0;
}
