/* Unit tests for crypto/jws: RFC 7515 appendix A vectors, HS256, ACME headers, flattened JWS. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "crypto/b64.h"
#include "crypto/jwk.h"
#include "crypto/jws.h"
#include "crypto/key.h"

/* RFC 7515 appendix A: signing inputs and signatures (base64url), keys in tests/data/jws. */
#define RFC_PAYLOAD                                                                                \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl" \
    "fQ"
static const char a1_input[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." RFC_PAYLOAD;
static const char a1_key[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char a1_sig[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char a2_input[] = "eyJhbGciOiJSUzI1NiJ9." RFC_PAYLOAD;
static const char a2_sig[] =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
    "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb"
    "1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QO"
    "YEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
static const char a3_input[] = "eyJhbGciOiJFUzI1NiJ9." RFC_PAYLOAD;
static const char a3_sig[] =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
static const char a4_input[] = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA";
static const char a4_sig[] =
    "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8G"
    "aSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";

static struct ckey *load_jwk_key(const char *rel)
{
    struct ckey *key = NULL;
    struct err e = {0};
    size_t len;
    char *text = tu_read_data(rel, &len);

    if (jwk_to_key(text, &key, &e) < 0)
        fail_msg("%s: %s", rel, err_msg(&e));
    free(text);
    return key;
}

static uint8_t *unb64(const char *s, size_t *len)
{
    uint8_t *out = NULL;

    assert_int_equal(b64url_decode(s, strlen(s), &out, len), 0);
    return out;
}

static int verify(json_t *jwk, const char *alg, const char *input, const uint8_t *sig,
                  size_t siglen)
{
    struct err e = {0};

    return jws_verify(jwk, alg, (const uint8_t *)input, strlen(input), sig, siglen, &e);
}

/* What a signer delivered to its callback. */
struct got_sig {
    int calls, rc;
    uint8_t *sig;
    size_t len;
};

static void on_got_sig(void *arg, int rc, const uint8_t *sig, size_t siglen, const struct err *e)
{
    struct got_sig *g = arg;

    g->calls++;
    g->rc = rc;
    if (rc == 0) {
        g->sig = malloc(siglen ? siglen : 1);
        memcpy(g->sig, sig, siglen);
        g->len = siglen;
    }
}

/* Signs through the asynchronous interface; local signers answer inside the call. */
static int sign_now(struct signer *s, const char *data, uint8_t **sig, size_t *len)
{
    struct got_sig g = {0};
    struct err e = {0};
    int rc = signer_sign(s, (const uint8_t *)data, strlen(data), on_got_sig, &g, &e);

    assert_int_equal(g.calls, rc == 0 ? 1 : 0);
    *sig = g.sig;
    *len = g.len;
    return rc < 0 ? rc : g.rc;
}

/* The RFC's own signature verifies, one flipped bit in the signature or the input does not,
 * and a signature of ours over the same input verifies too. */
static void check_rfc_vector(const char *keyfile, const char *alg, const char *input,
                             const char *sig_b64, size_t want_siglen)
{
    struct ckey *key = load_jwk_key(keyfile);
    struct signer s;
    struct err e = {0};
    uint8_t *sig, *ours = NULL;
    size_t siglen, ourlen;
    char *bad_input;
    json_t *pub;

    jws_signer_from_key(key, &s);
    assert_string_equal(s.alg, alg);
    pub = s.jwk(s.ctx, &e);
    assert_non_null(pub);
    sig = unb64(sig_b64, &siglen);
    assert_int_equal(siglen, want_siglen);
    assert_int_equal(verify(pub, alg, input, sig, siglen), 0);

    sig[siglen / 3] ^= 0x10;
    assert_int_equal(verify(pub, alg, input, sig, siglen), -EBADMSG);
    sig[siglen / 3] ^= 0x10;
    bad_input = strdup(input);
    bad_input[strlen(bad_input) - 1] ^= 0x01;
    assert_int_equal(verify(pub, alg, bad_input, sig, siglen), -EBADMSG);
    free(bad_input);
    assert_int_equal(verify(pub, alg, input, sig, siglen - 1), -EBADMSG);

    assert_int_equal(sign_now(&s, input, &ours, &ourlen), 0);
    assert_int_equal(ourlen, want_siglen);
    assert_int_equal(verify(pub, alg, input, ours, ourlen), 0);
    ours[0] ^= 0x80;
    assert_int_equal(verify(pub, alg, input, ours, ourlen), -EBADMSG);
    ours[0] ^= 0x80;
    /* RS256 is deterministic: ours must be the RFC's, byte for byte. */
    if (strcmp(alg, "RS256") == 0)
        assert_memory_equal(ours, sig, siglen);

    free(ours);
    free(sig);
    json_decref(pub);
    key_free(key);
}

static void test_rfc7515_a2_rs256(void **state)
{
    check_rfc_vector("jws/rfc7515_a2_rsa.json", "RS256", a2_input, a2_sig, 256);
}

static void test_rfc7515_a3_es256(void **state)
{
    check_rfc_vector("jws/rfc7515_a3_p256.json", "ES256", a3_input, a3_sig, 64);
}

static void test_rfc7515_a4_es512(void **state)
{
    check_rfc_vector("jws/rfc7515_a4_p521.json", "ES512", a4_input, a4_sig, 132);
}

/* The algorithm must match the key: a P-256 key cannot check ES384, RS256 or "none". */
static void test_verify_alg_mismatch(void **state)
{
    struct ckey *key = load_jwk_key("jws/rfc7515_a3_p256.json");
    struct err e = {0};
    json_t *pub = jwk_public(key, &e);
    size_t siglen;
    uint8_t *sig = unb64(a3_sig, &siglen);

    assert_int_equal(verify(pub, "ES384", a3_input, sig, siglen), -EINVAL);
    assert_int_equal(verify(pub, "RS256", a3_input, sig, siglen), -EINVAL);
    assert_int_equal(verify(pub, "none", a3_input, sig, siglen), -ENOTSUP);
    assert_int_equal(verify(pub, "HS256", a3_input, sig, siglen), -ENOTSUP);
    assert_int_equal(verify(pub, NULL, a3_input, sig, siglen), -ENOTSUP);
    free(sig);
    json_decref(pub);
    key_free(key);
}

static void test_hs256(void **state)
{
    /* RFC 4231 test case 2. */
    static const uint8_t tc2[32] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
        0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
        0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
    };
    static const char data[] = "what do ya want for nothing?";
    struct hmac_key jefe = {(const uint8_t *)"Jefe", 4}, rfc;
    struct signer s;
    struct err e = {0};
    uint8_t *mac = NULL, *k, *want;
    size_t len, klen, wantlen;

    jws_signer_hmac(&jefe, &s);
    assert_string_equal(s.alg, "HS256");
    assert_null(s.jwk(s.ctx, &e));
    assert_int_equal(sign_now(&s, data, &mac, &len), 0);
    assert_int_equal(len, 32);
    assert_memory_equal(mac, tc2, 32);
    free(mac);

    /* RFC 7515 appendix A.1. */
    k = unb64(a1_key, &klen);
    want = unb64(a1_sig, &wantlen);
    rfc.key = k;
    rfc.len = klen;
    jws_signer_hmac(&rfc, &s);
    assert_int_equal(sign_now(&s, a1_input, &mac, &len), 0);
    assert_int_equal(len, wantlen);
    assert_memory_equal(mac, want, len);
    free(mac);
    free(want);
    free(k);
}

/* Parses a flattened JWS and returns its decoded protected header; checks the members. */
static json_t *open_jws(const char *text, const char *want_payload)
{
    json_error_t jerr;
    json_t *jws = json_loads(text, 0, &jerr), *hdr;
    const char *prot, *pay;
    uint8_t *raw;
    size_t len;

    assert_non_null(jws);
    assert_int_equal(json_object_size(jws), 3);
    prot = json_string_value(json_object_get(jws, "protected"));
    pay = json_string_value(json_object_get(jws, "payload"));
    assert_non_null(prot);
    assert_non_null(pay);
    assert_true(json_is_string(json_object_get(jws, "signature")));
    raw = unb64(pay, &len);
    assert_int_equal(len, strlen(want_payload));
    assert_memory_equal(raw, want_payload, len);
    free(raw);
    raw = unb64(prot, &len);
    hdr = json_loadb((const char *)raw, len, 0, &jerr);
    assert_non_null(hdr);
    free(raw);
    json_decref(jws);
    return hdr;
}

static void test_sign_acme_headers(void **state)
{
    struct ckey *key = load_jwk_key("jws/rfc7515_a3_p256.json");
    struct signer s;
    struct err e = {0};
    char *out = NULL;
    json_t *hdr, *pub;

    jws_signer_from_key(key, &s);
    pub = jwk_public(key, &e);

    /* No kid: the public JWK goes in the header (newAccount). */
    assert_int_equal(jws_sign_acme(&s, NULL, "nonce-1", "https://ca.test/new-acct",
                                   "{\"termsOfServiceAgreed\":true}", &out, &e),
                     0);
    hdr = open_jws(out, "{\"termsOfServiceAgreed\":true}");
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(hdr, "nonce")), "nonce-1");
    assert_string_equal(json_string_value(json_object_get(hdr, "url")), "https://ca.test/new-acct");
    assert_true(json_equal(json_object_get(hdr, "jwk"), pub));
    assert_null(json_object_get(hdr, "kid"));
    assert_int_equal(json_object_size(hdr), 4);
    assert_int_equal(jws_verify_flattened(out, pub, &e), 0);
    json_decref(hdr);
    free(out);

    /* A kid replaces the jwk; POST-as-GET has an empty payload. */
    assert_int_equal(jws_sign_acme(&s, "https://ca.test/acct/1", "nonce-2",
                                   "https://ca.test/order/7", "", &out, &e),
                     0);
    assert_non_null(strstr(out, "\"payload\":\"\""));
    hdr = open_jws(out, "");
    assert_string_equal(json_string_value(json_object_get(hdr, "kid")), "https://ca.test/acct/1");
    assert_null(json_object_get(hdr, "jwk"));
    assert_int_equal(json_object_size(hdr), 4);
    assert_int_equal(jws_verify_flattened(out, pub, &e), 0);
    json_decref(hdr);
    free(out);

    /* No nonce (the inner JWS of external account binding). */
    assert_int_equal(jws_sign_acme(&s, "kid-1", NULL, "https://ca.test/x", "{}", &out, &e), 0);
    hdr = open_jws(out, "{}");
    assert_null(json_object_get(hdr, "nonce"));
    json_decref(hdr);
    free(out);

    json_decref(pub);
    key_free(key);
}

