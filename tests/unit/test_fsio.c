/* Unit tests for util/fsio: atomic durable writes, modes, symlink refusal. */
#include <errno.h>
#include <fcntl.h>
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

static mode_t mode_of(const char *path)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

/* Directories fsio_mkdirs creates get exactly the mode asked for, whatever the umask (077
 * would narrow it, 000 must not widen it); directories that exist keep theirs. */
static void test_mkdirs_modes_exact(void **state)
{
    char *dir = tu_mkdtemp("fsio");
    char *a = fsio_join(dir, "a"), *abc = fsio_join(dir, "a/b/c");
    char *x = fsio_join(dir, "x"), *xy = fsio_join(dir, "x/y");
    char *keep = fsio_join(dir, "keep"), *keepnew = fsio_join(dir, "keep/new");
    char *ab = fsio_join(dir, "a/b");
    struct err e;
    mode_t old = umask(077);

    assert_int_equal(fsio_mkdirs(abc, 0755, &e), 0);
    assert_int_equal(mode_of(a), 0755);
    assert_int_equal(mode_of(ab), 0755);
    assert_int_equal(mode_of(abc), 0755);
    umask(0);
    assert_int_equal(fsio_mkdirs(xy, 0750, &e), 0);
    assert_int_equal(mode_of(x), 0750);
    assert_int_equal(mode_of(xy), 0750);
    /* Existing directories, on the way or at the end, are left as they are. */
    assert_int_equal(mkdir(keep, 0711), 0);
    assert_int_equal(chmod(keep, 0711), 0);
    assert_int_equal(fsio_mkdirs(keepnew, 0700, &e), 0);
    assert_int_equal(mode_of(keep), 0711);
    assert_int_equal(mode_of(keepnew), 0700);
    assert_int_equal(fsio_mkdirs(keep, 0755, &e), 0);
    assert_int_equal(mode_of(keep), 0711);
    umask(077);
    assert_int_equal(fsio_mkdirs(abc, 0700, &e), 0);
    assert_int_equal(mode_of(abc), 0755);
    umask(old);
    free(a);
    free(ab);
    free(abc);
    free(x);
    free(xy);
    free(keep);
    free(keepnew);
    tu_rmtree(dir);
    free(dir);
}

/* Our own links (owned by us, in a directory of ours) are followed, with relative,
 * absolute and ".." targets; the descriptor returned is the directory they lead to and can
 * be written in and fsynced. */
static void test_open_dir_safe_follows_own_links(void **state)
{
    char *dir = tu_mkdtemp("fsio");
    char *real = fsio_join(dir, "real/sub"), *rel = fsio_join(dir, "rel");
    char *abs = fsio_join(dir, "abs"), *up = fsio_join(dir, "real/up");
    char *via = NULL, *file = fsio_join(dir, "real/sub/f");
    struct err e;
    char *data;
    int fd;

    assert_int_equal(fsio_mkdirs(real, 0755, &e), 0);
    assert_int_equal(symlink("real/sub", rel), 0);
    assert_int_equal(symlink(real, abs), 0);
    assert_int_equal(symlink("../rel/.", up), 0);
    assert_true(asprintf(&via, "%s/real/./up/../sub/new", dir) > 0);
    for (int i = 0; i < 3; i++) {
        const char *p = i == 0 ? rel : i == 1 ? abs : up;

        fd = fsio_open_dir_safe(p, false, 0, &e);
        if (fd < 0)
            fail_msg("%s: %s", p, e.msg);
        assert_int_equal(fsio_write_atomic_at(fd, p, "f", "abc", 3, 0600, &e), 0);
        assert_int_equal(fsio_fsync_dirfd(fd, p, &e), 0);
        close(fd);
        data = tu_read_file(file, NULL);
        assert_string_equal(data, "abc");
        free(data);
        assert_int_equal(mode_of(file), 0600);
    }
    /* ".." is the directory the walk came from: real/up/.. is real, so this is real/sub/new. */
    assert_int_equal(fsio_mkdirs(via, 0700, &e), 0);
    free(via);
    via = fsio_join(real, "new");
    assert_int_equal(mode_of(via), 0700);
    /* "/.." is "/". */
    fd = fsio_open_dir_safe("/../..", false, 0, &e);
    assert_true(fd >= 0);
    close(fd);
    free(real);
    free(rel);
    free(abs);
    free(up);
    free(via);
    free(file);
    tu_rmtree(dir);
    free(dir);
}

/* A relative path is walked from the working directory. */
static void test_open_dir_safe_relative(void **state)
{
    char *dir = tu_mkdtemp("fsio");
    char *made = fsio_join(dir, "r/s");
    char cwd[4096];
    struct err e;
    int fd;

    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    fd = fsio_open_dir_safe("r/./s/", true, 0750, &e);
    assert_int_equal(chdir(cwd), 0);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(mode_of(made), 0750);
    free(made);
    tu_rmtree(dir);
    free(dir);
}

