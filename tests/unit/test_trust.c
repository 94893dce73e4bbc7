/* Unit tests for util/trust: a path is root's (or ours) alone, all the way from /. The
 * ownership cases need root (to give files to uid 65534) and are skipped otherwise. */
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
#include "util/fsio.h"
#include "util/trust.h"

#define OTHER_UID 65534

static char *base;

static char *at(const char *rel)
{
    char *p = fsio_join(base, rel);

    assert_non_null(p);
    return p;
}

static void mk_dir(const char *rel, mode_t mode, uid_t uid)
{
    char *p = at(rel);

    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(chmod(p, mode), 0);
    assert_int_equal(chown(p, uid, (gid_t)-1), 0);
    free(p);
}

static void mk_file(const char *rel, mode_t mode, uid_t uid)
{
    char *p = at(rel);

    tu_write_file(p, "#!/bin/sh\n");
    assert_int_equal(chmod(p, mode), 0);
    assert_int_equal(chown(p, uid, (gid_t)-1), 0);
    free(p);
}

static void mk_link(const char *rel, const char *target, uid_t uid)
{
    char *p = at(rel);

    assert_int_equal(symlink(target, p), 0);
    assert_int_equal(lchown(p, uid, (gid_t)-1), 0);
    free(p);
}

/* trust_path(base/rel): expects `rc` and, when want is not NULL, a message holding it, a
 * leading "%s" standing for base. */
static void expect(const char *rel, int rc, const char *want)
{
    char *p = at(rel), text[1024];
    struct err e;
    int got;

    err_clear(&e);
    got = trust_path(p, &e);
    if (got != rc)
        fail_msg("%s: got %d (%s), wanted %d", rel, got, e.msg, rc);
    if (want) {
        if (strncmp(want, "%s", 2) == 0)
            snprintf(text, sizeof text, "%s%s", base, want + 2);
        else
            snprintf(text, sizeof text, "%s", want);
        if (!strstr(e.msg, text))
            fail_msg("%s: message lacks \"%s\": %s", rel, text, e.msg);
    }
    free(p);
}

static int setup(void **state)
{
    base = tu_mkdtemp("trust");
    return chmod(base, 0755);
}

static int teardown(void **state)
{
    tu_rmtree(base);
    free(base);
    base = NULL;
    return 0;
}

static void test_good_paths(void **state)
{
    char cwd[4096];
    struct err e;

    mk_dir("d", 0755, geteuid());
    mk_file("d/f", 0755, geteuid());
    mk_link("d/rel", "f", geteuid());
    mk_link("d/abs", "/bin/sh", geteuid());
    mk_link("dirlink", "d", geteuid());
    expect("d/f", 0, NULL);
    expect("d", 0, NULL);
    expect("d/rel", 0, NULL);
    expect("d/abs", 0, NULL);
    expect("dirlink/f", 0, NULL);
    expect("d/../d/./f", 0, NULL);
    expect("d//f", 0, NULL);
    /* Relative paths start from the working directory; ".." stops at /. */
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(base), 0);
    assert_int_equal(trust_path("d/f", &e), 0);
    assert_int_equal(trust_path("dirlink/../d/rel", &e), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(trust_path("/../../", &e), 0);
    /* Cannot be examined: named, with the reason. */
    expect("d/missing", -ENOENT, "/d/missing: No such file");
    expect("d/f/x", -ENOTDIR, "%s/d/f is not a directory");
    mk_link("loop1", "loop2", geteuid());
    mk_link("loop2", "loop1", geteuid());
    expect("loop1", -ELOOP, "too many levels");
    assert_int_equal(trust_path("", &e), -EINVAL);
}

