/* The ACME client's nonce pool (RFC 8555 §6.5): well-formed Replay-Nonce values are kept,
 * malformed ones ignored, the pool is bounded and hands out the newest first; and the
 * retry policy defaults satisfy the robustness contract. No network: nothing is started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "acme/client.h"

static void test_nonce_pool(void **state)
{
    struct acme_client *c = NULL;
    uv_loop_t loop;
    char big[300], nonce[32];
    struct err e;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(acme_client_new(&loop, NULL, "https://127.0.0.1:1/dir", NULL, &c, &e), 0);
    assert_int_equal(acme_client_nonce_count(c), 0);
    assert_true(acme_client_offer_nonce(c, "oFvnlFP1wIhRlYS2jTaXbA"));
    assert_int_equal(acme_client_nonce_count(c), 1);
    /* Not base64url, empty, missing or oversized: ignored. */
    assert_false(acme_client_offer_nonce(c, "abc=def"));
    assert_false(acme_client_offer_nonce(c, "a/b+c"));
    assert_false(acme_client_offer_nonce(c, "nonce with spaces"));
    assert_false(acme_client_offer_nonce(c, ""));
    assert_false(acme_client_offer_nonce(c, NULL));
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(acme_client_offer_nonce(c, big));
    assert_int_equal(acme_client_nonce_count(c), 1);
    /* Bounded: a flood of nonces keeps at most 32. */
    for (int i = 0; i < 100; i++) {
        snprintf(nonce, sizeof nonce, "n%d", i);
        assert_true(acme_client_offer_nonce(c, nonce));
    }
    assert_int_equal(acme_client_nonce_count(c), 32);
    acme_client_free(c);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_policy_defaults(void **state)
{
    struct acme_retry_policy p;

    acme_retry_policy_default(&p);
    assert_true(p.max_nonce_retries >= 10);
    assert_true(p.max_attempts >= 3);
    assert_true(p.max_total_ms > 0 && p.max_total_ms <= 600000);
    assert_true(p.base_backoff_ms > 0 && p.base_backoff_ms <= p.max_backoff_ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_nonce_pool),
                                       cmocka_unit_test(test_policy_defaults)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
