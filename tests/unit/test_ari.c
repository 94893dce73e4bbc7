/* Unit tests for acme/ari: RFC 9773 renewalInfo parsing and the renewal-time pick (the certID
 * is tested with crypto/x509). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/ari.h"
#include "common/testutil.h"

static void test_renewal_info_ok(void **state)
{
    struct acme_renewal_info ri;
    struct err e = {0};
    size_t len;
    char *text = tu_read_data("acme/rfc9773_renewal_info.json", &len);

    assert_int_equal(acme_renewal_info_parse(text, len, &ri, &e), 0);
    assert_int_equal(ri.start, 1735790400); /* 2025-01-02T04:00:00Z */
    assert_int_equal(ri.end, 1735790400 + 86400);
    assert_non_null(ri.explanation_url);
    assert_string_equal(ri.explanation_url, "https://acme.example.com/docs/ari");
    acme_renewal_info_clear(&ri);
    assert_null(ri.explanation_url);
    assert_int_equal(ri.start, 0);
    acme_renewal_info_clear(&ri); /* twice is fine */
    acme_renewal_info_clear(NULL);
    free(text);
}

static int parse_str(const char *s, struct acme_renewal_info *ri, struct err *e)
{
    return acme_renewal_info_parse(s, strlen(s), ri, e);
}

static void test_renewal_info_variants(void **state)
{
    struct acme_renewal_info ri;
    struct err e = {0};

    /* No explanationURL; numeric offsets and fractions; unknown members ignored. */
    assert_int_equal(parse_str("{\"suggestedWindow\":{\"start\":\"2025-01-02T06:00:00+02:00\","
                               "\"end\":\"2025-01-02T04:00:01.5Z\"},\"retryAfter\":7}",
                               &ri, &e),
                     0);
    assert_int_equal(ri.start, 1735790400);
    assert_int_equal(ri.end, 1735790401);
    assert_null(ri.explanation_url);
    acme_renewal_info_clear(&ri);

    /* explanationURL null, of the wrong type or not a URL: ignored, the window is kept. */
    static const char *const urls[] = {
        "null", "42", "\"\"", "\"https://x/a b\"", "\"https://x/\\n\"", "{}"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char body[256];

        snprintf(body, sizeof body,
                 "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
                 "\"end\":\"2025-01-03T04:00:00Z\"},\"explanationURL\":%s}",
                 urls[i]);
        print_message("explanationURL %s\n", urls[i]);
        assert_int_equal(parse_str(body, &ri, &e), 0);
        assert_null(ri.explanation_url);
        assert_int_equal(ri.end - ri.start, 86400);
        acme_renewal_info_clear(&ri);
    }
}

/* Each bad body gives -EINVAL, a zeroed *out and a message naming what is wrong. */
static void test_renewal_info_bad(void **state)
{
    static const struct {
        const char *body;
        const char *msg;
    } bad[] = {
        {"{}", "suggestedWindow is missing"},
        {"{\"suggestedWindow\":null}", "suggestedWindow"},
        {"{\"suggestedWindow\":[]}", "suggestedWindow is not an object"},
        {"{\"suggestedWindow\":{\"end\":\"2025-01-03T04:00:00Z\"}}", "suggestedWindow.start"},
        {"{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\"}}", "suggestedWindow.end"},
        {"{\"suggestedWindow\":{\"start\":1735790400,\"end\":\"2025-01-03T04:00:00Z\"}}",
         "suggestedWindow.start is not a string"},
        {"{\"suggestedWindow\":{\"start\":\"tomorrow\",\"end\":\"2025-01-03T04:00:00Z\"}}",
         "suggestedWindow.start is not an RFC 3339"},
        {"{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-02-30T00:00:"
         "00Z\"}}",
         "suggestedWindow.end is not an RFC 3339"},
        {"{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00\",\"end\":\"2025-01-03T04:00:00Z\"}"
         "}",
         "suggestedWindow.start is not an RFC 3339"},
        {"{\"suggestedWindow\":{\"start\":\"2025-13-02T04:00:00Z\",\"end\":\"2025-01-03T04:00:"
         "00Z\"}}",
         "suggestedWindow.start is not an RFC 3339"},
        /* RFC 9773 §4.3.3: an end equal to or before the start is malformed. */
        {"{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-02T04:00:"
         "00Z\"}}",
         "ends before it starts"},
        {"{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\",\"end\":\"2025-01-02T04:00:"
         "00Z\"}}",
         "ends before it starts"},
        {"[]", "not a JSON object"},
        {"", "not JSON"},
        {"{\"suggestedWindow\":", "not JSON"},
        {"{\"suggestedWindow\":{},\"suggestedWindow\":{}}", "not JSON"}, /* duplicate key */
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct acme_renewal_info ri = {.start = 1, .end = 2, .explanation_url = NULL};
        struct err e = {0};

        print_message("bad renewalInfo %zu: %s\n", i, bad[i].body);
        assert_int_equal(parse_str(bad[i].body, &ri, &e), -EINVAL);
        assert_int_equal(e.code, -EINVAL);
        assert_non_null(strstr(e.msg, bad[i].msg));
        assert_int_equal(ri.start, 0);
        assert_int_equal(ri.end, 0);
        assert_null(ri.explanation_url);
    }
    {
        struct acme_renewal_info ri;
        struct err e = {0};

        assert_int_equal(acme_renewal_info_parse(NULL, 0, &ri, &e), -EINVAL);
        assert_int_equal(ri.start, 0);
    }
}

