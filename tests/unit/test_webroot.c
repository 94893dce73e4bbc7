/* Unit tests for challenge/webroot: http-01 files in webroot directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* The symlink tests below run as root (as acmed does) and plant links owned by "nobody".
 *
 *   <tmp>/secret          0700, root's: "keep" (0600) and a file named like the token
 *                         (0600): what a planted link would point root at
 *   <tmp>/key             0600 file
 *   <tmp>/www             0755, root's; the webroot is <tmp>/www/.well-known/acme-challenge */
#define NOBODY 65534

struct tree {
    char *tmp, *secret, *keep, *stolen, *key, *www, *wk, *webroot;
};

static void tree_init(struct tree *t)
{
    char *raw = tu_mkdtemp("webroot");

    /* Messages name the directories the walk went through: no "..", no links. */
    t->tmp = realpath(raw, NULL);
    assert_non_null(t->tmp);
    free(raw);
    t->secret = fsio_join(t->tmp, "secret");
    t->keep = fsio_join(t->secret, "keep");
    t->stolen = fsio_join(t->secret, TOKEN);
    t->key = fsio_join(t->tmp, "key");
    t->www = fsio_join(t->tmp, "www");
    t->wk = fsio_join(t->www, ".well-known");
    t->webroot = fsio_join(t->wk, "acme-challenge");
    assert_int_equal(mkdir(t->secret, 0700), 0);
    assert_int_equal(mkdir(t->www, 0755), 0);
    tu_write_file(t->keep, "secret");
    tu_write_file(t->stolen, "precious");
    tu_write_file(t->key, "private");
    assert_int_equal(chmod(t->keep, 0600), 0);
    assert_int_equal(chmod(t->stolen, 0600), 0);
    assert_int_equal(chmod(t->key, 0600), 0);
}

static void assert_content(const char *path, const char *content, mode_t mode)
{
    struct stat st;
    char *data = tu_read_file(path, NULL);

    assert_non_null(data);
    assert_string_equal(data, content);
    free(data);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, mode);
}

