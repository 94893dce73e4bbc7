/* Integration tests for cluster/ccert against the three-member etcd cluster of
 * tests/etcd/fixture.sh: a certificate one node publishes (with its key, sealed: no key in clear
 * in etcd) is materialised by another node into its own state directory, key 0600, the
 * certificate usable with it; a certificate value moved under another certificate's id, and a
 * key name holding another key, are refused and nothing is written; a certificate for a CSR (no
 * key of ours) is not published. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/ccert.h"
#include "common/etcd_fx.h"
#include "common/testutil.h"
#include "crypto/key.h"

#include <jansson.h>

#define URL "https://ca.test/order/ccert-1"
#define URL2 "https://ca.test/order/ccert-2"

static struct etcd_fx fx;

static int setup(void **state)
{
    (void)state;
    etcd_fx_setup(&fx, "ccert");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    etcd_fx_teardown(&fx);
    return 0;
}

/* A state directory holding the test leaf's key and the certificate of order url. */
static char *node(struct store *st, const char *url, char *key_id, char *cert_id)
{
    char *root = tu_mkdtemp("ccert"), *pem, *chain;
    size_t len, clen;
    struct ckey *k = NULL;
    struct store_cert c = {0};
    struct err e;

    assert_int_equal(store_open(root, st, &e), 0);
    if (!url)
        return root;
    pem = tu_read_data("x509/leaf.key", &len);
    chain = tu_read_data("x509/chain.pem", &clen);
    assert_int_equal(key_from_pem(pem, len, &k, &e), 0);
    assert_int_equal(store_key_save(st, k, key_id, &e), 0);
    if (store_cert_install(st, url, chain, clen, key_id, NULL, NULL, NULL, &c, &e) < 0)
        fail_msg("%s", err_msg(&e));
    memcpy(cert_id, c.id, STORE_ID_LEN + 1);
    store_cert_clear(&c);
    key_free(k);
    free(pem);
    free(chain);
    return root;
}