static void test_open_dir_safe_errors(void **state)
{
    char *raw = tu_mkdtemp("fsio");
    char *dir = realpath(raw, NULL); /* messages name the directories walked, no ".." */
    char *missing, *file, *under_file, *loop, *loop2;
    struct err e;
    int fd;

    assert_non_null(dir);
    missing = fsio_join(dir, "missing/x");
    file = fsio_join(dir, "file");
    under_file = fsio_join(dir, "file/x");
    loop = fsio_join(dir, "loop");
    loop2 = fsio_join(dir, "loop2");
    assert_int_equal(fsio_open_dir_safe(missing, false, 0, &e), -ENOENT);
    assert_non_null(strstr(e.msg, "missing"));
    tu_write_file(file, "x");
    assert_int_equal(fsio_open_dir_safe(under_file, true, 0755, &e), -ENOTDIR);
    assert_non_null(strstr(e.msg, file));
    assert_int_equal(fsio_mkdirs(file, 0755, &e), -ENOTDIR);
    /* Links of our own that loop are followed FSIO_MAX_LINKS times, then refused. */
    assert_int_equal(symlink("loop2", loop), 0);
    assert_int_equal(symlink("loop", loop2), 0);
    assert_int_equal(fsio_open_dir_safe(loop, true, 0755, &e), -ELOOP);
    assert_non_null(strstr(e.msg, "more than 40 symlinks"));
    assert_int_equal(fsio_open_dir_safe("", false, 0, &e), -EINVAL);
    /* fsio_write_atomic_at takes a name, not a path. */
    fd = fsio_open_dir_safe(dir, false, 0, &e);
    assert_true(fd >= 0);
    assert_int_equal(fsio_write_atomic_at(fd, dir, "a/b", "x", 1, 0644, &e), -EINVAL);
    assert_int_equal(fsio_write_atomic_at(fd, dir, "..", "x", 1, 0644, &e), -EINVAL);
    assert_int_equal(fsio_write_atomic_at(fd, dir, "", "x", 1, 0644, &e), -EINVAL);
    close(fd);
    free(missing);
    free(file);
    free(under_file);
    free(loop);
    free(loop2);
    tu_rmtree(dir);
    free(dir);
    free(raw);
}

/* Links somebody else could have planted are refused, whether the link or the directory
 * holding it belongs to another user, and nothing is created or chmodded through them. */
static void test_open_dir_safe_refuses_foreign_links(void **state)
{
    char *dir, *secret, *evil, *home, *inhome, *msg = NULL;
    struct err e;

    if (geteuid() != 0)
        skip(); /* lchown to another user needs root */
    msg = tu_mkdtemp("fsio");
    /* Messages name the directories the walk went through: no "..", no links. */
    dir = realpath(msg, NULL);
    assert_non_null(dir);
    free(msg);
    secret = fsio_join(dir, "secret");
    evil = fsio_join(dir, "evil");
    home = fsio_join(dir, "home");
    inhome = fsio_join(dir, "home/link");
    assert_int_equal(mkdir(secret, 0700), 0);
    assert_int_equal(symlink(secret, evil), 0);
    assert_int_equal(lchown(evil, 65534, 65534), 0);
    assert_int_equal(fsio_mkdirs(evil, 0755, &e), -ELOOP);
    assert_true(asprintf(&msg, "%s is a symlink owned by uid 65534; refusing to follow it",
                         evil) > 0);
    assert_string_equal(e.msg, msg);
    free(msg);
    /* The same link as the middle of a path. */
    free(evil);
    evil = fsio_join(dir, "evil/sub");
    assert_int_equal(fsio_open_dir_safe(evil, true, 0755, &e), -ELOOP);
    assert_non_null(strstr(e.msg, "symlink owned by uid 65534"));
    /* Our link in another user's directory: they could have swapped it in. */
    assert_int_equal(mkdir(home, 0755), 0);
    assert_int_equal(chown(home, 65534, 65534), 0);
    assert_int_equal(symlink(secret, inhome), 0);
    assert_int_equal(fsio_open_dir_safe(inhome, false, 0, &e), -ELOOP);
    assert_true(asprintf(&msg, "%s is a symlink in a directory owned by uid 65534; refusing to "
                               "follow it", inhome) > 0);
    assert_string_equal(e.msg, msg);
    free(msg);
    /* Nothing was made in the directory the links lead to, nor chmodded. */
    assert_int_equal(mode_of(secret), 0700);
    msg = fsio_join(secret, "sub");
    assert_int_equal(access(msg, F_OK), -1);
    free(msg);
    free(secret);
    free(evil);
    free(home);
    free(inhome);
    tu_rmtree(dir);
    free(dir);
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
        cmocka_unit_test(test_mkdirs_modes_exact),
        cmocka_unit_test(test_open_dir_safe_follows_own_links),
        cmocka_unit_test(test_open_dir_safe_relative),
        cmocka_unit_test(test_open_dir_safe_errors),
        cmocka_unit_test(test_open_dir_safe_refuses_foreign_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
