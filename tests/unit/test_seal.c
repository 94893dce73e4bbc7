/* Unit tests for crypto/seal: AES-256-GCM sealed values for etcd (DESIGN.md §12).
 *
 * Known answers first (published vectors through seal_with_nonce, whose output is the format
 * byte, the nonce, then exactly GCM's ciphertext and tag), then the properties fleet mode
 * relies on: round trips, every altered, truncated, extended, moved or foreign value refused,
 * fresh nonces, and no plaintext left in freed memory. This executable is linked with
 * -Wl,--wrap=free (tests/CMakeLists.txt): __wrap_free below sees what free() is handed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/seal.h"
#include "util/fsio.h"

/* ---- free() watch: is the next block of watch_len bytes all zero when freed? ---- */

void __real_free(void *p);
void __wrap_free(void *p);

static size_t watch_len;               /* 0: not watching */
static void *volatile watch_ptr;       /* NULL: the next block freed while watching */
static volatile int watched_zero = -1; /* -1: not freed yet; 1: all zero; 0: not */

void __wrap_free(void *p)
{
    if (p && watch_len && (!watch_ptr || p == watch_ptr)) {
        const unsigned char *c = p;

        watched_zero = 1;
        for (size_t i = 0; i < watch_len; i++)
            if (c[i])
                watched_zero = 0;
        watch_len = 0;
        watch_ptr = NULL;
    }
    __real_free(p);
}

static void watch(void *p, size_t n)
{
    watch_ptr = p;
    watch_len = n;
    watched_zero = -1;
}

/* ---- helpers ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
    size_t n = strlen(hex) / 2;

    assert_true(n <= max);
    for (size_t i = 0; i < n; i++) {
        unsigned v;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void random_key(uint8_t key[SEAL_KEY_LEN])
{
    assert_int_equal(fsio_random(key, SEAL_KEY_LEN), 0);
}

/* Seals, checking the length and the layout's fixed parts. Caller frees *out. */
static void seal_ok(const uint8_t *key, const char *ad, const uint8_t *pt, size_t n, uint8_t **out,
                    size_t *outlen)
{
    struct err e;

    err_clear(&e);
    if (seal(key, ad, strlen(ad), pt, n, out, outlen, &e) != 0)
        fail_msg("seal: %s", e.msg);
    assert_int_equal(*outlen, n + SEAL_OVERHEAD);
    assert_int_equal((*out)[0], SEAL_VERSION);
}

/* Expects seal_open to refuse in[0..n) with -EBADMSG, nothing returned. */
static void refused(const uint8_t *key, const char *ad, const uint8_t *in, size_t n)
{
    uint8_t *pt = (uint8_t *)"untouched";
    size_t ptlen = 99;
    struct err e;

    err_clear(&e);
    assert_int_equal(seal_open(key, ad, strlen(ad), in, n, &pt, &ptlen, &e), -EBADMSG);
    assert_null(pt);
    assert_int_equal(ptlen, 0);
    assert_int_equal(e.code, -EBADMSG);
    assert_non_null(strstr(e.msg, "sealed value refused"));
}

/* ---- known answers ---- */

/* AES-256-GCM vectors with 96-bit IVs. Test cases 13 to 16 are those of McGrew and Viega,
 * "The Galois/Counter Mode of Operation (GCM)", revised submission to NIST (2005), appendix B
 * (gcm-spec.pdf; the same values are in GNU Nettle's testsuite/gcm-test.c). Cases 17 and 18
 * of that appendix use 64- and 480-bit IVs, which a 12-byte nonce cannot express. The last
 * vector is from NIST's CAVP GCMVS response file gcmEncryptExtIV256.rsp ([Keylen = 256],
 * [IVlen = 96], [PTlen = 128], [AADlen = 160], [Taglen = 128]), as quoted in
 * iotaledger/crypto.rs tests/fixtures/aes_256_gcm.rs, and checked against Python's
 * cryptography (OpenSSL) when it was added. */