static void test_pick_time_bounds(void **state)
{
    /* 0 maps to start and UINT64_MAX to end - 1: [start, end). */
    assert_int_equal(acme_ari_pick_time(1000, 2000, 0), 1000);
    assert_int_equal(acme_ari_pick_time(1000, 2000, UINT64_MAX), 1999);
    assert_int_equal(acme_ari_pick_time(1000, 2000, UINT64_C(1) << 63), 1500);
    assert_int_equal(acme_ari_pick_time(1000, 1001, UINT64_MAX), 1000);
    /* Degenerate windows give start. */
    assert_int_equal(acme_ari_pick_time(1000, 1000, UINT64_MAX), 1000);
    assert_int_equal(acme_ari_pick_time(1000, 10, 12345), 1000);
    /* Windows before 1970 and very wide windows do not overflow. */
    assert_int_equal(acme_ari_pick_time(-100, 100, 0), -100);
    assert_int_equal(acme_ari_pick_time(-100, 100, UINT64_MAX), 99);
    assert_int_equal(acme_ari_pick_time(INT64_MIN, INT64_MAX, 0), INT64_MIN);
    assert_int_equal(acme_ari_pick_time(INT64_MIN, INT64_MAX, UINT64_MAX), INT64_MAX - 1);
}

/* Uniform mapping: with a span of 10 each second gets ceil or floor of 2^64/10 inputs, the
 * boundaries falling at ceil(k * 2^64 / 10). */
static void test_pick_time_uniform(void **state)
{
    const uint64_t step = UINT64_MAX / 10 + 1; /* ceil(2^64 / 10) = 1844674407370955162 */
    unsigned counts[10] = {0};

    for (uint64_t k = 1; k < 10; k++) {
        uint64_t b = (uint64_t)(((unsigned __int128)k << 64) / 10 +
                                (((unsigned __int128)k << 64) % 10 != 0));

        print_message("boundary %llu\n", (unsigned long long)k);
        assert_int_equal(acme_ari_pick_time(0, 10, b), (time_t)k);
        assert_int_equal(acme_ari_pick_time(0, 10, b - 1), (time_t)k - 1);
    }
    assert_int_equal(acme_ari_pick_time(0, 10, step), 1);
    assert_int_equal(acme_ari_pick_time(0, 10, step - 1), 0);
    /* An even spread of inputs, i * ceil(2^64 / 1000), lands evenly. */
    for (uint64_t i = 0; i < 1000; i++)
        counts[acme_ari_pick_time(0, 10, i * (UINT64_MAX / 1000 + 1))]++;
    for (int i = 0; i < 10; i++)
        assert_int_equal(counts[i], 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renewal_info_ok),   cmocka_unit_test(test_renewal_info_variants),
        cmocka_unit_test(test_renewal_info_bad),  cmocka_unit_test(test_pick_time_bounds),
        cmocka_unit_test(test_pick_time_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
