/* Unit tests for acme/keyauth: key authorizations (RFC 8555 §8.1) and dns-01 TXT values
 * (RFC 8555 §8.4). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/keyauth.h"

/* The token of the RFC 8555 §7.1.4 example challenge and the JWK thumbprint of the RFC 7638
 * §3.1 example key. */
#define TOKEN "DGyRejmCefe7v4NfDGDKfA"
#define THUMBPRINT "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
#define KEYAUTH TOKEN "." THUMBPRINT

static void test_key_authorization(void **state)
{
    struct err e = {0};
    char *ka = NULL;

    assert_int_equal(acme_key_authorization(TOKEN, THUMBPRINT, &ka, &e), 0);
    assert_non_null(ka);
    assert_string_equal(ka, KEYAUTH);
    free(ka);

    /* '-' and '_' are base64url. */
    assert_int_equal(acme_key_authorization("a-b_c", THUMBPRINT, &ka, &e), 0);
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
        assert_int_equal(acme_key_authorization(bad[i], THUMBPRINT, &ka, &e), -EINVAL);
        assert_int_equal(e.code, -EINVAL);
        assert_non_null(strstr(e.msg, "token"));
        assert_string_equal(ka, "untouched");
    }
    {
        struct err e = {0};
        char *ka = NULL;

        assert_int_equal(acme_key_authorization(NULL, THUMBPRINT, &ka, &e), -EINVAL);
        assert_null(ka);
        assert_int_equal(acme_key_authorization(TOKEN, THUMBPRINT, &ka, NULL), 0);
        free(ka);
    }
}

static void test_key_authorization_bad_thumbprint(void **state)
{
    static const char *const bad[] = {"", "abc=", "a/b", "a.b", "a b"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct err e = {0};
        char *ka = NULL;

        assert_int_equal(acme_key_authorization(TOKEN, bad[i], &ka, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "thumbprint"));
        assert_null(ka);
    }
    {
        struct err e = {0};
        char *ka = NULL;

        assert_int_equal(acme_key_authorization(TOKEN, NULL, &ka, &e), -EINVAL);
        assert_null(ka);
    }
}

/* Expected values computed independently of acmed when the test was written, with
 *   printf '%s' "$KA" | openssl dgst -sha256 -binary | basenc --base64url
 * (padding '=' removed), and cross-checked with Python's hashlib + base64.urlsafe_b64encode. */
static void test_dns01_txt(void **state)
{
    char *txt = acme_dns01_txt(KEYAUTH);

    assert_non_null(txt);
    assert_string_equal(txt, "Bs72Q7B-BSSQo4oDjA2qBR07GB6sc3hiG9zqaqvHx7U");
    assert_int_equal(strlen(txt), 43);
    free(txt);

    /* SHA-256 of the empty string (FIPS 180-2 e3b0c442...), base64url. */
    txt = acme_dns01_txt("");
    assert_non_null(txt);
    assert_string_equal(txt, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    assert_int_equal(strlen(txt), 43);
    free(txt);

    assert_null(acme_dns01_txt(NULL));
}

/* Always 43 base64url characters, whatever the input. */
static void test_dns01_txt_shape(void **state)
{
    static const char *const in[] = {"a.b", "x", KEYAUTH KEYAUTH KEYAUTH};

    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char *txt = acme_dns01_txt(in[i]);

        assert_non_null(txt);
        assert_int_equal(strlen(txt), 43);
        assert_null(strpbrk(txt, "+/="));
        free(txt);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_authorization),
        cmocka_unit_test(test_key_authorization_bad_token),
        cmocka_unit_test(test_key_authorization_bad_thumbprint),
        cmocka_unit_test(test_dns01_txt),
        cmocka_unit_test(test_dns01_txt_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