static const struct {
    const char *name, *key, *iv, *ad, *pt, *ct, *tag;
} kat[] = {
    {"gcm-spec 13", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"gcm-spec 14", "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"gcm-spec 15", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"gcm-spec 16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {"CAVP gcmEncryptExtIV256", "83688deb4af8007f9b713b47cfa6c73e35ea7a3aa4ecdb414dded03bf7a0fd3a",
     "0b459724904e010a46901cf3", "794a14ccd178c8ebfd1379dc704c5e208f9d8424",
     "33d893a2114ce06fc15d55e454cf90c3", "cc66bee423e3fcd4c0865715e9586696",
     "0fb291bd3dba94a1dfd8b286cfb97ac5"},
};

static void test_known_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof kat / sizeof *kat; i++) {
        uint8_t key[SEAL_KEY_LEN], iv[SEAL_NONCE_LEN], ad[64], pt[64], ct[64], tag[SEAL_TAG_LEN];
        uint8_t *out = NULL, *back = NULL;
        size_t adlen, ptlen, ctlen, outlen, backlen;
        struct err e;

        assert_int_equal(unhex(kat[i].key, key, sizeof key), SEAL_KEY_LEN);
        assert_int_equal(unhex(kat[i].iv, iv, sizeof iv), SEAL_NONCE_LEN);
        assert_int_equal(unhex(kat[i].tag, tag, sizeof tag), SEAL_TAG_LEN);
        adlen = unhex(kat[i].ad, ad, sizeof ad);
        ptlen = unhex(kat[i].pt, pt, sizeof pt);
        ctlen = unhex(kat[i].ct, ct, sizeof ct);
        assert_int_equal(ptlen, ctlen);

        if (seal_with_nonce(key, iv, (const char *)ad, adlen, pt, ptlen, &out, &outlen, &e) != 0)
            fail_msg("%s: %s", kat[i].name, e.msg);
        assert_int_equal(outlen, 1 + SEAL_NONCE_LEN + ctlen + SEAL_TAG_LEN);
        assert_int_equal(out[0], SEAL_VERSION);
        assert_memory_equal(out + 1, iv, SEAL_NONCE_LEN);
        if (ctlen && memcmp(out + 1 + SEAL_NONCE_LEN, ct, ctlen) != 0)
            fail_msg("%s: ciphertext differs", kat[i].name);
        if (memcmp(out + 1 + SEAL_NONCE_LEN + ctlen, tag, SEAL_TAG_LEN) != 0)
            fail_msg("%s: tag differs", kat[i].name);

        if (seal_open(key, (const char *)ad, adlen, out, outlen, &back, &backlen, &e) != 0)
            fail_msg("%s: open: %s", kat[i].name, e.msg);
        assert_int_equal(backlen, ptlen);
        assert_memory_equal(back, pt, ptlen);
        assert_int_equal(back[backlen], '\0');
        seal_free_secret(back, backlen + 1);
        free(out);
    }
}

/* ---- round trips ---- */

static void round_trip(const uint8_t *key, const uint8_t *pt, size_t n)
{
    char ad[64];
    uint8_t *out, *back;
    size_t outlen, backlen;
    struct err e;

    snprintf(ad, sizeof ad, "/acmed/keys/k%zu", n);
    seal_ok(key, ad, pt, n, &out, &outlen);
    if (n >= 16) /* the ciphertext is not the plaintext */
        assert_memory_not_equal(out + 1 + SEAL_NONCE_LEN, pt, n);
    if (seal_open(key, ad, strlen(ad), out, outlen, &back, &backlen, &e) != 0)
        fail_msg("size %zu: %s", n, e.msg);
    assert_int_equal(backlen, n);
    if (n)
        assert_memory_equal(back, pt, n);
    assert_int_equal(back[n], '\0');
    seal_free_secret(back, backlen);
    free(out);
}

