/* Integration tests for cluster/lockset against the three-member etcd cluster of
 * tests/etcd/fixture.sh: one holder per target (another node gets -EBUSY and the holder's
 * name); a released lock can be taken; a node that dies (stops renewing its lease) loses its
 * locks within the TTL, another takes them, and the dead node's fence no longer lets it write;
 * a lockset freed with pending work calls nothing back; lockset_holders lists who holds what,
 * a value that does not open as "?", without a lease of its own. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "cluster/lockset.h"
#include "common/etcd_fx.h"
#include "common/testutil.h"
#include "util/clock.h"

static struct etcd_fx fx;

struct got {
    int done, rc;
    int64_t fence;
    char holder[64];
    bool succeeded;
};

static void on_lock(void *arg, int rc, int64_t fence, const char *holder, const struct err *e)
{
    struct got *g = arg;

    (void)e;
    g->done = 1;
    g->rc = rc;
    g->fence = fence;
    snprintf(g->holder, sizeof g->holder, "%s", holder ? holder : "");
}

static void on_etcd(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct got *g = arg;

    (void)e;
    g->done = 1;
    g->rc = rc;
    g->succeeded = rc == 0 && r->succeeded;
}

static void wait(struct got *g, uint64_t ms)
{
    if (!tu_run_until(&fx.loop, &g->done, ms))
        fail_msg("no answer within %llu ms", (unsigned long long)ms);
}

static void acquire(struct lockset *ls, const char *target, struct got *g)
{
    struct err e;

    memset(g, 0, sizeof *g);
    if (lockset_acquire(ls, target, on_lock, g, &e) < 0)
        fail_msg("lockset_acquire: %s", err_msg(&e));
    wait(g, 15000);
}

static int lost_count;
static void on_lost(void *arg)
{
    (void)arg;
    lost_count++;
}

static int setup(void **state)
{
    (void)state;
    etcd_fx_setup(&fx, "lockset");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    etcd_fx_teardown(&fx);
    return 0;
}

static void test_one_holder(void **state)
{
    struct lockset *a, *b;
    struct got g, h;
    struct err e;

    (void)state;
    assert_int_equal(lockset_new(&fx.loop, fx.etcd, fx.kv, "node-a", 0, on_lost, NULL, &a, &e), 0);
    assert_int_equal(lockset_new(&fx.loop, fx.etcd, fx.kv, "node-b", 0, on_lost, NULL, &b, &e), 0);
    acquire(a, "www", &g);
    assert_int_equal(g.rc, 0);
    assert_true(g.fence > 0);
    acquire(b, "www", &h);
    assert_int_equal(h.rc, -EBUSY);
    assert_string_equal(h.holder, "node-a");
    /* Another target is free. */
    acquire(b, "mail", &h);
    assert_int_equal(h.rc, 0);
    /* Given back, then taken by b. */
    lockset_release(a, "www", g.fence);
    for (int i = 0; i < 50; i++) {
        acquire(b, "www", &h);
        if (h.rc == 0)
            break;
        usleep(20000);
    }
    assert_int_equal(h.rc, 0);
    assert_true(h.fence > g.fence);
    assert_int_equal(lockset_acquire(a, "../x", on_lock, &g, &e), -EINVAL);
    lockset_free(a, false);
    lockset_free(b, false);
    assert_int_equal(lost_count, 0);
}

static void on_tick(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop for ms (renewals and all). */
static void run_for(uint64_t ms)
{
    int tick = 0;
    uv_timer_t t;

    uv_timer_init(&fx.loop, &t);
    t.data = &tick;
    uv_timer_start(&t, on_tick, ms, 0);
    tu_run_until(&fx.loop, &tick, ms + 5000);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&fx.loop, UV_RUN_NOWAIT);
}

