/* Unit tests for crypto/csr_read against the openssl-made CSRs of tests/data/csr (see gen.sh
 * there for what each file holds and how it was made). */
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
#include "crypto/csr_read.h"

/* Reads tests/data/csr/<name>. */
static uint8_t *data(const char *name, size_t *len)
{
    char rel[128];

    snprintf(rel, sizeof rel, "csr/%s", name);
    return (uint8_t *)tu_read_data(rel, len);
}

/* csr_read of a fixture that must be accepted. */
static struct csr_info *read_ok(const char *name)
{
    size_t len;
    uint8_t *buf = data(name, &len);
    struct csr_info *c = NULL;
    struct err e;

    err_clear(&e);
    if (csr_read(buf, len, &c, &e) != 0)
        fail_msg("%s: %s", name, e.msg);
    free(buf);
    assert_non_null(c);
    return c;
}

/* csr_read of buf must fail with `code` and a message containing `want`. */
static void expect_refused_buf(const uint8_t *buf, size_t len, int code, const char *want)
{
    struct csr_info *c = (struct csr_info *)1;
    struct err e;

    err_clear(&e);
    assert_int_equal(csr_read(buf, len, &c, &e), code);
    assert_null(c);
    if (!strstr(e.msg, want))
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, want);
}

static void expect_refused(const char *name, int code, const char *want)
{
    size_t len;
    uint8_t *buf = data(name, &len);

    expect_refused_buf(buf, len, code, want);
    free(buf);
}

static void assert_strs(char *const *got, size_t n, const char *const *want, size_t nwant)
{
    size_t i;

    assert_int_equal(n, nwant);
    for (i = 0; i < n; i++)
        assert_string_equal(got[i], want[i]);
}

static void test_cn_only(void **state)
{
    struct csr_info *c = read_ok("cn-only.pem");
    const char *const *names;
    size_t n;

    (void)state;
    assert_string_equal(c->cn, "cn-only.example");
    assert_int_equal(c->ndns, 0);
    assert_int_equal(c->nips, 0);
    assert_string_equal(c->key_desc, "EC-P256");
    names = csr_names(c, &n);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "cn-only.example");
    assert_int_equal(strlen(c->sha256_hex), 64);
    csr_info_free(c);
}

/* The same CSR as PEM, as DER and under the old PEM label with CRLF lines: the same DER kept,
 * the same hash (openssl's), names as found and de-duplicated in order. */
static void test_sans_forms(void **state)
{
    static const char *const files[] = {"sans.pem", "sans.der", "sans-new.pem"};
    static const char *const dns[] = {"www.example.org", "Example.ORG", "WWW.EXAMPLE.ORG"};
    static const char *const ips[] = {"192.0.2.7", "2001:db8::7", "192.0.2.7"};
    static const char *const want[] = {"www.example.org", "Example.ORG", "192.0.2.7",
                                       "2001:db8::7"};
    size_t der_len, hlen, n, i;
    uint8_t *der = data("sans.der", &der_len);
    char *hash = (char *)data("sans.der.sha256", &hlen);

    (void)state;
    assert_true(hlen >= 64);
    hash[64] = '\0';
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct csr_info *c = read_ok(files[i]);
        const char *const *names = csr_names(c, &n);

        assert_int_equal(c->der_len, der_len);
        assert_memory_equal(c->der, der, der_len);
        assert_string_equal(c->sha256_hex, hash);
        assert_string_equal(c->cn, "www.example.org");
        assert_string_equal(c->key_desc, "EC-P384");
        assert_strs(c->dns, c->ndns, dns, 3);
        assert_strs(c->ips, c->nips, ips, 3);
        assert_strs((char *const *)names, n, want, 4);
        csr_info_free(c);
    }
    free(der);
    free(hash);
}

static void test_no_cn_and_rsa(void **state)
{
    static const char *const want[] = {"a.example", "::1"};
    struct csr_info *c = read_ok("no-cn.pem");
    const char *const *names;
    size_t n;

    (void)state;
    assert_null(c->cn);
    assert_string_equal(c->key_desc, "RSA-3072");
    names = csr_names(c, &n);
    assert_strs((char *const *)names, n, want, 2);
    csr_info_free(c);

    c = read_ok("rsa2048.pem");
    assert_string_equal(c->key_desc, "RSA-2048");
    names = csr_names(c, &n);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "rsa.example");
    csr_info_free(c);
}

static void test_refused_keys(void **state)
{
    (void)state;
    expect_refused("rsa1024.pem", -EINVAL, "RSA key of 1024 bits");
    expect_refused("p521.pem", -EINVAL, "EC key on SECP521R1");
    expect_refused("ed25519.pem", -EINVAL, "Ed25519");
}

static void test_tampered_signature(void **state)
{
    (void)state;
    expect_refused("tampered.der", -EBADMSG, "self-signature does not verify");
}

static void test_refused_sans(void **state)
{
    (void)state;
    expect_refused("email-san.pem", -EINVAL,
                   "an email address (rfc822Name) (\"admin@example.org\")");
    expect_refused("uri-san.pem", -EINVAL, "a URI (\"https://uri.example/x\")");
}

