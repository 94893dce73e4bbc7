/* Unit tests for crypto/pem: splitting certificate chains and encoding one certificate. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/pem.h"
#include "common/testutil.h"

/* Splits `pem` expecting failure with -EINVAL and a message containing `needle`. */
static void expect_reject(const char *pem, const char *needle)
{
    struct pem_chain chain = {(struct der_blob *)1, 99};
    struct err e;

    err_clear(&e);
    assert_int_equal(pem_split_chain(pem, strlen(pem), &chain, &e), -EINVAL);
    assert_int_equal(e.code, -EINVAL);
    if (!strstr(e.msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, needle);
    assert_null(chain.certs);
    assert_int_equal(chain.n, 0);
    pem_chain_clear(&chain);
}

static void assert_blob(const struct der_blob *b, const char *der_file)
{
    size_t len;
    char *der = tu_read_data(der_file, &len);

    assert_int_equal(b->len, len);
    assert_memory_equal(b->der, der, len);
    free(der);
}

static char *concat(const char *a, const char *b, const char *c)
{
    char *s = NULL;

    assert_true(asprintf(&s, "%s%s%s", a, b, c) >= 0);
    return s;
}

static void test_split_chain(void **state)
{
    struct pem_chain chain;
    struct err e;
    char *pem = tu_read_data("x509/chain.pem", NULL);

    assert_int_equal(pem_split_chain(pem, strlen(pem), &chain, &e), 0);
    assert_int_equal(chain.n, 2);
    assert_blob(&chain.certs[0], "x509/leaf.der");
    assert_blob(&chain.certs[1], "x509/inter.der");
    pem_chain_clear(&chain);
    assert_null(chain.certs);
    pem_chain_clear(&chain); /* twice is harmless */
    pem_chain_clear(NULL);
    free(pem);
}

static void test_crlf_and_blank_lines(void **state)
{
    char *pem = tu_read_data("x509/chain.pem", NULL);
    char *crlf = malloc(strlen(pem) * 2 + 16), *p = crlf;
    struct pem_chain chain;
    struct err e;

    strcpy(p, "\r\n  \r\n");
    p += strlen(p);
    for (const char *s = pem; *s; s++) {
        if (*s == '\n')
            *p++ = '\r';
        *p++ = *s;
    }
    strcpy(p, "\r\n\t\r\n");
    assert_int_equal(pem_split_chain(crlf, strlen(crlf), &chain, &e), 0);
    assert_int_equal(chain.n, 2);
    assert_blob(&chain.certs[0], "x509/leaf.der");
    assert_blob(&chain.certs[1], "x509/inter.der");
    pem_chain_clear(&chain);
    free(crlf);
    free(pem);
}

static void test_rejects_private_keys(void **state)
{
    char *chain = tu_read_data("x509/chain.pem", NULL);
    char *key = tu_read_data("x509/leaf.key", NULL);
    char *s;

    assert_non_null(strstr(key, "-----BEGIN EC PRIVATE KEY-----"));
    s = concat(chain, key, "");
    expect_reject(s, "\"EC PRIVATE KEY\"");
    free(s);
    s = concat(key, chain, "");
    expect_reject(s, "\"EC PRIVATE KEY\"");
    free(s);
    s = concat(chain,
               "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEH\n"
               "-----END PRIVATE KEY-----\n",
               "");
    expect_reject(s, "\"PRIVATE KEY\"");
    free(s);
    expect_reject("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                  "\"RSA PRIVATE KEY\"");
    expect_reject("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "\"X509 CRL\"");
    expect_reject("-----BEGIN certificate-----\nAAAA\n-----END certificate-----\n",
                  "\"certificate\"");
    free(key);
    free(chain);
}

static void test_rejects_text_outside_blocks(void **state)
{
    char *leaf = tu_read_data("x509/leaf.pem", NULL);
    char *inter = tu_read_data("x509/inter.pem", NULL);
    char *s, want[64];
    int lines = 0;

    for (const char *p = leaf; *p; p++)
        lines += *p == '\n';
    s = concat(leaf, "Subject: CN=a.example\n", inter);
    snprintf(want, sizeof want, "line %d: unexpected text outside a block", lines + 1);
    expect_reject(s, want);
    free(s);
    s = concat("junk", leaf, "");
    expect_reject(s, "line 1: unexpected text");
    free(s);
    s = concat(leaf, "x", ""); /* no final newline */
    expect_reject(s, "unexpected text");
    free(s);
    free(inter);
    free(leaf);
}

static void test_rejects_broken_blocks(void **state)
{
    char *leaf = tu_read_data("x509/leaf.pem", NULL);
    char *inter = tu_read_data("x509/inter.pem", NULL);
    char *trunc = strdup(leaf), *s;

    /* Unterminated: the END line cut off, alone or followed by another block. */
    *strstr(trunc, "-----END") = '\0';
    expect_reject(trunc, "opened on line 1 is not terminated");
    s = concat(trunc, inter, "");
    expect_reject(s, "BEGIN inside the block opened on line 1");
    free(s);
    /* An END with another label. */
    s = concat(trunc, "-----END PRIVATE KEY-----\n", "");
    expect_reject(s, "\"END PRIVATE KEY\" closes a CERTIFICATE block");
    free(s);
    /* Bad base64: a character outside the alphabet, and a dropped padding character. */
    s = strdup(leaf);
    s[40] = '!';
    expect_reject(s, "block 1: invalid base64");
    free(s);
    s = strdup(inter); /* 440 bytes of DER: one '=' of padding */
    assert_non_null(strstr(s, "=\n-----END"));
    *strstr(s, "=\n-----END") = '\n';
    expect_reject(s, "invalid base64");
    free(s);
    expect_reject("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", "block 1 is empty");
    free(trunc);
    free(inter);
    free(leaf);
}

static void test_rejects_empty(void **state)
{
    expect_reject("", "no certificate");
    expect_reject(" \n\r\n\t\n", "no certificate");
}

static void test_encode_round_trip(void **state)
{
    size_t len, i, col = 0;
    char *der = tu_read_data("x509/leaf.der", &len);
    char *leaf_pem = tu_read_data("x509/leaf.pem", NULL);
    char *pem = pem_encode_cert((const uint8_t *)der, len);
    struct pem_chain chain;
    struct err e;

    assert_non_null(pem);
    /* certtool writes the canonical form too: 64 columns and a final newline. */
    assert_string_equal(pem, leaf_pem);
    for (i = 0; pem[i]; i++) {
        col = pem[i] == '\n' ? 0 : col + 1;
        assert_true(col <= 64);
    }
    assert_int_equal(pem[i - 1], '\n');
    assert_int_equal(pem_split_chain(pem, strlen(pem), &chain, &e), 0);
    assert_int_equal(chain.n, 1);
    assert_int_equal(chain.certs[0].len, len);
    assert_memory_equal(chain.certs[0].der, der, len);
    pem_chain_clear(&chain);
    free(pem);

    /* Lengths that leave 0, 1 and 2 bytes over, and exactly one full line (48 bytes). */
    for (len = 1; len <= 100; len++) {
        uint8_t buf[100];

        for (i = 0; i < len; i++)
            buf[i] = (uint8_t)(i * 37 + len);
        pem = pem_encode_cert(buf, len);
        assert_non_null(pem);
        assert_int_equal(pem_split_chain(pem, strlen(pem), &chain, &e), 0);
        assert_int_equal(chain.n, 1);
        assert_int_equal(chain.certs[0].len, len);
        assert_memory_equal(chain.certs[0].der, buf, len);
        pem_chain_clear(&chain);
        free(pem);
    }
    free(leaf_pem);
    free(der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_chain),
        cmocka_unit_test(test_crlf_and_blank_lines),
        cmocka_unit_test(test_rejects_private_keys),
        cmocka_unit_test(test_rejects_text_outside_blocks),
        cmocka_unit_test(test_rejects_broken_blocks),
        cmocka_unit_test(test_rejects_empty),
        cmocka_unit_test(test_encode_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
