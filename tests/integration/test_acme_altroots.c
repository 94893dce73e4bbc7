/* Alternate chains (RFC 8555 §7.4.2) against a Pebble with PEBBLE_ALTERNATE_ROOTS=2: with no
 * preference the default chain comes back; asking for an alternate root's CN follows the
 * Link rel="alternate" chains and returns the one that ends at that root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "common/pebble_env.h"
#include "crypto/pem.h"
#include "crypto/x509.h"
#include "util/clock.h"

static struct flow_env fe;

/* The subject CN of Pebble's root number n. Caller frees. */
static char *root_cn(int n, char **pem_out)
{
    char path[32], *pem, *cn;
    struct pem_chain c = {0};
    struct x509_info *x = NULL;
    struct err e;

    snprintf(path, sizeof path, "/roots/%d", n);
    pem = flow_pebble_mgmt(path);
    assert_int_equal(pem_split_chain(pem, strlen(pem), &c, &e), 0);
    assert_int_equal(x509_parse(c.certs[0].der, c.certs[0].len, &x, &e), 0);
    cn = strdup(x->subject_cn);
    x509_info_free(x);
    pem_chain_free(&c);
    *pem_out = pem;
    return cn;
}

static char *issue_top_cn(const char *preferred, const char *root_pem)
{
    static const char *http01[] = {"http-01"};
    const char *names[] = {"alt.issue.test"};
    struct flow_req req = {.names = names, .nnames = 1, .key = {KEY_ECDSA, 256},
                           .prefs = http01, .nprefs = 1, .preferred_chain = preferred,
                           .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};
    struct flow_result res;
    struct pem_chain c = {0};
    char *top;
    struct err e;

    if (flow_issue(&fe, &req, &res) < 0)
        fail_msg("issuance: %s", err_msg(&res.e));
    assert_int_equal(pem_split_chain(res.cert_pem, res.cert_len, &c, &e), 0);
    top = x509_chain_top_issuer_cn(&c);
    assert_non_null(top);
    if (x509_verify_chain(&c, root_pem, strlen(root_pem), clock_now(), &e) < 0)
        fail_msg("chain with top %s does not verify: %s", top, err_msg(&e));
    pem_chain_free(&c);
    flow_result_clear(&res);
    return top;
}

static void test_preferred_chain(void **state)
{
    char *pem0, *pem2, *cn0 = root_cn(0, &pem0), *cn2 = root_cn(2, &pem2), *top;
    struct err e;

    flow_env_init(&fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), NULL);
    if (flow_env_account(&fe, NULL, &e) < 0)
        fail_msg("account: %s", err_msg(&e));
    assert_string_not_equal(cn0, cn2);
    top = issue_top_cn(NULL, pem0);
    assert_string_equal(top, cn0);
    free(top);
    top = issue_top_cn(cn2, pem2);
    assert_string_equal(top, cn2);
    free(top);
    /* A preference no chain satisfies keeps the default chain. */
    top = issue_top_cn("No Such Root", pem0);
    assert_string_equal(top, cn0);
    free(top);
    free(cn0);
    free(cn2);
    free(pem0);
    free(pem2);
    flow_env_fini(&fe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_preferred_chain)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
