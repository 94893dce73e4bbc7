/* Unit tests for acme/retry: backoff with equal jitter, Retry-After of a response, and which
 * error responses may hold a problem document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/retry.h"

static void test_backoff(void **state)
{
    for (int i = 0; i < 200; i++) {
        uint64_t a1 = acme_backoff_ms(500, 30000, 1), a3 = acme_backoff_ms(500, 30000, 3);
        uint64_t big = acme_backoff_ms(500, 30000, 40);

        /* half fixed, half random: [ms/2, ms] */
        assert_in_range(a1, 250, 500);
        assert_in_range(a3, 1000, 2000);
        assert_in_range(big, 15000, 30000); /* capped */
    }
    assert_int_equal(acme_backoff_ms(0, 30000, 5), 0);
    assert_in_range(acme_backoff_ms(2, 2, 1), 1, 2);
}

/* A response with up to two headers, all borrowed from the caller. */
static struct http_response response(struct http_header *h, const char *ct, const char *ra,
                                     const char *body)
{
    struct http_response r = {.status = 503, .headers = h, .body = (char *)body};

    if (ct)
        h[r.nheaders++] = (struct http_header){"Content-Type", (char *)ct};
    if (ra)
        h[r.nheaders++] = (struct http_header){"Retry-After", (char *)ra};
    r.body_len = strlen(body);
    return r;
}

static void test_response(void **state)
{
    struct http_header h[2];
    struct http_response r = response(h, "application/problem+json", "120", "{}");

    assert_int_equal(acme_response_retry_after(&r), 120);
    assert_true(acme_response_may_be_problem(&r));
    r = response(h, "text/html", "soon", "<html>");
    assert_int_equal(acme_response_retry_after(&r), -1);
    assert_false(acme_response_may_be_problem(&r));
    /* some servers forget the type: a JSON body is tried as a problem too */
    r = response(h, "application/json", NULL, "{\"type\":\"x\"}");
    assert_int_equal(acme_response_retry_after(&r), -1);
    assert_true(acme_response_may_be_problem(&r));
    r = response(h, "application/problem+json", NULL, "");
    assert_false(acme_response_may_be_problem(&r));
    assert_int_equal(acme_response_retry_after(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_response),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
