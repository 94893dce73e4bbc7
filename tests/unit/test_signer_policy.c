/* Unit tests for signer/signer_policy: what `acmed signer` agrees to sign. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/b64.h"
#include "signer/signer_policy.h"

#define ACCT "https://ca.test/acme/acct/7"
#define NEW_ORDER "https://ca.test/acme/new-order"

/* Parses a request made of a header with kid (or jwk when kid is NULL) and a payload. */
static void make(struct signer_request *r, const char *alg, const char *url, const char *kid,
                 const char *payload)
{
    char *hdr, *h, *p, *line;
    struct err e = {0};

    if (kid)
        assert_true(asprintf(&hdr, "{\"alg\":\"%s\",\"nonce\":\"n\",\"url\":\"%s\",\"kid\":\"%s\"}",
                             alg, url, kid) > 0);
    else
        assert_true(
            asprintf(&hdr,
                     "{\"alg\":\"%s\",\"nonce\":\"n\",\"url\":\"%s\",\"jwk\":{\"kty\":\"EC\"}}",
                     alg, url) > 0);
    h = b64url_encode(hdr, strlen(hdr));
    p = b64url_encode(payload, strlen(payload));
    assert_true(asprintf(&line, "%s.%s", h, p) > 0);
    assert_int_equal(signer_proto_request_parse(line, strlen(line), r, &e), 0);
    free(hdr);
    free(h);
    free(p);
    free(line);
}

static int check(const struct signer_policy *p, const char *url, const char *kid,
                 const char *payload, char *why)
{
    struct signer_request r;
    struct err e = {0};
    int rc;

    make(&r, "ES256", url, kid, payload);
    rc = signer_policy_check(p, &r, &e);
    if (why)
        snprintf(why, ERR_MSG_MAX, "%s", e.msg);
    signer_request_clear(&r);
    return rc;
}

static const char order_ok[] = "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.test\"},"
                               "{\"type\":\"dns\",\"value\":\"B.Example.Test\"}]}";
static const char order_bad[] = "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.test\"},"
                                "{\"type\":\"dns\",\"value\":\"b.example.org\"}]}";

static void test_names(void **state)
{
    const char *globs[] = {"*.example.test"};
    struct signer_policy p = {.alg = "ES256", .name_glob = globs, .n_name = 1};
    char why[ERR_MSG_MAX];

    assert_int_equal(check(&p, NEW_ORDER, ACCT, order_ok, NULL), 0);
    assert_int_equal(check(&p, NEW_ORDER, ACCT, order_bad, why), -EPERM);
    assert_non_null(strstr(why, "b.example.org"));
    /* one label only: a deeper name, or the apex, is not covered */
    assert_int_equal(check(&p, NEW_ORDER, ACCT,
                           "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"x.a.example.test\"}]}",
                           NULL),
                     -EPERM);
    assert_int_equal(check(&p, NEW_ORDER, ACCT,
                           "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"example.test\"}]}",
                           NULL),
                     -EPERM);
    /* newAuthz's single identifier */
    assert_int_equal(check(&p, "https://ca.test/acme/new-authz", ACCT,
                           "{\"identifier\":{\"type\":\"dns\",\"value\":\"evil.test\"}}", NULL),
                     -EPERM);
    assert_int_equal(check(&p, "https://ca.test/acme/new-authz", ACCT,
                           "{\"identifier\":{\"type\":\"dns\",\"value\":\"w.example.test\"}}",
                           NULL),
                     0);
    /* malformed identifiers are refused, not skipped */
    assert_int_equal(check(&p, NEW_ORDER, ACCT, "{\"identifiers\":{\"value\":\"x\"}}", NULL),
                     -EPERM);
    assert_int_equal(check(&p, NEW_ORDER, ACCT, "{\"identifiers\":[{\"type\":\"dns\"}]}", NULL),
                     -EPERM);
    assert_int_equal(
        check(&p, NEW_ORDER, ACCT,
              "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.test\\u0000.evil\"}]}",
              NULL),
        -EPERM);
    /* POST-as-GET and other requests naming no host pass */
    assert_int_equal(check(&p, "https://ca.test/acme/order/1", ACCT, "", NULL), 0);
    assert_int_equal(check(&p, "https://ca.test/acme/chall/1", ACCT, "{}", NULL), 0);
    /* without --allow-name any host goes */
    p.n_name = 0;
    assert_int_equal(check(&p, NEW_ORDER, ACCT, order_bad, NULL), 0);
}

