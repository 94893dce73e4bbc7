/* External Account Binding (RFC 8555 §7.3.4) against a Pebble that requires it: no binding
 * is refused before any request, a wrong MAC key is refused by the CA, the right one works
 * and the account can order a certificate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "common/pebble_env.h"
#include "crypto/b64.h"

/* The fixture's EAB key (tests/pebble/fixture.sh: kid-1). */
#define EAB_KID "kid-1"
#define EAB_KEY "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"

static void test_eab(void **state)
{
    static const char *http01[] = {"http-01"};
    const char *names[] = {"eab.issue.test"};
    struct flow_req req = {.names = names, .nnames = 1, .key = {KEY_ECDSA, 256},
                           .prefs = http01, .nprefs = 1,
                           .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};
    uint8_t *mac = NULL, wrong[32] = {1, 2, 3};
    size_t maclen = 0;
    struct acme_eab eab = {.kid = EAB_KID};
    struct flow_result res;
    struct flow_env fe;
    struct err e;
    int rc;

    flow_env_init(&fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), NULL);
    assert_true(acme_client_directory(fe.acme)->meta.external_account_required);
    /* No binding: refused locally, naming what is missing. */
    rc = flow_env_account(&fe, NULL, &e);
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err_msg(&e), "External Account Binding"));
    /* A wrong MAC key: the CA refuses. */
    eab.hmac = wrong;
    eab.hmac_len = sizeof wrong;
    rc = flow_env_account(&fe, &eab, &e);
    assert_int_equal(rc, ACME_EPROBLEM);
    /* The right one. */
    assert_int_equal(b64url_decode(EAB_KEY, strlen(EAB_KEY), &mac, &maclen), 0);
    eab.hmac = mac;
    eab.hmac_len = maclen;
    rc = flow_env_account(&fe, &eab, &e);
    if (rc < 0)
        fail_msg("EAB account: %s", err_msg(&e));
    if (flow_issue(&fe, &req, &res) < 0)
        fail_msg("issuance: %s", err_msg(&res.e));
    flow_result_clear(&res);
    free(mac);
    flow_env_fini(&fe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_eab)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