static void test_dead_node_is_replaced_and_fenced(void **state)
{
    struct lockset *a, *b;
    struct got g, h, w;
    struct err e;
    uint64_t t0, waited = 0;

    (void)state;
    assert_int_equal(lockset_new(&fx.loop, fx.etcd, fx.kv, "node-a", 2, on_lost, NULL, &a, &e), 0);
    assert_int_equal(lockset_new(&fx.loop, fx.etcd, fx.kv, "node-b", 2, on_lost, NULL, &b, &e), 0);
    acquire(a, "api", &g);
    assert_int_equal(g.rc, 0);
    /* The holder keeps its lock beyond the TTL while it renews its lease. */
    run_for(3000);
    acquire(b, "api", &h);
    assert_int_equal(h.rc, -EBUSY);
    assert_string_equal(h.holder, "node-a");
    /* node-a dies: it stops renewing. Within the TTL (and etcd's expiry pass), b gets it. */
    lockset_free(a, true);
    t0 = clock_mono_ms();
    do {
        run_for(200);
        acquire(b, "api", &h);
        waited = clock_mono_ms() - t0;
    } while (h.rc == -EBUSY && waited < 8000);
    assert_int_equal(h.rc, 0);
    assert_true(h.fence > g.fence);
    /* The dead node's fence no longer lets anything be written. */
    memset(&w, 0, sizeof w);
    assert_int_equal(
        ckv_put_fenced(fx.kv, "locks/api", g.fence, "state/api", "late", 4, on_etcd, &w, &e), 0);
    wait(&w, 15000);
    assert_int_equal(w.rc, 0);
    assert_false(w.succeeded);
    memset(&w, 0, sizeof w);
    assert_int_equal(
        ckv_put_fenced(fx.kv, "locks/api", h.fence, "state/api", "mine", 4, on_etcd, &w, &e), 0);
    wait(&w, 15000);
    assert_true(w.succeeded);
    lockset_free(b, false);
}

static void test_free_with_work_pending(void **state)
{
    struct lockset *a;
    struct got g = {0};
    struct err e;

    (void)state;
    assert_int_equal(lockset_new(&fx.loop, fx.etcd, fx.kv, "node-c", 0, on_lost, NULL, &a, &e), 0);
    assert_int_equal(lockset_acquire(a, "pending", on_lock, &g, &e), 0);
    lockset_free(a, false); /* before the lease is even granted */
    run_for(500);
    assert_int_equal(g.done, 0);
}

struct listed {
    int done, rc;
    size_t n;
    char pairs[512]; /* "target=node " each */
};

static void on_holders(void *arg, int rc, const struct lockset_holder *h, size_t n,
                       const struct err *e)
{
    struct listed *l = arg;

    (void)e;
    l->done = 1;
    l->rc = rc;
    l->n = n;
    for (size_t i = 0; i < n; i++)
        snprintf(l->pairs + strlen(l->pairs), sizeof l->pairs - strlen(l->pairs), "%s=%s ",
                 h[i].target, h[i].node);
}

static void holders(struct listed *l)
{
    struct err e;

    memset(l, 0, sizeof *l);
    if (lockset_holders(fx.kv, on_holders, l, &e) < 0)
        fail_msg("lockset_holders: %s", err_msg(&e));
    if (!tu_run_until(&fx.loop, &l->done, 15000))
        fail_msg("lockset_holders: no answer");
    assert_int_equal(l->rc, 0);
}

static void test_holders(void **state)
{
    struct lockset *a;
    struct got g, w;
    struct listed l;
    struct err e;
    char key[ETCD_MAX_KEY];
    uint64_t t0;

    (void)state;
    assert_int_equal(lockset_new(&fx.loop, fx.etcd, fx.kv, "node-h", 0, on_lost, NULL, &a, &e), 0);
    acquire(a, "held", &g);
    assert_int_equal(g.rc, 0);
    /* A lock whose value is not sealed with this secret: shown, as "?". */
    assert_true(ckv_key(fx.kv, "locks/forged", key, sizeof key));
    memset(&w, 0, sizeof w);
    assert_int_equal(etcd_put(fx.etcd, key, "node-x", 6, 0, on_etcd, &w, &e), 0);
    wait(&w, 15000);
    assert_int_equal(w.rc, 0);
    holders(&l);
    assert_non_null(strstr(l.pairs, "held=node-h "));
    assert_non_null(strstr(l.pairs, "forged=? "));
    /* Given back: no longer listed. */
    lockset_release(a, "held", g.fence);
    t0 = clock_mono_ms();
    do {
        run_for(50);
        holders(&l);
    } while (strstr(l.pairs, "held=") && clock_mono_ms() - t0 < 5000);
    assert_null(strstr(l.pairs, "held="));
    assert_non_null(strstr(l.pairs, "forged=? "));
    lockset_free(a, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_holder),
        cmocka_unit_test(test_dead_node_is_replaced_and_fenced),
        cmocka_unit_test(test_free_with_work_pending),
        cmocka_unit_test(test_holders),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
