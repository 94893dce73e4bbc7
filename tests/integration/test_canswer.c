/* Integration tests for cluster/canswer against the three-member etcd cluster of
 * tests/etcd/fixture.sh: an answer one node publishes appears in another node's copy (and in
 * a copy started later, from its first read); a withdrawn answer and one whose lease ended
 * disappear; a forged value (not sealed with the fleet's secret) and a sealed value that is not
 * a key authorization are ignored and counted; what cannot be looked up is refused before
 * etcd. */
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

#include "cluster/canswer.h"
#include "common/etcd_env.h"
#include "common/testutil.h"

static uv_loop_t loop;
static char prefix[64];
static struct etcd *etcd;
static struct ckv *kv;
static const uint8_t secret[SEAL_KEY_LEN] = "0123456789abcdef0123456789abcdef";
#define KA "tok1.thumbprintXYZ_-abc"

struct got {
    int done, rc;
    int64_t lease;
};

static void on_etcd(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct got *g = arg;

    (void)e;
    g->done = 1;
    g->rc = rc;
    if (rc == 0)
        g->lease = r->lease_id;
}

static void wait(struct got *g)
{
    if (!tu_run_until(&loop, &g->done, 15000))
        fail_msg("no answer from etcd");
}

/* Runs the loop until cond(cs) or ms pass; the result of cond. */
static bool until(struct canswers *cs, bool (*cond)(struct canswers *), uint64_t ms)
{
    for (uint64_t t = 0; t < ms; t += 20) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (cond(cs))
            return true;
        usleep(20000);
    }
    return cond(cs);
}

static bool has_tok1(struct canswers *cs)
{
    return canswers_find(cs, CANSWER_HTTP01, "tok1") != NULL;
}
static bool no_tok1(struct canswers *cs)
{
    return !has_tok1(cs);
}
static bool has_sni(struct canswers *cs)
{
    return canswers_find(cs, CANSWER_TLSALPN01, "a.fleet.test") != NULL;
}
static bool no_sni(struct canswers *cs)
{
    return !has_sni(cs);
}
static bool two_ignored(struct canswers *cs)
{
    return canswers_ignored(cs) >= 2;
}
static bool ready(struct canswers *cs)
{
    return canswers_ready(cs);
}

static int setup(void **state)
{
    const char *eps[3] = {ee_get("ETCD_URL_1"), ee_get("ETCD_URL_2"), ee_get("ETCD_URL_3")};
    struct etcd_opts o = {.endpoints = eps, .n = 3};
    struct err e;

    (void)state;
    snprintf(prefix, sizeof prefix, "/acmed-canswer-%ld/", (long)getpid());
    assert_int_equal(uv_loop_init(&loop), 0);
    if (etcd_new(&loop, &o, &etcd, &e) < 0 || ckv_new(etcd, prefix, secret, &kv, &e) < 0)
        fail_msg("%s", err_msg(&e));
    return 0;
}

static int freed;
static void on_freed(void *arg)
{
    (void)arg;
    freed = 1;
}

static int teardown(void **state)
{
    struct got g = {0};
    struct err e;

    (void)state;
    assert_int_equal(etcd_delete(etcd, prefix, true, on_etcd, &g, &e), 0);
    wait(&g);
    ckv_free(kv);
    etcd_free(etcd, on_freed, NULL);
    tu_run_until(&loop, &freed, 5000);
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop);
}

static void test_shared_answers(void **state)
{
    struct canswers *b, *late;
    struct got g = {0}, l = {0};
    char forged[256];
    struct err e;

    (void)state;
    assert_int_equal(canswers_new(&loop, etcd, kv, &b, &e), 0);
    assert_true(until(b, ready, 10000));
    /* Node A publishes: node B sees it. */
    assert_int_equal(canswer_publish(kv, CANSWER_HTTP01, "tok1", KA, 0, on_etcd, &g, &e), 0);
    wait(&g);
    assert_true(until(b, has_tok1, 5000));
    assert_string_equal(canswers_find(b, CANSWER_HTTP01, "tok1"), KA);
    /* A copy started later has it from its first read. */
    assert_int_equal(canswers_new(&loop, etcd, kv, &late, &e), 0);
    assert_true(until(late, has_tok1, 10000));
    /* Withdrawn: gone. */
    memset(&g, 0, sizeof g);
    assert_int_equal(canswer_withdraw(kv, CANSWER_HTTP01, "tok1", on_etcd, &g, &e), 0);
    wait(&g);
    assert_true(until(b, no_tok1, 5000));
    /* Under a lease that ends: gone with it. */
    assert_int_equal(etcd_lease_grant(etcd, 30, on_etcd, &l, &e), 0);
    wait(&l);
    memset(&g, 0, sizeof g);
    assert_int_equal(
        canswer_publish(kv, CANSWER_TLSALPN01, "a.fleet.test", KA, l.lease, on_etcd, &g, &e), 0);
    wait(&g);
    assert_true(until(b, has_sni, 5000));
    memset(&g, 0, sizeof g);
    assert_int_equal(etcd_lease_revoke(etcd, l.lease, on_etcd, &g, &e), 0);
    wait(&g);
    assert_true(until(b, no_sni, 5000));
    /* Forged (raw, not sealed) and sealed-but-not-a-key-authorization: ignored. */
    snprintf(forged, sizeof forged, "%schallenges/http/evil", prefix);
    memset(&g, 0, sizeof g);
    assert_int_equal(etcd_put(etcd, forged, KA, strlen(KA), 0, on_etcd, &g, &e), 0);
    wait(&g);
    memset(&g, 0, sizeof g);
    assert_int_equal(ckv_put(kv, "challenges/http/evil2", "<script>", 8, 0, on_etcd, &g, &e), 0);
    wait(&g);
    assert_true(until(b, two_ignored, 5000));
    assert_null(canswers_find(b, CANSWER_HTTP01, "evil"));
    assert_null(canswers_find(b, CANSWER_HTTP01, "evil2"));
    /* What cannot be looked up is refused before etcd. */
    assert_int_equal(canswer_publish(kv, CANSWER_HTTP01, "../x", KA, 0, on_etcd, &g, &e), -EINVAL);
    assert_int_equal(canswer_publish(kv, CANSWER_HTTP01, "tok", "no-dot", 0, on_etcd, &g, &e),
                     -EINVAL);
    assert_int_equal(canswer_publish(kv, CANSWER_TLSALPN01, "A.Upper", KA, 0, on_etcd, &g, &e),
                     -EINVAL);
    canswers_free(b);
    canswers_free(late);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_answers),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
