/* Unit tests for reconcile/plan: which CA issued a certificate (its renewal information is
 * asked there and nowhere else; `replaces` is sent only to it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_directory),
        cmocka_unit_test(test_issuer_from_meta),
        cmocka_unit_test(test_issuer_from_account_link),
        cmocka_unit_test(test_issuer_unknown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