static void test_urls(void **state)
{
    const char *prefixes[] = {"https://ca.test/acme/", "https://other.test/dir/"};
    struct signer_policy p = {.alg = "ES256", .url_prefix = prefixes, .n_url = 2};
    char why[ERR_MSG_MAX];

    assert_int_equal(check(&p, NEW_ORDER, ACCT, "{}", NULL), 0);
    assert_int_equal(check(&p, "https://other.test/dir/x", ACCT, "{}", NULL), 0);
    assert_int_equal(check(&p, "https://evil.test/acme/new-order", ACCT, "{}", why), -EPERM);
    assert_non_null(strstr(why, "evil.test"));
    assert_int_equal(check(&p, "https://ca.test/acm", ACCT, "{}", NULL), -EPERM);
    p.n_url = 0;
    assert_int_equal(check(&p, "https://evil.test/acme/new-order", ACCT, "{}", NULL), 0);
}

static void test_account_changes(void **state)
{
    struct signer_policy p = {.alg = "ES256"};
    const char *keychange = "{\"protected\":\"e30\",\"payload\":\"e30\",\"signature\":\"AA\"}";
    char why[ERR_MSG_MAX];

    assert_int_equal(check(&p, "https://ca.test/acme/key-change", ACCT, keychange, why), -EPERM);
    assert_non_null(strstr(why, "--allow-account-change"));
    assert_int_equal(check(&p, ACCT, ACCT, "{\"status\":\"deactivated\"}", NULL), -EPERM);
    assert_int_equal(check(&p, ACCT, ACCT, "{\"contact\":[\"mailto:x@example.test\"]}", NULL),
                     -EPERM);
    /* reading the account, or registering one with a contact, is no change */
    assert_int_equal(check(&p, ACCT, ACCT, "", NULL), 0);
    assert_int_equal(check(&p, ACCT, ACCT, "{}", NULL), 0);
    assert_int_equal(
        check(&p, "https://ca.test/acme/new-acct", NULL,
              "{\"contact\":[\"mailto:x@example.test\"],\"termsOfServiceAgreed\":true}", NULL),
        0);
    /* deactivating an authorization is not the account */
    assert_int_equal(
        check(&p, "https://ca.test/acme/authz/1", ACCT, "{\"status\":\"deactivated\"}", NULL), 0);
    p.account_change = true;
    assert_int_equal(check(&p, "https://ca.test/acme/key-change", ACCT, keychange, NULL), 0);
    assert_int_equal(check(&p, ACCT, ACCT, "{\"status\":\"deactivated\"}", NULL), 0);
}

static void test_payload_and_alg(void **state)
{
    struct signer_policy p = {.alg = "ES256"};
    struct signer_request r;
    struct err e = {0};

    assert_int_equal(check(&p, NEW_ORDER, ACCT, "not json", NULL), -EPERM);
    assert_int_equal(check(&p, NEW_ORDER, ACCT, "[1]", NULL), -EPERM);
    make(&r, "RS256", NEW_ORDER, ACCT, "{}");
    assert_int_equal(signer_policy_check(&p, &r, &e), -EPERM);
    assert_non_null(strstr(e.msg, "RS256"));
    signer_request_clear(&r);
}

static void test_identifiers_text(void **state)
{
    struct signer_request r;
    char out[64], tiny[12];

    make(&r, "ES256", NEW_ORDER, ACCT, order_bad);
    assert_string_equal(signer_policy_identifiers(&r, out, sizeof out),
                        "a.example.test,b.example.org");
    assert_string_equal(signer_policy_identifiers(&r, tiny, sizeof tiny), "a.exampl...");
    signer_request_clear(&r);
    make(&r, "ES256", NEW_ORDER, ACCT, "");
    assert_string_equal(signer_policy_identifiers(&r, out, sizeof out), "-");
    signer_request_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_account_changes),
        cmocka_unit_test(test_payload_and_alg),
        cmocka_unit_test(test_identifiers_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
