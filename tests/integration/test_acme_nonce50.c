/* Against a Pebble that rejects half of all good nonces (PEBBLE_WFE_NONCEREJECT=50), every
 * operation still succeeds: each badNonce is retried with the nonce of the error response. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "common/pebble_env.h"

static void test_issuance_survives_badnonce(void **state)
{
    static const char *http01[] = {"http-01"};
    const char *names1[] = {"a.nonce50.test", "b.nonce50.test"};
    const char *names2[] = {"c.nonce50.test"};
    struct flow_req req = {.key = {KEY_ECDSA, 256}, .prefs = http01, .nprefs = 1,
                           .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};
    struct acme_client_stats st;
    struct flow_result res;
    struct flow_env fe;
    struct err e;

    flow_env_init(&fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), NULL);
    if (flow_env_account(&fe, NULL, &e) < 0)
        fail_msg("account: %s", err_msg(&e));
    req.names = names1;
    req.nnames = 2;
    if (flow_issue(&fe, &req, &res) < 0)
        fail_msg("issuance: %s", err_msg(&res.e));
    flow_result_clear(&res);
    req.names = names2;
    req.nnames = 1;
    if (flow_issue(&fe, &req, &res) < 0)
        fail_msg("issuance: %s", err_msg(&res.e));
    flow_result_clear(&res);
    /* About 20 signed requests at 50% rejection: some were retried (the chance that none
     * was is below one in a million). */
    acme_client_stats(fe.acme, &st);
    assert_true(st.retries > 0);
    flow_env_fini(&fe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_issuance_survives_badnonce)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
