/* Unit tests for reconcile/plan: which CA issued a certificate (its renewal information is
 * asked there and nowhere else; `replaces` is sent only to it), and the indexes of large
 * passes (plan_index_certs with plan_target_ix, plan_index_owners with plan_owner), which
 * must decide exactly as the linear scans plan_target and target_owner do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reconcile/plan.h"

#define DIR_A "https://127.0.0.1:14000/dir"
#define DIR_B "https://127.0.0.1:14001/dir"
#define DIR_A_ID "127.0.0.1%3a14000%2fdir"

static void test_same_directory(void **state)
{
    assert_true(plan_same_directory(DIR_A, DIR_A));
    assert_false(plan_same_directory(DIR_A, DIR_B));
    /* The same dir-id is the same CA for acmed (the same accounts/ directory). */
    assert_true(plan_same_directory(DIR_A, "HTTPS://127.0.0.1:14000/dir"));
    assert_false(plan_same_directory(DIR_A, "http://127.0.0.1:14000/dir"));
    assert_false(plan_same_directory(NULL, DIR_A));
    assert_false(plan_same_directory(DIR_A, NULL));
    assert_false(plan_same_directory("not a url", "not a url either"));
}

static void test_issuer_from_meta(void **state)
{
    struct store_cert c = {.directory = DIR_A, .account_dir_id = "elsewhere"};

    /* meta names the issuer: it wins over the account link, whatever the target says. */
    assert_true(plan_issued_by(&c, DIR_A));
    assert_false(plan_issued_by(&c, DIR_B));
    assert_string_equal(plan_cert_directory(&c, DIR_B), DIR_A);
    assert_string_equal(plan_cert_directory(&c, DIR_A), DIR_A);
    assert_string_equal(plan_cert_directory(&c, NULL), DIR_A);
}

static void test_issuer_from_account_link(void **state)
{
    struct store_cert c = {.account_dir_id = DIR_A_ID};

    /* A meta from before `directory` was kept: the account link says which CA, and the
     * target's provider is used only when it is that CA. */
    assert_true(plan_issued_by(&c, DIR_A));
    assert_string_equal(plan_cert_directory(&c, DIR_A), DIR_A);
    assert_false(plan_issued_by(&c, DIR_B));
    assert_null(plan_cert_directory(&c, DIR_B));
    assert_null(plan_cert_directory(&c, "not a url"));
}

static void test_issuer_unknown(void **state)
{
    struct store_cert c = {0};

    /* acmetool's certificates: no meta, no account link. Never ask a CA that may not be
     * the issuer. */
    assert_false(plan_issued_by(&c, DIR_A));
    assert_null(plan_cert_directory(&c, DIR_A));
    assert_false(plan_issued_by(NULL, DIR_A));
    assert_null(plan_cert_directory(NULL, DIR_A));
}

/* ---- indexes ---- */

#define NOW 1700000000
#define POOL 6

static const char *const pool[POOL] = {"a.test", "b.test", "c.test", "d.test", "e.test", "f.test"};

static unsigned next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

/* A name from the pool, in upper case now and then (certificates compare without case). */
static char *pool_name(unsigned *seed, bool vary_case)
{
    char *s = strdup(pool[next_rand(seed) % POOL]);

    if (vary_case && next_rand(seed) % 3 == 0)
        s[0] = (char)(s[0] - 'a' + 'A');
    return s;
}

static void make_cert(struct store_cert *c, unsigned *seed, size_t i)
{
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "c%zu", i);
    snprintf(c->key_id, sizeof c->key_id, "%s", next_rand(seed) % 5 ? "k" : "");
    c->key_is_rsa = next_rand(seed) % 4 == 0;
    c->revoked = next_rand(seed) % 7 == 0;
    c->not_before = NOW - 10 * 86400;
    /* Few distinct ends, so that ties (the first in array order wins) happen. */
    c->not_after = NOW + (time_t)(next_rand(seed) % 4) * 20 * 86400 - 86400;
    c->nnames = 1 + next_rand(seed) % 3;
    c->names = calloc(c->nnames, sizeof *c->names);
    for (size_t k = 0; k < c->nnames; k++)
        c->names[k] = pool_name(seed, true);
}

static void make_target(struct target *t, unsigned *seed, size_t i)
{
    char file[32];

    memset(t, 0, sizeof *t);
    snprintf(file, sizeof file, "t%02u-%03zu", next_rand(seed) % 50, i); /* unique, as files are */
    t->file = strdup(file);
    t->label = strdup("");
    t->priority = (int)(next_rand(seed) % 3);
    t->key.type = next_rand(seed) % 4 == 0 ? KEY_RSA : KEY_ECDSA;
    t->nnames = i % 9 == 0 ? 0 : 1 + next_rand(seed) % 3;
    t->names = calloc(t->nnames + 1, sizeof *t->names);
    for (size_t k = 0; k < t->nnames; k++)
        t->names[k].name = pool_name(seed, false);
}

static void free_all(struct store_cert *certs, size_t nc, struct target *ts, size_t nt)
{
    for (size_t i = 0; i < nc; i++) {
        for (size_t k = 0; k < certs[i].nnames; k++)
            free(certs[i].names[k]);
        free(certs[i].names);
    }
    for (size_t i = 0; i < nt; i++) {
        for (size_t k = 0; k < ts[i].nnames; k++)
            free(ts[i].names[k].name);
        free(ts[i].names);
        free(ts[i].file);
        free(ts[i].label);
    }
}

