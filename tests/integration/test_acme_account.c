/* Account operations and revocation against the real Pebble fixture: onlyReturnExisting,
 * contact update, key rollover followed by an order under the new key, deactivation, and
 * revocation signed by the account and by the certificate key (checked through Pebble's
 * management API). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "common/pebble_env.h"
#include "crypto/crl_reason.h"
#include "crypto/pem.h"
#include "crypto/x509.h"

static const char *http01[] = {"http-01"};

/* Pebble's view of a certificate, from /cert-status-by-serial. Caller frees. */
static char *cert_status(const char *serial_hex)
{
    char path[256];

    snprintf(path, sizeof path, "/cert-status-by-serial/%s", serial_hex);
    return flow_pebble_mgmt(path);
}

static void env_up(struct flow_env *fe)
{
    struct err e;

    flow_env_init(fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), NULL);
    if (flow_env_account(fe, NULL, &e) < 0)
        fail_msg("account: %s", err_msg(&e));
}

static void issue(struct flow_env *fe, const char *name, struct flow_result *res)
{
    const char *names[] = {name};
    struct flow_req req = {.names = names, .nnames = 1, .key = {KEY_ECDSA, 256},
                           .prefs = http01, .nprefs = 1,
                           .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};

    if (flow_issue(fe, &req, res) < 0)
        fail_msg("issuance of %s: %s", name, err_msg(&res->e));
}

