/* Unit tests for crypto/b64: base64url (RFC 4648 §5 unpadded), base32 ids and SHA-256. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/b64.h"

/* RFC 4648 §10 test vectors with the padding removed (RFC 7515 §2). */
static const struct {
    const char *plain;
    const char *b64url;
    const char *b32;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg", "my"},
    {"fo", "Zm8", "mzxq"},
    {"foo", "Zm9v", "mzxw6"},
    {"foob", "Zm9vYg", "mzxw6yq"},
    {"fooba", "Zm9vYmE", "mzxw6ytb"},
    {"foobar", "Zm9vYmFy", "mzxw6ytboi"},
};

static void test_encode_rfc4648(void **state)
{
    char b32[32];

    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        char *enc = b64url_encode(rfc4648[i].plain, strlen(rfc4648[i].plain));

        assert_non_null(enc);
        assert_string_equal(enc, rfc4648[i].b64url);
        free(enc);
        assert_string_equal(base32_lower(rfc4648[i].plain, strlen(rfc4648[i].plain), b32),
                            rfc4648[i].b32);
    }
}

static void test_decode_rfc4648(void **state)
{
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        const char *s = rfc4648[i].b64url;
        uint8_t *out = NULL;
        size_t n = 99;

        assert_int_equal(b64url_decode(s, strlen(s), &out, &n), 0);
        assert_int_equal(n, strlen(rfc4648[i].plain));
        assert_memory_equal(out, rfc4648[i].plain, n);
        assert_int_equal(out[n], '\0');
        free(out);
    }
}

/* The two characters where base64url differs from base64: 62 is '-', 63 is '_'. */
static void test_url_alphabet(void **state)
{
    static const uint8_t fbff[] = {0xfb, 0xff};
    static const uint8_t fbef[] = {0xfb, 0xef, 0xbe};
    uint8_t *out = NULL;
    size_t n;
    char *enc;

    enc = b64url_encode(fbff, sizeof fbff);
    assert_string_equal(enc, "-_8");
    free(enc);
    enc = b64url_encode(fbef, sizeof fbef);
    assert_string_equal(enc, "----");
    free(enc);
    assert_int_equal(b64url_decode("-_8", 3, &out, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, fbff, 2);
    free(out);
}

static void expect_reject(const char *s)
{
    uint8_t *out = (uint8_t *)"not touched";
    size_t n = 99;

    assert_int_equal(b64url_decode(s, strlen(s), &out, &n), -EINVAL);
    assert_null(out);
    assert_int_equal(n, 0);
}

static void test_decode_rejects(void **state)
{
    expect_reject("Zg==");     /* padding */
    expect_reject("Zm8=");     /* padding */
    expect_reject("+_8");      /* standard alphabet */
    expect_reject("-/8");      /* standard alphabet */
    expect_reject("Z");        /* length 1 mod 4 */
    expect_reject("Zm9vY");    /* length 1 mod 4 */
    expect_reject("Zh");       /* trailing bits: "Zg" is the only spelling of "f" */
    expect_reject("Zm9");      /* trailing bits: "Zm8" is the only spelling of "fo" */
    expect_reject("Zm 9v");    /* whitespace */
    expect_reject("Zm9v\n");   /* newline */
    expect_reject("Zm9v\x80"); /* non-ASCII */
}

/* Length is taken from the argument, not from a NUL: a NUL inside is an invalid character. */
static void test_decode_embedded_nul(void **state)
{
    uint8_t *out = NULL;
    size_t n;

    assert_int_equal(b64url_decode("Zm\0v", 4, &out, &n), -EINVAL);
    assert_int_equal(b64url_decode("Zm9vXXXX", 4, &out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "foo", 3);
    free(out);
}

static void test_round_trip_all_lengths(void **state)
{
    uint8_t data[256];

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(255 - i);
    for (size_t len = 0; len <= sizeof data; len++) {
        char *enc = b64url_encode(data, len);
        uint8_t *dec = NULL;
        size_t n;

        assert_non_null(enc);
        assert_int_equal(strlen(enc), (len * 4 + 2) / 3);
        assert_true(len == 0 || b64url_valid(enc));
        assert_int_equal(b64url_decode(enc, strlen(enc), &dec, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, data, len);
        free(dec);
        free(enc);
    }
}

static void test_valid(void **state)
{
    assert_false(b64url_valid(NULL));
    assert_false(b64url_valid(""));
    assert_true(b64url_valid("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"));
    assert_true(b64url_valid("-_"));
    assert_false(b64url_valid("abc="));
    assert_false(b64url_valid("a/b"));
    assert_false(b64url_valid("a+b"));
    assert_false(b64url_valid("a b"));
    assert_false(b64url_valid("../etc"));
}

/* SHA-256 from FIPS 180-2 appendix B.1 and of the empty string; the ids were computed with
 * Python's base64.b32encode(hashlib.sha256(data).digest()).lower() without padding. */
static void test_sha256_and_id(void **state)
{
    static const uint8_t abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    };
    uint8_t digest[32];
    char id[CRYPTO_ID_LEN + 1];

    crypto_sha256("abc", 3, digest);
    assert_memory_equal(digest, abc, 32);
    assert_ptr_equal(crypto_sha256_id("abc", 3, id), id);
    assert_string_equal(id, "xj4bnp4pahh6uqkbidpf3lrceoyagyndsylxvhfucd7wd4qacwwq");
    crypto_sha256_id("", 0, id);
    assert_string_equal(id, "4oymiquy7qobjgx36tejs35zeqt24qpemsnzgtfeswmrw6csxbkq");
    assert_int_equal(strlen(id), CRYPTO_ID_LEN);
    for (size_t i = 0; i < CRYPTO_ID_LEN; i++)
        assert_true((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '2' && id[i] <= '7'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_rfc4648),
        cmocka_unit_test(test_decode_rfc4648),
        cmocka_unit_test(test_url_alphabet),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_decode_embedded_nul),
        cmocka_unit_test(test_round_trip_all_lengths),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_sha256_and_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
