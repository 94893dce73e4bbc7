/* Unit tests for privsep/sign_guard: what the keeper signs for its worker, and what it refuses.
 * Each request is built as the worker would send it (a JWS signing input) and decoded by
 * signer/signer_proto, as in the keeper. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "privsep/sign_guard.h"
#include "crypto/b64.h"

#define ACCT "https://ca.test/acct/1"

/* Signs nothing: builds "<b64 header>.<b64 payload>" and decodes it. payload may be "". */
static int check(const struct sign_guard *g, const char *header, const char *payload, struct err *e)
{
    char *h = b64url_encode((const uint8_t *)header, strlen(header));
    char *p = b64url_encode((const uint8_t *)payload, strlen(payload));
    char *line = NULL;
    struct signer_request r;
    int rc;

    assert_non_null(h);
    assert_non_null(p);
    assert_true(asprintf(&line, "%s.%s", h, p) > 0);
    assert_int_equal(signer_proto_request_parse(line, strlen(line), &r, e), 0);
    rc = sign_guard_check(g, &r, e);
    signer_request_clear(&r);
    free(line);
    free(h);
    free(p);
    return rc;
}

static const char *hdr_kid(const char *url)
{
    static char b[512];

    snprintf(b, sizeof b, "{\"alg\":\"ES256\",\"nonce\":\"n1\",\"url\":\"%s\",\"kid\":\"%s\"}", url,
             ACCT);
    return b;
}

static void test_post_as_get(void **state)
{
    struct sign_guard g = {.op = SIGN_GUARD_POST_AS_GET, .alg = "ES256", .kid = ACCT};
    struct err e = {0};

    (void)state;
    assert_int_equal(check(&g, hdr_kid("https://ca.test/order/1"), "", &e), 0);
    assert_int_equal(check(&g, hdr_kid("https://ca.test/order/1"), "{}", &e), -EPERM);
    assert_non_null(strstr(e.msg, "payload"));
    /* Another account, another alg, an extra header member. */
    assert_int_equal(check(&g,
                           "{\"alg\":\"ES256\",\"nonce\":\"n\",\"url\":\"https://ca.test/x\","
                           "\"kid\":\"https://ca.test/acct/2\"}",
                           "", &e),
                     -EPERM);
    assert_non_null(strstr(e.msg, "another account"));
    assert_int_equal(check(&g,
                           "{\"alg\":\"RS256\",\"nonce\":\"n\",\"url\":\"https://ca.test/x\","
                           "\"kid\":\"" ACCT "\"}",
                           "", &e),
                     -EPERM);
    assert_int_equal(check(&g,
                           "{\"alg\":\"ES256\",\"nonce\":\"n\",\"url\":\"https://ca.test/x\","
                           "\"kid\":\"" ACCT "\",\"b64\":false,\"crit\":[\"b64\"]}",
                           "", &e),
                     -EPERM);
    assert_non_null(strstr(e.msg, "other members"));
}

static void test_new_order(void **state)
{
    const char *names[] = {"a.example.test", "192.0.2.1"};
    struct sign_guard g = {.op = SIGN_GUARD_NEW_ORDER,
                           .alg = "ES256",
                           .kid = ACCT,
                           .names = names,
                           .nnames = 2,
                           .replaces = "AAA.BBB"};
    struct err e = {0};
    const char *h = hdr_kid("https://ca.test/new-order");

    (void)state;
    assert_int_equal(check(&g, h,
                           "{\"identifiers\":[{\"type\":\"ip\",\"value\":\"192.0.2.1\"},"
                           "{\"type\":\"dns\",\"value\":\"a.example.test\"}]}",
                           &e),
                     0);
    assert_int_equal(check(&g, h,
                           "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.test\"},"
                           "{\"type\":\"ip\",\"value\":\"192.0.2.1\"}],\"replaces\":\"AAA.BBB\"}",
                           &e),
                     0);
    /* A name of another target, one missing, one twice, an extra member. */
    assert_int_equal(check(&g, h,
                           "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.test\"},"
                           "{\"type\":\"dns\",\"value\":\"b.example.org\"}]}",
                           &e),
                     -EPERM);
    assert_non_null(strstr(e.msg, "other names"));
    assert_int_equal(
        check(&g, h, "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.test\"}]}", &e),
        -EPERM);
    assert_int_equal(check(&g, h,
                           "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.test\"},"
                           "{\"type\":\"dns\",\"value\":\"a.example.test\"}]}",
                           &e),
                     -EPERM);
    assert_int_equal(check(&g, h,
                           "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.test\"},"
                           "{\"type\":\"ip\",\"value\":\"192.0.2.1\"}],\"notAfter\":\"x\"}",
                           &e),
                     -EPERM);
    /* Replacing a certificate the keeper did not name. */
    assert_int_equal(check(&g, h,
                           "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.test\"},"
                           "{\"type\":\"ip\",\"value\":\"192.0.2.1\"}],\"replaces\":\"CCC.DDD\"}",
                           &e),
                     -EPERM);
    assert_non_null(strstr(e.msg, "replacing"));
    /* A keyChange or a deactivation is never an order. */
    assert_int_equal(
        check(&g, h, "{\"protected\":\"x\",\"payload\":\"y\",\"signature\":\"z\"}", &e), -EPERM);
    assert_int_equal(check(&g, h, "{\"status\":\"deactivated\"}", &e), -EPERM);
}

