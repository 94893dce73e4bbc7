/* Unit tests for store's account directories (store_account_dir.c): the account rule shared
 * by the reconciler and `acmed account`, listing accounts/, removing and setting aside an
 * account, and loading one account by its ids. */
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

#include "common/testutil.h"
#include "common/tu_store.h"
#include "store/store.h"
#include "util/fsio.h"

#define URL "https://127.0.0.1:14000/dir"
#define DIR_ID "127.0.0.1%3a14000%2fdir"
#define URL2 "https://acme.example/directory"
#define DIR_ID2 "acme.example%2fdirectory"

/* The fixture: an empty state directory (tests/common/tu_store.h). */

/* Saves a new account key for `url` with EAB kid `kid` (NULL: none) created at `created`;
 * its key id goes to id_out. */
static void new_account(struct tu_store *f, const char *url, const char *kid, time_t created,
                        char *id_out)
{
    struct key_spec spec = {KEY_ECDSA, 256};
    struct store_account a = {0};
    struct err e;

    assert_int_equal(key_generate(&spec, &a.key, &e), 0);
    a.created = created;
    if (kid)
        assert_non_null(a.eab_kid = strdup(kid));
    if (store_account_save_key(&f->st, url, &a, &e) < 0)
        fail_msg("store_account_save_key: %s", e.msg);
    memcpy(id_out, a.key_id, STORE_ID_LEN + 1);
    store_account_clear(&a);
}

/* <root>/accounts/<dir_id>[/<key_id>[/<file>]]. Caller frees. */
static char *acct_path(struct tu_store *f, const char *dir_id, const char *key_id, const char *file)
{
    char *p = NULL;

    assert_true(asprintf(&p, "%s/accounts/%s%s%s%s%s", f->root, dir_id, key_id ? "/" : "",
                         key_id ? key_id : "", file ? "/" : "", file ? file : "") > 0);
    return p;
}

/* ---- the account rule ---- */

static void test_pick_rule(void **state)
{
    struct store_account v[4] = {{0}};

    (void)state;
    /* No accounts: nothing to pick. */
    assert_int_equal(store_account_pick(v, 0, NULL), -1);
    assert_int_equal(store_account_pick(NULL, 0, "k"), -1);
    /* Oldest first as loaded: the first without a kid, or the first with the same kid. */
    v[0].eab_kid = "k1";
    v[1].eab_kid = NULL;
    v[2].eab_kid = "k2";
    v[3].eab_kid = NULL;
    assert_int_equal(store_account_pick(v, 4, NULL), 1);
    assert_int_equal(store_account_pick(v, 4, "k1"), 0);
    assert_int_equal(store_account_pick(v, 4, "k2"), 2);
    assert_int_equal(store_account_pick(v, 4, "k3"), -1);
    /* Every account bound to a kid: the case where `acmed account` used to take the first
     * one while the reconciler registered a new account. Neither takes one now. */
    v[1].eab_kid = "k1";
    v[3].eab_kid = "k2";
    assert_int_equal(store_account_pick(v, 4, NULL), -1);
    assert_int_equal(store_account_pick(v, 4, "k1"), 0);
    assert_int_equal(store_account_pick(v, 4, "k2"), 2);
    /* An account without a kid is not one for a kid either. */
    v[0].eab_kid = NULL;
    assert_int_equal(store_account_pick(v, 1, "k1"), -1);
}

static void test_find(void **state)
{
    struct tu_store *f = *state;
    char old_eab[STORE_ID_LEN + 1], plain[STORE_ID_LEN + 1], new_eab[STORE_ID_LEN + 1];
    struct store_account a = {0};
    bool found = true;
    struct err e;

    assert_int_equal(store_account_find(&f->st, URL, NULL, &a, &found, &e), 0);
    assert_false(found);
    new_account(f, URL, "kid-1", 1000, old_eab);
    new_account(f, URL, "kid-1", 3000, new_eab);
    /* Only EAB accounts: none for a target without EAB. */
    assert_int_equal(store_account_find(&f->st, URL, NULL, &a, &found, &e), 0);
    assert_false(found);
    assert_null(a.key);
    /* The oldest of the kid's accounts. */
    assert_int_equal(store_account_find(&f->st, URL, "kid-1", &a, &found, &e), 0);
    assert_true(found);
    assert_string_equal(a.key_id, old_eab);
    assert_string_equal(a.eab_kid, "kid-1");
    assert_string_equal(a.dir_id, DIR_ID);
    assert_non_null(a.key);
    store_account_clear(&a);
    new_account(f, URL, NULL, 2000, plain);
    assert_int_equal(store_account_find(&f->st, URL, NULL, &a, &found, &e), 0);
    assert_true(found);
    assert_string_equal(a.key_id, plain);
    assert_null(a.eab_kid);
    store_account_clear(&a);
    /* Another CA's directory has none of them. */
    assert_int_equal(store_account_find(&f->st, URL2, "kid-1", &a, &found, &e), 0);
    assert_false(found);
    assert_true(store_account_find(&f->st, "ftp://x", NULL, &a, &found, &e) < 0);
}

