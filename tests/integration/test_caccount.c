/* Integration tests for cluster/caccount against the three-member etcd cluster of
 * tests/etcd/fixture.sh: the account one node registered is published sealed (its key not in
 * clear in etcd) and materialised by another node (same key id, URL and contact, key 0600),
 * so the fleet uses one account; a CA without one is -ENOENT; a value that claims another
 * CA's directory is refused. */
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

#include "cluster/caccount.h"
#include "common/etcd_fx.h"
#include "common/testutil.h"
#include "crypto/key.h"

#define DIR1 "https://ca.test/dir"
#define DIR2 "https://other-ca.test/dir"

static struct etcd_fx fx;

static int setup(void **state)
{
    (void)state;
    etcd_fx_setup(&fx, "caccount");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    etcd_fx_teardown(&fx);
    return 0;
}

static void test_one_account_for_the_fleet(void **state)
{
    struct key_spec spec = {KEY_ECDSA, 256};
    struct store a, b;
    char *ra = tu_mkdtemp("caccount"), *rb = tu_mkdtemp("caccount"), *dir_id, full[512], path[700];
    char *contact[2] = {"mailto:ops@fleet.test", NULL};
    struct store_account acct = {0}, got_acct = {0};
    struct etcd_fx_got g = {0}, r = {0};
    bool found = false;
    struct stat sb;
    struct err e;

    (void)state;
    assert_int_equal(store_open(ra, &a, &e), 0);
    assert_int_equal(store_open(rb, &b, &e), 0);
    assert_int_equal(key_generate(&spec, &acct.key, &e), 0);
    acct.url = strdup("https://ca.test/acct/42");
    acct.contact = calloc(2, sizeof *acct.contact);
    acct.contact[0] = strdup(contact[0]);
    acct.ncontact = 1;
    assert_int_equal(store_account_save_key(&a, DIR1, &acct, &e), 0);
    assert_int_equal(store_account_save_meta(&a, &acct, &e), 0);
    /* Node A publishes; the key is sealed in etcd. */
    assert_int_equal(caccount_publish(fx.kv, &a, DIR1, NULL, etcd_fx_on_done, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    if (g.rc < 0)
        fail_msg("publish: %s", g.msg);
    dir_id = store_dir_id(DIR1, &e);
    snprintf(full, sizeof full, "%saccounts/%s", fx.prefix, dir_id);
    assert_int_equal(etcd_get(fx.etcd, full, etcd_fx_on_etcd, &r, &e), 0);
    etcd_fx_wait(&fx, &r.done);
    assert_non_null(r.raw);
    assert_null(memmem(r.raw, r.raw_len, "PRIVATE KEY", 11));
    assert_null(memmem(r.raw, r.raw_len, "acct/42", 7));
    free(r.raw);
    /* Node B materialises it: the same account. */
    memset(&g, 0, sizeof g);
    assert_int_equal(caccount_materialize(fx.kv, &b, DIR1, etcd_fx_on_done, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    if (g.rc < 0)
        fail_msg("materialise: %s", g.msg);
    assert_int_equal(store_account_find(&b, DIR1, NULL, &got_acct, &found, &e), 0);
    assert_true(found);
    assert_string_equal(got_acct.key_id, acct.key_id);
    assert_string_equal(got_acct.url, "https://ca.test/acct/42");
    assert_int_equal(got_acct.ncontact, 1);
    assert_string_equal(got_acct.contact[0], contact[0]);
    snprintf(path, sizeof path, "%s/accounts/%s/%s/privkey", rb, dir_id, acct.key_id);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* A CA the fleet has no account for. */
    memset(&g, 0, sizeof g);
    assert_int_equal(caccount_materialize(fx.kv, &b, DIR2, etcd_fx_on_done, &g, &e), 0);
    etcd_fx_wait(&fx, &g.done);
    assert_int_equal(g.rc, -ENOENT);
    /* A value that claims another CA's directory, under this CA's name: refused. */
    {
        char *d2 = store_dir_id(DIR2, &e), name[600];
        const char *v = "{\"v\":1,\"directory\":\"" DIR1 "\",\"contact\":[],\"key\":\"x\"}";

        snprintf(name, sizeof name, "accounts/%s", d2);
        memset(&r, 0, sizeof r);
        assert_int_equal(ckv_put(fx.kv, name, v, strlen(v), 0, etcd_fx_on_etcd, &r, &e), 0);
        etcd_fx_wait(&fx, &r.done);
        memset(&g, 0, sizeof g);
        assert_int_equal(caccount_materialize(fx.kv, &b, DIR2, etcd_fx_on_done, &g, &e), 0);
        etcd_fx_wait(&fx, &g.done);
        assert_int_equal(g.rc, -EBADMSG);
        free(d2);
    }
    free(dir_id);
    store_account_clear(&acct);
    store_account_clear(&got_acct);
    store_close(&a);
    store_close(&b);
    tu_rmtree(ra);
    tu_rmtree(rb);
    free(ra);
    free(rb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_account_for_the_fleet),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
