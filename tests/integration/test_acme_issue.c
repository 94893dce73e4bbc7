/* Full issuance through the ACME engine against the real Pebble fixture: ECDSA and RSA
 * certificates for several names over http-01, an IP address certificate, a wildcard over
 * dns-01, a name on Pebble's blocklist, and the chain checked against Pebble's root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "common/pebble_env.h"
#include "crypto/pem.h"
#include "crypto/x509.h"
#include "util/clock.h"

static struct flow_env fe;

/* Pebble's root certificate n (PEM) from its management API. Caller frees. */
static char *pebble_root(int n)
{
    char path[32];

    snprintf(path, sizeof path, "/roots/%d", n);
    return flow_pebble_mgmt(path);
}

static int setup(void **state)
{
    struct err e;

    flow_env_init(&fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), NULL);
    if (flow_env_account(&fe, NULL, &e) < 0)
        fail_msg("account: %s", err_msg(&e));
    return 0;
}

static int teardown(void **state)
{
    flow_env_fini(&fe);
    return 0;
}

static const char *http01[] = {"http-01"};
static const char *dns01[] = {"dns-01"};

/* Issues, then checks the chain: CERTIFICATE blocks only, the names, the key, and a path to
 * Pebble's root at the current time. */
static void issue_and_check(const char *const *names, size_t n, struct key_spec ks,
                            const char *const *prefs)
{
    struct flow_req req = {.names = names, .nnames = n, .key = ks, .prefs = prefs,
                           .nprefs = 1, .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};
    struct flow_result res;
    struct pem_chain chain = {0};
    struct x509_info *leaf = NULL;
    char *root;
    struct err e;

    if (flow_issue(&fe, &req, &res) < 0)
        fail_msg("issuance of %s: %s", names[0], err_msg(&res.e));
    assert_non_null(res.cert_pem);
    assert_int_equal(pem_split_chain(res.cert_pem, res.cert_len, &chain, &e), 0);
    assert_true(chain.n >= 2);
    assert_int_equal(x509_parse(chain.certs[0].der, chain.certs[0].len, &leaf, &e), 0);
    assert_int_equal(leaf->ndns + leaf->nips, n);
    assert_int_equal(x509_matches_key(chain.certs[0].der, chain.certs[0].len, res.key, &e), 1);
    root = pebble_root(0);
    if (x509_verify_chain(&chain, root, strlen(root), clock_now(), &e) < 0)
        fail_msg("chain does not verify against pebble's root: %s", err_msg(&e));
    /* And it must not verify against an unrelated trust anchor (our fixture's CA). */
    {
        size_t calen;
        char *ca = NULL;
        FILE *f = fopen(pe_get("PEBBLE_CA"), "r");

        assert_non_null(f);
        ca = calloc(1, 65536);
        calen = fread(ca, 1, 65535, f);
        fclose(f);
        assert_true(x509_verify_chain(&chain, ca, calen, clock_now(), &e) < 0);
        free(ca);
    }
    assert_true(res.authz_polls >= 1);
    free(root);
    x509_info_free(leaf);
    pem_chain_clear(&chain);
    flow_result_clear(&res);
}

static void test_ecdsa_several_names(void **state)
{
    const char *names[] = {"ec.issue.test", "www.ec.issue.test", "mail.ec.issue.test"};

    issue_and_check(names, 3, (struct key_spec){KEY_ECDSA, 256}, http01);
}

static void test_ecdsa_p384(void **state)
{
    const char *names[] = {"p384.issue.test"};

    issue_and_check(names, 1, (struct key_spec){KEY_ECDSA, 384}, http01);
}

static void test_rsa_several_names(void **state)
{
    const char *names[] = {"rsa.issue.test", "www.rsa.issue.test"};

    issue_and_check(names, 2, (struct key_spec){KEY_RSA, 2048}, http01);
}

