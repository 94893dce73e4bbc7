/* Unit tests for privsep/privsep_plan: on as root unless `privsep: false`, the worker's user
 * from `user:`, else acmed, else nobody with a warning; a missing user or root is a
 * configuration error naming conf/acmed.yaml. Users are the machine's own (nobody, daemon,
 * root, a made-up missing name); the "acmed exists" cases run in a private mount namespace
 * whose /etc/passwd is a copy with an acmed line, so no user is ever added to the machine. */
#include <errno.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "privsep/privsep_plan.h"

static const char *describe(const struct privsep_plan *p)
{
    static char buf[256];

    return privsep_plan_describe(p, buf, sizeof buf);
}

static void test_off(void **state)
{
    struct acmed_conf c = {.user = "acmed-no-such-user"};
    struct privsep_plan p;
    struct err e = {0};

    (void)state;
    /* privsep: false wins even as root, and the user is not looked up at all. */
    c.privsep = ACMED_PRIVSEP_OFF;
    assert_int_equal(privsep_plan(&c, 0, &p, &e), 0);
    assert_false(p.enabled);
    assert_int_equal(p.off, PRIVSEP_OFF_CONF);
    assert_string_equal(p.why_off, "privsep: false in conf/acmed.yaml");
    assert_string_equal(describe(&p), "off (privsep: false)");
    assert_string_equal(privsep_plan_off_name(p.off), "privsep: false");
    assert_string_equal(p.warning, "");

    /* Not root: one process, whether privsep is unset or true. */
    c.privsep = ACMED_PRIVSEP_AUTO;
    assert_int_equal(privsep_plan(&c, 1000, &p, &e), 0);
    assert_false(p.enabled);
    assert_int_equal(p.off, PRIVSEP_OFF_NOT_ROOT);
    assert_string_equal(p.why_off, "not started as root");
    assert_string_equal(describe(&p), "off (not running as root)");
    c.privsep = ACMED_PRIVSEP_ON;
    assert_int_equal(privsep_plan(&c, 65534, &p, &e), 0);
    assert_false(p.enabled);
    assert_int_equal(p.off, PRIVSEP_OFF_NOT_ROOT);
    assert_null(privsep_plan_off_name(PRIVSEP_OFF_NONE));
}

static void test_named_user(void **state)
{
    struct acmed_conf c = {.user = "nobody", .privsep = ACMED_PRIVSEP_AUTO};
    struct privsep_plan p;
    struct err e = {0};
    struct passwd *pw;

    (void)state;
    assert_int_equal(privsep_plan(&c, 0, &p, &e), 0);
    assert_true(p.enabled);
    assert_int_equal(p.off, PRIVSEP_OFF_NONE);
    assert_null(p.why_off);
    assert_string_equal(p.user.name, "nobody");
    assert_non_null(pw = getpwnam("nobody"));
    assert_int_equal(p.user.uid, pw->pw_uid);
    assert_int_equal(p.user.gid, pw->pw_gid);
    /* Named on purpose: no fallback, no warning. */
    assert_false(p.fallback);
    assert_string_equal(p.warning, "");
    assert_string_equal(describe(&p), "worker runs as nobody");

    c.user = "daemon";
    c.privsep = ACMED_PRIVSEP_ON;
    assert_int_equal(privsep_plan(&c, 0, &p, &e), 0);
    assert_true(p.enabled);
    assert_string_equal(p.user.name, "daemon");
    assert_non_null(pw = getpwnam("daemon"));
    assert_int_equal(p.user.uid, pw->pw_uid);
    assert_string_equal(describe(&p), "worker runs as daemon");
}

static void test_bad_user(void **state)
{
    struct acmed_conf c = {.user = "root"};
    struct privsep_plan p;
    struct err e = {0};

    (void)state;
    assert_int_equal(privsep_plan(&c, 0, &p, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "conf/acmed.yaml"));
    assert_non_null(strstr(e.msg, "\"root\""));
    assert_false(p.enabled);
    assert_int_equal(p.off, PRIVSEP_OFF_NONE);
    assert_string_equal(describe(&p), "undecided (configuration error)");

    c.user = "acmed-no-such-user";
    err_clear(&e);
    assert_int_equal(privsep_plan(&c, 0, &p, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "conf/acmed.yaml"));
    assert_non_null(strstr(e.msg, "\"acmed-no-such-user\""));
    assert_non_null(strstr(e.msg, "does not exist"));
    assert_false(p.enabled);
}

