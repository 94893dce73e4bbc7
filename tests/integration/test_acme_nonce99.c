/* Against a Pebble that rejects 99% of good nonces, a request gives up cleanly: an ACME
 * badNonce problem after a bounded number of attempts (max_nonce_retries, at least 10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "common/pebble_env.h"

static void test_gives_up_bounded(void **state)
{
    struct acme_retry_policy pol;
    struct acme_client_stats before, after;
    struct flow_env fe;
    struct err e;
    bool failed = false;

    acme_retry_policy_default(&pol);
    assert_true(pol.max_nonce_retries >= 10);
    flow_env_init(&fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), &pol);
    /* With 1% acceptance one newAccount gets through its retries about 16% of the time, so
     * try up to five fresh accounts: the chance that none fails is about one in 10,000. */
    for (int i = 0; i < 5 && !failed; i++) {
        int rc;

        key_free(fe.account_key);
        fe.account_key = NULL;
        acme_client_stats(fe.acme, &before);
        rc = flow_env_account(&fe, NULL, &e);
        acme_client_stats(fe.acme, &after);
        /* At most a newNonce, the first attempt and the retries. */
        assert_true(after.requests - before.requests <= 2 + pol.max_nonce_retries);
        if (rc < 0) {
            failed = true;
            assert_int_equal(rc, ACME_EPROBLEM);
            assert_non_null(strstr(err_msg(&e), "badNonce"));
            assert_non_null(strstr(err_msg(&e), "giving up"));
            assert_true(after.requests - before.requests >= 1 + pol.max_nonce_retries);
        }
    }
    assert_true(failed);
    flow_env_fini(&fe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gives_up_bounded)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
