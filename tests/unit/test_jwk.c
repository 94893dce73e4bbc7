/* Unit tests for crypto/jwk: public JWKs of keys, RFC 7638 thumbprints, member decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "crypto/jwk.h"
#include "crypto/key.h"

/* RFC 7638 §3.1: the example RSA key, its optional members and its published thumbprint. */
static const char rfc7638_jwk[] =
    "{\"kty\":\"RSA\","
    "\"n\":"
    "\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\","
    "\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";
#define RFC7638_THUMBPRINT "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

/* Thumbprints of the RFC 7515 A.3 and A.4 public keys, computed independently with Python:
 * sha256(json.dumps(members, sort_keys=True, separators=(',', ':'))) in base64url. */
#define A3_THUMBPRINT "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
#define A4_THUMBPRINT "u5YUSjQ2-2chBi51NSk3t3g7IM4o2KYcnPqPtCNGd3U"

static json_t *load_json(const char *rel)
{
    json_error_t jerr;
    size_t len;
    char *text = tu_read_data(rel, &len);
    json_t *j = json_loadb(text, len, 0, &jerr);

    free(text);
    assert_non_null(j);
    return j;
}

static struct ckey *load_jwk_key(const char *rel)
{
    struct ckey *key = NULL;
    struct err e = {0};
    size_t len;
    char *text = tu_read_data(rel, &len);

    assert_int_equal(jwk_to_key(text, &key, &e), 0);
    free(text);
    assert_non_null(key);
    return key;
}

static void test_rfc7638_thumbprint(void **state)
{
    json_error_t jerr;
    json_t *jwk = json_loads(rfc7638_jwk, 0, &jerr);
    struct err e = {0};
    char *tp = NULL;

    assert_non_null(jwk);
    assert_int_equal(jwk_thumbprint(jwk, &tp, &e), 0);
    assert_string_equal(tp, RFC7638_THUMBPRINT);
    free(tp);
    /* Optional members do not enter the hash; changing a required one does. */
    json_object_del(jwk, "alg");
    json_object_del(jwk, "kid");
    json_object_set_new(jwk, "use", json_string("sig"));
    assert_int_equal(jwk_thumbprint(jwk, &tp, &e), 0);
    assert_string_equal(tp, RFC7638_THUMBPRINT);
    free(tp);
    json_object_set_new(jwk, "e", json_string("AQAC"));
    assert_int_equal(jwk_thumbprint(jwk, &tp, &e), 0);
    assert_string_not_equal(tp, RFC7638_THUMBPRINT);
    free(tp);
    json_decref(jwk);
}

/* The public JWK of an imported EC key carries exactly the coordinates it was imported from.
 * A.4's P-521 y starts with a zero byte, so this also checks the padding to 66 bytes. */
static void check_ec_round_trip(const char *rel, const char *crv, const char *thumbprint)
{
    json_t *priv = load_json(rel);
    struct ckey *key = load_jwk_key(rel);
    struct err e = {0};
    json_t *pub, *want;
    char *tp = NULL, *text;

    pub = jwk_public(key, &e);
    assert_non_null(pub);
    want = json_pack("{s:s, s:s, s:O, s:O}", "crv", crv, "kty", "EC", "x",
                     json_object_get(priv, "x"), "y", json_object_get(priv, "y"));
    assert_true(json_equal(pub, want));
    /* Members in lexicographic order, as the header documents. */
    text = json_dumps(pub, JSON_COMPACT);
    assert_non_null(strstr(text, "{\"crv\":\""));
    assert_true(strstr(text, "\"kty\"") < strstr(text, "\"x\""));
    assert_true(strstr(text, "\"x\"") < strstr(text, "\"y\""));
    free(text);
    assert_int_equal(jwk_thumbprint(pub, &tp, &e), 0);
    assert_string_equal(tp, thumbprint);
    free(tp);
    assert_int_equal(jwk_key_thumbprint(key, &tp, &e), 0);
    assert_string_equal(tp, thumbprint);
    free(tp);
    json_decref(want);
    json_decref(pub);
    json_decref(priv);
    key_free(key);
}

static void test_ec_p256_round_trip(void **state)
{
    check_ec_round_trip("jws/rfc7515_a3_p256.json", "P-256", A3_THUMBPRINT);
}

static void test_ec_p521_round_trip(void **state)
{
    check_ec_round_trip("jws/rfc7515_a4_p521.json", "P-521", A4_THUMBPRINT);
}

static void test_rsa_round_trip(void **state)
{
    json_t *priv = load_json("jws/rfc7515_a2_rsa.json");
    struct ckey *key = load_jwk_key("jws/rfc7515_a2_rsa.json");
    struct err e = {0};
    json_t *pub, *want;

    assert_int_equal(key_get_type(key), KEY_RSA);
    assert_int_equal(key_get_size(key), 2048);
    pub = jwk_public(key, &e);
    assert_non_null(pub);
    want = json_pack("{s:O, s:s, s:O}", "e", json_object_get(priv, "e"), "kty", "RSA", "n",
                     json_object_get(priv, "n"));
    assert_true(json_equal(pub, want));
    json_decref(want);
    json_decref(pub);
    json_decref(priv);
    key_free(key);
}

