/* Unit tests for privsep/keeper_sign: a real ES256 key signs what an in-flight operation
 * allows, and nothing else. */
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
#include "crypto/jwk.h"
#include "crypto/key.h"
#include "privsep/keeper_sign.h"

#define ACCT "https://ca.test/acct/1"

struct got {
    int calls, rc;
    uint8_t sig[512];
    size_t len;
};

static void on_sig(void *arg, int rc, const uint8_t *sig, size_t len, const struct err *e)
{
    struct got *g = arg;

    (void)e;
    g->calls++;
    g->rc = rc;
    if (rc == 0 && len <= sizeof g->sig) {
        memcpy(g->sig, sig, len);
        g->len = len;
    }
}

static char *input_of(const char *header, const char *payload)
{
    char *h = b64url_encode((const uint8_t *)header, strlen(header));
    char *p = b64url_encode((const uint8_t *)payload, strlen(payload));
    char *line = NULL;

    assert_true(asprintf(&line, "%s.%s", h, p) > 0);
    free(h);
    free(p);
    return line;
}

static void test_sign_and_refuse(void **state)
{
    struct key_spec spec = {.type = KEY_ECDSA, .size = 256};
    struct ckey *key = NULL;
    struct signer s;
    struct err e = {0};
    const char *names[] = {"a.example.test"};
    struct sign_guard read = {.op = SIGN_GUARD_POST_AS_GET, .alg = "ES256", .kid = ACCT};
    struct sign_guard order = {
        .op = SIGN_GUARD_NEW_ORDER, .alg = "ES256", .kid = ACCT, .names = names, .nnames = 1};
    const struct keeper_grant both[] = {{&read, &s}, {&order, &s}};
    const char *hdr = "{\"alg\":\"ES256\",\"nonce\":\"n\",\"url\":\"https://ca.test/new-order\","
                      "\"kid\":\"" ACCT "\"}";
    char *ok = input_of(hdr, "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example.test\"}]}");
    char *bad = input_of(hdr, "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"b.example.org\"}]}");
    struct got g = {0};
    json_t *jwk;

    (void)state;
    assert_int_equal(key_generate(&spec, &key, &e), 0);
    jws_signer_from_key(key, &s);
    jwk = jwk_public(key, &e);
    assert_non_null(jwk);

    /* The second guard allows it: signed, and the signature verifies. */
    assert_int_equal(keeper_sign_start(both, 2, ok, strlen(ok), on_sig, &g, &e), 0);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.rc, 0);
    assert_int_equal(jws_verify(jwk, "ES256", (const uint8_t *)ok, strlen(ok), g.sig, g.len, &e),
                     0);

    /* Another name: refused, the callback never runs, the refusal names the URL. */
    g.calls = 0;
    assert_int_equal(keeper_sign_start(both, 2, bad, strlen(bad), on_sig, &g, &e), -EPERM);
    assert_int_equal(g.calls, 0);
    assert_non_null(strstr(e.msg, "https://ca.test/new-order"));
    assert_non_null(strstr(e.msg, "an order for other names"));
    /* Nothing in flight: nothing signed. */
    assert_int_equal(keeper_sign_start(both, 0, ok, strlen(ok), on_sig, &g, &e), -EPERM);
    assert_non_null(strstr(e.msg, "no operation"));
    /* Not a signing input. */
    assert_int_equal(keeper_sign_start(both, 2, "!!.??", 5, on_sig, &g, &e), -EPROTO);
    assert_int_equal(g.calls, 0);

    json_decref(jwk);
    key_free(key);
    free(ok);
    free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_and_refuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
