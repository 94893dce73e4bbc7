/* Unit tests for crypto/x509 against the certtool-made fixtures of tests/data/x509 (see
 * gen.sh there): root -> intermediate -> leaf, plus an unrelated root with the same name, and
 * (gen-chains.sh) the broken chains that x509_check_chain_links must refuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "crypto/key.h"
#include "crypto/pem.h"
#include "crypto/x509.h"
#include "common/testutil.h"

#define LEAF_NOT_BEFORE ((time_t)1704067200) /* 2024-01-01T00:00:00Z */
#define LEAF_NOT_AFTER ((time_t)4102444800)  /* 2100-01-01T00:00:00Z */
#define SOME_TIME ((time_t)1750000000)       /* 2025-06-15, inside every validity period */

/* The intermediate's subject key identifier, as certtool printed it. */
static const uint8_t inter_ski[20] = {0xc0, 0x8c, 0xb6, 0xba, 0x88, 0xa7, 0x25, 0xd2, 0x83, 0xb5,
                                      0x5e, 0x5b, 0xb9, 0x8d, 0x21, 0xf1, 0x88, 0x89, 0xa1, 0xf7};

static void load_chain(const char *rel, struct pem_chain *chain)
{
    size_t len;
    char *pem = tu_read_data(rel, &len);
    struct err e;

    if (pem_split_chain(pem, len, chain, &e) < 0)
        fail_msg("%s: %s", rel, e.msg);
    free(pem);
}

static struct ckey *load_key(const char *rel)
{
    size_t len;
    char *pem = tu_read_data(rel, &len);
    struct ckey *key = NULL;
    struct err e;

    if (key_from_pem(pem, len, &key, &e) < 0)
        fail_msg("%s: %s", rel, e.msg);
    free(pem);
    return key;
}

static void test_parse_leaf(void **state)
{
    static const uint8_t serial[] = {0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f};
    size_t len;
    char *der = tu_read_data("x509/leaf.der", &len);
    struct x509_info *info = NULL;
    struct err e;

    if (x509_parse((const uint8_t *)der, len, &info, &e) < 0)
        fail_msg("x509_parse: %s", e.msg);
    assert_int_equal(info->ndns, 2);
    assert_string_equal(info->dns[0], "a.example");
    assert_string_equal(info->dns[1], "b.example");
    assert_int_equal(info->nips, 2);
    assert_string_equal(info->ips[0], "127.0.0.1");
    assert_string_equal(info->ips[1], "::1");
    assert_int_equal(info->not_before, LEAF_NOT_BEFORE);
    assert_int_equal(info->not_after, LEAF_NOT_AFTER);
    assert_string_equal(info->serial_hex, "0a1b2c3d4e5f");
    assert_int_equal(info->serial_len, sizeof serial);
    assert_memory_equal(info->serial, serial, sizeof serial);
    assert_non_null(info->aki);
    assert_int_equal(info->aki_len, 20);
    assert_memory_equal(info->aki, inter_ski, 20);
    assert_string_equal(info->issuer_cn, "Acmed Test Intermediate");
    assert_string_equal(info->subject_cn, "a.example");
    x509_info_free(info);
    x509_info_free(NULL);
    free(der);
}

/* RFC 9773 §4.1: AKI keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4
 * and DER serial 00:87:65:43:21 (the leading zero keeps 0x87... positive) give
 * "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE". */