/* jws_sign keeps the caller's members, forces "alg" and leaves the caller's object alone. */
static void test_sign_protected_copy(void **state)
{
    struct hmac_key mac = {(const uint8_t *)"0123456789abcdef0123456789abcdef", 32};
    json_t *given = json_pack("{s:s, s:s}", "alg", "none", "url", "https://ca.test/x");
    struct signer s;
    struct err e = {0};
    char *out = NULL;
    json_t *hdr;

    jws_signer_hmac(&mac, &s);
    assert_int_equal(jws_sign(&s, given, "{}", &out, &e), 0);
    hdr = open_jws(out, "{}");
    assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "HS256");
    assert_string_equal(json_string_value(json_object_get(hdr, "url")), "https://ca.test/x");
    assert_string_equal(json_string_value(json_object_get(given, "alg")), "none");
    json_decref(hdr);
    free(out);

    /* An HMAC signer has no JWK, so it needs a kid. */
    assert_true(jws_sign_acme(&s, NULL, "n", "https://ca.test/x", "{}", &out, &e) < 0);
    assert_null(out);
    assert_true(strlen(e.msg) > 0);
    assert_int_equal(jws_sign_acme(&s, "eab-kid", NULL, "https://ca.test/x", "{}", &out, &e), 0);
    free(out);
    json_decref(given);
}

