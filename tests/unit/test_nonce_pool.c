/* Unit tests for acme/nonce_pool: only well-formed nonces are kept, newest first, bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/nonce_pool.h"

static void test_offer_take(void **state)
{
    struct nonce_pool p = {0};
    char *n;

    assert_false(nonce_pool_offer(&p, NULL));
    assert_false(nonce_pool_offer(&p, ""));
    assert_false(nonce_pool_offer(&p, "has space"));
    assert_false(nonce_pool_offer(&p, "padded=="));
    assert_true(nonce_pool_offer(&p, "first"));
    assert_true(nonce_pool_offer(&p, "second-_9"));
    assert_int_equal(p.n, 2);
    n = nonce_pool_take(&p);
    assert_string_equal(n, "second-_9"); /* newest first */
    free(n);
    n = nonce_pool_take(&p);
    assert_string_equal(n, "first");
    free(n);
    assert_null(nonce_pool_take(&p));
}

static void test_bounds(void **state)
{
    struct nonce_pool p = {0};
    char big[NONCE_POOL_VALUE_MAX + 2], name[32];
    char *n;

    memset(big, 'a', sizeof big - 1);
    big[NONCE_POOL_VALUE_MAX] = '\0';
    assert_true(nonce_pool_offer(&p, big));
    big[NONCE_POOL_VALUE_MAX] = 'a';
    big[NONCE_POOL_VALUE_MAX + 1] = '\0';
    assert_false(nonce_pool_offer(&p, big));
    nonce_pool_clear(&p);
    assert_int_equal(p.n, 0);
    /* A full pool drops its oldest value. */
    for (int i = 0; i < NONCE_POOL_MAX + 3; i++) {
        snprintf(name, sizeof name, "n%d", i);
        assert_true(nonce_pool_offer(&p, name));
    }
    assert_int_equal(p.n, NONCE_POOL_MAX);
    assert_string_equal(p.nonces[0], "n3");
    n = nonce_pool_take(&p);
    snprintf(name, sizeof name, "n%d", NONCE_POOL_MAX + 2);
    assert_string_equal(n, name);
    free(n);
    nonce_pool_clear(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer_take),
        cmocka_unit_test(test_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
