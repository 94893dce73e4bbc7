#include "util/fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/failpoint.h"

char *fsio_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p;

    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    p = malloc(dl + nl + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

int fsio_random(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Splits path into a freshly allocated directory part ("." when none) and a borrowed base. */
static char *dir_of(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');

    if (!slash) {
        *base = path;
        return strdup(".");
    }
    *base = slash + 1;
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* A fresh temp entry name ".tmp-<base>-<12 hex digits>" for a file about to replace base.
 * Caller frees; NULL on failure. */
static char *tmp_name(const char *base)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[6];
    char suffix[13];
    char *name;

    if (fsio_random(rnd, sizeof rnd) < 0)
        return NULL;
    for (size_t i = 0; i < sizeof rnd; i++) {
        suffix[2 * i] = hex[rnd[i] >> 4];
        suffix[2 * i + 1] = hex[rnd[i] & 15];
    }
    suffix[12] = '\0';
    if (asprintf(&name, ".tmp-%s-%s", base, suffix) < 0)
        return NULL;
    return name;
}

int fsio_fsync_dirfd(int fd, const char *dir, struct err *e)
{
    int rc = 0;

    if (fsync(fd) < 0)
        rc = err_sys(e, -errno, "cannot fsync directory %s", dir);
    return rc;
}

int fsio_fsync_dir(const char *dir, struct err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return err_sys(e, -errno, "cannot open directory %s", dir);
    rc = fsio_fsync_dirfd(fd, dir, e);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fsio_write_atomic_at(int dirfd, const char *dir, const char *name, const void *data, size_t len,
                         mode_t mode, struct err *e)
{
    char *tmpname = NULL, *tmp = NULL;
    bool created = false;
    int fd = -1, rc = 0;

    if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return err_set(e, -EINVAL, "invalid file name \"%s\" in %s", name, dir);
    tmpname = tmp_name(name);
    /* tmp is the temp file's path as messages show it; every call uses dirfd and tmpname. */
    tmp = tmpname ? fsio_join(dir, tmpname) : NULL;
    if (!tmp) {
        rc = err_set(e, -ENOMEM, "cannot make a temp name for %s in %s", name, dir);
        goto out;
    }
    fd = openat(dirfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
    if (fd < 0) {
        rc = err_sys(e, -errno, "cannot create %s", tmp);
        goto out;
    }
    created = true;
    /* The umask may have narrowed (or a hostile one widened nothing, but narrowed) the
     * mode: set it exactly. */
    if (fchmod(fd, mode & 07777) < 0) {
        rc = err_sys(e, -errno, "cannot chmod %s", tmp);
        goto out;
    }
    rc = write_all(fd, data, len);
    if (rc < 0) {
        rc = err_sys(e, rc, "cannot write %s", tmp);
        goto out;
    }
    if (fsync(fd) < 0) {
        rc = err_sys(e, -errno, "cannot fsync %s", tmp);
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = err_sys(e, -errno, "cannot close %s", tmp);
        goto out;
    }
    fd = -1;
    failpoint(FSIO_FAILPOINT_BEFORE_RENAME);
    if (renameat(dirfd, tmpname, dirfd, name) < 0) {
        rc = err_sys(e, -errno, "cannot rename %s to %s in %s", tmpname, name, dir);
        goto out;
    }
    free(tmpname);
    tmpname = NULL;
    rc = fsio_fsync_dirfd(dirfd, dir, e);
out:
    if (fd >= 0)
        close(fd);
    if (tmpname && created)
        unlinkat(dirfd, tmpname, 0);
    free(tmpname);
    free(tmp);
    return rc;
}

int fsio_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct err *e)
{
    const char *base = NULL;
    char *dir = dir_of(path, &base);
    int dfd = -1, rc = 0;

    if (!dir || !*base) {
        rc = err_set(e, dir ? -EINVAL : -ENOMEM, "invalid path %s", path);
        goto out;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = err_sys(e, -errno, "cannot open directory %s", dir);
        goto out;
    }
    rc = fsio_write_atomic_at(dfd, dir, base, data, len, mode, e);
out:
    if (dfd >= 0)
        close(dfd);
    free(dir);
    return rc;
}

int fsio_read_file(const char *path, size_t max, char **out, size_t *len, struct err *e)
{
    struct stat st;
    char *data = NULL;
    size_t got = 0;
    int fd, rc = 0;

    *out = NULL;
    /* O_NONBLOCK: a FIFO planted where a file should be must not hang the open; it is
     * refused below as not a regular file. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP)
            return err_set(e, -ELOOP, "%s is a symbolic link; refusing to follow it", path);
        return err_sys(e, -errno, "cannot open %s", path);
    }
    if (fstat(fd, &st) < 0) {
        rc = err_sys(e, -errno, "cannot stat %s", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(e, -EINVAL, "%s is not a regular file", path);
        goto out;
    }
    if (fcntl(fd, F_SETFL, 0) < 0) {
        rc = err_sys(e, -errno, "cannot read %s", path);
        goto out;
    }
    if ((size_t)st.st_size > max) {
        rc = err_set(e, -EFBIG, "%s is too large (%lld bytes, at most %zu)", path,
                     (long long)st.st_size, max);
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        rc = err_set(e, -ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    /* Read until EOF rather than trusting st_size: the file may change under us. */
    for (;;) {
        ssize_t n;

        if (got == (size_t)st.st_size) {
            char extra;

            n = read(fd, &extra, 1);
            if (n > 0) {
                rc = err_set(e, -EAGAIN, "%s changed while it was being read", path);
                goto out;
            }
        } else {
            n = read(fd, data + got, (size_t)st.st_size - got);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = err_sys(e, -errno, "cannot read %s", path);
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    data[got] = '\0';
    *out = data;
    data = NULL;
    if (len)
        *len = got;
out:
    free(data);
    close(fd);
    return rc;
}

int fsio_fsync_parent(const char *path, struct err *e)
{
    const char *base;
    char *dir = dir_of(path, &base);
    int rc;

    if (!dir)
        return err_set(e, -ENOMEM, "out of memory");
    rc = fsio_fsync_dir(dir, e);
    free(dir);
    return rc;
}

int fsio_symlink_atomic(const char *target, const char *linkpath, struct err *e)
{
    const char *base = NULL;
    char *dir = dir_of(linkpath, &base);
    char *tmpname = NULL, *tmp = NULL;
    int rc = 0;

    if (!dir || !*base) {
        rc = err_set(e, dir ? -EINVAL : -ENOMEM, "invalid link path %s", linkpath);
        goto out;
    }
    tmpname = tmp_name(base);
    tmp = tmpname ? fsio_join(dir, tmpname) : NULL;
    if (!tmp) {
        rc = err_set(e, -ENOMEM, "cannot make a temp name for %s", linkpath);
        goto out;
    }
    if (symlink(target, tmp) < 0) {
        rc = err_sys(e, -errno, "cannot create symlink %s", tmp);
        goto out;
    }
    if (rename(tmp, linkpath) < 0) {
        rc = err_sys(e, -errno, "cannot rename %s to %s", tmp, linkpath);
        unlink(tmp);
        goto out;
    }
    rc = fsio_fsync_dir(dir, e);
out:
    free(tmpname);
    free(tmp);
    free(dir);
    return rc;
}

/* Resolves `path` with realpath(); when the final component does not exist, resolves its
 * parent and appends the name, so a file about to be created can be checked too. */
static char *resolve(const char *path)
{
    const char *base = NULL;
    char *dir, *rdir, *res = NULL;

    res = realpath(path, NULL);
    if (res || errno != ENOENT)
        return res;
    dir = dir_of(path, &base);
    if (!dir)
        return NULL;
    rdir = realpath(dir, NULL);
    free(dir);
    if (!rdir)
        return NULL;
    if (strcmp(base, "..") == 0 || strcmp(base, ".") == 0) {
        free(rdir);
        errno = EINVAL;
        return NULL;
    }
    res = fsio_join(rdir, base);
    free(rdir);
    return res;
}

int fsio_check_within(const char *root, const char *path, struct err *e)
{
    char *rroot = realpath(root, NULL);
    char *rpath = NULL;
    size_t n;
    int rc = 0;

    if (!rroot)
        return err_sys(e, -errno, "cannot resolve %s", root);
    rpath = resolve(path);
    if (!rpath) {
        rc = err_sys(e, -errno, "cannot resolve %s", path);
        goto out;
    }
    n = strlen(rroot);
    if (strcmp(rroot, "/") == 0)
        goto out;
    if (strncmp(rpath, rroot, n) != 0 || (rpath[n] != '\0' && rpath[n] != '/'))
        rc = err_set(e, -EXDEV, "%s leads outside %s (to %s); refusing it", path, root, rpath);
out:
    free(rroot);
    free(rpath);
    return rc;
}

int fsio_remove_stale_tmp(const char *dir, struct err *e)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int removed = 0;

    if (!d) {
        if (errno == ENOENT)
            return 0;
        return err_sys(e, -errno, "cannot open directory %s", dir);
    }
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".tmp-", 5) != 0)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