static void test_cert_id_rfc9773(void **state)
{
    static const uint8_t aki[] = {0x69, 0x88, 0x5b, 0x6b, 0x87, 0x46, 0x40, 0x41, 0xe1, 0xb3,
                                  0x7b, 0x84, 0x7b, 0xa0, 0xae, 0x2c, 0xde, 0x01, 0xc8, 0xd4};
    static const uint8_t serial[] = {0x00, 0x87, 0x65, 0x43, 0x21};
    char *id = x509_ari_cert_id(aki, sizeof aki, serial, sizeof serial);

    assert_non_null(id);
    assert_string_equal(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    free(id);
}

static void test_cert_id_alphabet_and_empty(void **state)
{
    /* Standard base64 would give "+/+/" and "+w==": base64url without padding is required. */
    static const uint8_t v[] = {0xfb, 0xff, 0xbf};
    static const uint8_t w[] = {0xfb};
    char *id = x509_ari_cert_id(v, sizeof v, w, sizeof w);

    assert_non_null(id);
    assert_string_equal(id, "-_-_.-w");
    free(id);
    assert_null(x509_ari_cert_id(v, 0, w, 1));
    assert_null(x509_ari_cert_id(v, 1, w, 0));
    assert_null(x509_ari_cert_id(NULL, 1, w, 1));
    assert_null(x509_ari_cert_id(v, 1, NULL, 1));
}

/* The leaf fixture's certID: the intermediate's key identifier and the leaf's serial. */
static void test_cert_id_of_leaf(void **state)
{
    size_t len;
    char *der = tu_read_data("x509/leaf.der", &len);
    struct x509_info *info = NULL;
    struct err e;
    char *id;

    if (x509_parse((const uint8_t *)der, len, &info, &e) < 0)
        fail_msg("x509_parse: %s", e.msg);
    id = x509_ari_cert_id(info->aki, info->aki_len, info->serial, info->serial_len);
    assert_non_null(id);
    assert_string_equal(id, "wIy2uoinJdKDtV5buY0h8YiJofc.ChssPU5f");
    free(id);
    x509_info_free(info);
    free(der);
}

/* A self-signed root: no SANs, no AKI (certtool writes none), issuer == subject. */
static void test_parse_root(void **state)
{
    struct pem_chain root;
    struct x509_info *info = NULL;
    struct err e;

    load_chain("x509/root.pem", &root);
    assert_int_equal(root.n, 1);
    assert_int_equal(x509_parse(root.certs[0].der, root.certs[0].len, &info, &e), 0);
    assert_int_equal(info->ndns, 0);
    assert_null(info->dns);
    assert_int_equal(info->nips, 0);
    assert_null(info->aki);
    assert_int_equal(info->aki_len, 0);
    assert_string_equal(info->serial_hex, "01");
    assert_string_equal(info->issuer_cn, "Acmed Test Root");
    assert_string_equal(info->subject_cn, "Acmed Test Root");
    x509_info_free(info);
    pem_chain_clear(&root);
}

static void test_parse_rejects_garbage(void **state)
{
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    size_t len;
    char *der = tu_read_data("x509/leaf.der", &len);
    struct x509_info *info = (struct x509_info *)1;
    struct err e;

    assert_int_equal(x509_parse(junk, sizeof junk, &info, &e), -EINVAL);
    assert_null(info);
    assert_int_equal(x509_parse((const uint8_t *)der, len - 1, &info, &e), -EINVAL);
    assert_int_equal(x509_parse((const uint8_t *)der, 0, &info, &e), -EINVAL);
    free(der);
}

static void test_matches_key(void **state)
{
    size_t len;
    char *der = tu_read_data("x509/leaf.der", &len);
    struct ckey *leaf = load_key("x509/leaf.key");
    struct ckey *other = load_key("x509/other.key");
    struct ckey *inter = load_key("x509/inter.key");
    struct pem_chain chain;
    struct err e;

    load_chain("x509/chain.pem", &chain);
    assert_int_equal(x509_matches_key((const uint8_t *)der, len, leaf, &e), 1);
    assert_int_equal(x509_matches_key((const uint8_t *)der, len, other, &e), 0);
    assert_int_equal(x509_matches_key((const uint8_t *)der, len, inter, &e), 0);
    assert_int_equal(x509_matches_key(chain.certs[1].der, chain.certs[1].len, inter, &e), 1);
    assert_int_equal(x509_matches_key(chain.certs[1].der, chain.certs[1].len, leaf, &e), 0);
    assert_true(x509_matches_key((const uint8_t *)der, 10, leaf, &e) < 0);
    pem_chain_clear(&chain);
    key_free(inter);
    key_free(other);
    key_free(leaf);
    free(der);
}

static int verify(const char *chain_rel, const char *roots_rel, time_t now, struct err *e)
{
    struct pem_chain chain;
    size_t len;
    char *roots = tu_read_data(roots_rel, &len);
    int rc;

    load_chain(chain_rel, &chain);
    rc = x509_verify_chain(&chain, roots, len, now, e);
    pem_chain_clear(&chain);
    free(roots);
    return rc;
}

static void expect_fail(int rc, const struct err *e, int code, const char *needle)
{
    assert_int_equal(rc, code);
    assert_int_equal(e->code, code);
    if (!strstr(e->msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", e->msg, needle);
}

static void test_verify_chain(void **state)
{
    struct err e;
    int rc;

    rc = verify("x509/chain.pem", "x509/root.pem", SOME_TIME, &e);
    if (rc != 0)
        fail_msg("verify: %s", e.msg);
    assert_int_equal(verify("x509/chain.pem", "x509/root.pem", LEAF_NOT_BEFORE, &e), 0);
    assert_int_equal(verify("x509/chain.pem", "x509/root.pem", LEAF_NOT_AFTER, &e), 0);

    /* The same name on another key is not the root. */
    rc = verify("x509/chain.pem", "x509/other-root.pem", SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG, "does not verify");
    /* Without its intermediate the leaf reaches no root. */
    rc = verify("x509/leaf.pem", "x509/root.pem", SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG, "does not verify");

    /* Time: one second outside the leaf's validity on either side. */
    rc = verify("x509/chain.pem", "x509/root.pem", LEAF_NOT_AFTER + 1, &e);
    expect_fail(rc, &e, -EBADMSG, "the certificate expired at 2100-01-01T00:00:00Z");
    rc = verify("x509/chain.pem", "x509/root.pem", LEAF_NOT_BEFORE - 1, &e);
    expect_fail(rc, &e, -EBADMSG, "the certificate is not valid before 2024-01-01T00:00:00Z");
    /* The intermediate alone, checked past its own notAfter (2120-01-01). */
    rc = verify("x509/inter.pem", "x509/root.pem", (time_t)4733510401, &e);
    expect_fail(rc, &e, -EBADMSG, "expired at 2120-01-01T00:00:00Z");
    /* The intermediate still valid but the root gone (2110-01-01). */
    rc = verify("x509/inter.pem", "x509/root.pem", (time_t)4417977601, &e);
    expect_fail(rc, &e, -EBADMSG, "the trusted root expired at 2110-01-01T00:00:00Z");
    assert_int_equal(verify("x509/inter.pem", "x509/root.pem", (time_t)4417977600, &e), 0);
}

static void test_verify_chain_inputs(void **state)
{
    struct pem_chain chain, empty = {NULL, 0};
    size_t rlen;
    char *root = tu_read_data("x509/root.pem", &rlen);
    char *other = tu_read_data("x509/other-root.pem", NULL);
    char *both = NULL;
    struct err e;
    int rc;

    load_chain("x509/chain.pem", &chain);
    /* Several roots: the right one among them is enough. */
    assert_true(asprintf(&both, "%s%s", other, root) >= 0);
    rc = x509_verify_chain(&chain, both, strlen(both), SOME_TIME, &e);
    if (rc != 0)
        fail_msg("verify with two roots: %s", e.msg);
    rc = x509_verify_chain(&chain, "not a certificate", 17, SOME_TIME, &e);
    expect_fail(rc, &e, -EINVAL, "trusted roots");
    rc = x509_verify_chain(&empty, root, rlen, SOME_TIME, &e);
    expect_fail(rc, &e, -EINVAL, "empty certificate chain");
    /* A chain certificate that is not DER at all. */
    chain.certs[1].len = 7;
    rc = x509_verify_chain(&chain, root, rlen, SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG, "chain certificate 1");
    pem_chain_clear(&chain);
    free(both);
    free(other);
    free(root);
}

/* ---- x509_check_chain_links ---- */

#define SKEW 300

/* The certificates of the named fixtures (x509/<name>.pem), in that order, as one chain. */
static void chain_of(struct pem_chain *chain, const char *const *files)
{
    char *all = NULL, rel[64];
    size_t len = 0;
    struct err e;

    for (; *files; files++) {
        size_t n;
        char *pem;

        snprintf(rel, sizeof rel, "x509/%s.pem", *files);
        pem = tu_read_data(rel, &n);
        assert_non_null(all = realloc(all, len + n + 1));
        memcpy(all + len, pem, n + 1);
        len += n;
        free(pem);
    }
    if (pem_split_chain(all, len, chain, &e) < 0)
        fail_msg("chain: %s", e.msg);
    free(all);
}

/* x509_check_chain_links on the fixtures `files`, with the anchors of fixture `anchors`
 * (NULL: none) at `now`, SKEW seconds of skew allowed. */
static int links(const char *const *files, const char *anchors, time_t now, struct err *e)
{
    struct pem_chain chain;
    char rel[64], *pem = NULL;
    size_t len = 0;
    int rc;

    chain_of(&chain, files);
    if (anchors) {
        snprintf(rel, sizeof rel, "x509/%s.pem", anchors);
        pem = tu_read_data(rel, &len);
    }
    err_clear(e);
    rc = x509_check_chain_links(&chain, pem, len, now, SKEW, e);
    pem_chain_clear(&chain);
    free(pem);
    return rc;
}

#define FILES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_ok(int rc, const struct err *e)
{
    if (rc != 0)
        fail_msg("expected a verifying chain, got %d: %s", rc, e->msg);
}

static void test_links_good(void **state)
{
    struct err e;

    expect_ok(links(FILES("leaf", "inter"), NULL, SOME_TIME, &e), &e);
    /* The root may come along; a lone leaf has no link to check. */
    expect_ok(links(FILES("leaf", "inter", "root"), NULL, SOME_TIME, &e), &e);
    expect_ok(links(FILES("leaf"), NULL, SOME_TIME, &e), &e);
    /* Two intermediates. */
    expect_ok(links(FILES("sub-leaf", "sub-ca"), NULL, SOME_TIME, &e), &e);
}

/* A leaf for our key and names, naming the real intermediate as its issuer but signed by
 * another key: only the signature check catches it. */
static void test_links_forged_leaf(void **state)
{
    struct err e;
    int rc;

    rc = links(FILES("forged"), NULL, SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG,
                "the signature of the leaf (CN \"a.example\") is not by chain certificate 1 "
                "(CN \"Acmed Test Intermediate\")");
    rc = links(FILES("forged"), "root", SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG, "the signature of the leaf");
    /* A certificate followed by itself: a self-signed root may be, but a self-issued one
     * signed by another key must not pass as its own issuer. */
    expect_ok(links(FILES("leaf", "inter", "root", "root"), NULL, SOME_TIME, &e), &e);
    rc = links(FILES("leaf", "inter", "root-forged", "root-forged"), NULL, SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG,
                "the signature of chain certificate 2 (CN \"Acmed Test Root\") is not by chain "
                "certificate 3 (CN \"Acmed Test Root\")");
}

static void test_links_shuffled(void **state)
{
    struct err e;
    int rc;

    rc = links(FILES("leaf", "root", "inter"), NULL, SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG,
                "the leaf (CN \"a.example\") is not issued by chain certificate 1 "
                "(CN \"Acmed Test Root\")");
    /* GnuTLS would sort this one out for a trust list: the order must be refused anyway. */
    rc = links(FILES("leaf", "root", "inter"), "root", SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG, "is not issued by chain certificate 1");
    rc = links(FILES("inter", "leaf"), NULL, SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG,
                "the leaf (CN \"Acmed Test Intermediate\") is not issued by chain certificate 1 "
                "(CN \"a.example\")");
    /* A certificate followed by itself is not its own issuer. */
    rc = links(FILES("leaf", "leaf"), NULL, SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG, "is not issued by chain certificate 1");
}

static void test_links_not_a_ca(void **state)
{
    struct err e;
    int rc;

    /* Signed by the leaf's key and naming it as issuer, but the leaf is no CA. */
    rc = links(FILES("not-ca", "leaf", "inter"), NULL, SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG,
                "the leaf (CN \"sub.a.example\") is signed by chain certificate 1 "
                "(CN \"a.example\"), which is not a CA");
    /* inter's path_len is 0: no intermediate may come between it and a leaf. */
    rc = links(FILES("sub-leaf", "sub-ca", "inter"), NULL, SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG,
                "chain certificate 2 (CN \"Acmed Test Intermediate\") allows 0 intermediate "
                "certificates below it, the chain has 1");
}

static void test_links_times(void **state)
{
    struct err e;
    int rc;

    /* An intermediate with inter's name and key, signed by root, expired in 2021. */
    rc = links(FILES("leaf", "inter-expired"), NULL, SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG,
                "chain certificate 1 (CN \"Acmed Test Intermediate\") expired at "
                "2021-01-01T00:00:00Z");
    /* The leaf's notBefore: up to SKEW seconds ahead is clock skew, one more is not. */
    expect_ok(links(FILES("leaf", "inter"), NULL, LEAF_NOT_BEFORE - SKEW, &e), &e);
    rc = links(FILES("leaf", "inter"), NULL, LEAF_NOT_BEFORE - SKEW - 1, &e);
    expect_fail(rc, &e, -EBADMSG,
                "the leaf (CN \"a.example\") is not valid before 2024-01-01T00:00:00Z "
                "(now 2023-12-31T23:54:59Z)");
    expect_ok(links(FILES("leaf", "inter"), NULL, LEAF_NOT_AFTER, &e), &e);
    rc = links(FILES("leaf", "inter"), NULL, LEAF_NOT_AFTER + 1, &e);
    expect_fail(rc, &e, -EBADMSG, "the leaf (CN \"a.example\") expired at 2100-01-01T00:00:00Z");
}

static void test_links_anchors(void **state)
{
    struct err e;
    int rc;

    /* The top issued by an anchor, or an anchor itself (the root, or the intermediate). */
    expect_ok(links(FILES("leaf", "inter"), "root", SOME_TIME, &e), &e);
    expect_ok(links(FILES("leaf", "inter", "root"), "root", SOME_TIME, &e), &e);
    expect_ok(links(FILES("leaf", "inter"), "inter", SOME_TIME, &e), &e);
    expect_ok(links(FILES("leaf"), "inter", SOME_TIME, &e), &e);
    /* Not reaching the anchor: another root of the same name, or the intermediate missing. */
    rc = links(FILES("leaf", "inter"), "other-root", SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG,
                "chain certificate 1 (CN \"Acmed Test Intermediate\") is neither a trust anchor "
                "nor issued by one");
    rc = links(FILES("leaf", "inter", "root"), "other-root", SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG,
                "chain certificate 2 (CN \"Acmed Test Root\") is neither a trust anchor nor "
                "issued by one");
    rc = links(FILES("leaf"), "root", SOME_TIME, &e);
    expect_fail(rc, &e, -EBADMSG, "the leaf (CN \"a.example\") is neither a trust anchor");
    /* The anchor that issued the top must be valid too (root ends 2110, inter 2120). */
    expect_ok(links(FILES("inter"), "root", (time_t)4417977600, &e), &e);
    rc = links(FILES("inter"), "root", (time_t)4417977601, &e);
    expect_fail(rc, &e, -EBADMSG,
                "the trust anchor (CN \"Acmed Test Root\") expired at 2110-01-01T00:00:00Z");
}

static void test_links_inputs(void **state)
{
    struct pem_chain chain, empty = {NULL, 0};
    size_t rlen;
    char *root = tu_read_data("x509/root.pem", &rlen);
    char *other = tu_read_data("x509/other-root.pem", NULL);
    char *both = NULL;
    struct err e;
    int rc;

    chain_of(&chain, FILES("leaf", "inter"));
    /* Several anchors: the right one among them is enough. */
    assert_true(asprintf(&both, "%s%s", other, root) >= 0);
    expect_ok(x509_check_chain_links(&chain, both, strlen(both), SOME_TIME, SKEW, &e), &e);
    rc = x509_check_chain_links(&chain, "not a certificate", 17, SOME_TIME, SKEW, &e);
    expect_fail(rc, &e, -EINVAL, "no usable certificate among the trust anchors");
    rc = x509_check_chain_links(&chain, "", 0, SOME_TIME, SKEW, &e);
    expect_fail(rc, &e, -EINVAL, "trust anchors");
    rc = x509_check_chain_links(&empty, NULL, 0, SOME_TIME, SKEW, &e);
    expect_fail(rc, &e, -EINVAL, "empty certificate chain");
    rc = x509_check_chain_links(NULL, NULL, 0, SOME_TIME, SKEW, &e);
    expect_fail(rc, &e, -EINVAL, "empty certificate chain");
    chain.certs[1].len = 7;
    rc = x509_check_chain_links(&chain, NULL, 0, SOME_TIME, SKEW, &e);
    expect_fail(rc, &e, -EBADMSG, "chain certificate 1");
    pem_chain_clear(&chain);
    free(both);
    free(other);
    free(root);
}

static void test_top_issuer_cn(void **state)
{
    struct pem_chain chain, empty = {NULL, 0};
    char *cn;

    load_chain("x509/chain.pem", &chain);
    cn = x509_chain_top_issuer_cn(&chain);
    assert_non_null(cn);
    assert_string_equal(cn, "Acmed Test Root");
    free(cn);
    pem_chain_clear(&chain);
    load_chain("x509/leaf.pem", &chain);
    cn = x509_chain_top_issuer_cn(&chain);
    assert_non_null(cn);
    assert_string_equal(cn, "Acmed Test Intermediate");
    free(cn);
    pem_chain_clear(&chain);
    assert_null(x509_chain_top_issuer_cn(&empty));
    assert_null(x509_chain_top_issuer_cn(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_leaf),
        cmocka_unit_test(test_parse_root),
        cmocka_unit_test(test_cert_id_rfc9773),
        cmocka_unit_test(test_cert_id_alphabet_and_empty),
        cmocka_unit_test(test_cert_id_of_leaf),
        cmocka_unit_test(test_parse_rejects_garbage),
        cmocka_unit_test(test_matches_key),
        cmocka_unit_test(test_verify_chain),
        cmocka_unit_test(test_verify_chain_inputs),
        cmocka_unit_test(test_top_issuer_cn),
        cmocka_unit_test(test_links_good),
        cmocka_unit_test(test_links_forged_leaf),
        cmocka_unit_test(test_links_shuffled),
        cmocka_unit_test(test_links_not_a_ca),
        cmocka_unit_test(test_links_times),
        cmocka_unit_test(test_links_anchors),
        cmocka_unit_test(test_links_inputs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
