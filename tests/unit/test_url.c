/* Unit tests for acme/url: the rule for URLs a CA hands out, and the sanitising of server text
 * by the object parsers (acme/objects) that relies on util/sanitize. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/client.h"
#include "acme/objects.h"
#include "acme/op_internal.h"
#include "acme/url.h"

static void test_url_ok(void **state)
{
    char *long_url;

    (void)state;
    assert_true(acme_url_ok("https://ca.example/acme/order/1"));
    assert_false(acme_url_ok(""));
    assert_false(acme_url_ok("https://ca.example/a b"));
    assert_false(acme_url_ok("https://ca.example/a\nb"));
    assert_false(acme_url_ok("https://ca.example/\x1b[2J"));
    assert_false(acme_url_ok("https://ca.example/\xc3\xa9"));
    long_url = malloc(ACME_URL_MAX + 2);
    assert_non_null(long_url);
    memset(long_url, 'a', ACME_URL_MAX + 1);
    long_url[ACME_URL_MAX + 1] = '\0';
    assert_false(acme_url_ok(long_url));
    long_url[ACME_URL_MAX] = '\0';
    assert_true(acme_url_ok(long_url));
    free(long_url);
    assert_true(acme_url_is_https("HTTPS://x"));
    assert_false(acme_url_is_https("https://"));
    assert_false(acme_url_is_https("http://x"));
}

static void test_url_check(void **state)
{
    struct err e = {0};

    (void)state;
    assert_int_equal(acme_url_check("https://ca/x", true, "order finalize", &e), 0);
    assert_int_equal(acme_url_check("http://ca/x", false, "order finalize", &e), 0);
    assert_int_equal(acme_url_check(NULL, true, "order finalize", &e), 0);
    assert_int_equal(acme_url_check("http://ca/x", true, "order finalize", &e), -EPROTO);
    assert_non_null(strstr(e.msg, "order finalize \"http://ca/x\""));
    assert_non_null(strstr(e.msg, "not https"));
    assert_int_equal(acme_url_check("https://ca/\x1b]0;x\a", true, "Location", &e), -EPROTO);
    assert_null(strchr(e.msg, '\x1b'));
    assert_null(strchr(e.msg, '\a'));
}

/* Every URL of an order from an https directory must be https. */
static void test_result_urls(void **state)
{
    static const char order[] =
        "{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}],"
        "\"authorizations\":[\"https://ca/authz/1\",\"http://ca/authz/2\"],"
        "\"finalize\":\"https://ca/fin\"}";
    struct acme_result r = {.retry_after = -1};
    struct err e = {0};

    (void)state;
    assert_int_equal(acme_order_parse(order, strlen(order), &r.order, &e), 0);
    assert_int_equal(acme_result_urls_check(&r, false, &e), 0);
    assert_int_equal(acme_result_urls_check(&r, true, &e), -EPROTO);
    assert_non_null(strstr(e.msg, "http://ca/authz/2"));
    acme_order_free(r.order);
    r.order = NULL;
    r.location = "http://ca/order/1";
    assert_int_equal(acme_result_urls_check(&r, true, &e), -EPROTO);
    assert_non_null(strstr(e.msg, "Location"));
}

/* Text members are sanitised when parsed: no control character survives, and a long detail
 * is cut at SANITIZE_MAX bytes. */
static void test_parsed_text_is_clean(void **state)
{
    char body[8192];
    struct acme_problem *p = NULL;
    struct acme_authz *a = NULL;
    struct err e = {0};
    char *line;
    int n;

    (void)state;
    n = snprintf(body, sizeof body,
                 "{\"type\":\"urn:ietf:params:acme:error:rateLimited\","
                 "\"detail\":\"first\\nacmed: error: forged\\u001b[31m\\u0085 %0*d END\"}",
                 3000, 7);
    assert_true(n > 0 && (size_t)n < sizeof body);
    assert_int_equal(acme_problem_parse(body, strlen(body), &p, &e), 0);
    assert_null(strpbrk(p->detail, "\n\x1b"));
    assert_null(strstr(p->detail, "\xc2\x85"));
    assert_true(strlen(p->detail) < 1024);
    assert_null(strstr(p->detail, "END"));
    assert_non_null(strstr(p->detail, "first?acmed: error: forged?[31m?"));
    line = acme_problem_format(p);
    assert_non_null(line);
    assert_null(strchr(line, '\n'));
    free(line);
    acme_problem_free(p);

    snprintf(body, sizeof body,
             "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":"
             "\"--x\\n\\u001b[1mevil\"},\"challenges\":[]}");
    assert_int_equal(acme_authz_parse(body, strlen(body), &a, &e), 0);
    assert_string_equal(a->identifier.value, "--x??[1mevil");
    acme_authz_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_ok),
        cmocka_unit_test(test_url_check),
        cmocka_unit_test(test_result_urls),
        cmocka_unit_test(test_parsed_text_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
