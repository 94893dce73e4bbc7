/* Unit tests for daemon/notify: datagrams to $NOTIFY_SOCKET (path and abstract), validation,
 * never blocking, and the watchdog variables. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "daemon/notify.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

static int clear_env(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return 0;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* A receiving socket, bound to `name` in $NOTIFY_SOCKET syntax ('@' = abstract). */
static int bind_receiver(const char *name)
{
    struct sockaddr_un sa;
    socklen_t salen;
    size_t len = strlen(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    assert_true(len <= SUN_PATH_MAX);
    memcpy(sa.sun_path, name, len);
    if (name[0] == '@') {
        sa.sun_path[0] = '\0';
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, salen), 0);
    return fd;
}

/* Receives one pending datagram and compares it byte for byte with `want`. */
static void expect_datagram(int fd, const char *want)
{
    char got[8192];
    ssize_t n = recv(fd, got, sizeof got, MSG_DONTWAIT);

    assert_true(n >= 0);
    assert_int_equal((size_t)n, strlen(want));
    assert_memory_equal(got, want, (size_t)n);
    /* Exactly one datagram per call. */
    assert_int_equal(recv(fd, got, sizeof got, MSG_DONTWAIT), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

/* A directory short enough for a socket path (sun_path is about 108 bytes). */
static char *short_dir(void)
{
    char *dir = tu_mkdtemp("notify");
    char tmpl[] = "/tmp/acmed-notify-XXXXXX";

    if (strlen(dir) + 16 < SUN_PATH_MAX)
        return dir;
    tu_rmtree(dir);
    free(dir);
    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static void abstract_name(char *out, size_t size)
{
    unsigned char r[8];

    assert_int_equal(getrandom(r, sizeof r, 0), (ssize_t)sizeof r);
    snprintf(out, size, "@acmed-test-%ld-%02x%02x%02x%02x%02x%02x%02x%02x", (long)getpid(), r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

static void test_unset(void **state)
{
    (void)state;
    assert_int_equal(notify_send("READY=1"), 0);
    assert_int_equal(notify_sendf("STATUS=%d", 3), 0);
}

static void test_path_socket(void **state)
{
    char *dir = short_dir();
    char path[256];
    int fds, fd;

    (void)state;
    snprintf(path, sizeof path, "%s/notify.sock", dir);
    fd = bind_receiver(path);
    assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
    fds = count_fds();
    assert_int_equal(notify_send("READY=1\nSTATUS=3 certificates, next renewal in 5 days"), 1);
    expect_datagram(fd, "READY=1\nSTATUS=3 certificates, next renewal in 5 days");
    assert_int_equal(notify_sendf("STATUS=%u certificates, %s", 2u, "all fine"), 1);
    expect_datagram(fd, "STATUS=2 certificates, all fine");
    assert_int_equal(notify_send("WATCHDOG=1"), 1);
    expect_datagram(fd, "WATCHDOG=1");
    /* No descriptor is left open behind a send. */
    assert_int_equal(count_fds(), fds);
    close(fd);
    tu_rmtree(dir);
    free(dir);
}

static void test_abstract_socket(void **state)
{
    char name[64];
    int fd;

    (void)state;
    abstract_name(name, sizeof name);
    fd = bind_receiver(name);
    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
    /* The address length must be exact: a sender that passed the whole sun_path or a trailing
     * NUL would name another (unbound) abstract socket and get ECONNREFUSED. */
    assert_int_equal(notify_send("READY=1"), 1);
    expect_datagram(fd, "READY=1");
    close(fd);
}

/* A long formatted state goes out whole, in one datagram. */
static void test_sendf_long(void **state)
{
    char name[64];
    char *want = malloc(5008);
    int fd;

    (void)state;
    assert_non_null(want);
    memcpy(want, "STATUS=", 7);
    memset(want + 7, 'x', 5000);
    want[5007] = '\0';
    abstract_name(name, sizeof name);
    fd = bind_receiver(name);
    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
    assert_int_equal(notify_sendf("STATUS=%s", want + 7), 1);
    expect_datagram(fd, want);
    close(fd);
    free(want);
}

static void test_invalid(void **state)
{
    char buf[SUN_PATH_MAX + 8];
    int fds = count_fds();

    (void)state;
    static const char *const bad[] = {"", "run/notify", "notify", "@", " /run/notify"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(setenv("NOTIFY_SOCKET", bad[i], 1), 0);
        assert_int_equal(notify_send("READY=1"), -EINVAL);
    }

    /* A path fits with its NUL: 107 bytes pass validation (and then find no socket), 108 do
     * not. */
    memset(buf, 'a', sizeof buf);
    buf[0] = '/';
    buf[SUN_PATH_MAX - 1] = '\0';
    assert_int_equal(setenv("NOTIFY_SOCKET", buf, 1), 0);
    assert_int_equal(notify_send("READY=1"), -ENOENT);
    buf[SUN_PATH_MAX - 1] = 'a';
    buf[SUN_PATH_MAX] = '\0';
    assert_int_equal(setenv("NOTIFY_SOCKET", buf, 1), 0);
    assert_int_equal(notify_send("READY=1"), -EINVAL);

    /* An abstract name has no NUL: '@' plus 107 bytes fills sun_path exactly. */
    memset(buf, 'b', sizeof buf);
    buf[0] = '@';
    buf[SUN_PATH_MAX] = '\0';
    assert_int_equal(setenv("NOTIFY_SOCKET", buf, 1), 0);
    assert_int_equal(notify_send("READY=1"), -ECONNREFUSED);
    buf[SUN_PATH_MAX] = 'b';
    buf[SUN_PATH_MAX + 1] = '\0';
    assert_int_equal(setenv("NOTIFY_SOCKET", buf, 1), 0);
    assert_int_equal(notify_send("READY=1"), -EINVAL);

    /* Nobody listening at a valid path. */
    assert_int_equal(setenv("NOTIFY_SOCKET", "/nonexistent/acmed/notify", 1), 0);
    assert_int_equal(notify_send("READY=1"), -ENOENT);

    /* The state itself must say something. */
    assert_int_equal(setenv("NOTIFY_SOCKET", "@acmed-unbound", 1), 0);
    assert_int_equal(notify_send(NULL), -EINVAL);
    assert_int_equal(notify_send(""), -EINVAL);
    assert_int_equal(count_fds(), fds);
}

/* A receiver that never reads fills up; the sender must get -EAGAIN, not block. (A blocking
 * send would hang here until the test's timeout.) */
static void test_never_blocks(void **state)
{
    char name[64];
    char payload[1024];
    int fd, rc = 1, i;

    (void)state;
    abstract_name(name, sizeof name);
    fd = bind_receiver(name);
    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
    memset(payload, 'y', sizeof payload - 1);
    payload[sizeof payload - 1] = '\0';
    memcpy(payload, "STATUS=", 7);
    for (i = 0; i < 100000 && rc == 1; i++)
        rc = notify_send(payload);
    assert_int_equal(rc, -EAGAIN);
    assert_true(i > 1);
    close(fd);
}

static void test_watchdog(void **state)
{
    char pid[32];

    (void)state;
    assert_int_equal(notify_watchdog_usec(), 0);

    assert_int_equal(setenv("WATCHDOG_USEC", "30000000", 1), 0);
    assert_int_equal(notify_watchdog_usec(), 30000000);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(notify_watchdog_usec(), 30000000);
    /* Meant for another process (e.g. inherited from our parent). */
    snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(notify_watchdog_usec(), 0);
    static const char *const bad_pid[] = {"", "abc", "-1", "0", "12x", " 1"};
    for (size_t i = 0; i < sizeof bad_pid / sizeof bad_pid[0]; i++) {
        assert_int_equal(setenv("WATCHDOG_PID", bad_pid[i], 1), 0);
        assert_int_equal(notify_watchdog_usec(), 0);
    }
    unsetenv("WATCHDOG_PID");

    assert_int_equal(setenv("WATCHDOG_USEC", "18446744073709551615", 1), 0);
    assert_true(notify_watchdog_usec() == UINT64_MAX);
    static const char *const bad_usec[] = {
        "", "0", "abc", "-5", "5s", " 5", "5 ", "18446744073709551616", "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad_usec / sizeof bad_usec[0]; i++) {
        assert_int_equal(setenv("WATCHDOG_USEC", bad_usec[i], 1), 0);
        assert_int_equal(notify_watchdog_usec(), 0);
    }
    /* A PID alone requests nothing. */
    unsetenv("WATCHDOG_USEC");
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(notify_watchdog_usec(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_unset, clear_env),
        cmocka_unit_test_setup(test_path_socket, clear_env),
        cmocka_unit_test_setup(test_abstract_socket, clear_env),
        cmocka_unit_test_setup(test_sendf_long, clear_env),
        cmocka_unit_test_setup(test_invalid, clear_env),
        cmocka_unit_test_setup(test_never_blocks, clear_env),
        cmocka_unit_test_setup(test_watchdog, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
