/* Unit tests for acme/headers: Retry-After (RFC 9110 §10.2.3, HTTP-date forms of §5.6.7) and
 * Link (RFC 8288). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/headers.h"

/* Sun, 06 Nov 1994 08:49:37 GMT, the instant of every example in RFC 9110 §5.6.7. */
#define RFC_INSTANT ((time_t)784111777)
#define SENTINEL ((time_t)-12345)
#define NO_LIMIT ((time_t)1 << 40)

static time_t retry_ok(const char *value, time_t now, time_t max_s)
{
    time_t d = SENTINEL;

    assert_int_equal(acme_retry_after_parse(value, now, max_s, &d), 0);
    assert_true(d != SENTINEL);
    return d;
}

static void retry_bad(const char *value, time_t now)
{
    time_t d = SENTINEL;

    assert_int_equal(acme_retry_after_parse(value, now, 0, &d), -EINVAL);
    assert_int_equal(d, SENTINEL); /* untouched on failure */
}

static void test_retry_delta_seconds(void **state)
{
    assert_int_equal(retry_ok("120", 0, 0), 120);
    assert_int_equal(retry_ok("0", 0, 0), 0);
    assert_int_equal(retry_ok("007", 0, 0), 7);
    assert_int_equal(retry_ok(" \t120 ", 0, 0), 120); /* OWS around a field value */
    /* `now` plays no part in delta-seconds. */
    assert_int_equal(retry_ok("30", RFC_INSTANT, 0), 30);
}

static void test_retry_clamped(void **state)
{
    /* max_s <= 0 means ACME_RETRY_AFTER_MAX. */
    assert_int_equal(retry_ok("86400", 0, 0), ACME_RETRY_AFTER_MAX);
    assert_int_equal(retry_ok("86401", 0, 0), ACME_RETRY_AFTER_MAX);
    assert_int_equal(retry_ok("100000000", 0, -5), ACME_RETRY_AFTER_MAX);
    assert_int_equal(retry_ok("500", 0, 60), 60);
    assert_int_equal(retry_ok("60", 0, 60), 60);
    assert_int_equal(retry_ok("59", 0, 60), 59);
    /* The largest value a 64-bit time_t holds still parses, then is clamped. */
    assert_int_equal(retry_ok("9223372036854775807", 0, 0), ACME_RETRY_AFTER_MAX);
    assert_int_equal(retry_ok("9223372036854775807", 0, INT64_MAX), INT64_MAX);
    /* A date clamps the same way. */
    assert_int_equal(retry_ok("Tue, 08 Nov 1994 08:49:37 GMT", RFC_INSTANT, 0),
                     ACME_RETRY_AFTER_MAX);
    assert_int_equal(retry_ok("Sun, 06 Nov 1994 08:59:37 GMT", RFC_INSTANT, 60), 60);
}

static void test_retry_bad_numbers(void **state)
{
    retry_bad("", 0);
    retry_bad("   ", 0);
    retry_bad("-1", 0);
    retry_bad("+5", 0);
    retry_bad("1.5", 0);
    retry_bad("12abc", 0);
    retry_bad("1 2", 0);
    retry_bad("0x10", 0);
    retry_bad("abc", 0);
    retry_bad("120s", 0);
    /* Overflowing 64 bits: rejected, and without signed overflow (UBSan would abort). */
    retry_bad("9223372036854775808", 0);
    retry_bad("99999999999999999999999999999999", 0);
    {
        time_t d = SENTINEL;

        assert_int_equal(acme_retry_after_parse(NULL, 0, 0, &d), -EINVAL);
        assert_int_equal(d, SENTINEL);
    }
}

/* The three HTTP-date forms of RFC 9110 §5.6.7, each one hour after `now`. */
static void test_retry_date_forms(void **state)
{
    time_t now = RFC_INSTANT - 3600;

    assert_int_equal(retry_ok("Sun, 06 Nov 1994 08:49:37 GMT", now, 0), 3600);
    assert_int_equal(retry_ok("Sunday, 06-Nov-94 08:49:37 GMT", now, 0), 3600);
    assert_int_equal(retry_ok("Sun Nov  6 08:49:37 1994", now, 0), 3600);
    /* asctime with a two-digit day. */
    assert_int_equal(retry_ok("Thu Nov 10 08:49:37 1994", now, NO_LIMIT), 4 * 86400 + 3600);
    /* Exactly now, and one second later. */
    assert_int_equal(retry_ok("Sun, 06 Nov 1994 08:49:37 GMT", RFC_INSTANT, 0), 0);
    assert_int_equal(retry_ok("Sun, 06 Nov 1994 08:49:38 GMT", RFC_INSTANT, 0), 1);
    /* A leap second is accepted (as :59). */
    assert_int_equal(retry_ok("Sat, 31 Dec 2016 23:59:60 GMT", 1483228799 - 10, 0), 10);
}