/* user: unset on this machine: acmed when it exists, else nobody with the warning. */
static void test_default_user(void **state)
{
    struct acmed_conf c = {0};
    struct privsep_plan p;
    struct err e = {0};

    (void)state;
    assert_int_equal(privsep_plan(&c, 0, &p, &e), 0);
    assert_true(p.enabled);
    if (getpwnam("acmed")) {
        assert_string_equal(p.user.name, "acmed");
        assert_false(p.fallback);
        assert_string_equal(describe(&p), "worker runs as acmed");
        return;
    }
    assert_string_equal(p.user.name, "nobody");
    assert_true(p.fallback);
    assert_true(p.user.fallback);
    assert_non_null(strstr(p.warning, "no user \"acmed\""));
    assert_non_null(strstr(p.warning, "runs as nobody"));
    assert_non_null(strstr(p.warning, "user: in conf/acmed.yaml"));
    assert_string_equal(describe(&p),
                        "worker runs as nobody (no acmed user: set user: in conf/acmed.yaml)");
}

/* In a forked child with a private mount namespace: /etc/passwd replaced (bind mount) by
 * `passwd`, the previous replacement unmounted first (one cannot mount over a file that is
 * gone). Returns 0 when it could, 77 when this machine cannot (not root, no namespaces). */
static int with_passwd(const char *passwd)
{
    static int bound;
    char path[] = "/tmp/acmed-test-passwd.XXXXXX";
    int fd;

    if (bound && umount2("/etc/passwd", MNT_DETACH) < 0)
        return 77;
    bound = 0;
    if ((fd = mkstemp(path)) < 0)
        return 77;

    if (fd < 0)
        return 77;
    if (write(fd, passwd, strlen(passwd)) != (ssize_t)strlen(passwd)) {
        close(fd);
        unlink(path);
        return 77;
    }
    close(fd);
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount(path, "/etc/passwd", NULL, MS_BIND, NULL) < 0) {
        unlink(path);
        return 77;
    }
    bound = 1;
    unlink(path);
    return 0;
}

/* The child's checks, as an exit code: 0 all good, 77 skipped, else the failing step. */
static int namespace_checks(void)
{
    struct acmed_conf c = {0};
    struct privsep_plan p;
    struct err e = {0};
    int rc;

    /* An acmed user exists: it is the worker's, without a warning. */
    if ((rc = with_passwd("root:x:0:0:root:/root:/bin/bash\n"
                          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                          "acmed:x:4242:4243::/nonexistent:/usr/sbin/nologin\n")) != 0)
        return rc;
    if (privsep_plan(&c, 0, &p, &e) != 0 || !p.enabled)
        return 10;
    if (strcmp(p.user.name, "acmed") != 0 || p.user.uid != 4242 || p.user.gid != 4243)
        return 11;
    if (p.fallback || p.warning[0] || strcmp(describe(&p), "worker runs as acmed") != 0)
        return 12;
    /* A user: setting still wins over it. */
    c.user = "nobody";
    if (privsep_plan(&c, 0, &p, &e) != 0 || strcmp(p.user.name, "nobody") != 0 || p.fallback)
        return 13;

    /* An acmed user with uid 0 is refused, though nobody asked for it by name. */
    c.user = NULL;
    if (with_passwd("root:x:0:0:root:/root:/bin/bash\nacmed:x:0:0::/nonexistent:/bin/sh\n") != 0)
        return 20;
    if (privsep_plan(&c, 0, &p, &e) != -EINVAL || p.enabled || !strstr(e.msg, "conf/acmed.yaml") ||
        !strstr(e.msg, "\"acmed\" is root"))
        return 21;

    /* Neither acmed nor nobody in /etc/passwd: a configuration error that says to set user:,
     * unless nss-systemd (nsswitch.conf) makes up nobody, as it does on Debian. */
    if (with_passwd("root:x:0:0:root:/root:/bin/bash\n") != 0)
        return 30;
    rc = privsep_plan(&c, 0, &p, &e);
    if (getpwnam("nobody")) {
        if (rc != 0 || !p.fallback || strcmp(p.user.name, "nobody") != 0)
            return 31;
    } else if (rc != -EINVAL || !strstr(e.msg, "conf/acmed.yaml") || !strstr(e.msg, "set user:")) {
        return 32;
    }
    return 0;
}

static void test_acmed_user_exists(void **state)
{
    pid_t pid;
    int status;

    (void)state;
    if (getuid() != 0)
        skip();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(namespace_checks());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
    /* And the machine itself still has no such user. */
    if (!getpwnam("acmed"))
        assert_null(getpwuid(4242));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_named_user),
        cmocka_unit_test(test_bad_user),
        cmocka_unit_test(test_default_user),
        cmocka_unit_test(test_acmed_user_exists),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