static void test_writable(void **state)
{
    mk_dir("gw", 0775, geteuid());
    mk_file("gw/f", 0755, geteuid());
    mk_dir("ow", 0757, geteuid());
    mk_dir("ok", 0755, geteuid());
    mk_file("ok/gw", 0775, geteuid());
    mk_file("ok/ow", 0751 | S_IWOTH, geteuid());
    /* The first offender on the way is named, with its owner and mode. */
    expect("gw/f", -EPERM, "%s/gw is writable by group (owner uid");
    expect("gw", -EPERM, "mode 0775)");
    expect("ow", -EPERM, "%s/ow is writable by others");
    expect("ok/gw", -EPERM, "%s/ok/gw is writable by group or others");
    expect("ok/ow", -EPERM, "%s/ok/ow is writable by group or others");
    /* Through a link, the target's directories count. */
    mk_link("ok/to-gw", "../gw/f", geteuid());
    expect("ok/to-gw", -EPERM, "%s/gw is writable by group");
    mk_link("ok/gwdir", "../gw", geteuid());
    expect("ok/gwdir/f", -EPERM, "%s/gw is writable by group");
}

static void test_owners(void **state)
{
    if (geteuid() != 0)
        skip();
    mk_dir("d", 0755, 0);
    mk_file("d/theirs", 0755, OTHER_UID);
    mk_dir("theirs", 0755, OTHER_UID);
    mk_file("theirs/f", 0755, 0);
    expect("d/theirs", -EPERM, "%s/d/theirs is not owned by root (owner uid 65534, mode 0755)");
    expect("theirs/f", -EPERM, "%s/theirs is not owned by root");
    /* A link must be root's too, and so must all that its target's path holds. */
    mk_file("d/f", 0755, 0);
    mk_link("d/their-link", "f", OTHER_UID);
    expect("d/their-link", -EPERM, "%s/d/their-link is not owned by root");
    mk_link("d/to-theirs", "../theirs/f", 0);
    expect("d/to-theirs", -EPERM, "%s/theirs is not owned by root");
    mk_link("d/to-their-file", "theirs", 0);
    expect("d/to-their-file", -EPERM, "%s/d/theirs is not owned by root");
}

/* A sticky directory others can write to (as /tmp) is fine for what root owns in it. */
static void test_sticky(void **state)
{
    struct stat st;
    struct err e;
    char *a, *b;

    if (geteuid() != 0)
        skip();
    mk_dir("st", 01777, 0);
    mk_file("st/root", 0755, 0);
    mk_dir("st/sub", 0755, 0);
    mk_file("st/sub/f", 0755, 0);
    mk_file("st/theirs", 0755, OTHER_UID);
    mk_link("st/their-link", "root", OTHER_UID);
    expect("st", 0, NULL);
    expect("st/root", 0, NULL);
    expect("st/sub/f", 0, NULL);
    expect("st/theirs", -EPERM, "%s/st/theirs is not owned by root");
    expect("st/their-link", -EPERM, "%s/st/their-link is not owned by root");
    /* A hard link there could be anyone's doing; elsewhere it is the owner's. */
    a = at("st/root");
    b = at("st/hard");
    assert_int_equal(link(a, b), 0);
    expect("st/root", -EPERM, "has several hard links");
    free(b);
    mk_dir("plain", 0755, 0);
    b = at("plain/hard");
    assert_int_equal(unlink(a), 0);
    mk_file("plain/f", 0755, 0);
    free(a);
    a = at("plain/f");
    assert_int_equal(link(a, b), 0);
    expect("plain/f", 0, NULL);
    free(a);
    free(b);
    /* A sticky directory that is not root's is not: its owner may remove anything in it. */
    mk_dir("their-st", 01777, OTHER_UID);
    mk_file("their-st/f", 0755, 0);
    expect("their-st/f", -EPERM, "%s/their-st is not owned by root");
    /* The real /tmp, when it is the usual root-owned sticky directory. */
    if (lstat("/tmp", &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 && (st.st_mode & S_ISVTX))
        assert_int_equal(trust_path("/tmp", &e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owners, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sticky, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