static void test_retry_past_date(void **state)
{
    assert_int_equal(retry_ok("Sun, 06 Nov 1994 08:49:36 GMT", RFC_INSTANT, 0), 0);
    assert_int_equal(retry_ok("Thu, 01 Jan 1970 00:00:00 GMT", RFC_INSTANT, 0), 0);
    assert_int_equal(retry_ok("Sunday, 06-Nov-94 08:49:37 GMT", RFC_INSTANT + 86400, 0), 0);
    assert_int_equal(retry_ok("Sun Nov  6 08:49:37 1994", RFC_INSTANT + 1, 0), 0);
    /* A `now` so far in the past that the difference overflows is still a clamped wait. */
    assert_int_equal(retry_ok("Sun, 06 Nov 1994 08:49:37 GMT", INT64_MIN + 5, 0),
                     ACME_RETRY_AFTER_MAX);
}

/* RFC 9110 §5.6.7: a two-digit year that would put the date more than 50 years in the future
 * means the most recent past year with those digits. The rule is on the timestamp. */
static void test_retry_rfc850_century(void **state)
{
    time_t now = 1748736000;   /* 2025-06-01T00:00:00Z */
    time_t y2090 = 3786912000; /* 2090-01-01T00:00:00Z */

    /* 2027 is near: this century. */
    assert_int_equal(retry_ok("Friday, 01-Jan-27 00:00:00 GMT", now, NO_LIMIT), 1798761600 - now);
    /* 2075-05-31 is less than 50 years ahead: kept. */
    assert_int_equal(retry_ok("Friday, 31-May-75 00:00:00 GMT", now, NO_LIMIT), 3326486400 - now);
    /* 2075-12-01 is more than 50 years ahead, though its year is only 50 more: 1975, past. */
    assert_int_equal(retry_ok("Monday, 01-Dec-75 00:00:00 GMT", now, NO_LIMIT), 0);
    assert_int_equal(retry_ok("Sunday, 06-Nov-94 08:49:37 GMT", now, NO_LIMIT), 0);
    /* Late in a century the next one is meant: in 2090, "10" is 2110 (20 years ahead). */
    assert_int_equal(retry_ok("Wednesday, 01-Jan-10 00:00:00 GMT", y2090, NO_LIMIT),
                     4417977600 - y2090);
}

static void test_retry_bad_dates(void **state)
{
    time_t now = RFC_INSTANT;

    retry_bad("Sun, 06 Nov 1994 08:49:37 UTC", now); /* only GMT */
    retry_bad("Sun, 06 Nov 1994 08:49:37", now);     /* zone missing */
    retry_bad("sun, 06 nov 1994 08:49:37 GMT", now); /* case-sensitive */
    retry_bad("Sun, 6 Nov 1994 08:49:37 GMT", now);  /* 2DIGIT day */
    retry_bad("Sun, 06 Nov 94 08:49:37 GMT", now);   /* 4DIGIT year */
    retry_bad("Sun, 31 Feb 1994 08:49:37 GMT", now); /* no such date */
    retry_bad("Sun, 00 Nov 1994 08:49:37 GMT", now);
    retry_bad("Sun, 06 Nov 1994 24:00:00 GMT", now);
    retry_bad("Sun, 06 Nov 1994 08:60:00 GMT", now);
    retry_bad("Sun, 06 Nov 1994 08:49:61 GMT", now);
    retry_bad("Sun, 06 Foo 1994 08:49:37 GMT", now);
    retry_bad("Sun, 06 Nov 1994 08:49:37 GMT junk", now);
    retry_bad("Sun, 06 Nov 1994 08:49:37 GMTX", now);
    retry_bad("Sunday, 06 Nov 1994 08:49:37 GMT", now); /* long weekday with IMF layout */
    retry_bad("Sun, 06-Nov-94 08:49:37 GMT", now);      /* short weekday with RFC 850 layout */
    retry_bad("Sunday, 06-Nov-1994 08:49:37 GMT", now);
    retry_bad("Sun Nov 6 08:49:37 1994", now); /* asctime pads a one-digit day with a space */
    retry_bad("Sun Nov  6 08:49:37 94", now);
    retry_bad("Sun Nov  6 08:49:37", now);
    retry_bad("Sun", now);
    retry_bad("Sun,", now);
    retry_bad("Xyz, 06 Nov 1994 08:49:37 GMT", now);
    retry_bad("2024-01-01T00:00:00Z", now);
}