/* ---- accounts held by a signer ---- */

/* RFC 7638 §3.1's example thumbprint. */
#define THUMB "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

static void test_signer_accounts(void **state)
{
    struct tu_store *f = *state;
    char plain[STORE_ID_LEN + 1], id[STORE_ID_LEN + 1];
    struct store_account a = {0}, b = {0};
    bool found = false;
    struct err e;
    char *p;
    struct stat sb;

    /* The key-id is the base32 of the thumbprint; anything else is no thumbprint. */
    assert_int_equal(store_signer_key_id(THUMB, id, &e), 0);
    assert_true(store_id_valid(id));
    assert_int_equal(store_signer_key_id("abc", id, &e), -EINVAL);
    assert_int_equal(store_signer_key_id("!!", id, &e), -EINVAL);
    assert_int_equal(store_signer_key_id(THUMB, id, &e), 0);

    new_account(f, URL, NULL, 2000, plain);
    assert_non_null(a.signer = strdup("unix:/run/acme/S.signer"));
    assert_non_null(a.thumbprint = strdup(THUMB));
    assert_non_null(a.jwk = strdup("{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"0vx7\"}"));
    assert_non_null(a.url = strdup("https://ca.example/acct/9"));
    a.created = 1000; /* older than the key file's account */
    assert_int_equal(store_account_save_signer(&f->st, URL, &a, &e), 0);
    assert_string_equal(a.key_id, id);
    assert_string_equal(a.dir_id, DIR_ID);
    store_account_clear(&a);

    /* Only meta: never a private key under the state directory. */
    p = acct_path(f, DIR_ID, id, "privkey");
    assert_int_equal(stat(p, &sb), -1);
    free(p);
    p = acct_path(f, DIR_ID, id, "meta");
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    free(p);

    /* A key-file target never takes it, though it is older. */
    assert_int_equal(store_account_find(&f->st, URL, NULL, &a, &found, &e), 0);
    assert_true(found);
    assert_string_equal(a.key_id, plain);
    assert_null(a.signer);
    store_account_clear(&a);

    /* The signer's target finds it by its key. */
    assert_int_equal(store_account_find_signer(&f->st, URL, THUMB, &b, &found, &e), 0);
    assert_true(found);
    assert_null(b.key);
    assert_string_equal(b.key_id, id);
    assert_string_equal(b.signer, "unix:/run/acme/S.signer");
    assert_string_equal(b.url, "https://ca.example/acct/9");
    assert_non_null(strstr(b.jwk, "\"kty\":\"RSA\""));
    store_account_clear(&b);
    assert_int_equal(store_account_find_signer(&f->st, URL,
                                               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &b,
                                               &found, &e),
                     0);
    assert_false(found);

    /* A meta moved under another id does not lend it its name: skipped when listing. */
    {
        char *from = acct_path(f, DIR_ID, id, NULL), *to = acct_path(f, DIR_ID, plain, NULL);
        char *pk = acct_path(f, DIR_ID, plain, "privkey");

        assert_int_equal(unlink(pk), 0);
        p = acct_path(f, DIR_ID, plain, "meta");
        assert_int_equal(unlink(p), 0);
        assert_int_equal(rmdir(to), 0);
        assert_int_equal(rename(from, to), 0);
        assert_int_equal(store_account_find_signer(&f->st, URL, THUMB, &b, &found, &e), 0);
        assert_false(found);
        assert_int_equal(store_account_load(&f->st, DIR_ID, plain, &b, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "not the one it is named for"));
        free(from);
        free(to);
        free(pk);
        free(p);
    }

    /* Saving one needs a signer and no key. */
    assert_int_equal(store_account_save_signer(&f->st, URL, &a, &e), -EINVAL);
}

