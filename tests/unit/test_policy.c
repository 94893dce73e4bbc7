/* Renewal timing and backoff (DESIGN.md §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "reconcile/policy.h"

#define DAY 86400

static void test_lifetime_third(void **state)
{
    struct policy_cert c = {.not_before = 1000000, .not_after = 1000000 + 90 * DAY};
    enum policy_why why;

    assert_int_equal(policy_due(&c, 0, &why), 1000000 + 60 * DAY);
    assert_int_equal(why, WHY_LIFETIME);
}

static void test_short_lifetime_half(void **state)
{
    struct policy_cert c = {.not_before = 0, .not_after = 6 * DAY};
    struct policy_cert two_min = {.not_before = 5000, .not_after = 5120};
    enum policy_why why;

    assert_int_equal(policy_due(&c, 0, &why), 3 * DAY);
    assert_int_equal(policy_due(&two_min, 0, &why), 5060);
    /* Exactly 10 days is not "under 10 days". */
    c.not_after = 10 * DAY;
    assert_int_equal(policy_due(&c, 0, &why), 10 * DAY - 10 * DAY / 3);
}

static void test_margin_and_ari(void **state)
{
    struct policy_cert c = {.not_before = 0, .not_after = 90 * DAY};
    enum policy_why why;

    assert_int_equal(policy_due(&c, 30, &why), 60 * DAY);
    assert_int_equal(why, WHY_MARGIN);
    assert_int_equal(policy_due(&c, 7, &why), 83 * DAY);
    /* ARI wins over both. */
    c.ari_chosen = 45 * DAY;
    assert_int_equal(policy_due(&c, 7, &why), 45 * DAY);
    assert_int_equal(why, WHY_ARI);
    assert_string_equal(policy_why_str(WHY_ARI), "ari");
}

static void test_critical(void **state)
{
    struct policy_cert c = {.not_before = 0, .not_after = 100 * DAY};

    assert_false(policy_critical(&c, 80 * DAY));
    assert_false(policy_critical(&c, 90 * DAY));
    assert_true(policy_critical(&c, 90 * DAY + 1));
    assert_true(policy_critical(&c, 101 * DAY));
}

static void test_backoff(void **state)
{
    assert_int_equal(policy_backoff(1), 60);
    assert_int_equal(policy_backoff(2), 600);
    assert_int_equal(policy_backoff(3), 6000);
    assert_int_equal(policy_backoff(4), DAY);
    assert_int_equal(policy_backoff(50), DAY);
    /* Retry-After wins when later, never when earlier. */
    assert_int_equal(policy_next_attempt(1000, 1, -1), 1060);
    assert_int_equal(policy_next_attempt(1000, 1, 3600), 4600);
    assert_int_equal(policy_next_attempt(1000, 3, 5), 7000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifetime_third), cmocka_unit_test(test_short_lifetime_half),
        cmocka_unit_test(test_margin_and_ari), cmocka_unit_test(test_critical),
        cmocka_unit_test(test_backoff),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
