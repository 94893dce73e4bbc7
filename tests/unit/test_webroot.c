/* Unit tests for challenge/webroot: http-01 files in webroot directories. */
#include <dirent.h>
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

#include "challenge/webroot.h"
#include "common/testutil.h"
#include "util/fsio.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"

/* Number of entries in dir other than "." and "..", or -1 when it cannot be opened. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void assert_file(const char *dir, const char *content, mode_t mode)
{
    char *path = fsio_join(dir, TOKEN);
    struct stat st;
    char *data;
    size_t len = 0;

    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, mode);
    data = tu_read_file(path, &len);
    assert_non_null(data);
    assert_int_equal(len, strlen(content));
    assert_string_equal(data, content);
    free(data);
    free(path);
}

static void test_publish_two_paths_mode(void **state)
{
    char *dir = tu_mkdtemp("webroot");
    char *a = fsio_join(dir, "a");
    char *b = fsio_join(dir, "www/b/.well-known/acme-challenge");
    const char *paths[] = {a, b};
    struct err e;
    struct stat st;
    mode_t old = umask(077);

    assert_int_equal(mkdir(a, 0700), 0);
    assert_int_equal(webroot_publish(paths, 2, TOKEN, KEYAUTH, strlen(KEYAUTH), &e), 0);
    umask(old);
    /* The web server usually runs as another user: the file must be world-readable even
     * under a strict umask, and a missing directory is created 0755. */
    assert_file(a, KEYAUTH, 0644);
    assert_file(b, KEYAUTH, 0644);
    assert_int_equal(stat(b, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(count_entries(a), 1);
    assert_int_equal(count_entries(b), 1);
    /* Publishing again replaces the content. */
    assert_int_equal(webroot_publish(paths, 2, TOKEN, "x", 1, &e), 0);
    assert_file(a, "x", 0644);
    assert_int_equal(count_entries(a), 1);

    assert_int_equal(webroot_unpublish(paths, 2, TOKEN, &e), 0);
    assert_int_equal(count_entries(a), 0);
    assert_int_equal(count_entries(b), 0);
    /* Missing files are fine. */
    assert_int_equal(webroot_unpublish(paths, 2, TOKEN, &e), 0);
    free(a);
    free(b);
    tu_rmtree(dir);
    free(dir);
}

static void test_bad_tokens(void **state)
{
    static const char *const bad[] = {"../x", "a/b", "", "a=b", ".", "..", "a b", "ab\n"};
    char *dir = tu_mkdtemp("webroot");
    char *sub = fsio_join(dir, "sub");
    const char *paths[] = {dir, sub};
    struct err e;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(webroot_publish(paths, 2, bad[i], "k", 1, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "token"));
        assert_int_equal(webroot_unpublish(paths, 2, bad[i], &e), -EINVAL);
    }
    assert_int_equal(webroot_publish(paths, 2, NULL, "k", 1, &e), -EINVAL);
    /* Nothing was written, not even the missing directory. */
    assert_int_equal(count_entries(dir), 0);
    free(sub);
    tu_rmtree(dir);
    free(dir);
}

static void test_rollback_when_a_file_blocks(void **state)
{
    char *dir = tu_mkdtemp("webroot");
    char *a = fsio_join(dir, "a");
    char *blocker = fsio_join(dir, "file");
    char *b = fsio_join(dir, "file/acme-challenge");
    const char *paths[] = {a, blocker, b};
    struct err e;

    /* A file where the second path's directory should be. */
    tu_write_file(blocker, "not a directory");
    assert_true(webroot_publish(&paths[0], 1, TOKEN, "k", 1, &e) == 0);
    assert_int_equal(webroot_unpublish(&paths[0], 1, TOKEN, &e), 0);

    assert_true(webroot_publish(paths, 2, TOKEN, "k", 1, &e) < 0);
    assert_non_null(strstr(e.msg, blocker));
    assert_int_equal(count_entries(a), 0);

    const char *paths2[] = {a, b};

    assert_true(webroot_publish(paths2, 2, TOKEN, "k", 1, &e) < 0);
    assert_non_null(strstr(e.msg, b));
    assert_int_equal(count_entries(a), 0);
    free(a);
    free(b);
    free(blocker);
    tu_rmtree(dir);
    free(dir);
}

static void test_rollback_when_not_writable(void **state)
{
    char *dir = tu_mkdtemp("webroot");
    char *a = fsio_join(dir, "a");
    char *b = fsio_join(dir, "ro");
    const char *paths[] = {a, b};
    struct err e;

    /* root writes anywhere: the blocking-file case above covers it. */
    if (geteuid() == 0) {
        free(a);
        free(b);
        tu_rmtree(dir);
        free(dir);
        skip();
    }
    assert_int_equal(mkdir(b, 0555), 0);
    assert_true(webroot_publish(paths, 2, TOKEN, "k", 1, &e) < 0);
    assert_non_null(strstr(e.msg, b));
    assert_int_equal(count_entries(a), 0);
    assert_int_equal(count_entries(b), 0);
    chmod(b, 0755);
    free(a);
    free(b);
    tu_rmtree(dir);
    free(dir);
}

static void test_unpublish_tries_all(void **state)
{
    char *dir = tu_mkdtemp("webroot");
    char *a = fsio_join(dir, "a");
    char *b = fsio_join(dir, "b");
    char *bt = fsio_join(b, TOKEN);
    char *inner = fsio_join(bt, "x");
    const char *paths[] = {b, a};
    struct err e;

    assert_int_equal(webroot_publish(&paths[1], 1, TOKEN, "k", 1, &e), 0);
    /* <b>/<token> is a non-empty directory: it cannot be unlinked. */
    assert_int_equal(mkdir(b, 0755), 0);
    assert_int_equal(mkdir(bt, 0755), 0);
    tu_write_file(inner, "x");
    assert_true(webroot_unpublish(paths, 2, TOKEN, &e) < 0);
    assert_non_null(strstr(e.msg, b));
    /* The other path was still cleaned. */
    assert_int_equal(count_entries(a), 0);
    free(a);
    free(b);
    free(bt);
    free(inner);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_two_paths_mode),
        cmocka_unit_test(test_bad_tokens),
        cmocka_unit_test(test_rollback_when_a_file_blocks),
        cmocka_unit_test(test_rollback_when_not_writable),
        cmocka_unit_test(test_unpublish_tries_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