static void test_round_trips(void **state)
{
    static uint8_t pt[8192 + 17];
    uint8_t key[SEAL_KEY_LEN];

    (void)state;
    random_key(key);
    assert_int_equal(fsio_random(pt, sizeof pt), 0);
    for (size_t n = 0; n <= 300; n++)
        round_trip(key, pt, n);
    for (size_t n = 301; n <= sizeof pt; n += 509)
        round_trip(key, pt, n);
    round_trip(key, pt, 4096);
    round_trip(key, pt, sizeof pt);
    /* NULL with a zero length, for both pt and ad. */
    {
        uint8_t *out, *back;
        size_t outlen, backlen;
        struct err e;

        assert_int_equal(seal(key, NULL, 0, NULL, 0, &out, &outlen, &e), 0);
        assert_int_equal(outlen, SEAL_OVERHEAD);
        assert_int_equal(seal_open(key, NULL, 0, out, outlen, &back, &backlen, &e), 0);
        assert_int_equal(backlen, 0);
        assert_int_equal(back[0], '\0');
        seal_free_secret(back, 0);
        refused(key, "x", out, outlen);
        free(out);
    }
}

/* ---- refusals ---- */

static void test_every_bit_flip_refused(void **state)
{
    static const uint8_t pt[] = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n";
    const size_t sizes[] = {0, 1, sizeof pt - 1};
    uint8_t key[SEAL_KEY_LEN];

    (void)state;
    random_key(key);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        uint8_t *out;
        size_t outlen;

        seal_ok(key, "/acmed/keys/a", pt, sizes[s], &out, &outlen);
        for (size_t bit = 0; bit < outlen * 8; bit++) {
            out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            refused(key, "/acmed/keys/a", out, outlen);
            out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* Flipped back: intact again (the loop did not refuse for another reason). */
        {
            uint8_t *back;
            size_t backlen;
            struct err e;

            assert_int_equal(seal_open(key, "/acmed/keys/a", 13, out, outlen, &back, &backlen, &e),
                             0);
            seal_free_secret(back, backlen);
        }
        free(out);
    }
}

static void test_other_ad_refused(void **state)
{
    static const char *const others[] = {"/acmed/keys/b",   "/acmed/keys/",  "/acmed/keys/ab",
                                         "/acmed/keys/a\n", "/ACMED/keys/a", ""};
    uint8_t key[SEAL_KEY_LEN], *out;
    size_t outlen;
    struct err e;
    uint8_t *pt;
    size_t ptlen;

    (void)state;
    random_key(key);
    seal_ok(key, "/acmed/keys/a", (const uint8_t *)"secret", 6, &out, &outlen);
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        refused(key, others[i], out, outlen);
    /* The same key name with a NUL and more after it (adlen counts, not strlen). */
    assert_int_equal(seal_open(key, "/acmed/keys/a\0b", 15, out, outlen, &pt, &ptlen, &e),
                     -EBADMSG);

    /* The message names the etcd key (sanitised) and why, and nothing else. */
    err_clear(&e);
    assert_int_equal(seal_open(key, "/acmed/keys/b", 13, out, outlen, &pt, &ptlen, &e), -EBADMSG);
    assert_string_equal(e.msg, "etcd key \"/acmed/keys/b\": sealed value refused: authentication "
                               "failed (sealed with another secret-file, for another etcd key, "
                               "or altered)");
    assert_int_equal(seal_open(key, "/acmed/\x1b[2Jx", 12, out, outlen, &pt, &ptlen, &e), -EBADMSG);
    assert_null(strchr(e.msg, '\x1b'));
    assert_non_null(strstr(e.msg, "etcd key \"/acmed/?[2Jx\""));
    free(out);
}