/* Names with a control character or over the length limit, and a CSR with no name; the
 * message quotes a sanitised, bounded piece of the input. */
static void test_refused_names(void **state)
{
    size_t len;
    uint8_t *buf;
    struct csr_info *c = NULL;
    struct err e;

    (void)state;
    expect_refused("ctl-cn.pem", -EINVAL, "a CN with a control byte 0x01: \"ctl?.example\"");
    expect_refused("ctl-san.pem", -EINVAL, "a dNSName with a control byte 0x01");
    expect_refused("long-san.pem", -EINVAL, "a dNSName of 263 bytes (at most 255)");
    expect_refused("no-names.pem", -EINVAL, "no name in it");
    expect_refused("two-cn.pem", -EINVAL, "more than one CN");

    buf = data("long-san.pem", &len);
    err_clear(&e);
    assert_int_equal(csr_read(buf, len, &c, &e), -EINVAL);
    assert_true(strlen(e.msg) < 150);
    assert_null(strstr(e.msg, "bbbb"));
    free(buf);
}

static void test_envelope(void **state)
{
    static const uint8_t junk_seq[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    size_t len, cert_len;
    uint8_t *pem = data("sans.pem", &len), *der, *big, *cert;

    (void)state;
    expect_refused_buf((const uint8_t *)"hello world\n", 12, -EINVAL, "neither DER nor PEM");
    expect_refused_buf((const uint8_t *)"", 0, -EINVAL, "empty input");
    expect_refused_buf(junk_seq, sizeof junk_seq, -EINVAL, "not a PKCS#10 request");
    expect_refused("two-blocks.pem", -EINVAL, "more than one PEM block");

    /* Padded with whitespace up to the limit it is read; one byte more is refused. */
    big = malloc(CSR_READ_MAX + 1);
    assert_non_null(big);
    memset(big, '\n', CSR_READ_MAX + 1);
    memcpy(big, pem, len);
    {
        struct csr_info *c = NULL;
        struct err e;

        assert_int_equal(csr_read(big, CSR_READ_MAX, &c, &e), 0);
        csr_info_free(c);
    }
    expect_refused_buf(big, CSR_READ_MAX + 1, -EINVAL, "65537 bytes, over the limit of 65536");

    /* Broken base64 and a text before the block. */
    memcpy(big, pem, len);
    big[100] = '!';
    expect_refused_buf(big, len, -EINVAL, "not valid base64");
    big[0] = 'x';
    memcpy(big + 1, pem, len);
    expect_refused_buf(big, len + 1, -EINVAL, "neither DER nor PEM (starts with \"x-----BEGIN");
    /* The END line must close the label the BEGIN line opened. */
    memcpy(big, pem, len);
    memcpy(big + len - strlen("REQUEST-----\n"), "REQUESX", 7);
    expect_refused_buf(big, len, -EINVAL, "does not end with its END line");
    free(big);
    free(pem);

    /* DER with a byte after the SEQUENCE, and cut short. */
    der = data("sans.der", &len);
    big = malloc(len + 1);
    assert_non_null(big);
    memcpy(big, der, len);
    big[len] = 0;
    expect_refused_buf(big, len + 1, -EINVAL, "DER object is");
    expect_refused_buf(der, len - 1, -EINVAL, "DER object is");
    free(big);
    free(der);

    /* A certificate is not a CSR, in PEM or in DER. */
    cert = data("sans-cert.der", &cert_len);
    expect_refused_buf(cert, cert_len, -EINVAL, "not a PKCS#10 request");
    free(cert);
    cert = (uint8_t *)tu_read_data("x509/leaf.pem", &cert_len);
    expect_refused_buf(cert, cert_len, -EINVAL, "a PEM \"CERTIFICATE\" block");
    free(cert);
}

static void test_matches_cert(void **state)
{
    struct csr_info *c = read_ok("sans.pem"), *other = read_ok("cn-only.pem");
    size_t len, olen;
    uint8_t *cert = data("sans-cert.der", &len), *ocert = data("other-cert.der", &olen);
    struct err e;

    (void)state;
    assert_int_equal(csr_matches_cert(c, cert, len, &e), 1);
    assert_int_equal(csr_matches_cert(c, ocert, olen, &e), 0);
    assert_int_equal(csr_matches_cert(other, cert, len, &e), 0);
    err_clear(&e);
    assert_int_equal(csr_matches_cert(c, c->der, c->der_len, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "certificate"));
    assert_int_equal(csr_matches_cert(c, NULL, 0, &e), -EINVAL);
    free(cert);
    free(ocert);
    csr_info_free(c);
    csr_info_free(other);
    csr_info_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cn_only),
        cmocka_unit_test(test_sans_forms),
        cmocka_unit_test(test_no_cn_and_rsa),
        cmocka_unit_test(test_refused_keys),
        cmocka_unit_test(test_tampered_signature),
        cmocka_unit_test(test_refused_sans),
        cmocka_unit_test(test_refused_names),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_matches_cert),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