static void test_ip_address(void **state)
{
    const char *names[] = {"127.0.0.1"};

    issue_and_check(names, 1, (struct key_spec){KEY_ECDSA, 256}, http01);
}

static void test_wildcard_dns01(void **state)
{
    const char *names[] = {"*.wild.issue.test", "wild.issue.test"};

    issue_and_check(names, 2, (struct key_spec){KEY_ECDSA, 256}, dns01);
}

/* A wildcard offers only dns-01: asking for http-01 alone finds no challenge. */
static void test_wildcard_needs_dns01(void **state)
{
    const char *names[] = {"*.nohttp.issue.test"};
    struct flow_req req = {.names = names, .nnames = 1, .key = {KEY_ECDSA, 256},
                           .prefs = http01, .nprefs = 1,
                           .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};
    struct flow_result res;

    assert_true(flow_issue(&fe, &req, &res) < 0);
    assert_non_null(strstr(err_msg(&res.e), "no acceptable challenge"));
    flow_result_clear(&res);
}

/* The fixture's default configuration blocks "blocked.test" (FIXTURE blocklist). */
static void test_blocklisted_name(void **state)
{
    const char *names[] = {"ok.issue.test", "blocked.test"};
    struct flow_req req = {.names = names, .nnames = 2, .key = {KEY_ECDSA, 256},
                           .prefs = http01, .nprefs = 1,
                           .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};
    struct flow_result res;

    assert_true(flow_issue(&fe, &req, &res) < 0);
    assert_int_equal(res.rc, ACME_EPROBLEM);
    assert_non_null(res.problem_type);
    assert_string_equal(res.problem_type, "urn:ietf:params:acme:error:rejectedIdentifier");
    /* The message names the identifier that was refused. */
    assert_non_null(strstr(err_msg(&res.e), "blocked.test"));
    flow_result_clear(&res);
}

/* A pending authorization can be deactivated (RFC 8555 §7.5.2). */
static void test_deactivate_authz(void **state)
{
    struct acme_identifier id = {ACME_ID_DNS, "deact.issue.test"};
    struct acme_new_order o = {.ids = &id, .nids = 1};
    struct flow_sync s = {0};
    char *authz;
    struct err e;

    assert_int_equal(acme_order_new(fe.acme, &o, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.order->status, ORDER_PENDING);
    authz = strdup(s.order->authorizations[0]);
    flow_sync_clear(&s);
    assert_int_equal(acme_authz_deactivate(fe.acme, authz, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    if (s.rc < 0)
        fail_msg("deactivate: %s", err_msg(&s.e));
    assert_int_equal(s.authz->status, AUTHZ_DEACTIVATED);
    flow_sync_clear(&s);
    assert_int_equal(acme_authz_get(fe.acme, authz, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.authz->status, AUTHZ_DEACTIVATED);
    flow_sync_clear(&s);
    free(authz);
}

/* Pebble 2.4 lists no profiles: asking for one fails before any request. */
static void test_profile_needs_directory_support(void **state)
{
    struct acme_identifier id = {ACME_ID_DNS, "profile.issue.test"};
    struct acme_new_order o = {.ids = &id, .nids = 1, .profile = "shortlived"};
    struct flow_sync s = {0};
    struct err e;

    assert_int_equal(acme_order_new(fe.acme, &o, flow_sync_cb, &s, &e), -ENOTSUP);
    assert_non_null(strstr(err_msg(&e), "profile"));
    assert_false(s.done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecdsa_several_names), cmocka_unit_test(test_ecdsa_p384),
        cmocka_unit_test(test_rsa_several_names),   cmocka_unit_test(test_ip_address),
        cmocka_unit_test(test_wildcard_dns01),      cmocka_unit_test(test_wildcard_needs_dns01),
        cmocka_unit_test(test_blocklisted_name),    cmocka_unit_test(test_deactivate_authz),
        cmocka_unit_test(test_profile_needs_directory_support),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