/* Generated keys of every size give a well-formed JWK: coordinates always full size. Half of
 * all P-521 coordinates have a zero top byte, so eight keys of each size check the padding of
 * x and y with near certainty. */
static void test_generated_ec_sizes(void **state)
{
    static const struct {
        int size;
        size_t bytes;
    } cases[] = {{256, 32}, {384, 48}, {521, 66}};

    for (size_t i = 0; i < 3 * 8; i++) {
        struct key_spec spec = {KEY_ECDSA, cases[i % 3].size};
        struct ckey *key = NULL;
        struct err e = {0};
        uint8_t *x = NULL, *y = NULL;
        size_t xl, yl;
        json_t *pub;

        assert_int_equal(key_generate(&spec, &key, &e), 0);
        pub = jwk_public(key, &e);
        assert_non_null(pub);
        assert_int_equal(jwk_get_bytes(pub, "x", &x, &xl, &e), 0);
        assert_int_equal(jwk_get_bytes(pub, "y", &y, &yl, &e), 0);
        assert_int_equal(xl, cases[i % 3].bytes);
        assert_int_equal(yl, cases[i % 3].bytes);
        free(x);
        free(y);
        json_decref(pub);
        key_free(key);
    }
}

static void test_thumbprint_errors(void **state)
{
    static const char *const bad[] = {
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"
        "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
        "{\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"}",
        "{\"kty\":\"RSA\",\"n\":\"AA\",\"e\":65537}",
        "{\"kty\":7}",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t jerr;
        json_t *jwk = json_loads(bad[i], 0, &jerr);
        struct err e = {0};
        char *tp = (char *)"untouched";

        assert_non_null(jwk);
        assert_int_equal(jwk_thumbprint(jwk, &tp, &e), -EINVAL);
        assert_null(tp);
        assert_int_equal(e.code, -EINVAL);
        assert_true(strlen(e.msg) > 0);
        json_decref(jwk);
    }
}

static void test_unsupported_jwk_import(void **state)
{
    static const char *const bad[] = {
        "{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
        "1qS0gZH75aKtMN3Yj0iPS4"
        "hcgUuTwjAzZr1Z9CAow\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-192\",\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}",
        "{\"kty\":\"RSA\",\"n\":\"AA\",\"e\":\"AQAB\"}",
        "[1,2]",
        "not json",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ckey *key = NULL;
        struct err e = {0};

        assert_true(jwk_to_key(bad[i], &key, &e) < 0);
        assert_null(key);
        assert_true(strlen(e.msg) > 0);
    }
}

/* An EC JWK whose d does not belong to its x and y is refused. */
static void test_mismatched_ec_jwk(void **state)
{
    json_t *jwk = load_json("jws/rfc7515_a3_p256.json");
    struct ckey *key = NULL;
    struct err e = {0};
    char *text;

    json_object_set_new(jwk, "d", json_string("AY5pb7A0UFiB3RELSD64fTLOSV_jazdF7fLYyuTw8lM"));
    text = json_dumps(jwk, JSON_COMPACT);
    assert_true(jwk_to_key(text, &key, &e) < 0);
    assert_null(key);
    free(text);
    json_decref(jwk);
}

static void test_get_bytes(void **state)
{
    json_error_t jerr;
    json_t *jwk = json_loads("{\"a\":\"Zm9v\",\"b\":3,\"c\":\"Zm9v=\",\"d\":\"\"}", 0, &jerr);
    struct err e = {0};
    uint8_t *out = NULL;
    size_t len = 99;

    assert_int_equal(jwk_get_bytes(jwk, "a", &out, &len, &e), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "foo", 3);
    free(out);
    assert_int_equal(jwk_get_bytes(jwk, "missing", &out, &len, &e), -ENOENT);
    assert_null(out);
    assert_non_null(strstr(e.msg, "missing"));
    assert_int_equal(jwk_get_bytes(jwk, "b", &out, &len, &e), -EINVAL);
    assert_int_equal(jwk_get_bytes(jwk, "c", &out, &len, &e), -EINVAL);
    assert_null(out);
    assert_int_equal(jwk_get_bytes(jwk, "d", &out, &len, &e), 0);
    assert_int_equal(len, 0);
    free(out);
    json_decref(jwk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7638_thumbprint),
        cmocka_unit_test(test_ec_p256_round_trip),
        cmocka_unit_test(test_ec_p521_round_trip),
        cmocka_unit_test(test_rsa_round_trip),
        cmocka_unit_test(test_generated_ec_sizes),
        cmocka_unit_test(test_thumbprint_errors),
        cmocka_unit_test(test_unsupported_jwk_import),
        cmocka_unit_test(test_mismatched_ec_jwk),
        cmocka_unit_test(test_get_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