/* ---- Link ---- */

static void test_link_several_in_one_value(void **state)
{
    const char *v = "<https://a.example/cert/1>;rel=\"alternate\", "
                    "<https://a.example/cert/2> ; rel=alternate,"
                    "<https://a.example/dir>;rel=\"index\"";
    struct acme_link *l = NULL;
    struct err e = {0};
    size_t n = 0;

    assert_int_equal(acme_link_parse(v, &l, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_string_equal(l[0].url, "https://a.example/cert/1");
    assert_string_equal(l[0].rel, "alternate");
    assert_string_equal(l[1].url, "https://a.example/cert/2");
    assert_string_equal(l[1].rel, "alternate");
    assert_string_equal(l[2].url, "https://a.example/dir");
    assert_string_equal(l[2].rel, "index");
    acme_links_free(l, n);
}

static void test_link_params(void **state)
{
    struct acme_link *l = NULL;
    struct err e = {0};
    size_t n = 0;

    /* Commas and semicolons inside a quoted-string belong to it; escapes are undone. */
    assert_int_equal(
        acme_link_parse("<https://x/a,b>; title=\"a, b; c \\\"q\\\"\"; rel=next", &l, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].url, "https://x/a,b");
    assert_string_equal(l[0].rel, "next");
    acme_links_free(l, n);

    /* Only the first rel counts (RFC 8288 §3.3); a parameter may have no value; BWS around
     * '=' is allowed; parameter names are case-insensitive. */
    assert_int_equal(
        acme_link_parse("<https://x/>; anchor; REL = \"up\" ; rel=\"index\"", &l, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].rel, "up");
    acme_links_free(l, n);

    /* No rel at all. */
    assert_int_equal(acme_link_parse("<https://x/>; type=\"text/html\"", &l, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_null(l[0].rel);
    acme_links_free(l, n);

    /* Empty list elements are allowed; an empty value has no links. */
    assert_int_equal(acme_link_parse(" , <https://x/>;rel=up ,, ", &l, &n, &e), 0);
    assert_int_equal(n, 1);
    acme_links_free(l, n);
    l = (struct acme_link *)&e; /* must be overwritten */
    n = 99;
    assert_int_equal(acme_link_parse("", &l, &n, &e), 0);
    assert_null(l);
    assert_int_equal(n, 0);
}

static void test_link_rel_has(void **state)
{
    const char *v = "<https://x/>;rel=\"alternate index\"";
    struct acme_link *l = NULL;
    struct err e = {0};
    size_t n = 0;

    assert_int_equal(acme_link_parse(v, &l, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].rel, "alternate index");
    assert_true(acme_link_rel_has(l[0].rel, "alternate"));
    assert_true(acme_link_rel_has(l[0].rel, "index"));
    assert_true(acme_link_rel_has(l[0].rel, "INDEX")); /* case-insensitive (RFC 8288 §2.1.1) */
    assert_true(acme_link_rel_has(l[0].rel, "Alternate"));
    assert_false(acme_link_rel_has(l[0].rel, "alt"));
    assert_false(acme_link_rel_has(l[0].rel, "alternate index"));
    assert_false(acme_link_rel_has(l[0].rel, "up"));
    acme_links_free(l, n);

    assert_true(acme_link_rel_has("UP", "up"));
    assert_true(acme_link_rel_has("  next   up ", "up"));
    assert_false(acme_link_rel_has("upx", "up"));
    assert_false(acme_link_rel_has("xup", "up"));
    assert_false(acme_link_rel_has(NULL, "up"));
    assert_false(acme_link_rel_has("up", NULL));
    assert_false(acme_link_rel_has("up", ""));
    assert_false(acme_link_rel_has("", "up"));
}

static void test_link_malformed(void **state)
{
    static const char *const bad[] = {
        "https://x/;rel=up",            /* no <...> */
        "<https://x/",                  /* unterminated */
        "<>;rel=up",                    /* empty URL */
        "<https://x y/>;rel=up",        /* space in URL */
        "<https://x/\x01>;rel=up",      /* control character in URL */
        "<https://x/\t>;rel=up",        /* tab in URL */
        "<https://x/<y>;rel=up",        /* '<' in URL */
        "<https://x/>; rel=\"up",       /* unterminated quoted-string */
        "<https://x/>; rel=\"u\x02p\"", /* control character in quoted-string */
        "<https://x/>; rel=\"up\\",     /* backslash at the end */
        "<https://x/> junk",            /* text after the URL */
        "<https://x/>; rel=up junk",    /* text after a parameter */
        "<https://x/>;=up",             /* parameter without a name */
        "<https://x/>; rel=",           /* '=' without a value */
        "<https://x/>; rel=\"up\"x",    /* text after a quoted-string */
        "<https://a/><https://b/>",     /* two links without a comma */
        "<https://a/>;rel=up, junk",    /* a bad second element */
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct acme_link *l = NULL;
        struct err e = {0};
        size_t n = 77;

        print_message("bad Link value %zu\n", i);
        assert_int_equal(acme_link_parse(bad[i], &l, &n, &e), -EINVAL);
        assert_int_equal(e.code, -EINVAL);
        assert_non_null(strstr(e.msg, "Link"));
        assert_null(l);
        assert_int_equal(n, 77);
    }
    {
        struct acme_link *l = NULL;
        size_t n = 0;

        assert_int_equal(acme_link_parse(NULL, &l, &n, NULL), -EINVAL);
        assert_int_equal(acme_link_parse("<https://x", &l, &n, NULL), -EINVAL);
    }
    acme_links_free(NULL, 3);
}

/* A response may carry several Link header fields; acme_link_find looks at all of them. */
static void test_link_find(void **state)
{
    const char *vals[] = {
        "<https://c.example/1>;rel=alternate, <https://c.example/dir>;rel=\"index\"",
        "<https://c.example/2>; rel=\"ALTERNATE up\"",
        "<https://c.example/authz>;rel=up",
    };
    char **urls = NULL;
    size_t n = 0;
    struct err e = {0};

    assert_int_equal(acme_link_find(vals, 3, "alternate", &urls, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(urls[0], "https://c.example/1");
    assert_string_equal(urls[1], "https://c.example/2");
    acme_urls_free(urls, n);

    assert_int_equal(acme_link_find(vals, 3, "up", &urls, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(urls[0], "https://c.example/2");
    assert_string_equal(urls[1], "https://c.example/authz");
    acme_urls_free(urls, n);

    assert_int_equal(acme_link_find(vals, 3, "index", &urls, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(urls[0], "https://c.example/dir");
    acme_urls_free(urls, n);

    urls = (char **)vals;
    assert_int_equal(acme_link_find(vals, 3, "next", &urls, &n, &e), 0);
    assert_null(urls);
    assert_int_equal(n, 0);

    assert_int_equal(acme_link_find(NULL, 0, "up", &urls, &n, &e), 0);
    assert_null(urls);
    assert_int_equal(n, 0);
}

static void test_link_find_error(void **state)
{
    const char *vals[] = {
        "<https://c.example/1>;rel=alternate",
        "<https://c.example/2>;rel=alternate",
        "https://c.example/3;rel=alternate",
    };
    char **urls = (char **)vals;
    size_t n = 42;
    struct err e = {0};

    /* The error of the third value is returned and nothing else (no leak of the two first). */
    assert_int_equal(acme_link_find(vals, 3, "alternate", &urls, &n, &e), -EINVAL);
    assert_int_equal(e.code, -EINVAL);
    assert_ptr_equal(urls, (char **)vals);
    assert_int_equal(n, 42);
    acme_urls_free(NULL, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_delta_seconds),
        cmocka_unit_test(test_retry_clamped),
        cmocka_unit_test(test_retry_bad_numbers),
        cmocka_unit_test(test_retry_date_forms),
        cmocka_unit_test(test_retry_past_date),
        cmocka_unit_test(test_retry_rfc850_century),
        cmocka_unit_test(test_retry_bad_dates),
        cmocka_unit_test(test_link_several_in_one_value),
        cmocka_unit_test(test_link_params),
        cmocka_unit_test(test_link_rel_has),
        cmocka_unit_test(test_link_malformed),
        cmocka_unit_test(test_link_find),
        cmocka_unit_test(test_link_find_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
