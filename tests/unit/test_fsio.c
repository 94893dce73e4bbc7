/* Unit tests for util/fsio: atomic durable writes, modes, symlink refusal. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "util/fsio.h"

static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, ".tmp-", 5) == 0)
            n++;
    closedir(d);
    return n;
}

static void test_write_and_read(void **state)
{
    char *dir = tu_mkdtemp("fsio");
    char *path = fsio_join(dir, "file");
    struct err e;
    char *data = NULL;
    size_t len = 0;

    assert_int_equal(fsio_write_atomic(path, "hello", 5, 0644, &e), 0);
    assert_int_equal(fsio_read_file(path, 100, &data, &len, &e), 0);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    free(data);
    /* Replacing keeps no temp file behind. */
    assert_int_equal(fsio_write_atomic(path, "bye", 3, 0644, &e), 0);
    assert_int_equal(fsio_read_file(path, 100, &data, &len, &e), 0);
    assert_string_equal(data, "bye");
    free(data);
    assert_int_equal(count_tmp(dir), 0);
    /* Too large for the cap. */
    assert_int_equal(fsio_read_file(path, 2, &data, &len, &e), -EFBIG);
    assert_non_null(strstr(e.msg, "too large"));
    /* Missing file. */
    char *missing = fsio_join(dir, "nope");
    assert_int_equal(fsio_read_file(missing, 100, &data, &len, &e), -ENOENT);
    assert_non_null(strstr(e.msg, missing));
    free(missing);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_modes_ignore_umask(void **state)
{
    char *dir = tu_mkdtemp("fsio");
    char *key = fsio_join(dir, "privkey");
    char *sub = fsio_join(dir, "a/b/c");
    struct err e;
    struct stat st;
    mode_t old = umask(0);

    /* A permissive umask must not widen a key... */
    assert_int_equal(fsio_write_atomic(key, "k", 1, 0600, &e), 0);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* ...and a strict umask must not narrow a public file or a directory. */
    umask(0077);
    assert_int_equal(fsio_write_atomic(key, "k", 1, 0644, &e), 0);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(fsio_mkdirs(sub, 0755, &e), 0);
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0755);
    /* mkdirs on an existing directory is fine. */
    assert_int_equal(fsio_mkdirs(sub, 0700, &e), 0);
    umask(old);
    free(key);
    free(sub);
    tu_rmtree(dir);
    free(dir);
}

static void test_read_refuses_symlink(void **state)
{
    char *dir = tu_mkdtemp("fsio");
    char *target = fsio_join(dir, "target");
    char *link = fsio_join(dir, "link");
    struct err e;
    char *data = NULL;
    size_t len;

    tu_write_file(target, "secret");
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(fsio_read_file(link, 100, &data, &len, &e), -ELOOP);
    assert_null(data);
    assert_non_null(strstr(e.msg, "symbolic link"));
    free(target);
    free(link);
    tu_rmtree(dir);
    free(dir);
}

/* A process stopped between writing the temp file and renaming it, then killed, must leave
 * the old content whole; the stale temp file is cleaned up afterwards. */
static void test_kill_before_rename(void **state)
{
    char *dir = tu_mkdtemp("fsio");
    char *path = fsio_join(dir, "cert");
    struct err e;
    char *data = NULL;
    size_t len;
    int status;
    pid_t pid;

    assert_int_equal(fsio_write_atomic(path, "old content", 11, 0644, &e), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("ACMED_FAILPOINT", FSIO_FAILPOINT_BEFORE_RENAME, 1);
        fsio_write_atomic(path, "NEW CONTENT THAT MUST NOT APPEAR", 32, 0644, NULL);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
    assert_true(WIFSTOPPED(status));
    assert_int_equal(count_tmp(dir), 1);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(fsio_read_file(path, 100, &data, &len, &e), 0);
    assert_string_equal(data, "old content");
    free(data);
    assert_int_equal(fsio_remove_stale_tmp(dir, &e), 1);
    assert_int_equal(count_tmp(dir), 0);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_check_within(void **state)
{
    char *dir = tu_mkdtemp("fsio");
    char *root = fsio_join(dir, "root");
    char *inside = fsio_join(root, "certs");
    char *escape = fsio_join(root, "escape");
    char *inner_link = fsio_join(root, "inner");
    char *newfile = fsio_join(root, "certs/new-file");
    char *via_escape = fsio_join(root, "escape/x");
    struct err e;

    assert_int_equal(fsio_mkdirs(inside, 0755, &e), 0);
    assert_int_equal(symlink("/etc", escape), 0);
    assert_int_equal(symlink("certs", inner_link), 0);
    assert_int_equal(fsio_check_within(root, inside, &e), 0);
    assert_int_equal(fsio_check_within(root, newfile, &e), 0);
    assert_int_equal(fsio_check_within(root, inner_link, &e), 0);
    assert_int_equal(fsio_check_within(root, escape, &e), -EXDEV);
    assert_non_null(strstr(e.msg, "outside"));
    assert_int_equal(fsio_check_within(root, via_escape, &e), -EXDEV);
    /* A sibling whose name starts with the root's name is still outside. */
    char *sibling = fsio_join(dir, "rootx");
    assert_int_equal(fsio_mkdirs(sibling, 0755, &e), 0);
    assert_int_equal(fsio_check_within(root, sibling, &e), -EXDEV);
    free(sibling);
    free(root);
    free(inside);
    free(escape);
    free(inner_link);
    free(newfile);
    free(via_escape);
    tu_rmtree(dir);
    free(dir);
}

static void test_symlink_atomic(void **state)
{
    char *dir = tu_mkdtemp("fsio");
    char *link = fsio_join(dir, "live");
    char target[64];
    struct err e;
    ssize_t n;

    assert_int_equal(fsio_symlink_atomic("../certs/a", link, &e), 0);
    n = readlink(link, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "../certs/a");
    assert_int_equal(fsio_symlink_atomic("../certs/b", link, &e), 0);
    n = readlink(link, target, sizeof target - 1);
    target[n] = '\0';
    assert_string_equal(target, "../certs/b");
    assert_int_equal(count_tmp(dir), 0);
    free(link);
    tu_rmtree(dir);
    free(dir);
}

static void test_write_into_missing_dir_fails_cleanly(void **state)
{
    struct err e;

    err_clear(&e);
    assert_true(fsio_write_atomic("/nonexistent-acmed-dir/file", "x", 1, 0600, &e) < 0);
    assert_non_null(strstr(e.msg, "/nonexistent-acmed-dir"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_and_read),
        cmocka_unit_test(test_modes_ignore_umask),
        cmocka_unit_test(test_read_refuses_symlink),
        cmocka_unit_test(test_kill_before_rename),
        cmocka_unit_test(test_check_within),
        cmocka_unit_test(test_symlink_atomic),
        cmocka_unit_test(test_write_into_missing_dir_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