/* ---- listing and loading ---- */

static void test_list(void **state)
{
    struct tu_store *f = *state;
    char k1[STORE_ID_LEN + 1], k2[STORE_ID_LEN + 1], k3[STORE_ID_LEN + 1];
    struct store_account_ref *v = NULL;
    char *p, *q;
    size_t n = 9;
    struct err e;

    assert_int_equal(store_accounts_list(&f->st, NULL, true, &v, &n, &e), 0);
    assert_int_equal(n, 0);
    new_account(f, URL, NULL, 0, k1);
    new_account(f, URL, NULL, 0, k2);
    new_account(f, URL2, NULL, 0, k3);
    /* Not accounts: a file, a symlink, a bad name, a hidden dir-id, a linked dir-id. */
    p = acct_path(f, DIR_ID, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL);
    tu_write_file(p, "x");
    free(p);
    p = acct_path(f, DIR_ID, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", NULL);
    assert_int_equal(symlink(k1, p), 0);
    free(p);
    p = acct_path(f, DIR_ID, "not-an-id", NULL);
    assert_int_equal(mkdir(p, 0700), 0);
    free(p);
    p = acct_path(f, ".hidden", NULL, NULL);
    assert_int_equal(mkdir(p, 0700), 0);
    q = acct_path(f, ".hidden", k1, NULL);
    assert_int_equal(mkdir(q, 0700), 0);
    free(q);
    q = acct_path(f, "linked", NULL, NULL);
    assert_int_equal(symlink(DIR_ID, q), 0);
    free(q);
    free(p);
    assert_int_equal(store_account_set_aside(&f->st, DIR_ID, k2, &e), 0);

    assert_int_equal(store_accounts_list(&f->st, NULL, false, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].dir_id, DIR_ID);
    assert_string_equal(v[0].key_id, k1);
    assert_false(v[0].deactivated);
    assert_string_equal(v[1].dir_id, DIR_ID2);
    assert_string_equal(v[1].key_id, k3);
    store_account_refs_free(v, n);

    assert_int_equal(store_accounts_list(&f->st, DIR_ID, true, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i].dir_id, DIR_ID);
        assert_true(v[i].deactivated == !strcmp(v[i].key_id, k2));
    }
    store_account_refs_free(v, n);
    /* A dir-id that is a link, or none at all, or one that is no name. */
    assert_int_equal(store_accounts_list(&f->st, "linked", false, &v, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_accounts_list(&f->st, "nothing", false, &v, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_accounts_list(&f->st, "..", false, &v, &n, &e), -EINVAL);
    assert_int_equal(store_accounts_list(&f->st, "a/b", false, &v, &n, &e), -EINVAL);
    store_account_refs_free(NULL, 0);
}

static void test_load_and_meta(void **state)
{
    struct tu_store *f = *state;
    char k1[STORE_ID_LEN + 1], k2[STORE_ID_LEN + 1];
    struct store_account a;
    char *p;
    struct err e;

    new_account(f, URL, "kid-9", 1234, k1);
    new_account(f, URL, NULL, 0, k2);
    assert_int_equal(store_account_load(&f->st, DIR_ID, k1, &a, &e), 0);
    assert_non_null(a.key);
    assert_string_equal(a.eab_kid, "kid-9");
    assert_int_equal(a.created, 1234);
    store_account_clear(&a);
    /* A privkey that does not parse is refused; the meta can still be read. */
    p = acct_path(f, DIR_ID, k2, "privkey");
    assert_int_equal(unlink(p), 0);
    tu_write_file(p, "not a key\n");
    assert_true(store_account_load(&f->st, DIR_ID, k2, &a, &e) < 0);
    assert_null(a.key);
    assert_int_equal(store_account_read_meta(&f->st, DIR_ID, k2, &a, &e), 0);
    assert_null(a.key);
    assert_string_equal(a.key_id, k2);
    assert_true(a.created > 0);
    store_account_clear(&a);
    free(p);
    /* A malformed meta is ignored, not an error. */
    p = acct_path(f, DIR_ID, k1, "meta");
    assert_int_equal(unlink(p), 0);
    tu_write_file(p, "{");
    assert_int_equal(store_account_read_meta(&f->st, DIR_ID, k1, &a, &e), 0);
    assert_null(a.url);
    assert_null(a.eab_kid);
    store_account_clear(&a);
    free(p);
    assert_int_equal(store_account_load(&f->st, "..", k1, &a, &e), -EINVAL);
    assert_int_equal(store_account_read_meta(&f->st, DIR_ID, "../x", &a, &e), -EINVAL);
    assert_int_equal(store_account_load(&f->st, DIR_ID,
                                        "cccccccccccccccccccccccccccccccccccccccccccccccccccc", &a,
                                        &e),
                     -ENOENT);
}

/* ---- removing and setting aside ---- */

static void test_remove(void **state)
{
    struct tu_store *f = *state;
    char k1[STORE_ID_LEN + 1], k2[STORE_ID_LEN + 1], k3[STORE_ID_LEN + 1];
    char *dir, *p, *outside;
    struct stat sb;
    struct err e;

    new_account(f, URL, NULL, 0, k1);
    new_account(f, URL, NULL, 0, k2);
    new_account(f, URL, NULL, 0, k3);
    assert_int_equal(store_account_remove(&f->st, DIR_ID, k1, &e), 0);
    dir = acct_path(f, DIR_ID, k1, NULL);
    assert_int_equal(lstat(dir, &sb), -1);
    free(dir);
    /* Missing: an error naming it. */
    assert_int_equal(store_account_remove(&f->st, DIR_ID, k1, &e), -ENOENT);

    /* A privkey that is a symlink is refused, and what it points at stays. */
    outside = fsio_join(f->root, "outside");
    tu_write_file(outside, "keep me");
    p = acct_path(f, DIR_ID, k2, "privkey");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink(outside, p), 0);
    assert_int_equal(store_account_remove(&f->st, DIR_ID, k2, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "not a regular file"));
    assert_int_equal(lstat(outside, &sb), 0);
    assert_int_equal(lstat(p, &sb), 0);
    free(p);
    /* Something else inside: the directory stays. */
    p = acct_path(f, DIR_ID, k3, "extra");
    tu_write_file(p, "x");
    assert_int_equal(store_account_remove(&f->st, DIR_ID, k3, &e), -ENOTEMPTY);
    assert_int_equal(lstat(p, &sb), 0);
    free(p);
    /* The key directory itself a symlink: not followed. */
    dir = acct_path(f, DIR_ID, "dddddddddddddddddddddddddddddddddddddddddddddddddddd", NULL);
    p = acct_path(f, DIR_ID, k3, NULL);
    assert_int_equal(symlink(p, dir), 0);
    assert_true(store_account_remove(&f->st, DIR_ID,
                                     "dddddddddddddddddddddddddddddddddddddddddddddddddddd",
                                     &e) < 0);
    assert_int_equal(lstat(p, &sb), 0);
    free(p);
    free(dir);
    assert_int_equal(store_account_remove(&f->st, "..", k3, &e), -EINVAL);
    assert_int_equal(store_account_remove(&f->st, DIR_ID, "..", &e), -EINVAL);
    assert_int_equal(store_account_remove(&f->st, NULL, k3, &e), -EINVAL);
    free(outside);
}

static void test_set_aside(void **state)
{
    struct tu_store *f = *state;
    char k1[STORE_ID_LEN + 1], aside[80];
    struct store_account a = {0};
    bool found = true;
    struct stat sb;
    char *p;
    struct err e;

    new_account(f, URL, NULL, 0, k1);
    assert_int_equal(store_account_set_aside(&f->st, DIR_ID, k1, &e), 0);
    snprintf(aside, sizeof aside, ".deactivated-%s", k1);
    p = acct_path(f, DIR_ID, aside, "privkey");
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    free(p);
    /* Nothing looks for accounts there. */
    assert_int_equal(store_account_find(&f->st, URL, NULL, &a, &found, &e), 0);
    assert_false(found);
    assert_int_equal(store_account_set_aside(&f->st, DIR_ID, k1, &e), -ENOENT);
    assert_int_equal(store_account_set_aside(&f->st, DIR_ID, "x", &e), -EINVAL);
    assert_int_equal(store_account_set_aside(&f->st, "a/b", k1, &e), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_rule),
        cmocka_unit_test_setup_teardown(test_find, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_list, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_signer_accounts, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_load_and_meta, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_remove, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_set_aside, tu_store_setup, tu_store_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