static void test_finalize_and_revoke(void **state)
{
    const uint8_t csr[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    char *b = b64url_encode(csr, sizeof csr), payload[256];
    struct sign_guard g = {
        .op = SIGN_GUARD_FINALIZE, .alg = "ES256", .kid = ACCT, .der = csr, .der_len = sizeof csr};
    struct err e = {0};
    const char *h = hdr_kid("https://ca.test/finalize/1");

    (void)state;
    snprintf(payload, sizeof payload, "{\"csr\":\"%s\"}", b);
    assert_int_equal(check(&g, h, payload, &e), 0);
    assert_int_equal(check(&g, h, "{\"csr\":\"MAMCAQY\"}", &e), -EPERM);
    assert_non_null(strstr(e.msg, "another CSR"));

    g.op = SIGN_GUARD_REVOKE;
    g.reason = 4;
    snprintf(payload, sizeof payload, "{\"certificate\":\"%s\",\"reason\":4}", b);
    assert_int_equal(check(&g, h, payload, &e), 0);
    snprintf(payload, sizeof payload, "{\"certificate\":\"%s\",\"reason\":1}", b);
    assert_int_equal(check(&g, h, payload, &e), -EPERM);
    snprintf(payload, sizeof payload, "{\"certificate\":\"%s\"}", b);
    assert_int_equal(check(&g, h, payload, &e), -EPERM);
    g.reason = -1;
    assert_int_equal(check(&g, h, payload, &e), 0);
    assert_int_equal(check(&g, h, "{\"certificate\":\"MAMCAQY\"}", &e), -EPERM);
    free(b);
}

static void test_account(void **state)
{
    const char *contact[] = {"mailto:ops@example.test"};
    json_t *jwk =
        json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", "AAAA", "y", "BBBB");
    struct sign_guard g = {.op = SIGN_GUARD_NEW_ACCOUNT,
                           .alg = "ES256",
                           .jwk = jwk,
                           .contact = contact,
                           .ncontact = 1};
    struct err e = {0};
    const char *h = "{\"alg\":\"ES256\",\"nonce\":\"n\",\"url\":\"https://ca.test/new-acct\","
                    "\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"BBBB\"}}";

    (void)state;
    assert_int_equal(check(&g, h,
                           "{\"termsOfServiceAgreed\":true,"
                           "\"contact\":[\"mailto:ops@example.test\"]}",
                           &e),
                     0);
    assert_int_equal(check(&g, h,
                           "{\"termsOfServiceAgreed\":true,"
                           "\"contact\":[\"mailto:evil@example.test\"]}",
                           &e),
                     -EPERM);
    /* Another key in the header. */
    assert_int_equal(
        check(&g,
              "{\"alg\":\"ES256\",\"nonce\":\"n\",\"url\":\"https://ca.test/a\","
              "\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"CCCC\",\"y\":\"BBBB\"}}",
              "{\"contact\":[\"mailto:ops@example.test\"]}", &e),
        -EPERM);
    assert_non_null(strstr(e.msg, "another key"));

    /* A contact update goes to the account URL only, with the keeper's contacts. */
    g.op = SIGN_GUARD_ACCOUNT_CONTACT;
    g.kid = ACCT;
    assert_int_equal(check(&g, hdr_kid(ACCT), "{\"contact\":[\"mailto:ops@example.test\"]}", &e),
                     0);
    assert_int_equal(check(&g, hdr_kid(ACCT), "{\"contact\":[]}", &e), -EPERM);
    assert_int_equal(check(&g, hdr_kid(ACCT),
                           "{\"contact\":[\"mailto:ops@example.test\"],\"status\":\"deactivated\"}",
                           &e),
                     -EPERM);
    assert_int_equal(check(&g, hdr_kid("https://ca.test/acct/9"),
                           "{\"contact\":[\"mailto:ops@example.test\"]}", &e),
                     -EPERM);
    json_decref(jwk);
}

static void test_challenge(void **state)
{
    struct sign_guard g = {
        .op = SIGN_GUARD_CHALLENGE, .alg = "ES256", .kid = ACCT, .url = "https://ca.test/chall/1"};
    struct err e = {0};

    (void)state;
    assert_int_equal(check(&g, hdr_kid("https://ca.test/chall/1"), "{}", &e), 0);
    assert_int_equal(check(&g, hdr_kid("https://ca.test/chall/2"), "{}", &e), -EPERM);
    assert_non_null(strstr(e.msg, "another URL"));
    assert_int_equal(check(&g, hdr_kid("https://ca.test/chall/1"), "{\"a\":1}", &e), -EPERM);
    assert_int_equal(check(&g, hdr_kid("https://ca.test/chall/1"), "", &e), -EPERM);
}

/* A rollover and a deactivation: only under the guard of the command that asked. */
static void test_key_change_and_deactivate(void **state)
{
    const char *inner_text = "{\"protected\":\"eyJqd2siOnt9fQ\",\"payload\":\"e30\","
                             "\"signature\":\"c2ln\"}";
    json_t *inner = json_loads(inner_text, 0, NULL);
    struct sign_guard g = {.op = SIGN_GUARD_KEY_CHANGE,
                           .alg = "ES256",
                           .kid = ACCT,
                           .url = "https://ca.test/key-change",
                           .inner = inner,
                           .reason = -1};
    struct err e = {0};

    (void)state;
    assert_non_null(inner);
    assert_int_equal(check(&g, hdr_kid("https://ca.test/key-change"), inner_text, &e), 0);
    /* Another inner JWS (another new key, another account): refused. */
    assert_int_equal(check(&g, hdr_kid("https://ca.test/key-change"),
                           "{\"protected\":\"eyJqd2siOnsieCI6MX19\",\"payload\":\"e30\","
                           "\"signature\":\"c2ln\"}",
                           &e),
                     -EPERM);
    assert_non_null(strstr(e.msg, "rollover"));
    assert_int_equal(check(&g, hdr_kid("https://ca.test/other"), inner_text, &e), -EPERM);
    /* Without that guard a rollover is refused, whatever else is in flight. */
    g.op = SIGN_GUARD_POST_AS_GET;
    g.url = NULL;
    assert_int_equal(check(&g, hdr_kid("https://ca.test/key-change"), inner_text, &e), -EPERM);

    g = (struct sign_guard){.op = SIGN_GUARD_DEACTIVATE, .alg = "ES256", .kid = ACCT, .reason = -1};
    assert_int_equal(check(&g, hdr_kid(ACCT), "{\"status\":\"deactivated\"}", &e), 0);
    assert_int_equal(
        check(&g, hdr_kid("https://ca.test/acct/9"), "{\"status\":\"deactivated\"}", &e), -EPERM);
    assert_int_equal(check(&g, hdr_kid(ACCT), "{\"status\":\"valid\"}", &e), -EPERM);
    assert_int_equal(check(&g, hdr_kid(ACCT), "{\"status\":\"deactivated\",\"contact\":[]}", &e),
                     -EPERM);
    json_decref(inner);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_as_get),
        cmocka_unit_test(test_new_order),
        cmocka_unit_test(test_finalize_and_revoke),
        cmocka_unit_test(test_account),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_key_change_and_deactivate),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