/* Flips one character of the named member of a flattened JWS to another base64url one. */
static char *tamper(const char *text, const char *member)
{
    json_error_t jerr;
    json_t *jws = json_loads(text, 0, &jerr);
    char *v = strdup(json_string_value(json_object_get(jws, member))), *out;

    v[0] = v[0] == 'A' ? 'B' : 'A';
    json_object_set_new(jws, member, json_string(v));
    out = json_dumps(jws, JSON_COMPACT);
    free(v);
    json_decref(jws);
    return out;
}

static void check_flattened(struct ckey *key, const char *alg)
{
    struct ckey *other = load_jwk_key("jws/rfc7515_a3_p256.json");
    struct signer s;
    struct err e = {0};
    json_t *pub, *other_pub;
    char *out = NULL, *bad;

    jws_signer_from_key(key, &s);
    assert_string_equal(s.alg, alg);
    pub = jwk_public(key, &e);
    other_pub = jwk_public(other, &e);
    assert_int_equal(jws_sign_acme(&s, NULL, "nonce", "https://ca.test/", "{\"x\":1}", &out, &e),
                     0);
    assert_int_equal(jws_verify_flattened(out, pub, &e), 0);
    /* Someone else's key: a bad signature for ES256, the wrong kind of key otherwise. */
    assert_int_equal(jws_verify_flattened(out, other_pub, &e),
                     strcmp(alg, "ES256") == 0 ? -EBADMSG : -EINVAL);
    bad = tamper(out, "payload");
    assert_int_equal(jws_verify_flattened(bad, pub, &e), -EBADMSG);
    free(bad);
    bad = tamper(out, "protected");
    assert_true(jws_verify_flattened(bad, pub, &e) < 0);
    free(bad);
    bad = tamper(out, "signature");
    assert_int_equal(jws_verify_flattened(bad, pub, &e), -EBADMSG);
    free(bad);
    free(out);
    json_decref(pub);
    json_decref(other_pub);
    key_free(other);
}