/* plan_target_ix decides as plan_target does, over random certificates: names compared
 * without case, revoked ones and keys of the wrong type skipped, the longest-lived wins and
 * the first in array order among equals; a target without names falls back to the scan. */
static void test_target_ix_matches_scan(void **state)
{
    enum { NC = 40, NT = 60 };
    struct store_cert certs[NC];
    struct target ts[NT];
    struct plan_index ix;
    unsigned seed = 7;

    for (int round = 0; round < 20; round++) {
        size_t nc = round == 0 ? 0 : NC; /* an empty index too */

        for (size_t i = 0; i < nc; i++)
            make_cert(&certs[i], &seed, i);
        for (size_t i = 0; i < NT; i++)
            make_target(&ts[i], &seed, i);
        assert_int_equal(plan_index_certs(&ix, certs, nc), 0);
        for (size_t i = 0; i < NT; i++) {
            struct plan a, b;

            plan_target(&ts[i], certs, nc, NULL, NOW, false, &a);
            plan_target_ix(&ts[i], certs, nc, &ix, NULL, NOW, false, &b);
            assert_int_equal(a.action, b.action);
            assert_ptr_equal(a.cur, b.cur);
            assert_int_equal(a.due, b.due);
        }
        plan_index_free(&ix);
        assert_null(ix.v);
        free_all(certs, nc, ts, NT);
    }
    plan_index_free(NULL);
}

/* plan_owner answers as target_owner does for every name (priority, then most names, then
 * the smallest file name), compares exactly, and knows no owner for an unlisted name. */
static void test_owner_matches_scan(void **state)
{
    enum { NT = 30 };
    struct target ts[NT];
    struct plan_index ix;
    unsigned seed = 11;

    for (int round = 0; round < 30; round++) {
        size_t nt = round == 0 ? 0 : NT;

        for (size_t i = 0; i < nt; i++)
            make_target(&ts[i], &seed, i);
        assert_int_equal(plan_index_owners(&ix, ts, nt), 0);
        for (size_t k = 0; k < POOL; k++)
            assert_ptr_equal(plan_owner(&ix, pool[k]), target_owner(ts, nt, pool[k]));
        assert_null(plan_owner(&ix, "A.TEST")); /* names are normalised: exact comparison */
        assert_null(plan_owner(&ix, "z.test"));
        assert_null(plan_owner(&ix, NULL));
        plan_index_free(&ix);
        free_all(NULL, 0, ts, nt);
    }
}

/* A hand-made case of each rule, so that a failure says which. */
static void test_index_rules(void **state)
{
    char *n_www = "www.test", *n_WWW = "WWW.test", *n_api = "api.test";
    struct store_cert certs[3] = {
        {.id = "old",
         .key_id = "k",
         .names = &n_www,
         .nnames = 1,
         .not_before = NOW - 86400,
         .not_after = NOW + 90 * 86400},
        {.id = "tie",
         .key_id = "k",
         .names = &n_WWW,
         .nnames = 1,
         .not_before = NOW - 86400,
         .not_after = NOW + 90 * 86400},
        {.id = "rev",
         .key_id = "k",
         .names = &n_www,
         .nnames = 1,
         .not_before = NOW - 86400,
         .not_after = NOW + 99 * 86400,
         .revoked = true},
    };
    struct target_name tn[2] = {{"www.test", false}, {"api.test", false}};
    struct target ts[3] = {
        {.file = "a", .names = tn, .nnames = 1, .key = {KEY_ECDSA, 256}},
        {.file = "b", .names = tn, .nnames = 2, .key = {KEY_ECDSA, 256}},
        {.file = "c", .names = tn + 1, .nnames = 1, .priority = 1, .key = {KEY_ECDSA, 256}},
    };
    struct plan_index ix, ow;
    struct plan p;

    (void)n_api;
    assert_int_equal(plan_index_certs(&ix, certs, 3), 0);
    assert_int_equal(ix.n, 3);
    /* Equal ends: the first in array order; the revoked one never. */
    plan_target_ix(&ts[0], certs, 3, &ix, NULL, NOW, false, &p);
    assert_ptr_equal(p.cur, &certs[0]);
    assert_int_equal(p.action, PLAN_SATISFIED);
    /* Its second name is on no certificate: nothing covers it. */
    plan_target_ix(&ts[1], certs, 3, &ix, NULL, NOW, false, &p);
    assert_null(p.cur);
    assert_int_equal(p.action, PLAN_ISSUE);
    assert_int_equal(plan_index_owners(&ow, ts, 3), 0);
    /* www.test: b lists more names than a; api.test: c's priority beats b's names. */
    assert_ptr_equal(plan_owner(&ow, "www.test"), &ts[1]);
    assert_ptr_equal(plan_owner(&ow, "api.test"), &ts[2]);
    plan_index_free(&ix);
    plan_index_free(&ow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_directory),
        cmocka_unit_test(test_issuer_from_meta),
        cmocka_unit_test(test_issuer_from_account_link),
        cmocka_unit_test(test_issuer_unknown),
        cmocka_unit_test(test_target_ix_matches_scan),
        cmocka_unit_test(test_owner_matches_scan),
        cmocka_unit_test(test_index_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
