/* Unit tests for store_cull.c: what certs/, keys/ and state/ hold, the key a certificate
 * directory links to, and the removal of a key directory (no symlink followed). */
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

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* The fixture: an empty state directory (tests/common/tu_store.h). */

/* <root>/<a><b> (b may be ""). Caller frees. */
static char *at(struct tu_store *f, const char *a, const char *b)
{
    char *p = NULL;

    assert_true(asprintf(&p, "%s/%s%s", f->root, a, b) > 0);
    return p;
}

static void make_dir(struct tu_store *f, const char *a, const char *b)
{
    char *p = at(f, a, b);

    assert_int_equal(mkdir(p, 0700), 0);
    free(p);
}

static void make_file(struct tu_store *f, const char *a, const char *b, const char *text)
{
    char *p = at(f, a, b);

    tu_write_file(p, text);
    free(p);
}

static void make_link(struct tu_store *f, const char *target, const char *a, const char *b)
{
    char *p = at(f, a, b);

    assert_int_equal(symlink(target, p), 0);
    free(p);
}

static bool present(struct tu_store *f, const char *a, const char *b)
{
    char *p = at(f, a, b);
    struct stat sb;
    bool yes = lstat(p, &sb) == 0;

    free(p);
    return yes;
}

static void test_ids(void **state)
{
    struct tu_store *f = *state;
    char **v = NULL;
    size_t n = 9;
    struct err e;

    assert_int_equal(store_cert_ids(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 0);
    make_dir(f, "certs/", ID_B);
    make_dir(f, "certs/", ID_A);
    make_dir(f, "certs/", "not-an-id");
    make_dir(f, "certs/", ".tmp-" ID_C);
    make_file(f, "certs/", ID_C, "a file is listed too: removal refuses it");
    assert_int_equal(store_cert_ids(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], ID_A);
    assert_string_equal(v[1], ID_B);
    assert_string_equal(v[2], ID_C);
    store_ids_free(v, n);
    make_dir(f, "keys/", ID_C);
    make_link(f, ID_C, "keys/", ID_A);
    assert_int_equal(store_key_ids(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], ID_A);
    assert_string_equal(v[1], ID_C);
    store_ids_free(v, n);
    store_ids_free(NULL, 0);
}

static void test_state_files(void **state)
{
    struct tu_store *f = *state;
    char **v = NULL;
    size_t n = 9;
    struct err e;

    assert_int_equal(store_state_files(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 0);
    make_file(f, "state/", "one.json", "{}");
    make_file(f, "state/", "two.json", "{}");
    make_file(f, "state/", ".json", "{}");
    make_file(f, "state/", "three.txt", "{}");
    make_file(f, "state/", ".tmp-four.json", "{}");
    make_dir(f, "state/", "five.json");
    make_link(f, "one.json", "state/", "six.json");
    assert_int_equal(store_state_files(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "one");
    assert_string_equal(v[1], "two");
    store_ids_free(v, n);
}

static void test_cert_key_link(void **state)
{
    struct tu_store *f = *state;
    char key[STORE_ID_LEN + 1];
    struct err e;

    make_dir(f, "certs/", ID_A);
    make_link(f, "../../keys/" ID_B "/privkey", "certs/" ID_A, "/privkey");
    assert_int_equal(store_cert_key_link(&f->st, ID_A, key, &e), 0);
    assert_string_equal(key, ID_B);
    /* No link at all, or a file instead of one: no key. */
    make_dir(f, "certs/", ID_B);
    assert_int_equal(store_cert_key_link(&f->st, ID_B, key, &e), -ENOENT);
    make_file(f, "certs/" ID_B, "/privkey", "key");
    assert_int_equal(store_cert_key_link(&f->st, ID_B, key, &e), -ENOENT);
    /* A link elsewhere is reported, not guessed at. */
    make_dir(f, "certs/", ID_C);
    make_link(f, "/etc/ssl/private/key.pem", "certs/" ID_C, "/privkey");
    assert_int_equal(store_cert_key_link(&f->st, ID_C, key, &e), -EXDEV);
    assert_non_null(strstr(e.msg, "points at /etc/ssl/private/key.pem"));
    assert_int_equal(store_cert_key_link(&f->st, "../x", key, &e), -EINVAL);
}

static void test_key_remove(void **state)
{
    struct tu_store *f = *state;
    struct err e;

    make_dir(f, "keys/", ID_A);
    make_file(f, "keys/" ID_A, "/privkey", "key");
    assert_int_equal(store_key_remove(&f->st, ID_A, &e), 0);
    assert_false(present(f, "keys/", ID_A));
    assert_int_equal(store_key_remove(&f->st, ID_A, &e), -ENOENT);
    /* A privkey that is a symlink: refused, the target untouched. */
    make_file(f, "outside", "", "keep");
    make_dir(f, "keys/", ID_B);
    make_link(f, "../../outside", "keys/" ID_B, "/privkey");
    assert_int_equal(store_key_remove(&f->st, ID_B, &e), -EINVAL);
    assert_true(present(f, "keys/" ID_B, "/privkey"));
    assert_true(present(f, "outside", ""));
    /* Another file beside privkey: nothing removed. */
    make_dir(f, "keys/", ID_C);
    make_file(f, "keys/" ID_C, "/privkey", "key");
    make_file(f, "keys/" ID_C, "/other", "x");
    assert_int_equal(store_key_remove(&f->st, ID_C, &e), -EINVAL);
    assert_true(present(f, "keys/" ID_C, "/privkey"));
    /* keys/<id> itself a link: not followed. */
    make_link(f, ID_C, "keys/", ID_A);
    assert_int_equal(store_key_remove(&f->st, ID_A, &e), -EINVAL);
    assert_true(present(f, "keys/" ID_C, "/privkey"));
    assert_int_equal(store_key_remove(&f->st, "..", &e), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ids, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_state_files, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_cert_key_link, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_key_remove, tu_store_setup, tu_store_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
