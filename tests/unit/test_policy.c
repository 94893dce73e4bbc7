/* Renewal timing and backoff (DESIGN.md §4), the critical window as plan_target reports it
 * for a target, and the renewal time drawn inside an ARI window (RFC 9773 §4.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "reconcile/plan.h"
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

    assert_false(policy_critical(&c, 0, 80 * DAY));
    assert_false(policy_critical(&c, 0, 90 * DAY));
    assert_true(policy_critical(&c, 0, 90 * DAY + 1));
    assert_true(policy_critical(&c, 0, 101 * DAY));
}

/* satisfy.critical-days replaces the tenth of the lifetime, wider or narrower. */
static void test_critical_days(void **state)
{
    struct policy_cert c = {.not_before = 0, .not_after = 100 * DAY};

    /* 15 days (txacme's window): critical from day 85 on, where 1/10 would say day 90. */
    assert_false(policy_critical(&c, 15, 85 * DAY));
    assert_true(policy_critical(&c, 15, 85 * DAY + 1));
    assert_true(policy_critical(&c, 15, 89 * DAY));
    /* 3 days: not yet at day 95, where the default would already say critical. */
    assert_true(policy_critical(&c, 0, 95 * DAY));
    assert_false(policy_critical(&c, 3, 95 * DAY));
    assert_true(policy_critical(&c, 3, 97 * DAY + 1));
    /* Expired is critical whatever the window; a window longer than the lifetime covers all
     * of it (the caller's bound keeps the product far from overflowing). */
    assert_true(policy_critical(&c, 1, 101 * DAY));
    assert_true(policy_critical(&c, 3650, 0));
}

/* plan_target passes the target's satisfy.critical-days on: status and the exit code see
 * the same window as the log line. */
static void test_plan_critical_days(void **state)
{
    char *cert_names[] = {"a.example"};
    struct target_name tn = {"a.example", false};
    struct target t = {.names = &tn, .nnames = 1, .key = {.type = KEY_ECDSA, .size = 256}};
    struct store_cert c = {
        .names = cert_names, .nnames = 1, .not_before = 0, .not_after = 100 * DAY, .key_id = "k"};
    struct plan p;

    plan_target(&t, &c, 1, NULL, 87 * DAY, false, &p);
    assert_int_equal(p.action, PLAN_RENEW);
    assert_false(p.critical);
    t.critical_days = 15;
    plan_target(&t, &c, 1, NULL, 87 * DAY, false, &p);
    assert_int_equal(p.action, PLAN_RENEW);
    assert_true(p.critical);
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

/* Which refusals of a newOrder that carried `replaces` earn one retry without it. */
static void test_drop_replaces(void **state)
{
#define ACME_ERR(x) "urn:ietf:params:acme:error:" x
    assert_true(policy_drop_replaces(409, ACME_ERR("alreadyReplaced")));
    assert_true(policy_drop_replaces(403, ACME_ERR("unauthorized")));
    assert_true(policy_drop_replaces(400, ACME_ERR("malformed")));
    assert_true(policy_drop_replaces(400, ACME_ERR("rejectedIdentifier")));
    assert_true(policy_drop_replaces(404, "about:blank"));
    assert_true(policy_drop_replaces(400, NULL)); /* a 4xx without a problem document */
    assert_true(policy_drop_replaces(499, "urn:example:custom"));
    /* A rate limit is waited for with `replaces` kept, whatever the status says. */
    assert_false(policy_drop_replaces(429, ACME_ERR("rateLimited")));
    assert_false(policy_drop_replaces(429, NULL));
    assert_false(policy_drop_replaces(403, ACME_ERR("rateLimited")));
    /* Handled elsewhere: badNonce retried by the client, a lost account registered again. */
    assert_false(policy_drop_replaces(400, ACME_ERR("badNonce")));
    assert_false(policy_drop_replaces(400, ACME_ERR("accountDoesNotExist")));
    /* Not a refusal of the request: 5xx, no answer, success. */
    assert_false(policy_drop_replaces(500, ACME_ERR("serverInternal")));
    assert_false(policy_drop_replaces(503, NULL));
    assert_false(policy_drop_replaces(0, NULL));
    assert_false(policy_drop_replaces(201, NULL));
    assert_false(policy_drop_replaces(399, NULL));
    /* Only the ACME namespace names these types. */
    assert_true(policy_drop_replaces(400, "urn:example:badNonce"));
    assert_true(policy_drop_replaces(400, ACME_ERR("badNonceX")));
#undef ACME_ERR
}

static void test_ari_pick_bounds(void **state)
{
    /* 0 maps to start and UINT64_MAX to end - 1: [start, end). */
    assert_int_equal(policy_ari_pick(1000, 2000, 0), 1000);
    assert_int_equal(policy_ari_pick(1000, 2000, UINT64_MAX), 1999);
    assert_int_equal(policy_ari_pick(1000, 2000, UINT64_C(1) << 63), 1500);
    assert_int_equal(policy_ari_pick(1000, 1001, UINT64_MAX), 1000);
    /* Degenerate windows give start. */
    assert_int_equal(policy_ari_pick(1000, 1000, UINT64_MAX), 1000);
    assert_int_equal(policy_ari_pick(1000, 10, 12345), 1000);
    /* Windows before 1970 and very wide windows do not overflow. */
    assert_int_equal(policy_ari_pick(-100, 100, 0), -100);
    assert_int_equal(policy_ari_pick(-100, 100, UINT64_MAX), 99);
    assert_int_equal(policy_ari_pick(INT64_MIN, INT64_MAX, 0), INT64_MIN);
    assert_int_equal(policy_ari_pick(INT64_MIN, INT64_MAX, UINT64_MAX), INT64_MAX - 1);
}

/* Uniform mapping: with a span of 10 each second gets ceil or floor of 2^64/10 inputs, the
 * boundaries falling at ceil(k * 2^64 / 10). */
static void test_ari_pick_uniform(void **state)
{
    const uint64_t step = UINT64_MAX / 10 + 1; /* ceil(2^64 / 10) = 1844674407370955162 */
    unsigned counts[10] = {0};

    for (uint64_t k = 1; k < 10; k++) {
        uint64_t b = (uint64_t)(((unsigned __int128)k << 64) / 10 +
                                (((unsigned __int128)k << 64) % 10 != 0));

        print_message("boundary %llu\n", (unsigned long long)k);
        assert_int_equal(policy_ari_pick(0, 10, b), (time_t)k);
        assert_int_equal(policy_ari_pick(0, 10, b - 1), (time_t)k - 1);
    }
    assert_int_equal(policy_ari_pick(0, 10, step), 1);
    assert_int_equal(policy_ari_pick(0, 10, step - 1), 0);
    /* An even spread of inputs, i * ceil(2^64 / 1000), lands evenly. */
    for (uint64_t i = 0; i < 1000; i++)
        counts[policy_ari_pick(0, 10, i * (UINT64_MAX / 1000 + 1))]++;
    for (int i = 0; i < 10; i++)
        assert_int_equal(counts[i], 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifetime_third),  cmocka_unit_test(test_short_lifetime_half),
        cmocka_unit_test(test_margin_and_ari),  cmocka_unit_test(test_critical),
        cmocka_unit_test(test_critical_days),   cmocka_unit_test(test_plan_critical_days),
        cmocka_unit_test(test_backoff),         cmocka_unit_test(test_drop_replaces),
        cmocka_unit_test(test_ari_pick_bounds), cmocka_unit_test(test_ari_pick_uniform),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
