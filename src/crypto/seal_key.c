/* seal_key: reading and checking the cluster's secret-file (see seal_key.h). */
#include "crypto/seal_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How to make a good file, for the messages: a format taking the file's path. */
#define HOWTO "make it with (umask 077; head -c 32 /dev/urandom > %s) and copy it to every node"

/* Opens path for reading without following a final symbolic link, and without blocking on a
 * FIFO (which the regular-file check then refuses). Returns a descriptor or negative. */
static int open_key(const char *path, struct err *e)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

    if (fd >= 0)
        return fd;
    switch (errno) {
    case ENOENT:
        return err_set(e, -ENOENT, "secret-file %s does not exist: " HOWTO, path, path);
    case ELOOP:
        return err_set(e, -ELOOP,
                       "secret-file %s is a symbolic link, which acmed does not follow: name the "
                       "file itself in cluster.secret-file",
                       path);
    case EACCES:
        return err_sys(e, -EACCES,
                       "secret-file %s cannot be read (run acmed as the file's owner, or fix "
                       "the permissions of the directories above it)",
                       path);
    default:
        return err_sys(e, -errno, "cannot open secret-file %s", path);
    }
}

/* The owner, type and mode checks on the open file. */
static int check_stat(int fd, const char *path, uid_t owner, struct err *e)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return err_sys(e, -errno, "cannot stat secret-file %s", path);
    if (!S_ISREG(st.st_mode))
        return err_set(e, -EINVAL, "secret-file %s is not a regular file: " HOWTO, path, path);
    if (st.st_uid != owner) {
        if (owner == 0)
            return err_set(e, -EPERM,
                           "secret-file %s belongs to uid %u, not to root, the user acmed runs "
                           "as: chown root %s",
                           path, (unsigned)st.st_uid, path);
        return err_set(e, -EPERM,
                       "secret-file %s belongs to uid %u, not to uid %u, the user acmed runs "
                       "as: give that user a copy of its own, mode 0600",
                       path, (unsigned)st.st_uid, (unsigned)owner);
    }
    if (st.st_mode & 07177)
        return err_set(e, -EPERM,
                       "secret-file %s has mode %04o: anyone who can read it can read every "
                       "key in etcd, it must be 0600 or stricter: chmod 600 %s",
                       path, (unsigned)(st.st_mode & 07777), path);
    return 0;
}

/* Reads up to size bytes (until end of file). Returns the count or negative. */
static ssize_t read_all(int fd, uint8_t *buf, size_t size)
{
    size_t n = 0;

    while (n < size) {
        ssize_t r = read(fd, buf + n, size - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    return (ssize_t)n;
}

/* The size and content checks on what was read (n bytes of buf, at most 64 + 1). */
static int check_bytes(const uint8_t *buf, size_t n, const char *path, struct err *e)
{
    bool same = true;

    if (n == SEAL_KEY_LEN + 1 && buf[SEAL_KEY_LEN] == '\n')
        return err_set(e, -EINVAL,
                       "secret-file %s has 33 bytes, the last a newline: it must hold exactly "
                       "32 raw random bytes, not text; " HOWTO,
                       path, path);
    if (n > 2 * SEAL_KEY_LEN)
        return err_set(e, -EINVAL,
                       "secret-file %s has more than 64 bytes: it must hold exactly 32 raw "
                       "random bytes; " HOWTO,
                       path, path);
    if (n != SEAL_KEY_LEN)
        return err_set(
            e, -EINVAL,
            "secret-file %s has %zu bytes: it must hold exactly 32 raw random bytes; " HOWTO, path,
            n, path);
    for (size_t i = 1; i < n; i++)
        same &= buf[i] == buf[0];
    if (same)
        return err_set(e, -EINVAL,
                       "secret-file %s holds 32 identical bytes, not random ones; " HOWTO, path,
                       path);
    return 0;
}

int seal_key_load_owner(const char *path, uid_t owner, uint8_t key[SEAL_KEY_LEN], struct err *e)
{
    uint8_t buf[2 * SEAL_KEY_LEN + 1];
    ssize_t n = 0;
    int fd = -1, rc;

    explicit_bzero(key, SEAL_KEY_LEN);
    if ((rc = fd = open_key(path, e)) < 0 || (rc = check_stat(fd, path, owner, e)) < 0)
        goto out;
    if ((n = read_all(fd, buf, sizeof buf)) < 0) {
        rc = err_sys(e, (int)n, "cannot read secret-file %s", path);
        goto out;
    }
    if ((rc = check_bytes(buf, (size_t)n, path, e)) < 0)
        goto out;
    memcpy(key, buf, SEAL_KEY_LEN);
out:
    explicit_bzero(buf, sizeof buf);
    if (fd >= 0)
        close(fd);
    return rc < 0 ? rc : 0;
}

int seal_key_load(const char *path, uint8_t key[SEAL_KEY_LEN], struct err *e)
{
    return seal_key_load_owner(path, geteuid(), key, e);
}
