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
#include "common/etcd_fx.h"
#include "common/testutil.h"

static struct etcd_fx fx;
#define KA "tok1.thumbprintXYZ_-abc"

/* Runs the loop until cond(cs) or ms pass; the result of cond. */
static bool until(struct canswers *cs, bool (*cond)(struct canswers *), uint64_t ms)
{
    for (uint64_t t = 0; t < ms; t += 20) {
        uv_run(&fx.loop, UV_RUN_NOWAIT);
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
    (void)state;
    etcd_fx_setup(&fx, "canswer");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    etcd_fx_teardown(&fx);
    return 0;
}

static void test_shared_answers(void **state)
{
    struct canswers *b, *late;
    struct etcd_fx_got g = {0}, l = {0};
    char forged[256];
    struct err e;

    (void)state;
    assert_int_equal(canswers_new(&fx.loop, fx.etcd, fx.kv, &b, &e), 0);
    assert_true(until(b, ready, 10000));
    /* Node A publishes: node B sees it. */
    assert_int_equal(canswer_publish(fx.kv, CANSWER_HTTP01, "tok1", KA, 0, etcd_fx_on_etcd, &g, &e),
                     0);
    etcd_fx_wait(&fx, &g.done);
    assert_true(until(b, has_tok1, 5000));
    assert_string_equal(canswers_find(b, CANSWER_HTTP01, "tok1"), KA);
    /* A copy started later has it from its first read. */
    assert_int_equal(canswers_new(&fx.loop, fx.etcd, fx.kv, &late, &e), 0);
    assert_true(until(late, has_tok1, 10000));
    /* Withdrawn: gone. */
    memset(&g, 0, sizeof g);
    assert_int_equal(canswer_withdraw(fx.kv, CANSWER_HTTP01, "tok1", etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_true(until(b, no_tok1, 5000));
    /* Under a lease that ends: gone with it. */
    assert_int_equal(etcd_lease_grant(fx.etcd, 30, etcd_fx_on_etcd, &l, &e), 0);
    etcd_fx_wait(&fx, &l.done);
    memset(&g, 0, sizeof g);
    assert_int_equal(canswer_publish(fx.kv, CANSWER_TLSALPN01, "a.fleet.test", KA, l.lease,
                                     etcd_fx_on_etcd, &g, &e),
                     0);
    etcd_fx_wait(&fx, &g.done);
    assert_true(until(b, has_sni, 5000));
    memset(&g, 0, sizeof g);
    assert_int_equal(etcd_lease_revoke(fx.etcd, l.lease, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_true(until(b, no_sni, 5000));
    /* Forged (raw, not sealed) and sealed-but-not-a-key-authorization: ignored. */
    snprintf(forged, sizeof forged, "%schallenges/http/evil", fx.prefix);
    memset(&g, 0, sizeof g);
    assert_int_equal(etcd_put(fx.etcd, forged, KA, strlen(KA), 0, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    memset(&g, 0, sizeof g);
    assert_int_equal(
        ckv_put(fx.kv, "challenges/http/evil2", "<script>", 8, 0, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_true(until(b, two_ignored, 5000));
    assert_null(canswers_find(b, CANSWER_HTTP01, "evil"));
    assert_null(canswers_find(b, CANSWER_HTTP01, "evil2"));
    /* What cannot be looked up is refused before etcd. */
    assert_int_equal(canswer_publish(fx.kv, CANSWER_HTTP01, "../x", KA, 0, etcd_fx_on_etcd, &g, &e),
                     -EINVAL);
    assert_int_equal(
        canswer_publish(fx.kv, CANSWER_HTTP01, "tok", "no-dot", 0, etcd_fx_on_etcd, &g, &e),
        -EINVAL);
    assert_int_equal(
        canswer_publish(fx.kv, CANSWER_TLSALPN01, "A.Upper", KA, 0, etcd_fx_on_etcd, &g, &e),
        -EINVAL);
    canswers_free(b);
    canswers_free(late);
}

/* What a listener's miss hears (canswer_lookup). */
struct looked {
    int done;
    char ka[300];
    bool found;
};

static void on_looked(void *arg, const char *keyauth)
{
    struct looked *l = arg;

    l->done = 1;
    l->found = keyauth != NULL;
    snprintf(l->ka, sizeof l->ka, "%s", keyauth ? keyauth : "");
}

/* A listener's miss asks etcd itself, before any watch brings the answer: the published one
 * is found, an unknown token, a forged value and a sealed value that is no key authorization
 * are not, and what is not a token is refused before etcd. */
static void test_lookup(void **state)
{
    struct etcd_fx_got g = {0};
    struct looked l = {0};
    char forged[256];
    struct err e;

    (void)state;
    assert_int_equal(canswer_publish(fx.kv, CANSWER_HTTP01, "tokL", KA, 0, etcd_fx_on_etcd, &g, &e),
                     0);
    etcd_fx_wait(&fx, &g.done);
    assert_int_equal(canswer_lookup(fx.kv, CANSWER_HTTP01, "tokL", on_looked, &l, &e), 0);
    etcd_fx_wait(&fx, &l.done);
    assert_true(l.found);
    assert_string_equal(l.ka, KA);
    memset(&l, 0, sizeof l);
    assert_int_equal(canswer_lookup(fx.kv, CANSWER_HTTP01, "nothere", on_looked, &l, &e), 0);
    etcd_fx_wait(&fx, &l.done);
    assert_false(l.found);
    snprintf(forged, sizeof forged, "%schallenges/http/evilL", fx.prefix);
    memset(&g, 0, sizeof g);
    assert_int_equal(etcd_put(fx.etcd, forged, KA, strlen(KA), 0, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    memset(&l, 0, sizeof l);
    assert_int_equal(canswer_lookup(fx.kv, CANSWER_HTTP01, "evilL", on_looked, &l, &e), 0);
    etcd_fx_wait(&fx, &l.done);
    assert_false(l.found);
    memset(&g, 0, sizeof g);
    assert_int_equal(
        ckv_put(fx.kv, "challenges/http/evilL2", "<script>", 8, 0, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    memset(&l, 0, sizeof l);
    assert_int_equal(canswer_lookup(fx.kv, CANSWER_HTTP01, "evilL2", on_looked, &l, &e), 0);
    etcd_fx_wait(&fx, &l.done);
    assert_false(l.found);
    assert_int_equal(canswer_lookup(fx.kv, CANSWER_HTTP01, "../x", on_looked, &l, &e), -EINVAL);
}

/* What canswers_on_change told. */
struct changes {
    unsigned added, removed;
    char last[64], ka[300];
};

static void on_change(void *arg, enum canswer_type type, const char *key, const char *keyauth)
{
    struct changes *c = arg;

    if (type != CANSWER_HTTP01)
        return;
    snprintf(c->last, sizeof c->last, "%s", key);
    snprintf(c->ka, sizeof c->ka, "%s", keyauth ? keyauth : "");
    if (keyauth)
        c->added++;
    else
        c->removed++;
}

static struct changes *seen;

static bool added_one(struct canswers *cs)
{
    (void)cs;
    return seen->added == 1;
}

static bool removed_one(struct canswers *cs)
{
    (void)cs;
    return seen->removed == 1;
}

/* Every node's webroot follows the copy: the owner hears an answer come (once, however often
 * it is read) and go. */
static void test_changes(void **state)
{
    struct canswers *b;
    struct changes c = {0};
    struct etcd_fx_got g = {0};
    struct err e;

    (void)state;
    seen = &c;
    assert_int_equal(canswers_new(&fx.loop, fx.etcd, fx.kv, &b, &e), 0);
    canswers_on_change(b, on_change, &c);
    assert_true(until(b, ready, 10000));
    memset(&c, 0, sizeof c); /* what earlier tests left was told as it was read */
    assert_int_equal(canswer_publish(fx.kv, CANSWER_HTTP01, "tokC", KA, 0, etcd_fx_on_etcd, &g, &e),
                     0);
    etcd_fx_wait(&fx, &g.done);
    assert_true(until(b, added_one, 5000));
    assert_string_equal(c.last, "tokC");
    assert_string_equal(c.ka, KA);
    memset(&g, 0, sizeof g);
    assert_int_equal(canswer_withdraw(fx.kv, CANSWER_HTTP01, "tokC", etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_true(until(b, removed_one, 5000));
    assert_string_equal(c.last, "tokC");
    assert_int_equal(c.added, 1);
    canswers_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_answers),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_changes),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
