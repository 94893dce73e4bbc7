/* Alternate chains (RFC 8555 §7.4.2) against a Pebble with PEBBLE_ALTERNATE_ROOTS=2: with no
 * preference the default chain comes back; asking for an alternate root's CN follows the
 * Link rel="alternate" chains and returns the one that ends at that root. With trust anchors,
 * a chain that does not reach them is passed over for one that does, and when none does the
 * download fails with "chain does not verify". */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "common/pebble_env.h"
#include "common/testutil.h"
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
    pem_chain_clear(&c);
    *pem_out = pem;
    return cn;
}

/* Issues with a preferred chain (or NULL) and trust anchors (or NULL); returns the top issuer
 * CN of the chain, after checking that the chain verifies against root_pem. */
static char *issue_anchored(const char *preferred, const char *anchors, const char *root_pem)
{
    static const char *http01[] = {"http-01"};
    const char *names[] = {"alt.issue.test"};
    struct flow_req req = {.names = names, .nnames = 1, .key = {KEY_ECDSA, 256},
                           .prefs = http01, .nprefs = 1, .preferred_chain = preferred,
                           .trust_anchors = anchors, .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};
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
    pem_chain_clear(&c);
    flow_result_clear(&res);
    return top;
}

static char *issue_top_cn(const char *preferred, const char *root_pem)
{
    return issue_anchored(preferred, NULL, root_pem);
}

static void test_trust_anchors(void **state)
{
    static const char *http01[] = {"http-01"};
    const char *names[] = {"anchored.issue.test"};
    char *pem0, *pem2, *cn0 = root_cn(0, &pem0), *cn2 = root_cn(2, &pem2), *top;
    char *other = tu_read_data("x509/root.pem", NULL);
    struct flow_req req = {.names = names, .nnames = 1, .key = {KEY_ECDSA, 256},
                           .prefs = http01, .nprefs = 1, .trust_anchors = other,
                           .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};
    struct flow_result res;
    struct err e;

    flow_env_init(&fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), NULL);
    if (flow_env_account(&fe, NULL, &e) < 0)
        fail_msg("account: %s", err_msg(&e));
    /* Anchored at alternate root 2 with no preference: the default chain (root 0) does not
     * reach it, the alternate does. */
    top = issue_anchored(NULL, pem2, pem2);
    assert_string_equal(top, cn2);
    free(top);
    /* Root 2 preferred but root 0 the only anchor: the preference gives way. */
    top = issue_anchored(cn2, pem0, pem0);
    assert_string_equal(top, cn0);
    free(top);
    /* No chain reaches an unrelated root: the default chain's reason comes back. */
    assert_int_equal(flow_issue(&fe, &req, &res), -EBADMSG);
    if (!strstr(res.e.msg, "chain does not verify: ") ||
        !strstr(res.e.msg, "is neither a trust anchor nor issued by one"))
        fail_msg("unexpected error: %s", res.e.msg);
    assert_null(res.cert_pem);
    flow_result_clear(&res);
    free(other);
    free(cn0);
    free(cn2);
    free(pem0);
    free(pem2);
    flow_env_fini(&fe);
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_preferred_chain),
                                       cmocka_unit_test(test_trust_anchors)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