static void test_verify_flattened_all_algs(void **state)
{
    static const int curves[] = {256, 384, 521};
    static const char *const algs[] = {"ES256", "ES384", "ES512"};
    struct ckey *key;

    for (size_t i = 0; i < 3; i++) {
        struct key_spec spec = {KEY_ECDSA, curves[i]};
        struct err e = {0};

        assert_int_equal(key_generate(&spec, &key, &e), 0);
        check_flattened(key, algs[i]);
        key_free(key);
    }
    key = load_jwk_key("jws/rfc7515_a2_rsa.json");
    check_flattened(key, "RS256");
    key_free(key);
}

/* Another key of the same kind does not verify, and malformed JWS texts are refused. */
static void test_verify_flattened_errors(void **state)
{
    struct key_spec spec = {KEY_ECDSA, 256};
    struct ckey *a = NULL, *b = NULL;
    struct signer s;
    struct err e = {0};
    json_t *pub_b;
    char *out = NULL;

    assert_int_equal(key_generate(&spec, &a, &e), 0);
    assert_int_equal(key_generate(&spec, &b, &e), 0);
    jws_signer_from_key(a, &s);
    pub_b = jwk_public(b, &e);
    assert_int_equal(jws_sign_acme(&s, "k", "n", "https://ca.test/", "{}", &out, &e), 0);
    assert_int_equal(jws_verify_flattened(out, pub_b, &e), -EBADMSG);
    assert_int_equal(jws_verify_flattened("not json", pub_b, &e), -EINVAL);
    assert_int_equal(jws_verify_flattened("{\"protected\":\"e30\",\"payload\":\"\"}", pub_b, &e),
                     -EINVAL);
    /* "e30" is "{}": a header without "alg". */
    assert_int_equal(jws_verify_flattened(
                         "{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"\"}", pub_b, &e),
                     -EINVAL);
    assert_int_equal(jws_verify_flattened(
                         "{\"protected\":\"e30=\",\"payload\":\"\",\"signature\":\"\"}", pub_b, &e),
                     -EINVAL);
    free(out);
    json_decref(pub_b);
    key_free(a);
    key_free(b);
}

