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
#include <sys/socket.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harden),
        cmocka_unit_test(test_cloexec_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
