/* Unit tests for acme/ari: RFC 9773 renewalInfo parsing (the certID is tested with
 * crypto/x509, the renewal-time pick with reconcile/policy). */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renewal_info_ok),
        cmocka_unit_test(test_renewal_info_variants),
        cmocka_unit_test(test_renewal_info_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