static void test_other_key_refused(void **state)
{
    uint8_t key[SEAL_KEY_LEN], other[SEAL_KEY_LEN], *out;
    size_t outlen;

    (void)state;
    random_key(key);
    seal_ok(key, "/acmed/accounts/x/y", (const uint8_t *)"account key", 11, &out, &outlen);
    for (size_t bit = 0; bit < SEAL_KEY_LEN * 8; bit += 37) {
        memcpy(other, key, sizeof other);
        other[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        refused(other, "/acmed/accounts/x/y", out, outlen);
    }
    random_key(other);
    refused(other, "/acmed/accounts/x/y", out, outlen);
    free(out);
}

static void test_truncated_extended_refused(void **state)
{
    uint8_t key[SEAL_KEY_LEN], *out, *longer;
    size_t outlen;
    struct err e;
    uint8_t *pt;
    size_t ptlen;

    (void)state;
    random_key(key);
    seal_ok(key, "/acmed/state/t", (const uint8_t *)"{\"step\":\"finalize\"}", 19, &out, &outlen);
    for (size_t n = 0; n < outlen; n++)
        refused(key, "/acmed/state/t", out, n);
    err_clear(&e);
    assert_int_equal(seal_open(key, "/acmed/state/t", 14, out, 5, &pt, &ptlen, &e), -EBADMSG);
    assert_non_null(strstr(e.msg, "too short"));
    assert_int_equal(seal_open(key, "/acmed/state/t", 14, NULL, 0, &pt, &ptlen, &e), -EBADMSG);
    /* A byte more, whatever it is, moves the tag. */
    longer = malloc(outlen + 1);
    assert_non_null(longer);
    memcpy(longer, out, outlen);
    for (unsigned b = 0; b < 256; b += 51) {
        longer[outlen] = (uint8_t)b;
        refused(key, "/acmed/state/t", longer, outlen + 1);
    }
    /* The format byte: only SEAL_VERSION is read. */
    for (unsigned v = 0; v < 256; v++) {
        if (v == SEAL_VERSION)
            continue;
        out[0] = (uint8_t)v;
        refused(key, "/acmed/state/t", out, outlen);
    }
    out[0] = 2;
    assert_int_equal(seal_open(key, "/acmed/state/t", 14, out, outlen, &pt, &ptlen, &e), -EBADMSG);
    assert_non_null(strstr(e.msg, "unknown format"));
    free(longer);
    free(out);
}

static void test_fresh_nonces(void **state)
{
    uint8_t key[SEAL_KEY_LEN], *a, *b;
    size_t alen, blen;

    (void)state;
    random_key(key);
    for (int i = 0; i < 64; i++) {
        seal_ok(key, "/acmed/keys/a", (const uint8_t *)"same", 4, &a, &alen);
        seal_ok(key, "/acmed/keys/a", (const uint8_t *)"same", 4, &b, &blen);
        assert_int_equal(alen, blen);
        assert_memory_not_equal(a + 1, b + 1, SEAL_NONCE_LEN);
        assert_memory_not_equal(a + 1 + SEAL_NONCE_LEN, b + 1 + SEAL_NONCE_LEN, 4 + SEAL_TAG_LEN);
        free(a);
        free(b);
    }
}

/* ---- secrets in freed memory ---- */

static void test_plaintext_wiped(void **state)
{
    uint8_t key[SEAL_KEY_LEN], pt[256], *out, *back;
    size_t outlen, backlen;
    struct err e;

    (void)state;
    random_key(key);
    memset(pt, 'k', sizeof pt);
    seal_ok(key, "/acmed/keys/a", pt, sizeof pt, &out, &outlen);

    /* An opened value freed with seal_free_secret. */
    assert_int_equal(seal_open(key, "/acmed/keys/a", 13, out, outlen, &back, &backlen, &e), 0);
    watch(back, backlen + 1);
    seal_free_secret(back, backlen + 1);
    assert_int_equal(watched_zero, 1);

    /* A refused value: seal_open decrypted it before the tag said no, and wiped it. */
    out[outlen - 1] ^= 1;
    watch(NULL, sizeof pt);
    assert_int_equal(seal_open(key, "/acmed/keys/a", 13, out, outlen, &back, &backlen, &e),
                     -EBADMSG);
    assert_int_equal(watched_zero, 1);
    watch(NULL, 0);
    free(out);
}

/* The watch itself can fail: a plain free() of plaintext is seen. */
static void test_plain_free_is_seen(void **state)
{
    uint8_t *p = malloc(16);
    volatile uint8_t *v = p;

    (void)state;
    assert_non_null(p);
    for (size_t i = 0; i < 16; i++) /* volatile: a memset before free() is optimised away */
        v[i] = 0x5a;
    watch(p, 16);
    free(p);
    assert_int_equal(watched_zero, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_every_bit_flip_refused),
        cmocka_unit_test(test_other_ad_refused),
        cmocka_unit_test(test_other_key_refused),
        cmocka_unit_test(test_truncated_extended_refused),
        cmocka_unit_test(test_fresh_nonces),
        cmocka_unit_test(test_plaintext_wiped),
        cmocka_unit_test(test_plain_free_is_seen),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
