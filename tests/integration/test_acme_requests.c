/* Round trips are part of the product: the first certificate on a new account takes at most
 * 11 requests (Pebble's floor is 10: directory, newNonce, newAccount, newOrder, authorization,
 * challenge, one authorization poll, finalize, one order poll, download), each further one at
 * most 8 (floor 7), over one kept-alive connection, with newNonce fetched only once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "common/pebble_env.h"

static void test_request_counts(void **state)
{
    static const char *http01[] = {"http-01"};
    const char *n1[] = {"one.requests.test"}, *n2[] = {"two.requests.test"};
    struct flow_req req = {.nnames = 1, .key = {KEY_ECDSA, 256}, .prefs = http01,
                           .nprefs = 1, .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};
    struct acme_client_stats a, b;
    struct http_stats hs;
    struct flow_result res;
    struct flow_env fe;
    struct err e;

    flow_env_init(&fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), NULL);
    if (flow_env_account(&fe, NULL, &e) < 0)
        fail_msg("account: %s", err_msg(&e));
    req.names = n1;
    if (flow_issue(&fe, &req, &res) < 0)
        fail_msg("issuance: %s", err_msg(&res.e));
    flow_result_clear(&res);
    acme_client_stats(fe.acme, &a);
    printf("first certificate: %llu requests\n", (unsigned long long)a.requests);
    assert_true(a.requests <= 11);
    assert_int_equal(a.nonce_heads, 1);
    req.names = n2;
    if (flow_issue(&fe, &req, &res) < 0)
        fail_msg("issuance: %s", err_msg(&res.e));
    flow_result_clear(&res);
    acme_client_stats(fe.acme, &b);
    printf("second certificate: %llu requests\n", (unsigned long long)(b.requests - a.requests));
    assert_true(b.requests - a.requests <= 8);
    assert_int_equal(b.nonce_heads, 1);
    http_client_stats(fe.http, &hs);
    assert_int_equal(hs.connections, 1);
    flow_env_fini(&fe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_request_counts)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
