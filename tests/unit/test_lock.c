/* Unit tests for util/lock: the state-directory lock excludes a second holder. */
#include <errno.h>
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

#include "common/testutil.h"
#include "util/lock.h"

static void test_second_holder_excluded(void **state)
{
    char *dir = tu_mkdtemp("lock");
    struct err e;
    int fd = -1, pipefd[2], status;
    char msg[ERR_MSG_MAX] = "";
    pid_t pid;

    assert_int_equal(lock_holder(dir), 0);
    assert_int_equal(lock_acquire(dir, &fd, &e), 0);
    assert_true(fd >= 0);
    assert_int_equal(lock_holder(dir), getpid());
    /* Another process cannot take it and is told who holds it. */
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct err ce;
        int cfd = -1;
        int rc = lock_acquire(dir, &cfd, &ce);

        if (write(pipefd[1], ce.msg, strlen(ce.msg) + 1) < 0)
            _exit(3);
        _exit(rc == -EWOULDBLOCK ? 0 : 1);
    }
    close(pipefd[1]);
    assert_true(read(pipefd[0], msg, sizeof msg - 1) > 0);
    close(pipefd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char expect[64];
    snprintf(expect, sizeof expect, "pid %ld", (long)getpid());
    assert_non_null(strstr(msg, expect));
    assert_non_null(strstr(msg, dir));
    /* Released: it can be taken again, and nobody is named as holder. */
    lock_release(fd);
    assert_int_equal(lock_holder(dir), 0);
    assert_int_equal(lock_acquire(dir, &fd, &e), 0);
    lock_release(fd);
    tu_rmtree(dir);
    free(dir);
}

static void test_missing_dir(void **state)
{
    struct err e;
    int fd = -1;

    assert_true(lock_acquire("/nonexistent-acmed-state", &fd, &e) < 0);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(e.msg, "/nonexistent-acmed-state/.lock"));
}

/* Takes the lock in a state directory whose .lock is not the plain file we would make, and
 * checks the refusal names the lock file and says why, takes nothing, and writes nothing
 * through it. lock_holder must not trust (or hang on) it either. */
static void expect_refused(const char *dir, const char *why)
{
    char path[4096];
    struct err e;
    int fd = 123;

    snprintf(path, sizeof path, "%s/.lock", dir);
    err_clear(&e);
    assert_true(lock_acquire(dir, &fd, &e) < 0);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(e.msg, path));
    if (!strstr(e.msg, why))
        fail_msg("\"%s\" does not say \"%s\"", e.msg, why);
    assert_true(lock_holder(dir) < 0);
    assert_int_equal(unlink(path), 0);
}

static void test_refuses_hostile_lock_files(void **state)
{
    char *dir = tu_mkdtemp("lock");
    char lock[4096], other[4096];
    char *data;

    /* A FIFO used to hang lock_holder's open for ever: fail the test instead. */
    alarm(30);
    snprintf(lock, sizeof lock, "%s/.lock", dir);
    snprintf(other, sizeof other, "%s/other", dir);
    tu_write_file(other, "keep me");

    assert_int_equal(symlink(other, lock), 0);
    expect_refused(dir, "is a symbolic link; refusing to follow it");

    assert_int_equal(mkfifo(lock, 0644), 0);
    expect_refused(dir, "is not a regular file");

    /* A hard link to another file: our pid would be written into it. */
    assert_int_equal(link(other, lock), 0);
    expect_refused(dir, "has 2 hard links");

    data = tu_read_file(other, NULL);
    assert_string_equal(data, "keep me");
    free(data);

    if (geteuid() == 0) {
        tu_write_file(lock, "");
        assert_int_equal(chown(lock, 65534, 65534), 0);
        expect_refused(dir, "is owned by uid 65534, not 0");
    }
    /* The plain file is still fine. */
    int fd = -1;
    struct err e;

    assert_int_equal(lock_acquire(dir, &fd, &e), 0);
    lock_release(fd);
    alarm(0);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_holder_excluded),
        cmocka_unit_test(test_missing_dir),
        cmocka_unit_test(test_refuses_hostile_lock_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
