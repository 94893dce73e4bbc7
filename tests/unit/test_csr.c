/* Unit tests for crypto/csr. The requests are read back by an independent implementation,
 * `certtool --crq-info` from gnutls-bin (installed by tests/install-deps.sh), so the tests
 * need no GnuTLS of their own. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "crypto/csr.h"
#include "crypto/key.h"
#include "common/testutil.h"

static const char *const names4[] = {"example.com", "www.example.com", "127.0.0.1", "::1"};

/* Runs certtool on a DER request and returns its output (caller frees); the command must
 * succeed. */
static char *crq_info(const uint8_t *der, size_t len)
{
    char *dir = tu_mkdtemp("csr"), *path = NULL, *cmd = NULL, *text = NULL;
    size_t cap = 0, n = 0, got;
    FILE *f, *p;
    int status;

    assert_true(asprintf(&path, "%s/req.der", dir) >= 0);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(der, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_true(asprintf(&cmd, "certtool --crq-info --inder --infile '%s' 2>&1", path) >= 0);
    p = popen(cmd, "r");
    assert_non_null(p);
    do {
        if (n + 1024 > cap) {
            cap = cap * 2 + 4096;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        got = fread(text + n, 1, cap - n - 1, p);
        n += got;
    } while (got > 0);
    text[n] = '\0';
    status = pclose(p);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("certtool failed (is gnutls-bin installed?): %s", text);
    tu_rmtree(dir);
    free(cmd);
    free(path);
    free(dir);
    return text;
}

static int count(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void expect_line(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("certtool output lacks \"%s\":\n%s", needle, text);
}

/* Creates a request for `names` with a fresh key of the given spec and returns certtool's
 * description of it. */
static char *make_and_describe(enum key_type type, int size, const char *const *names, size_t n,
                               bool must_staple)
{
    struct key_spec spec = {type, size};
    struct ckey *key = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    struct err e;
    char *text;

    if (key_generate(&spec, &key, &e) < 0)
        fail_msg("key_generate: %s", e.msg);
    if (csr_create(key, names, n, must_staple, &der, &len, &e) < 0)
        fail_msg("csr_create: %s", e.msg);
    assert_non_null(der);
    assert_true(len > 0);
    assert_int_equal(der[0], 0x30); /* a DER SEQUENCE, not PEM */
    text = crq_info(der, len);
    free(der);
    key_free(key);
    return text;
}

static void expect_four_names(const char *text)
{
    expect_line(text, "Self signature: verified");
    expect_line(text, "Version: 1\n");
    expect_line(text, "Subject: CN=example.com\n");
    expect_line(text, "DNSname: example.com\n");
    expect_line(text, "DNSname: www.example.com\n");
    expect_line(text, "IPAddress: 127.0.0.1\n");
    expect_line(text, "IPAddress: ::1\n");
    /* The addresses are IP SANs only, never DNS names too. */
    assert_int_equal(count(text, "DNSname:"), 2);
    assert_int_equal(count(text, "IPAddress:"), 2);
}

static void test_p256(void **state)
{
    char *text = make_and_describe(KEY_ECDSA, 256, names4, 4, false);

    expect_four_names(text);
    expect_line(text, "Signature Algorithm: ECDSA-SHA256");
    assert_null(strstr(text, "TLS Features"));
    assert_null(strstr(text, "Status Request"));
    free(text);
}

static void test_rsa2048_must_staple(void **state)
{
    char *text = make_and_describe(KEY_RSA, 2048, names4, 4, true);

    expect_four_names(text);
    expect_line(text, "Signature Algorithm: RSA-SHA256");
    expect_line(text, "Modulus (bits 2048)");
    expect_line(text, "TLS Features (not critical):");
    expect_line(text, "OCSP Status Request(5)");
    free(text);
}

static void test_hash_follows_curve(void **state)
{
    const char *one[] = {"example.org"};
    char *text = make_and_describe(KEY_ECDSA, 384, one, 1, true);

    expect_line(text, "Self signature: verified");
    expect_line(text, "Signature Algorithm: ECDSA-SHA384");
    expect_line(text, "OCSP Status Request(5)");
    free(text);
    text = make_and_describe(KEY_ECDSA, 521, one, 1, false);
    expect_line(text, "Self signature: verified");
    expect_line(text, "Signature Algorithm: ECDSA-SHA512");
    free(text);
}

/* The CN is the first DNS name (an address never), and only when it fits in 64 characters. */
static void test_common_name(void **state)
{
    const char *ip_first[] = {"192.0.2.1", "2001:db8::1", "b.example"};
    const char *long_first[] = {
        "a-very-long-label-that-goes-on-and-on.another-long-label.example.com", "s.example"};
    char *text;

    assert_true(strlen(long_first[0]) > 64);
    text = make_and_describe(KEY_ECDSA, 256, ip_first, 3, false);
    expect_line(text, "Subject: CN=b.example\n");
    expect_line(text, "IPAddress: 192.0.2.1\n");
    expect_line(text, "IPAddress: 2001:db8::1\n");
    assert_int_equal(count(text, "DNSname:"), 1);
    free(text);
    text = make_and_describe(KEY_ECDSA, 256, long_first, 2, false);
    assert_null(strstr(text, "CN="));
    expect_line(text,
                "DNSname: a-very-long-label-that-goes-on-and-on.another-long-label.example.com");
    expect_line(text, "DNSname: s.example\n");
    expect_line(text, "Self signature: verified");
    free(text);
}

static void test_rejects_bad_input(void **state)
{
    struct key_spec spec = {KEY_ECDSA, 256};
    const char *empty[] = {"a.example", ""};
    struct ckey *key = NULL;
    uint8_t *der = (uint8_t *)1;
    size_t len = 1;
    struct err e;

    assert_int_equal(key_generate(&spec, &key, &e), 0);
    assert_int_equal(csr_create(key, names4, 0, false, &der, &len, &e), -EINVAL);
    assert_null(der);
    assert_int_equal(len, 0);
    assert_int_equal(csr_create(key, empty, 2, false, &der, &len, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "empty"));
    assert_null(der);
    assert_int_equal(csr_create(NULL, names4, 4, false, &der, &len, &e), -EINVAL);
    key_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p256),
        cmocka_unit_test(test_rsa2048_must_staple),
        cmocka_unit_test(test_hash_follows_curve),
        cmocka_unit_test(test_common_name),
        cmocka_unit_test(test_rejects_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
