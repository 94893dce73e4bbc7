/* Unit tests for util/proc: the process hardening done first thing in main. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/proc.h"

static void test_harden(void **state)
{
    struct rlimit rl;
    struct sigaction sa;
    struct err e = {0};

    (void)state;
    assert_int_equal(proc_harden(&e), 0);
    assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
    assert_int_equal(rl.rlim_cur, 0);
    assert_int_equal(rl.rlim_max, 0);
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_IGN);
    /* A write to a socket whose peer is gone is EPIPE, not death. */
    {
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        close(sv[1]);
        assert_int_equal(write(sv[0], "x", 1), -1);
        assert_int_equal(errno, EPIPE);
        close(sv[0]);
    }
}

static void test_cloexec_all(void **state)
{
    int sv[2], fd;

    (void)state;
    /* Like libcurl 7.88's wakeup socketpair: opened without close-on-exec. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 3);
    assert_int_equal(fcntl(sv[0], F_GETFD) & FD_CLOEXEC, 0);
    assert_true(proc_cloexec_all() >= 3);
    assert_int_equal(fcntl(sv[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(fcntl(sv[1], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    /* stdio is left alone: a hook's stdin, stdout and stderr are set up by libuv. */
    assert_int_equal(fcntl(0, F_GETFD) & FD_CLOEXEC, 0);
    assert_int_equal(proc_cloexec_all(), 0);
    close(sv[0]);
    close(sv[1]);
    close(fd);
}

static void test_mem_read(void **state)
{
    struct proc_mem m = {0};

    (void)state;
    assert_int_equal(proc_mem_read(&m), 0);
    assert_true(m.anon > 0);
    assert_true(m.file > 0);
    assert_true(m.anon + m.file <= m.rss);
    assert_true(m.rss <= m.hwm);
}

/* Runs a child that calls proc_memstat_at_exit with ACMED_BENCH_MEMSTAT set to `value` (NULL:
 * unset) and exits; returns what it wrote on stderr. */
static void memstat_child(const char *value, char *out, size_t n)
{
    int p[2], status;
    ssize_t got;
    size_t len = 0;
    pid_t pid;

    assert_int_equal(pipe(p), 0);
    fflush(NULL); /* or the child's exit() would write the parent's buffered output again */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        if (value)
            setenv("ACMED_BENCH_MEMSTAT", value, 1);
        else
            unsetenv("ACMED_BENCH_MEMSTAT");
        proc_memstat_at_exit();
        exit(0);
    }
    close(p[1]);
    while (len + 1 < n && (got = read(p[0], out + len, n - 1 - len)) > 0)
        len += (size_t)got;
    out[len] = '\0';
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_memstat_at_exit(void **state)
{
    char out[256];
    long hwm, rss, anon, file;

    (void)state;
    memstat_child("1", out, sizeof out);
    assert_int_equal(sscanf(out, "acmed: memstat: VmHWM=%ld VmRSS=%ld RssAnon=%ld RssFile=%ld kB",
                            &hwm, &rss, &anon, &file),
                     4);
    assert_true(anon > 0 && file > 0 && anon + file <= rss && rss <= hwm);
    memstat_child("0", out, sizeof out);
    assert_string_equal(out, "");
    memstat_child(NULL, out, sizeof out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harden),
        cmocka_unit_test(test_cloexec_all),
        cmocka_unit_test(test_mem_read),
        cmocka_unit_test(test_memstat_at_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
