/* Unit tests for crypto/keyauth: key authorizations (RFC 8555 §8.1), dns-01 TXT values
 * (RFC 8555 §8.4) and tls-alpn-01 digests (RFC 8737 §3). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/keyauth.h"

/* The token of the RFC 8555 §7.1.4 example challenge and the JWK thumbprint of the RFC 7638
 * §3.1 example key. */
#define TOKEN "DGyRejmCefe7v4NfDGDKfA"
#define THUMBPRINT "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
#define KEYAUTH TOKEN "." THUMBPRINT

static void test_key_authorization(void **state)
{
    struct err e = {0};
    char *ka = NULL;

    assert_int_equal(keyauth_make(TOKEN, THUMBPRINT, &ka, &e), 0);
    assert_non_null(ka);
    assert_string_equal(ka, KEYAUTH);
    free(ka);

    /* '-' and '_' are base64url. */
    assert_int_equal(keyauth_make("a-b_c", THUMBPRINT, &ka, &e), 0);
    assert_string_equal(ka, "a-b_c." THUMBPRINT);
    free(ka);
}

/* A token reaches file names and hook arguments: anything but base64url is refused. */
static void test_key_authorization_bad_token(void **state)
{
    static const char *const bad[] = {
        "",     "abc=", "abc==", "a/b", "a+b",  "a.b",  "a b",   " abc",      "abc\n",
        "../x", "..",   ".",     "/",   "a\\b", "a%2e", "a\x01", "a\xc3\xa9",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct err e = {0};
        char *ka = (char *)"untouched";

        print_message("bad token %zu\n", i);
        assert_int_equal(keyauth_make(bad[i], THUMBPRINT, &ka, &e), -EINVAL);
        assert_int_equal(e.code, -EINVAL);
        assert_non_null(strstr(e.msg, "token"));
        assert_string_equal(ka, "untouched");
    }
    {
        struct err e = {0};
        char *ka = NULL;

        assert_int_equal(keyauth_make(NULL, THUMBPRINT, &ka, &e), -EINVAL);
        assert_null(ka);
        assert_int_equal(keyauth_make(TOKEN, THUMBPRINT, &ka, NULL), 0);
        free(ka);
    }
}

static void test_key_authorization_bad_thumbprint(void **state)
{
    static const char *const bad[] = {"", "abc=", "a/b", "a.b", "a b"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct err e = {0};
        char *ka = NULL;

        assert_int_equal(keyauth_make(TOKEN, bad[i], &ka, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "thumbprint"));
        assert_null(ka);
    }
    {
        struct err e = {0};
        char *ka = NULL;

        assert_int_equal(keyauth_make(TOKEN, NULL, &ka, &e), -EINVAL);
        assert_null(ka);
    }
}

/* Expected values computed independently of acmed when the test was written, with
 *   printf '%s' "$KA" | openssl dgst -sha256 -binary | basenc --base64url
 * (padding '=' removed), and cross-checked with Python's hashlib + base64.urlsafe_b64encode. */
static void test_dns01_txt(void **state)
{
    char *txt = keyauth_dns01_txt(KEYAUTH);

    assert_non_null(txt);
    assert_string_equal(txt, "Bs72Q7B-BSSQo4oDjA2qBR07GB6sc3hiG9zqaqvHx7U");
    assert_int_equal(strlen(txt), 43);
    free(txt);

    /* SHA-256 of the empty string (FIPS 180-2 e3b0c442...), base64url. */
    txt = keyauth_dns01_txt("");
    assert_non_null(txt);
    assert_string_equal(txt, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    assert_int_equal(strlen(txt), 43);
    free(txt);

    assert_null(keyauth_dns01_txt(NULL));
}

/* Always 43 base64url characters, whatever the input. */
static void test_dns01_txt_shape(void **state)
{
    static const char *const in[] = {"a.b", "x", KEYAUTH KEYAUTH KEYAUTH};

    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char *txt = keyauth_dns01_txt(in[i]);

        assert_non_null(txt);
        assert_int_equal(strlen(txt), 43);
        assert_null(strpbrk(txt, "+/="));
        free(txt);
    }
}

/* The acmeIdentifier digest of RFC 8737 §3 is SHA-256 over the key authorization's bytes, no
 * more, no less. The token is the one of the RFC 8737 §3 example challenge; the expected
 * value was computed independently of acmed with
 *   printf '%s' "$KA" | openssl dgst -sha256 -binary | xxd -i
 * and cross-checked with Python's hashlib. */
static void test_tls_alpn_digest(void **state)
{
    static const char ka[] = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA." THUMBPRINT;
    static const uint8_t want[KEYAUTH_TLS_ALPN_DIGEST_LEN] = {
        0x65, 0x34, 0x71, 0xd4, 0x29, 0x25, 0xd7, 0xeb, 0x4c, 0xd3, 0x9a,
        0x39, 0xcd, 0xa8, 0xb3, 0x4d, 0x30, 0x34, 0xc9, 0x4c, 0xb9, 0x00,
        0x67, 0xab, 0x78, 0xc8, 0x12, 0x35, 0x60, 0xba, 0x2e, 0x5f,
    };
    /* FIPS 180-2 appendix B.1: SHA-256("abc"). */
    static const uint8_t abc[KEYAUTH_TLS_ALPN_DIGEST_LEN] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    };
    uint8_t d[KEYAUTH_TLS_ALPN_DIGEST_LEN];

    assert_int_equal(KEYAUTH_TLS_ALPN_DIGEST_LEN, 32);
    keyauth_tls_alpn_digest(ka, strlen(ka), d);
    assert_memory_equal(d, want, sizeof d);
    /* The length given is what counts: "abcdef" cut at 3 is "abc". */
    keyauth_tls_alpn_digest("abcdef", 3, d);
    assert_memory_equal(d, abc, sizeof d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_authorization),
        cmocka_unit_test(test_key_authorization_bad_token),
        cmocka_unit_test(test_key_authorization_bad_thumbprint),
        cmocka_unit_test(test_dns01_txt),
        cmocka_unit_test(test_dns01_txt_shape),
        cmocka_unit_test(test_tls_alpn_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
