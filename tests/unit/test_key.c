/* Unit tests for crypto/key: specs, generation (sync and on the thread pool), PEM in and out,
 * key ids and signature sizes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <uv.h>

#include "common/testutil.h"
#include "crypto/b64.h"
#include "crypto/jwk.h"
#include "crypto/jws.h"
#include "crypto/key.h"

/* RFC 7515 A.3's P-256 key as unencrypted PKCS#8 (checked with `openssl pkey -text`: the
 * private scalar is 8e:9b:10:..., the JWK's "d"). */
static const char a3_pkcs8[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjpsQnnGQmL+YBIff\n"
                               "H1136cspYG6+0iY7X1fCE9+E9LKhRANCAAR/zc4ncPbEXUGDy+5v20t7WAczNXvp\n"
                               "7xO6z248e9FURcfxRM0bvZt+hyzf7bnuufSzaV1uqQskrYpGIyiFiOWt\n"
                               "-----END PRIVATE KEY-----\n";

/* Keys we must refuse, made with openssl: a P-224 key, an Ed25519 key, a 1024-bit RSA key and
 * a password-protected PKCS#8 key. */
static const char p224_pem[] = "-----BEGIN EC PRIVATE KEY-----\n"
                               "MGgCAQEEHEsHJQRrjntze2svKacghKPcnGRH6fcI4u+v6PigBwYFK4EEACGhPAM6\n"
                               "AAQtnX1USbRRAUukdkmdsl8xlh/0YSy1+cl4er6D4CWf+TRbvGLspuk93wimMuQY\n"
                               "Bcuze5YjfinZ6Q==\n"
                               "-----END EC PRIVATE KEY-----\n";
static const char ed25519_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEINojo1EblgDFJy7KNkht0Fm9HBvrcVPe08geWOVSFwDe\n"
    "-----END PRIVATE KEY-----\n";
static const char rsa1024_pem[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXQIBAAKBgQDHRYnKxFiyDXgC44dZV2U+gRqTFAQz8fAGmD6ZNNBO7SaAEFwT\n"
    "ihMOlksDZWJ4TCmDeYnlPxWTnsC+pH2ENYCI31kXyGk4RryGDT1IWyReEiVhxvTN\n"
    "wkGVV+AJ2E/7CfwYUcwSxWHcI6T81nyfkalewLA78W5040rvdNz7Mgb45wIDAQAB\n"
    "AoGAKdg+YSfuACW359Njnq0tg3yU2gHACDBr2NarfnyKqag/B3FoBGpgKhYBVos5\n"
    "rE1CAmvJOyyOGVui2eWsvdCGVtgh9GqrxkboAZNhEyzs76+U9otZF79qyEtIHL22\n"
    "B8L3S4r9PsjkwABCJyt7PZZnBdiG1v+NFeBLkgM4s2RNx8ECQQD9haP74sZvr/fK\n"
    "4epIuWPprv6yH9sQ5hpqdKf9/fKPeopNVQWN1dk4tSHBHi6U6gCODosQOU6M2h5C\n"
    "GZMV3+o3AkEAyTgnLzk6neYKa4eOLTPd6SEdBUmP1SM7t4Diuvr8XmXBBMkEGXUm\n"
    "zPwkyotTmlT1z+E08j7VWzaM1wrdLARO0QJBAKEzA3Ta2gAULIPVKAn7z1q8CXir\n"
    "JrjVBsDf0h1/BmdSrHPFdtWbvxX+nirUDRxkuduZxbSYK6kF261943dKO/sCQQCl\n"
    "L6TzXo7hWx0Iw2KTdzXgkZ+KXKZoOaFndrYq+6o8MFpxfDgSUhtFQmVNpW0/kCmv\n"
    "u1jE2ZI7bB/Y1YFWBj9RAkARRLO/eWa3Oi23OCn8jGRmYOE0QOiOQ1sDFSM654zJ\n"
    "svMN+VMyynXHU8y6tewaXTjmqPPNwCAHJjf5ZycBBwrt\n"
    "-----END RSA PRIVATE KEY-----\n";
static const char encrypted_pem[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhMOZSDZ/FiiwICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEOONdOPMV2ybMqmzh5MkopgEgZAB\n"
    "a4ZElEbkAG6U6bOKvmgREH9q889ZCiaTHA27IiEC6eghh3Su5T7eP6L8XxtnEEE7\n"
    "8RniCiww9PjL660zGGw7A3Vns0RusM66uSRdNUlEOnWQ1rb3OpLpXugdkLfjeGNk\n"
    "78NqyjwGkKlINyBeut3UAXCd45lOm0BbbDej6jjBgzVoQVYlSYMzXuHhWE5HN50=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

static bool long_tests(void)
{
    const char *v = getenv("ACMED_LONG");

    return v && strcmp(v, "1") == 0;
}

static void assert_id_form(const char *id)
{
    assert_int_equal(strlen(id), CRYPTO_ID_LEN);
    for (size_t i = 0; i < CRYPTO_ID_LEN; i++)
        assert_true((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '2' && id[i] <= '7'));
}

static void test_spec_check(void **state)
{
    static const struct key_spec good[] = {
        {KEY_ECDSA, 256}, {KEY_ECDSA, 384}, {KEY_ECDSA, 521}, {KEY_RSA, 2048},
        {KEY_RSA, 2056},  {KEY_RSA, 3072},  {KEY_RSA, 4096},
    };
    static const struct key_spec bad[] = {
        {KEY_ECDSA, 224}, {KEY_ECDSA, 0},   {KEY_ECDSA, 512}, {KEY_ECDSA, 2048},
        {KEY_RSA, 1024},  {KEY_RSA, 2047},  {KEY_RSA, 2050},  {KEY_RSA, 4104},
        {KEY_RSA, 8192},  {KEY_RSA, -2048}, {0, 256},         {(enum key_type)3, 2048},
    };
    struct err e;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        err_clear(&e);
        assert_int_equal(key_spec_check(&good[i], &e), 0);
        assert_int_equal(e.code, 0);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&e);
        assert_int_equal(key_spec_check(&bad[i], &e), -EINVAL);
        assert_int_equal(e.code, -EINVAL);
        assert_true(strlen(e.msg) > 0);
    }
    assert_int_equal(key_spec_check(NULL, NULL), -EINVAL);
}

/* Generate, save, load back: same id, same PEM, the traditional PEM label, sane accessors. */
static void check_generate_round_trip(enum key_type type, int size)
{
    struct key_spec spec = {type, size};
    struct ckey *key = NULL, *back = NULL;
    char id1[CRYPTO_ID_LEN + 1], id2[CRYPTO_ID_LEN + 1];
    char *pem = NULL, *pem2 = NULL;
    size_t len, len2, dlen;
    uint8_t *der = NULL;
    struct err e = {0};

    if (key_generate(&spec, &key, &e) < 0)
        fail_msg("generating %d/%d: %s", (int)type, size, err_msg(&e));
    assert_int_equal(key_get_type(key), type);
    assert_int_equal(key_get_size(key), size);
    assert_int_equal(key_id(key, id1, &e), 0);
    assert_id_form(id1);

    assert_int_equal(key_to_pem(key, &pem, &len, &e), 0);
    assert_int_equal(strlen(pem), len);
    assert_non_null(strstr(pem, type == KEY_ECDSA ? "-----BEGIN EC PRIVATE KEY-----\n"
                                                  : "-----BEGIN RSA PRIVATE KEY-----\n"));
    assert_int_equal(key_from_pem(pem, len, &back, &e), 0);
    assert_int_equal(key_get_type(back), type);
    assert_int_equal(key_get_size(back), size);
    assert_int_equal(key_id(back, id2, &e), 0);
    assert_string_equal(id1, id2);
    assert_int_equal(key_to_pem(back, &pem2, &len2, &e), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(pem, pem2, len);

    /* The id is the base32 SHA-256 of the SPKI. */
    assert_int_equal(key_spki_der(key, &der, &dlen, &e), 0);
    assert_true(dlen > 64);
    assert_int_equal(der[0], 0x30);
    assert_string_equal(crypto_sha256_id(der, dlen, id2), id1);

    free(der);
    key_pem_free(pem, len);
    key_pem_free(pem2, len2);
    key_free(back);
    key_free(key);
}

static void test_generate_ecdsa(void **state)
{
    check_generate_round_trip(KEY_ECDSA, 256);
    check_generate_round_trip(KEY_ECDSA, 384);
    check_generate_round_trip(KEY_ECDSA, 521);
}

static void test_generate_rsa(void **state)
{
    check_generate_round_trip(KEY_RSA, 2048);
    check_generate_round_trip(KEY_RSA, 3072);
}

/* RSA-4096 generation sometimes takes seconds: only with ACMED_LONG=1. */
static void test_generate_rsa_long(void **state)
{
    if (!long_tests())
        skip();
    check_generate_round_trip(KEY_RSA, 4096);
}

static void test_jws_alg(void **state)
{
    static const struct {
        int size;
        const char *alg;
    } cases[] = {{256, "ES256"}, {384, "ES384"}, {521, "ES512"}};

    for (size_t i = 0; i < 3; i++) {
        struct key_spec spec = {KEY_ECDSA, cases[i].size};
        struct ckey *key = NULL;
        struct err e = {0};

        assert_int_equal(key_generate(&spec, &key, &e), 0);
        assert_string_equal(key_jws_alg(key), cases[i].alg);
        key_free(key);
    }
}

/* PKCS#8 loads for both key types and is saved back in the traditional form. */
static void test_pkcs8(void **state)
{
    struct key_spec spec = {KEY_RSA, 2048};
    gnutls_x509_privkey_t x = NULL;
    gnutls_datum_t in, p8 = {NULL, 0};
    struct ckey *key = NULL, *jwk_key = NULL, *back = NULL;
    char id1[CRYPTO_ID_LEN + 1], id2[CRYPTO_ID_LEN + 1];
    struct err e = {0};
    char *pem = NULL, *jwk_text;
    size_t len, jlen;

    assert_int_equal(key_from_pem(a3_pkcs8, strlen(a3_pkcs8), &key, &e), 0);
    assert_int_equal(key_get_type(key), KEY_ECDSA);
    assert_int_equal(key_get_size(key), 256);
    jwk_text = tu_read_data("jws/rfc7515_a3_p256.json", &jlen);
    assert_int_equal(jwk_to_key(jwk_text, &jwk_key, &e), 0);
    free(jwk_text);
    assert_int_equal(key_id(key, id1, &e), 0);
    assert_int_equal(key_id(jwk_key, id2, &e), 0);
    assert_string_equal(id1, id2);
    assert_int_equal(key_to_pem(key, &pem, &len, &e), 0);
    assert_non_null(strstr(pem, "-----BEGIN EC PRIVATE KEY-----"));
    key_pem_free(pem, len);
    key_free(key);
    key_free(jwk_key);

    /* RSA: convert a generated key to PKCS#8 with GnuTLS directly. */
    assert_int_equal(key_generate(&spec, &key, &e), 0);
    assert_int_equal(key_to_pem(key, &pem, &len, &e), 0);
    in.data = (unsigned char *)pem;
    in.size = (unsigned int)len;
    assert_int_equal(gnutls_x509_privkey_init(&x), 0);
    assert_int_equal(gnutls_x509_privkey_import(x, &in, GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(
        gnutls_x509_privkey_export2_pkcs8(x, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &p8), 0);
    assert_non_null(strstr((char *)p8.data, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(key_from_pem((char *)p8.data, p8.size, &back, &e), 0);
    assert_int_equal(key_get_type(back), KEY_RSA);
    assert_int_equal(key_id(key, id1, &e), 0);
    assert_int_equal(key_id(back, id2, &e), 0);
    assert_string_equal(id1, id2);
    gnutls_free(p8.data);
    gnutls_x509_privkey_deinit(x);
    key_pem_free(pem, len);
    key_free(back);
    key_free(key);
}

static void expect_pem_rejected(const char *pem, size_t len)
{
    struct ckey *key = (struct ckey *)&key;
    struct err e = {0};

    assert_true(key_from_pem(pem, len, &key, &e) < 0);
    assert_null(key);
    assert_true(e.code < 0);
    assert_true(strlen(e.msg) > 0);
}

static void test_from_pem_rejects(void **state)
{
    static const char bad_b64[] =
        "-----BEGIN EC PRIVATE KEY-----\nAAAAAAAA\n-----END EC PRIVATE KEY-----\n";
    static const char cert_hdr[] =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";

    expect_pem_rejected("", 0);
    expect_pem_rejected("garbage", 7);
    expect_pem_rejected(bad_b64, strlen(bad_b64));
    expect_pem_rejected(cert_hdr, strlen(cert_hdr));
    expect_pem_rejected(p224_pem, strlen(p224_pem));
    expect_pem_rejected(ed25519_pem, strlen(ed25519_pem));
    expect_pem_rejected(rsa1024_pem, strlen(rsa1024_pem));
    expect_pem_rejected(encrypted_pem, strlen(encrypted_pem));
    /* A truncated key. */
    expect_pem_rejected(a3_pkcs8, strlen(a3_pkcs8) - 40);
}

/* ECDSA signatures are raw r||s of exactly twice the curve size; about half of all P-521
 * signatures have a short r or s, so a few dozen exercise the left padding. */
static void test_sign_sizes(void **state)
{
    static const struct {
        int size;
        size_t siglen;
    } cases[] = {{256, 64}, {384, 96}, {521, 132}};

    for (size_t i = 0; i < 3; i++) {
        struct key_spec spec = {KEY_ECDSA, cases[i].size};
        struct ckey *key = NULL;
        struct err e = {0};
        json_t *pub;

        assert_int_equal(key_generate(&spec, &key, &e), 0);
        pub = jwk_public(key, &e);
        for (int n = 0; n < 24; n++) {
            uint8_t msg[4] = {(uint8_t)n, 1, 2, 3}, *sig = NULL;
            size_t siglen = 0;

            assert_int_equal(key_sign(key, msg, sizeof msg, &sig, &siglen, &e), 0);
            assert_int_equal(siglen, cases[i].siglen);
            assert_int_equal(jws_verify(pub, key_jws_alg(key), msg, sizeof msg, sig, siglen, &e),
                             0);
            free(sig);
        }
        json_decref(pub);
        key_free(key);
    }
}

/* ---- asynchronous generation ---- */

struct async_state {
    uv_timer_t timer;
    int ticks;
    int calls;
    int rc;
    struct ckey *key;
    int pending;
};

static void on_tick(uv_timer_t *t)
{
    struct async_state *st = t->data;

    st->ticks++;
}

static void on_key(void *arg, int rc, struct ckey *key, const struct err *e)
{
    struct async_state *st = arg;

    st->calls++;
    st->rc = rc;
    if (rc < 0)
        print_message("key generation failed: %s\n", err_msg(e));
    key_free(st->key);
    st->key = key;
    if (--st->pending == 0)
        uv_close((uv_handle_t *)&st->timer, NULL);
}

static void test_generate_async_rsa(void **state)
{
    struct key_spec spec = {KEY_RSA, 2048};
    struct async_state st = {0};
    uv_loop_t loop;

    assert_int_equal(uv_loop_init(&loop), 0);
    st.timer.data = &st;
    st.pending = 1;
    assert_int_equal(uv_timer_init(&loop, &st.timer), 0);
    assert_int_equal(uv_timer_start(&st.timer, on_tick, 5, 5), 0);
    assert_int_equal(key_generate_async(&loop, &spec, on_key, &st), 0);
    /* Nothing happens before the loop runs: the callback is never synchronous. */
    assert_int_equal(st.calls, 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(st.calls, 1);
    assert_int_equal(st.rc, 0);
    assert_non_null(st.key);
    assert_int_equal(key_get_type(st.key), KEY_RSA);
    assert_int_equal(key_get_size(st.key), 2048);
    /* RSA-2048 takes well over 5 ms: the timer kept firing while the pool worked. */
    assert_true(st.ticks >= 1);
    key_free(st.key);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_generate_async_many(void **state)
{
    static const int sizes[] = {256, 384, 521, 256};
    struct async_state st = {0};
    uv_loop_t loop;

    assert_int_equal(uv_loop_init(&loop), 0);
    st.timer.data = &st;
    assert_int_equal(uv_timer_init(&loop, &st.timer), 0);
    for (size_t i = 0; i < 4; i++) {
        struct key_spec spec = {KEY_ECDSA, sizes[i]};

        assert_int_equal(key_generate_async(&loop, &spec, on_key, &st), 0);
        st.pending++;
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(st.calls, 4);
    assert_int_equal(st.rc, 0);
    assert_non_null(st.key);
    assert_int_equal(key_get_type(st.key), KEY_ECDSA);
    key_free(st.key);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A refused request returns an error and never calls back. */
static void test_generate_async_invalid(void **state)
{
    struct key_spec bad = {KEY_RSA, 1024}, good = {KEY_ECDSA, 256};
    struct async_state st = {0};
    uv_loop_t loop;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(key_generate_async(&loop, &bad, on_key, &st), -EINVAL);
    assert_int_equal(key_generate_async(&loop, NULL, on_key, &st), -EINVAL);
    assert_int_equal(key_generate_async(&loop, &good, NULL, &st), -EINVAL);
    assert_int_equal(key_generate_async(NULL, &good, on_key, &st), -EINVAL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(st.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_free_null(void **state)
{
    key_free(NULL);
    key_pem_free(NULL, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_check),
        cmocka_unit_test(test_generate_ecdsa),
        cmocka_unit_test(test_generate_rsa),
        cmocka_unit_test(test_generate_rsa_long),
        cmocka_unit_test(test_jws_alg),
        cmocka_unit_test(test_pkcs8),
        cmocka_unit_test(test_from_pem_rejects),
        cmocka_unit_test(test_sign_sizes),
        cmocka_unit_test(test_generate_async_rsa),
        cmocka_unit_test(test_generate_async_many),
        cmocka_unit_test(test_generate_async_invalid),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
