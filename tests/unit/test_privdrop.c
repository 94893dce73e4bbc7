/* Unit tests for util/privdrop: the worker's user, the privilege drop and the exec of our own
 * binary through a descriptor. The drop itself needs root (CI runs as root); as another user
 * the test checks that the drop is refused instead. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "privsep/privdrop.h"

extern char **environ;
static const char *self_path;

static void test_resolve(void **state)
{
    struct privdrop_id id;
    struct err e = {0};

    (void)state;
    assert_int_equal(privdrop_resolve("nobody", &id, &e), 0);
    assert_string_equal(id.name, "nobody");
    assert_int_equal(id.uid, getpwnam("nobody")->pw_uid);
    assert_false(id.fallback);

    assert_int_equal(privdrop_resolve("root", &id, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "\"root\""));
    assert_non_null(strstr(e.msg, "root"));

    assert_int_equal(privdrop_resolve("acmed-no-such-user", &id, &e), -ENOENT);
    assert_non_null(strstr(e.msg, "acmed-no-such-user"));

    /* Unset: acmed when it exists, else nobody with the fallback flag. */
    assert_int_equal(privdrop_resolve(NULL, &id, &e), 0);
    if (getpwnam("acmed")) {
        assert_string_equal(id.name, "acmed");
        assert_false(id.fallback);
    } else {
        assert_string_equal(id.name, "nobody");
        assert_true(id.fallback);
    }
}

static void test_facts_self(void **state)
{
    struct privdrop_facts f;
    struct err e = {0};
    char path[64];

    (void)state;
    assert_int_equal(privdrop_facts_read("/proc/self/status", &f, &e), 0);
    assert_int_equal(f.euid, geteuid());
    assert_int_equal(f.egid, getegid());
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)getpid());
    assert_int_equal(privdrop_facts_read(path, &f, &e), -EPROTO);
    assert_int_equal(privdrop_facts_read("/nonexistent/status", &f, &e), -ENOENT);
}

/* Forks; the child drops to nobody and reports on a pipe, then waits until the parent has
 * read /proc/<child>/status from outside. */
static void test_apply(void **state)
{
    struct privdrop_id id;
    struct privdrop_facts f;
    struct err e = {0};
    int rep[2], go[2], status;
    char msg[512] = "", path[64];
    ssize_t n;
    pid_t pid;

    (void)state;
    assert_int_equal(privdrop_resolve("nobody", &id, &e), 0);
    assert_int_equal(pipe(rep), 0);
    assert_int_equal(pipe(go), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct err ce = {0};
        char c;
        int rc;

        alarm(20); /* never outlives a parent that failed an assertion */
        rc = privdrop_apply(&id, &ce);

        if (rc == 0 && open("/etc/shadow", O_RDONLY) >= 0)
            rc = -1, snprintf(ce.msg, sizeof ce.msg, "read /etc/shadow after the drop");
        dprintf(rep[1], "%d %s", rc, rc ? ce.msg : "ok");
        close(rep[1]);
        if (read(go[0], &c, 1) < 0)
            _exit(3);
        _exit(rc ? 1 : 0);
    }
    close(rep[1]);
    close(go[0]);
    n = read(rep[0], msg, sizeof msg - 1);
    assert_true(n > 0);
    msg[n] = '\0';
    if (geteuid() == 0) {
        assert_string_equal(msg, "0 ok");
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        assert_int_equal(privdrop_facts_read(path, &f, &e), 0);
        assert_int_equal(f.euid, id.uid);
        assert_int_equal(f.ruid, id.uid);
        assert_int_equal(f.suid, id.uid);
        assert_int_equal(f.egid, id.gid);
        assert_int_equal(f.cap_eff, 0);
        assert_int_equal(f.cap_prm, 0);
        assert_int_equal(f.cap_bnd, 0);
        assert_int_equal(f.no_new_privs, 1);
        assert_int_equal(f.ngroups, 0);
    } else {
        /* Not root: the drop must fail, never pretend. */
        assert_true(msg[0] == '-');
    }
    assert_int_equal(write(go[1], "x", 1), 1);
    close(go[1]);
    close(rep[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), geteuid() == 0 ? 0 : 1);
}

/* The child mode of this binary: prints its euid and whether it could open argv[2]. */
static int child_report(const char *probe)
{
    int fd = open(probe, O_RDONLY);
    struct privdrop_facts f;
    struct err e = {0};

    if (privdrop_facts_read("/proc/self/status", &f, &e) < 0)
        return 1;
    printf("euid=%u nnp=%d capeff=%llx capbnd=%llx probe=%s\n", (unsigned)geteuid(),
           f.no_new_privs, f.cap_eff, f.cap_bnd, fd >= 0 ? "readable" : "denied");
    return 0;
}

/* Copies this test binary into a 0700 directory of root's, runs it from there in "exec" mode:
 * it opens itself, forks, drops to nobody and exec's itself through the descriptor, though
 * nobody cannot reach the path. */
static void test_exec_self(void **state)
{
    char dir[] = "/tmp/acmed-privdrop.XXXXXX", bin[PATH_MAX], cmd[PATH_MAX * 2 + 64];
    char out[256] = "";
    FILE *p;

    (void)state;
    if (geteuid() != 0) {
        /* Without root nothing can be dropped: covered by test_apply's refusal. */
        return;
    }
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0700), 0);
    snprintf(bin, sizeof bin, "%s/unit_privdrop", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", self_path, bin);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' --exec-test '%s'", bin, bin);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, sizeof out, p));
    assert_int_equal(pclose(p), 0);
    {
        char want[64];

        snprintf(want, sizeof want, "euid=%u ", (unsigned)getpwnam("nobody")->pw_uid);
        assert_non_null(strstr(out, want));
    }
    /* What the exec'd worker inherits: no capability, no way to gain one. */
    assert_non_null(strstr(out, " nnp=1 capeff=0 capbnd=0 "));
    /* The dropped child could not read its own copy's path: it ran through the descriptor. */
    assert_non_null(strstr(out, "probe=denied"));
    unlink(bin);
    rmdir(dir);
}

/* --exec-test PROBE: open self, fork, drop, exec self as --child-report PROBE. */
static int exec_test(const char *probe)
{
    struct privdrop_id id;
    struct err e = {0};
    int fd, status;
    pid_t pid;

    if (privdrop_resolve("nobody", &id, &e) < 0 || (fd = privdrop_self_open(&e)) < 0) {
        fprintf(stderr, "%s\n", err_msg(&e));
        return 1;
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        char *argv[] = {"unit_privdrop", "--child-report", (char *)probe, NULL};

        if (privdrop_apply(&id, &e) == 0)
            privdrop_exec_self(fd, argv, environ, &e);
        fprintf(stderr, "child: %s\n", err_msg(&e));
        _exit(1);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_facts_self),
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_exec_self),
    };

    if (argc == 3 && !strcmp(argv[1], "--child-report"))
        return child_report(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "--exec-test"))
        return exec_test(argv[2]);
    self_path = "/proc/self/exe";
    {
        static char real[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", real, sizeof real - 1);

        if (n > 0) {
            real[n] = '\0';
            self_path = real;
        }
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
