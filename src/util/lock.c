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

/* Opens the lock file `path` (creating it when `create`) and checks it is what we made: a
 * regular file with one link, owned by us. O_NOFOLLOW refuses a symlink; O_NONBLOCK keeps a
 * FIFO from hanging the open (it is refused below) and is cleared again; O_NOCTTY keeps a
 * terminal from becoming ours. Returns the descriptor or negative. */
static int open_lock(const char *path, int flags, struct err *e)
{
    struct stat st;
    int fd, rc = 0;

    fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644);
    if (fd < 0) {
        if (errno == ELOOP)
            return err_set(e, -ELOOP, "lock file %s is a symbolic link; refusing to follow it",
                           path);
        return err_sys(e, -errno, "cannot open lock file %s", path);
    }
    if (fstat(fd, &st) < 0) {
        rc = err_sys(e, -errno, "cannot stat lock file %s", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode))
        rc = err_set(e, -EINVAL, "lock file %s is not a regular file; refusing to use it", path);
    else if (st.st_nlink != 1)
        rc = err_set(e, -EMLINK, "lock file %s has %lu hard links; refusing to use it", path,
                     (unsigned long)st.st_nlink);
    else if (st.st_uid != geteuid())
        rc = err_set(e, -EPERM, "lock file %s is owned by uid %u, not %u; refusing to use it", path,
                     (unsigned)st.st_uid, (unsigned)geteuid());
    else if (fcntl(fd, F_SETFL, 0) < 0)
        rc = err_sys(e, -errno, "cannot use lock file %s", path);
out:
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int lock_acquire(const char *statedir, int *fd_out, struct err *e)
{
    char *path = fsio_join(statedir, ".lock");
    char pidbuf[32];
    int fd = -1, rc = 0, n;

    *fd_out = -1;
    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    fd = open_lock(path, O_RDWR | O_CREAT, e);
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            pid_t holder = read_pid(fd);

            if (holder > 0)
                rc = err_set(e, -EWOULDBLOCK,
                             "state directory %s is locked by another acmed (pid %ld)", statedir,
                             (long)holder);
            else
                rc = err_set(e, -EWOULDBLOCK, "state directory %s is locked by another acmed",
                             statedir);
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
    fd = open_lock(path, O_RDONLY, NULL);
    free(path);
    if (fd < 0)
        return fd == -ENOENT ? 0 : fd;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
        pid = 0; /* nobody holds it exclusively */
    else if (errno == EWOULDBLOCK)
        pid = read_pid(fd);
    else
        pid = -errno;
    close(fd);
    return pid;
}