static void test_only_return_existing(void **state)
{
    struct flow_env fe;
    struct acme_new_account req = {.only_return_existing = true};
    struct flow_sync s = {0};
    struct key_spec ks = {KEY_ECDSA, 256};
    struct ckey *other = NULL;
    struct signer os;
    struct err e;

    env_up(&fe);
    /* The registered key finds its account, at the same URL. */
    req.key = &fe.account;
    assert_int_equal(acme_account_new(fe.acme, &req, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.status, 200);
    assert_string_equal(s.location, acme_client_account_url(fe.acme));
    flow_sync_clear(&s);
    /* An unknown key finds nothing and creates nothing. */
    assert_int_equal(key_generate(&ks, &other, &e), 0);
    jws_signer_from_key(other, &os);
    req.key = &os;
    assert_int_equal(acme_account_new(fe.acme, &req, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, ACME_EPROBLEM);
    assert_true(acme_problem_is(s.problem, "accountDoesNotExist"));
    flow_sync_clear(&s);
    key_free(other);
    flow_env_fini(&fe);
}

static void test_update_contact(void **state)
{
    struct flow_env fe;
    const char *contact[] = {"mailto:new@example.com", "mailto:other@example.com"};
    struct flow_sync s = {0};
    struct err e;

    env_up(&fe);
    assert_int_equal(acme_account_update(fe.acme, contact, 2, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    if (s.rc < 0)
        fail_msg("update: %s", err_msg(&s.e));
    assert_non_null(s.account);
    assert_int_equal(s.account->ncontact, 2);
    assert_string_equal(s.account->contact[0], "mailto:new@example.com");
    flow_sync_clear(&s);
    flow_env_fini(&fe);
}

static void test_key_rollover(void **state)
{
    struct flow_env fe;
    struct key_spec ks = {KEY_ECDSA, 384};
    struct ckey *nk = NULL;
    struct signer ns;
    struct flow_sync s = {0};
    struct acme_new_account find = {.only_return_existing = true};
    struct flow_result res;
    char *kid;
    struct err e;

    env_up(&fe);
    kid = strdup(acme_client_account_url(fe.acme));
    assert_int_equal(key_generate(&ks, &nk, &e), 0);
    jws_signer_from_key(nk, &ns);
    /* Rolling over to the same key is refused before any request. */
    assert_true(acme_account_key_change(fe.acme, &fe.account, flow_sync_cb, &s, &e) < 0);
    assert_int_equal(acme_account_key_change(fe.acme, &ns, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    if (s.rc < 0)
        fail_msg("key change: %s", err_msg(&s.e));
    flow_sync_clear(&s);
    assert_ptr_equal(acme_client_account_signer(fe.acme), &ns);
    /* An order signed by the new key works. */
    issue(&fe, "rollover.account.test", &res);
    flow_result_clear(&res);
    /* The old key no longer finds the account; the new one finds the same URL. */
    find.key = &fe.account;
    assert_int_equal(acme_account_new(fe.acme, &find, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, ACME_EPROBLEM);
    flow_sync_clear(&s);
    find.key = &ns;
    assert_int_equal(acme_account_new(fe.acme, &find, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, 0);
    assert_string_equal(s.location, kid);
    flow_sync_clear(&s);
    free(kid);
    flow_env_fini(&fe);
    key_free(nk);
}

static void test_deactivate(void **state)
{
    struct flow_env fe;
    struct flow_sync s = {0};
    const char *names[] = {"deactivated.account.test"};
    struct acme_identifier id = {ACME_ID_DNS, (char *)names[0]};
    struct acme_new_order o = {.ids = &id, .nids = 1};
    struct err e;

    env_up(&fe);
    assert_int_equal(acme_account_deactivate(fe.acme, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    if (s.rc < 0)
        fail_msg("deactivate: %s", err_msg(&s.e));
    assert_int_equal(s.account->status, ACCOUNT_DEACTIVATED);
    flow_sync_clear(&s);
    /* A deactivated account can order nothing. */
    assert_int_equal(acme_order_new(fe.acme, &o, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, ACME_EPROBLEM);
    assert_true(acme_problem_is(s.problem, "unauthorized"));
    flow_sync_clear(&s);
    flow_env_fini(&fe);
}

/* Revokes a fresh certificate, signed by the account or by the certificate's key. */
static void revoke_one(bool with_cert_key)
{
    struct flow_env fe;
    struct flow_result res;
    struct flow_sync s = {0};
    struct pem_chain chain = {0};
    struct x509_info *leaf = NULL;
    struct signer cs;
    char *st;
    struct err e;

    env_up(&fe);
    issue(&fe, with_cert_key ? "revoke-key.account.test" : "revoke-acct.account.test", &res);
    assert_int_equal(pem_split_chain(res.cert_pem, res.cert_len, &chain, &e), 0);
    assert_int_equal(x509_parse(chain.certs[0].der, chain.certs[0].len, &leaf, &e), 0);
    st = cert_status(leaf->serial_hex);
    assert_non_null(strstr(st, "\"Valid\""));
    free(st);
    jws_signer_from_key(res.key, &cs);
    assert_int_equal(acme_cert_revoke(fe.acme, chain.certs[0].der, chain.certs[0].len,
                                      CRL_REASON_KEY_COMPROMISE, with_cert_key ? &cs : NULL,
                                      flow_sync_cb, &s, &e),
                     0);
    flow_sync_wait(&fe, &s);
    if (s.rc < 0)
        fail_msg("revoke: %s", err_msg(&s.e));
    flow_sync_clear(&s);
    st = cert_status(leaf->serial_hex);
    assert_non_null(strstr(st, "\"Revoked\""));
    free(st);
    /* A second revocation is refused by the CA with alreadyRevoked. */
    assert_int_equal(acme_cert_revoke(fe.acme, chain.certs[0].der, chain.certs[0].len, 0, NULL,
                                      flow_sync_cb, &s, &e),
                     0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, ACME_EPROBLEM);
    assert_true(acme_problem_is(s.problem, "alreadyRevoked"));
    flow_sync_clear(&s);
    x509_info_free(leaf);
    pem_chain_clear(&chain);
    flow_result_clear(&res);
    flow_env_fini(&fe);
}

static void test_revoke_by_account(void **state)
{
    revoke_one(false);
}

static void test_revoke_by_cert_key(void **state)
{
    revoke_one(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_return_existing), cmocka_unit_test(test_update_contact),
        cmocka_unit_test(test_key_rollover),         cmocka_unit_test(test_deactivate),
        cmocka_unit_test(test_revoke_by_account),    cmocka_unit_test(test_revoke_by_cert_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