/* A signer that answers later, as a remote one does: it keeps the request and a local key
 * signs it when the test says so. */
struct deferred {
    struct signer inner;
    uint8_t *data;
    size_t len;
    signer_cb cb;
    void *arg;
};

static json_t *deferred_jwk(void *ctx, struct err *e)
{
    struct deferred *d = ctx;

    return d->inner.jwk(d->inner.ctx, e);
}

static int deferred_sign(void *ctx, const uint8_t *data, size_t len, signer_cb cb, void *arg,
                         struct err *e)
{
    struct deferred *d = ctx;

    d->data = malloc(len);
    memcpy(d->data, data, len);
    d->len = len;
    d->cb = cb;
    d->arg = arg;
    return 0;
}

static void deferred_answer(struct deferred *d, int refuse)
{
    struct err e = {0};

    if (refuse) {
        err_set(&e, -EPERM, "signer test: refused");
        d->cb(d->arg, -EPERM, NULL, 0, &e);
    } else {
        assert_int_equal(signer_sign(&d->inner, d->data, d->len, d->cb, d->arg, &e), 0);
    }
    free(d->data);
    d->data = NULL;
}

struct got_jws {
    int calls, rc;
    char *text;
    char msg[256];
};

static void on_got_jws(void *arg, int rc, const char *jws, const struct err *e)
{
    struct got_jws *g = arg;

    g->calls++;
    g->rc = rc;
    if (rc == 0)
        g->text = strdup(jws);
    else
        snprintf(g->msg, sizeof g->msg, "%s", err_msg(e));
}

/* The callback runs when the signer answers, not before; a refusal carries the signer's
 * message; the synchronous form gives up on a late signer and its late answer is harmless. */
static void test_sign_deferred(void **state)
{
    struct ckey *key = load_jwk_key("jws/rfc7515_a3_p256.json");
    struct deferred d = {0};
    struct signer s = {.jwk = deferred_jwk, .sign = deferred_sign, .ctx = &d};
    struct got_jws g = {0};
    struct err e = {0};
    json_t *pub;
    char *out = NULL;

    jws_signer_from_key(key, &d.inner);
    s.alg = d.inner.alg;
    pub = d.inner.jwk(d.inner.ctx, &e);
    assert_int_equal(
        jws_sign_acme_start(&s, NULL, "n1", "https://ca.test/x", "{}", on_got_jws, &g, &e), 0);
    assert_int_equal(g.calls, 0);
    deferred_answer(&d, 0);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.rc, 0);
    assert_int_equal(jws_verify_flattened(g.text, pub, &e), 0);
    free(g.text);

    memset(&g, 0, sizeof g);
    assert_int_equal(
        jws_sign_acme_start(&s, "kid", "n2", "https://ca.test/x", "{}", on_got_jws, &g, &e), 0);
    deferred_answer(&d, 1);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.rc, -EPERM);
    assert_non_null(strstr(g.msg, "refused"));

    assert_int_equal(jws_sign_acme(&s, "kid", "n3", "https://ca.test/x", "{}", &out, &e),
                     -EWOULDBLOCK);
    assert_null(out);
    deferred_answer(&d, 0); /* frees the abandoned box (ASan would see a leak or a UAF) */

    json_decref(pub);
    key_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a2_rs256),
        cmocka_unit_test(test_rfc7515_a3_es256),
        cmocka_unit_test(test_rfc7515_a4_es512),
        cmocka_unit_test(test_verify_alg_mismatch),
        cmocka_unit_test(test_hs256),
        cmocka_unit_test(test_sign_acme_headers),
        cmocka_unit_test(test_sign_protected_copy),
        cmocka_unit_test(test_verify_flattened_all_algs),
        cmocka_unit_test(test_verify_flattened_errors),
        cmocka_unit_test(test_sign_deferred),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
