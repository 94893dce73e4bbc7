#include "util/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsio.h"

static pid_t read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long v;

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    v = strtol(buf, NULL, 10);
    return v > 0 ? (pid_t)v : 0;
}

int lock_acquire(const char *statedir, int *fd_out, struct err *e)
{
    char *path = fsio_join(statedir, ".lock");
    char pidbuf[32];
    int fd = -1, rc = 0, n;

    *fd_out = -1;
    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = err_sys(e, -errno, "cannot open lock file %s", path);
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            pid_t holder = read_pid(fd);

            if (holder > 0)
                rc = err_set(e, -EWOULDBLOCK,
                             "state directory %s is locked by another acmed (pid %ld)",
                             statedir, (long)holder);
            else
                rc = err_set(e, -EWOULDBLOCK,
                             "state directory %s is locked by another acmed", statedir);
        } else {
            rc = err_sys(e, -errno, "cannot lock %s", path);
        }
        goto out;
    }
    /* Record our pid so a second reconciler can name us. The file's content is advisory;
     * the flock is the lock. */
    fchmod(fd, 0644);
    n = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pidbuf, (size_t)n, 0) != n) {
        rc = err_sys(e, -errno, "cannot write pid to %s", path);
        goto out;
    }
    *fd_out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

void lock_release(int fd)
{
    if (fd < 0)
        return;
    if (ftruncate(fd, 0) < 0) {
        /* Nothing to do: the pid is advisory and the flock goes with the close. */
    }
    close(fd);
}

pid_t lock_holder(const char *statedir)
{
    char *path = fsio_join(statedir, ".lock");
    pid_t pid = 0;
    int fd;

    if (!path)
        return -ENOMEM;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
        pid = 0; /* nobody holds it exclusively */
    else if (errno == EWOULDBLOCK)
        pid = read_pid(fd);
    else
        pid = -errno;
    close(fd);
    return pid;
}