/* Nothing a planted link could lead to was created, written, removed or chmodded. */
static void tree_assert_untouched(const struct tree *t)
{
    struct stat st;

    assert_int_equal(count_entries(t->secret), 2);
    assert_int_equal(lstat(t->secret, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_content(t->keep, "secret", 0600);
    assert_content(t->stolen, "precious", 0600);
    assert_content(t->key, "private", 0600);
}

static void tree_free(struct tree *t)
{
    tu_rmtree(t->tmp);
    free(t->tmp);
    free(t->secret);
    free(t->keep);
    free(t->stolen);
    free(t->key);
    free(t->www);
    free(t->wk);
    free(t->webroot);
}

static void plant(const char *target, const char *link, uid_t owner)
{
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(lchown(link, owner, owner), 0);
}

/* Publishing and unpublishing in t->webroot are refused with a message naming `link` and
 * ending in `why`, and nothing is touched. */
static void expect_refused(const struct tree *t, const char *link, const char *why)
{
    const char *paths[] = {t->webroot};
    char want[4096];
    struct err e;

    snprintf(want, sizeof want, "%s %s", link, why);
    err_clear(&e);
    assert_int_equal(webroot_publish(paths, 1, TOKEN, KEYAUTH, strlen(KEYAUTH), &e), -ELOOP);
    if (!strstr(e.msg, want))
        fail_msg("\"%s\" does not say \"%s\"", e.msg, want);
    assert_non_null(strstr(e.msg, t->webroot));
    tree_assert_untouched(t);
    err_clear(&e);
    assert_int_equal(webroot_unpublish(paths, 1, TOKEN, &e), -ELOOP);
    if (!strstr(e.msg, want))
        fail_msg("\"%s\" does not say \"%s\"", e.msg, want);
    tree_assert_untouched(t);
}

/* (a) A directory on the way swapped for nobody's link to a root-only directory. */
static void test_refuses_foreign_link_on_the_way(void **state)
{
    struct tree t;

    if (geteuid() != 0)
        skip();
    tree_init(&t);
    plant(t.secret, t.wk, NOBODY);
    expect_refused(&t, t.wk, "is a symlink owned by uid 65534; refusing to follow it");
    tree_free(&t);
}

/* (b) The webroot directory itself is nobody's link: the token would be written into (and
 * unpublish would remove it from) the root-only directory. */
static void test_refuses_foreign_link_at_the_end(void **state)
{
    struct tree t;

    if (geteuid() != 0)
        skip();
    tree_init(&t);
    assert_int_equal(mkdir(t.wk, 0755), 0);
    plant(t.secret, t.webroot, NOBODY);
    expect_refused(&t, t.webroot, "is a symlink owned by uid 65534; refusing to follow it");
    tree_free(&t);
}

/* (c) Root's own link in root's directory (an admin pointing the webroot elsewhere) is
 * followed, for publish and unpublish. */
static void test_follows_own_link(void **state)
{
    struct tree t;
    char *real, *in_real;
    const char *paths[1];
    struct err e;

    if (geteuid() != 0)
        skip();
    tree_init(&t);
    real = fsio_join(t.www, "real-wk");
    in_real = fsio_join(real, "acme-challenge");
    plant("real-wk", t.wk, 0);
    paths[0] = t.webroot;
    if (webroot_publish(paths, 1, TOKEN, KEYAUTH, strlen(KEYAUTH), &e) < 0)
        fail_msg("%s", e.msg);
    assert_file(in_real, KEYAUTH, 0644);
    assert_int_equal(webroot_unpublish(paths, 1, TOKEN, &e), 0);
    assert_int_equal(count_entries(in_real), 0);
    tree_assert_untouched(&t);
    free(real);
    free(in_real);
    tree_free(&t);
}

/* (d) Root's link in a directory nobody owns: nobody could have swapped it in. */
static void test_refuses_own_link_in_foreign_dir(void **state)
{
    struct tree t;

    if (geteuid() != 0)
        skip();
    tree_init(&t);
    assert_int_equal(chown(t.www, NOBODY, NOBODY), 0);
    plant(t.secret, t.wk, 0);
    expect_refused(&t, t.wk,
                   "is a symlink in a directory owned by uid 65534; refusing to follow it");
    tree_free(&t);
}

/* (e) nobody's link named like the directory to create, pointing at a 0600 file: the file
 * keeps its mode (it is not chmodded 0755) and its content. */
static void test_link_target_mode_kept(void **state)
{
    struct tree t;

    if (geteuid() != 0)
        skip();
    tree_init(&t);
    assert_int_equal(mkdir(t.wk, 0755), 0);
    plant(t.key, t.webroot, NOBODY);
    expect_refused(&t, t.webroot, "is a symlink owned by uid 65534; refusing to follow it");
    tree_free(&t);
}

struct swapper {
    const char *dir, *link;
    atomic_int stop;
    atomic_long swaps;
};

/* Swaps the webroot's parent directory and nobody's link to the secret directory, over and
 * over, atomically (RENAME_EXCHANGE), until told to stop; ends with the directory in place. */
static void *swap_loop(void *arg)
{
    struct swapper *s = arg;

    while (!s->stop)
        if (renameat2(AT_FDCWD, s->dir, AT_FDCWD, s->link, RENAME_EXCHANGE) == 0)
            s->swaps++;
    if (s->swaps % 2)
        renameat2(AT_FDCWD, s->dir, AT_FDCWD, s->link, RENAME_EXCHANGE);
    return NULL;
}

/* Empties and removes <the real .well-known>/<name> through a descriptor of that directory,
 * never through the path the swaps change, so that nothing is removed through the link. */
static void remove_real(int wkfd, const char *name)
{
    int fd = openat(wkfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd >= 0) {
        unlinkat(fd, TOKEN, 0);
        close(fd);
    }
    unlinkat(wkfd, name, AT_REMOVEDIR);
}

/* (g) Publishing while the owner of the webroot swaps <www>/.well-known, over and over,
 * for a link to the secret directory. Every other run the webroot is named like a 0600 file
 * in the secret directory (a mkdir by path then a chmod by path would make it 0755 when the
 * swap falls between the two), the others a new name (a path walked while the link is in
 * place would create it, and the token in it, in the secret directory). Root must never
 * create, write, remove or chmod anything there, whatever the timing. */
static void test_race_with_swapped_dir(void **state)
{
    static const char *const names[] = {"acme-challenge", "fresh"};
    struct tree t;
    struct swapper s = {0};
    const char *paths[1];
    char *lure, *link;
    pthread_t th;
    struct timespec t0, now;
    int ok = 0, runs = 0, wkfd;

    if (geteuid() != 0)
        skip();
    tree_init(&t);
    lure = fsio_join(t.secret, names[0]);
    tu_write_file(lure, "lure");
    assert_int_equal(chmod(lure, 0600), 0);
    link = fsio_join(t.www, ".wk-link");
    assert_int_equal(mkdir(t.wk, 0755), 0);
    plant(t.secret, link, NOBODY);
    if (renameat2(AT_FDCWD, t.wk, AT_FDCWD, link, RENAME_EXCHANGE) < 0 && errno == EINVAL) {
        free(lure);
        free(link);
        tree_free(&t);
        skip(); /* the file system cannot exchange */
    }
    assert_int_equal(renameat2(AT_FDCWD, t.wk, AT_FDCWD, link, RENAME_EXCHANGE), 0);
    wkfd = open(t.wk, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    assert_true(wkfd >= 0);
    s.dir = t.wk;
    s.link = link;
    assert_int_equal(pthread_create(&th, NULL, swap_loop, &s), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (; runs < 4000; runs++) {
        char *webroot = fsio_join(t.wk, names[runs % 2]);
        struct err e;

        paths[0] = webroot;
        if (webroot_publish(paths, 1, TOKEN, KEYAUTH, strlen(KEYAUTH), &e) == 0)
            ok++;
        webroot_unpublish(paths, 1, TOKEN, &e);
        remove_real(wkfd, names[runs % 2]);
        free(webroot);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= 3)
            break;
    }
    s.stop = 1;
    assert_int_equal(pthread_join(th, NULL), 0);
    close(wkfd);
    print_message("race: %d of %d publishes went through, %ld swaps\n", ok, runs,
                  (long)s.swaps);
    assert_true(s.swaps > 0);
    assert_int_equal(count_entries(t.secret), 3);
    assert_content(lure, "lure", 0600);
    assert_int_equal(unlink(lure), 0);
    tree_assert_untouched(&t);
    free(lure);
    free(link);
    tree_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_two_paths_mode),
        cmocka_unit_test(test_bad_tokens),
        cmocka_unit_test(test_rollback_when_a_file_blocks),
        cmocka_unit_test(test_rollback_when_not_writable),
        cmocka_unit_test(test_unpublish_tries_all),
        cmocka_unit_test(test_refuses_foreign_link_on_the_way),
        cmocka_unit_test(test_refuses_foreign_link_at_the_end),
        cmocka_unit_test(test_follows_own_link),
        cmocka_unit_test(test_refuses_own_link_in_foreign_dir),
        cmocka_unit_test(test_link_target_mode_kept),
        cmocka_unit_test(test_race_with_swapped_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
