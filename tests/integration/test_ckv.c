/* Integration tests for cluster/ckv against the three-member etcd cluster of
 * tests/etcd/fixture.sh: what etcd holds is sealed (the plaintext is nowhere in it), opens
 * back under the same secret and key only (another secret, or the sealed bytes copied under
 * another key, are refused as -EBADMSG and skipped by a listing), and a fenced write happens
 * only while the lock key has the create revision its holder saw. */
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

#include "cluster/ckv.h"
#include "common/etcd_fx.h"
#include "common/testutil.h"
#include "net/etcd.h"

static struct etcd_fx fx;

/* What a ckv listing or get gave. */
struct items {
    int done, rc;
    size_t n, bad;
    char names[4][128];
    char values[4][128];
    int64_t create_rev;
};

static void on_items(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                     const struct err *e)
{
    struct items *g = arg;

    (void)e;
    g->done = 1;
    g->rc = rc;
    g->n = n;
    g->bad = bad;
    for (size_t i = 0; i < n && i < 4; i++) {
        snprintf(g->names[i], sizeof g->names[i], "%s", it[i].name);
        snprintf(g->values[i], sizeof g->values[i], "%.*s", (int)it[i].len,
                 (const char *)it[i].value);
        g->create_rev = it[i].create_revision;
    }
}

static char *full(const char *name)
{
    static char k[4][256];
    static int i;

    i = (i + 1) % 4;
    snprintf(k[i], sizeof k[i], "%s%s", fx.prefix, name);
    return k[i];
}

static int setup(void **state)
{
    (void)state;
    etcd_fx_setup(&fx, "ckv");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    etcd_fx_teardown(&fx);
    return 0;
}

static const uint8_t *const secret1 = etcd_fx_secret;
static const uint8_t secret2[SEAL_KEY_LEN] = "fedcba9876543210fedcba9876543210";

static void test_sealed_round_trip(void **state)
{
    static const char pt[] = "-----BEGIN PRIVATE KEY-----\nnot really\n";
    struct ckv *kv, *other;
    struct etcd_fx_got g = {0}, r = {0};
    struct items h = {0};
    struct err e;

    (void)state;
    assert_int_equal(ckv_new(fx.etcd, fx.prefix, secret1, &kv, &e), 0);
    assert_int_equal(ckv_new(fx.etcd, fx.prefix, secret2, &other, &e), 0);
    assert_int_equal(ckv_put(kv, "keys/k1", pt, sizeof pt - 1, 0, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_int_equal(g.rc, 0);
    /* In etcd: sealed, no plaintext. */
    assert_int_equal(etcd_get(fx.etcd, full("keys/k1"), etcd_fx_on_etcd, &r, &e), 0);
    etcd_fx_wait(&fx, &r.done);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.raw_len, sizeof pt - 1 + SEAL_OVERHEAD);
    assert_null(memmem(r.raw, r.raw_len, "PRIVATE KEY", 11));
    /* Back, under the same secret. */
    assert_int_equal(ckv_get(kv, "keys/k1", on_items, &h, &e), 0);
    etcd_fx_wait(&fx, &h.done);
    assert_int_equal(h.rc, 0);
    assert_string_equal(h.values[0], pt);
    assert_string_equal(h.names[0], "keys/k1");
    /* Another secret: refused. */
    memset(&h, 0, sizeof h);
    assert_int_equal(ckv_get(other, "keys/k1", on_items, &h, &e), 0);
    etcd_fx_wait(&fx, &h.done);
    assert_int_equal(h.rc, -EBADMSG);
    /* The same sealed bytes copied under another key: refused there. */
    memset(&g, 0, sizeof g);
    assert_int_equal(
        etcd_put(fx.etcd, full("keys/k2"), r.raw, r.raw_len, 0, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    memset(&h, 0, sizeof h);
    assert_int_equal(ckv_get(kv, "keys/k2", on_items, &h, &e), 0);
    etcd_fx_wait(&fx, &h.done);
    assert_int_equal(h.rc, -EBADMSG);
    /* A listing gives what opens and counts the rest. */
    memset(&h, 0, sizeof h);
    assert_int_equal(ckv_list(kv, "keys/", on_items, &h, &e), 0);
    etcd_fx_wait(&fx, &h.done);
    assert_int_equal(h.rc, 0);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.bad, 1);
    assert_string_equal(h.names[0], "keys/k1");
    /* Absent: -ENOENT. Names that are not names: refused before etcd. */
    memset(&h, 0, sizeof h);
    assert_int_equal(ckv_get(kv, "keys/none", on_items, &h, &e), 0);
    etcd_fx_wait(&fx, &h.done);
    assert_int_equal(h.rc, -ENOENT);
    assert_int_equal(ckv_get(kv, "../escape", on_items, &h, &e), -EINVAL);
    assert_int_equal(ckv_get(kv, "/abs", on_items, &h, &e), -EINVAL);
    assert_int_equal(ckv_get(kv, "a\nb", on_items, &h, &e), -EINVAL);
    free(r.raw);
    ckv_free(kv);
    ckv_free(other);
}

static void test_fenced_put(void **state)
{
    struct ckv *kv;
    struct etcd_fx_got g = {0};
    struct items l = {0}, h = {0};
    struct err e;
    int64_t rev;

    (void)state;
    assert_int_equal(ckv_new(fx.etcd, fx.prefix, secret1, &kv, &e), 0);
    /* A node takes the lock: its create revision is the fence. */
    assert_int_equal(ckv_put(kv, "locks/www", "node1", 5, 0, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_int_equal(ckv_get(kv, "locks/www", on_items, &l, &e), 0);
    etcd_fx_wait(&fx, &l.done);
    assert_int_equal(l.rc, 0);
    rev = l.create_rev;
    assert_true(rev > 0);
    memset(&g, 0, sizeof g);
    assert_int_equal(
        ckv_put_fenced(kv, "locks/www", rev, "state/www", "step1", 5, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_int_equal(g.rc, 0);
    assert_true(g.succeeded);
    /* The lock is lost and taken again by another node (a new create revision). */
    memset(&g, 0, sizeof g);
    assert_int_equal(etcd_delete(fx.etcd, full("locks/www"), false, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    memset(&g, 0, sizeof g);
    assert_int_equal(ckv_put(kv, "locks/www", "node2", 5, 0, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    /* The first holder's late write is fenced off: nothing written. */
    memset(&g, 0, sizeof g);
    assert_int_equal(
        ckv_put_fenced(kv, "locks/www", rev, "state/www", "stale", 5, etcd_fx_on_etcd, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_int_equal(g.rc, 0);
    assert_false(g.succeeded);
    assert_int_equal(ckv_get(kv, "state/www", on_items, &h, &e), 0);
    etcd_fx_wait(&fx, &h.done);
    assert_string_equal(h.values[0], "step1");
    assert_int_equal(
        ckv_put_fenced(kv, "locks/www", 0, "state/www", "x", 1, etcd_fx_on_etcd, &g, &e), -EINVAL);
    ckv_free(kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_round_trip),
        cmocka_unit_test(test_fenced_put),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