static void test_publish_and_materialise(void **state)
{
    struct store a, b;
    char kid[STORE_ID_LEN + 1], id[STORE_ID_LEN + 1], path[512], full[256];
    char *ra = node(&a, URL, kid, id), *rb = node(&b, NULL, NULL, NULL);
    struct etcd_fx_got g = {0}, r = {0};
    struct store_cert *certs = NULL;
    size_t n = 0;
    struct stat sb;
    struct err e;

    (void)state;
    assert_int_equal(ccert_publish(fx.kv, &a, id, etcd_fx_on_done, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_int_equal(g.rc, 0);
    /* In etcd the key is sealed. */
    snprintf(full, sizeof full, "%skeys/%s", fx.prefix, kid);
    assert_int_equal(etcd_get(fx.etcd, full, etcd_fx_on_etcd, &r, &e), 0);
    etcd_fx_wait(&fx, &r.done);
    assert_non_null(r.raw);
    assert_null(memmem(r.raw, r.raw_len, "PRIVATE KEY", 11));
    free(r.raw);
    /* Another node materialises it. */
    memset(&g, 0, sizeof g);
    assert_int_equal(ccert_materialize(fx.kv, &b, id, etcd_fx_on_done, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    if (g.rc < 0)
        fail_msg("materialise: %s", g.msg);
    snprintf(path, sizeof path, "%s/keys/%s/privkey", rb, kid);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(store_certs_load(&b, &certs, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(certs[0].id, id);
    assert_string_equal(certs[0].key_id, kid); /* usable: the key is the leaf's */
    store_certs_free(certs, n);
    store_close(&a);
    store_close(&b);
    tu_rmtree(ra);
    tu_rmtree(rb);
    free(ra);
    free(rb);
}

/* An order's key alone (fleet checkpoints): published sealed, read back by another node into
 * its keys/ (0600), and no certificate comes with it; an id that is not one is refused. */
static void test_key_alone(void **state)
{
    struct store a, b;
    char kid[STORE_ID_LEN + 1], id[STORE_ID_LEN + 1], path[512];
    char *ra = node(&a, URL, kid, id), *rb = node(&b, NULL, NULL, NULL);
    struct etcd_fx_got g = {0};
    struct store_cert *certs = NULL;
    size_t n = 0;
    struct stat sb;
    struct err e;

    (void)state;
    assert_int_equal(ccert_key_publish(fx.kv, &a, kid, etcd_fx_on_done, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_int_equal(g.rc, 0);
    memset(&g, 0, sizeof g);
    assert_int_equal(ccert_key_materialize(fx.kv, &b, kid, etcd_fx_on_done, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    if (g.rc < 0)
        fail_msg("key: %s", g.msg);
    snprintf(path, sizeof path, "%s/keys/%s/privkey", rb, kid);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(store_certs_load(&b, &certs, &n, &e), 0);
    assert_int_equal(n, 0);
    store_certs_free(certs, n);
    assert_int_equal(ccert_key_materialize(fx.kv, &b, "../x", etcd_fx_on_done, &g, &e), -EINVAL);
    assert_int_equal(ccert_key_publish(fx.kv, &a, "nope", etcd_fx_on_done, &g, &e), -EINVAL);
    store_close(&a);
    store_close(&b);
    tu_rmtree(ra);
    tu_rmtree(rb);
    free(ra);
    free(rb);
}

static void test_hostile_values(void **state)
{
    struct store a, c;
    char kid[STORE_ID_LEN + 1], id[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1], name[128];
    char *ra = node(&a, URL, kid, id), *rc = node(&c, NULL, NULL, NULL), *other, *cdir;
    struct etcd_fx_got g = {0}, v = {0};
    size_t olen;
    struct err e;

    (void)state;
    assert_int_equal(ccert_publish(fx.kv, &a, id, etcd_fx_on_done, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    /* A certificate's value put (by someone with the secret) under another certificate's id:
     * its order URL gives it away. */
    store_cert_id(URL2, id2);
    {
        size_t clen;
        char *chain = tu_read_data("x509/chain.pem", &clen);
        json_t *o = json_pack("{s:i,s:s,s:s,s:s}", "v", 1, "url", URL, "chain", chain, "key", kid);
        char *s = json_dumps(o, JSON_COMPACT);

        snprintf(name, sizeof name, "certs/%s", id2);
        memset(&v, 0, sizeof v);
        assert_int_equal(ckv_put(fx.kv, name, s, strlen(s), 0, etcd_fx_on_etcd, &v, &e), 0);
        etcd_fx_wait(&fx, &v.done);
        free(s);
        json_decref(o);
        free(chain);
    }
    memset(&g, 0, sizeof g);
    assert_int_equal(ccert_materialize(fx.kv, &c, id2, etcd_fx_on_done, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_int_equal(g.rc, -EBADMSG);
    assert_non_null(strstr(g.msg, "another order"));
    /* The key's name holding another key: refused. */
    other = tu_read_data("x509/other.key", &olen);
    snprintf(name, sizeof name, "keys/%s", kid);
    memset(&v, 0, sizeof v);
    assert_int_equal(ckv_put(fx.kv, name, other, olen, 0, etcd_fx_on_etcd, &v, &e), 0);
    etcd_fx_wait(&fx, &v.done);
    memset(&g, 0, sizeof g);
    assert_int_equal(ccert_materialize(fx.kv, &c, id, etcd_fx_on_done, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_int_equal(g.rc, -EBADMSG);
    assert_non_null(strstr(g.msg, "another key"));
    /* A certificate for a CSR (no key of ours) stays with its node. */
    {
        struct store_cert meta = {
            .csr = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
        struct store_cert out = {0};
        size_t clen;
        char *chain = tu_read_data("x509/chain.pem", &clen);

        if (store_cert_install(&c, URL2, chain, clen, NULL, NULL, NULL, &meta, &out, &e) < 0)
            fail_msg("%s", err_msg(&e));
        assert_int_equal(ccert_publish(fx.kv, &c, out.id, etcd_fx_on_done, &g, &e), -EINVAL);
        assert_non_null(strstr(err_msg(&e), "no key of ours"));
        store_cert_clear(&out);
        free(chain);
    }
    /* Nothing was written on the node that refused them. */
    assert_true(asprintf(&cdir, "%s/certs/%s", rc, id) > 0);
    assert_int_equal(access(cdir, F_OK), -1);
    free(cdir);
    free(other);
    store_close(&a);
    store_close(&c);
    tu_rmtree(ra);
    tu_rmtree(rc);
    free(ra);
    free(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_and_materialise),
        cmocka_unit_test(test_hostile_values),
        cmocka_unit_test(test_key_alone),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
