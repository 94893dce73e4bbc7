/* iotrace: an LD_PRELOAD shim for tests/cli/test_local_faults.sh. It records the file-system
 * calls that make a write durable and atomic (open, write, fsync, fdatasync, rename*, mkdir*,
 * symlink*, unlink*), with paths made absolute and their directory part resolved, one line per
 * call, into the file IOTRACE_LOG names:
 *
 *   <pid> <op> <rc> <errno> <path> [<path2>] [<extra>]      (tab-separated)
 *
 * ops: open (extra: the flags in hex), write (regular files only; extra: byte count),
 * fsync, fdatasync, fsync-skipped, fdatasync-skipped, rename (path -> path2; extra: the type
 * of the source just before the call: f regular file, l symlink, d directory, - absent or
 * other), mkdir, symlink (path: the link; path2: its target as given), unlink.
 *
 * Modes, from the environment:
 *   IOTRACE_FAIL_FSYNC=1  fsync/fdatasync fail with EIO (not called), for every descriptor or,
 *                         with IOTRACE_FAIL_MATCH=S, only for those whose path contains S
 *   IOTRACE_SKIP_FSYNC=1  fsync/fdatasync return 0 without syncing (logged as *-skipped, so
 *                         a trace checker sees them as missing)
 *
 * The log is written with one write(2) per line on an O_APPEND descriptor, through the raw
 * system call, so that lines from several threads or processes never interleave and the
 * shim never traces itself. Works under AddressSanitizer with
 * ASAN_OPTIONS=verify_asan_link_order=0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LINE_MAX_LEN (3 * PATH_MAX + 128)

static int log_fd = -2; /* -2: not opened yet, -1: no log */

static void log_open(void)
{
    const char *p;
    int fd;

    if (log_fd != -2)
        return;
    p = getenv("IOTRACE_LOG");
    if (!p || !*p) {
        log_fd = -1;
        return;
    }
    fd = (int)syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    /* Keep the descriptor away from the low numbers a program may dup2 onto. */
    if (fd >= 0 && fd < 100) {
        int hi = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 100);

        if (hi >= 0) {
            syscall(SYS_close, fd);
            fd = hi;
        }
    }
    log_fd = fd < 0 ? -1 : fd;
}

static void emit(const char *op, long rc, int err, const char *p1, const char *p2,
                 const char *extra)
{
    char line[LINE_MAX_LEN];
    int n;

    log_open();
    if (log_fd < 0)
        return;
    n = snprintf(line, sizeof line, "%ld\t%s\t%ld\t%d\t%s\t%s\t%s\n", (long)getpid(), op, rc,
                 rc < 0 ? err : 0, p1 ? p1 : "", p2 ? p2 : "", extra ? extra : "");
    if (n <= 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    syscall(SYS_write, log_fd, line, (size_t)n);
}

static int env_on(const char *name)
{
    const char *v = getenv(name);

    return v && *v && strcmp(v, "0") != 0;
}

/* The path an open descriptor refers to (from /proc/self/fd), or "" when unknown. */
static void fd_path(int fd, char *out, size_t len)
{
    char proc[64];
    ssize_t n;

    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    n = readlink(proc, out, len - 1);
    if (n < 0)
        n = 0;
    out[n] = '\0';
}

/* `path` (relative to dirfd) made absolute, its directory part resolved with realpath() so
 * that it compares equal to what /proc/self/fd shows; the last component is kept as is. */
static void abs_path(int dirfd, const char *path, char *out, size_t len)
{
    char base[PATH_MAX], joined[2 * PATH_MAX + 2], dir[PATH_MAX], rdir[PATH_MAX];
    const char *slash, *name;

    if (!path) {
        snprintf(out, len, "(null)");
        return;
    }
    if (path[0] == '/') {
        snprintf(joined, sizeof joined, "%s", path);
    } else {
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base))
                base[0] = '\0';
        } else {
            fd_path(dirfd, base, sizeof base);
        }
        snprintf(joined, sizeof joined, "%s/%s", base, path);
    }
    /* Drop trailing slashes (mkdir("a/b/")). */
    for (size_t n = strlen(joined); n > 1 && joined[n - 1] == '/'; n--)
        joined[n - 1] = '\0';
    slash = strrchr(joined, '/');
    name = slash ? slash + 1 : joined;
    if (!slash || slash == joined) {
        snprintf(out, len, "%s", joined);
        return;
    }
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - joined), joined);
    if (realpath(dir, rdir))
        snprintf(out, len, "%s%s%s", rdir, strcmp(rdir, "/") == 0 ? "" : "/", name);
    else
        snprintf(out, len, "%s", joined);
}

static const char *type_of(int dirfd, const char *path)
{
    struct stat sb;

    if (fstatat(dirfd, path, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return "-";
    if (S_ISREG(sb.st_mode))
        return "f";
    if (S_ISLNK(sb.st_mode))
        return "l";
    if (S_ISDIR(sb.st_mode))
        return "d";
    return "-";
}

#define REAL(name)                                                                          \
    static __typeof__(name) *real_##name;                                                   \
    if (!real_##name)                                                                       \
        real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);                          \
    if (!real_##name) {                                                                     \
        errno = ENOSYS;                                                                     \
        return -1;                                                                          \
    }

static int traced_open(int dirfd, const char *path, int flags, mode_t mode, int fd, int err)
{
    char p[PATH_MAX], fl[32];

    if (fd >= 0)
        fd_path(fd, p, sizeof p);
    else
        abs_path(dirfd, path, p, sizeof p);
    snprintf(fl, sizeof fl, "0x%x", (unsigned)flags);
    emit("open", fd, err, p, NULL, fl);
    (void)mode;
    errno = err;
    return fd;
}

static mode_t va_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;
    int fd;

    va_start(ap, flags);
    mode = va_mode(flags, ap);
    va_end(ap);
    REAL(open);
    fd = real_open(path, flags, mode);
    return traced_open(AT_FDCWD, path, flags, mode, fd, errno);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;
    int fd;

    va_start(ap, flags);
    mode = va_mode(flags, ap);
    va_end(ap);
    REAL(open64);
    fd = real_open64(path, flags, mode);
    return traced_open(AT_FDCWD, path, flags, mode, fd, errno);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;
    int fd;

    va_start(ap, flags);
    mode = va_mode(flags, ap);
    va_end(ap);
    REAL(openat);
    fd = real_openat(dirfd, path, flags, mode);
    return traced_open(dirfd, path, flags, mode, fd, errno);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    mode_t mode;
    int fd;

    va_start(ap, flags);
    mode = va_mode(flags, ap);
    va_end(ap);
    REAL(openat64);
    fd = real_openat64(dirfd, path, flags, mode);
    return traced_open(dirfd, path, flags, mode, fd, errno);
}

ssize_t write(int fd, const void *buf, size_t count)
{
    struct stat sb;
    ssize_t n;
    int err;

    REAL(write);
    n = real_write(fd, buf, count);
    err = errno;
    if (fd != log_fd && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        char p[PATH_MAX], extra[32];

        fd_path(fd, p, sizeof p);
        snprintf(extra, sizeof extra, "%zu", count);
        emit("write", (long)n, err, p, NULL, extra);
    }
    errno = err;
    return n;
}

static int sync_common(int fd, const char *op, int (*real)(int))
{
    char p[PATH_MAX], skipped[32];
    const char *match;
    int rc, err;

    fd_path(fd, p, sizeof p);
    if (env_on("IOTRACE_FAIL_FSYNC")) {
        match = getenv("IOTRACE_FAIL_MATCH");
        if (!match || !*match || strstr(p, match)) {
            emit(op, -1, EIO, p, NULL, "injected");
            errno = EIO;
            return -1;
        }
    }
    if (env_on("IOTRACE_SKIP_FSYNC")) {
        snprintf(skipped, sizeof skipped, "%s-skipped", op);
        emit(skipped, 0, 0, p, NULL, NULL);
        return 0;
    }
    rc = real(fd);
    err = errno;
    emit(op, rc, err, p, NULL, NULL);
    errno = err;
    return rc;
}

int fsync(int fd)
{
    REAL(fsync);
    return sync_common(fd, "fsync", real_fsync);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    return sync_common(fd, "fdatasync", real_fdatasync);
}

static void traced_rename(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                          const char *type, int rc, int err)
{
    char a[PATH_MAX], b[PATH_MAX];

    abs_path(olddirfd, oldpath, a, sizeof a);
    abs_path(newdirfd, newpath, b, sizeof b);
    emit("rename", rc, err, a, b, type);
}

int rename(const char *oldpath, const char *newpath)
{
    const char *type = type_of(AT_FDCWD, oldpath);
    int rc, err;

    REAL(rename);
    rc = real_rename(oldpath, newpath);
    err = errno;
    traced_rename(AT_FDCWD, oldpath, AT_FDCWD, newpath, type, rc, err);
    errno = err;
    return rc;
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    const char *type = type_of(olddirfd, oldpath);
    int rc, err;

    REAL(renameat);
    rc = real_renameat(olddirfd, oldpath, newdirfd, newpath);
    err = errno;
    traced_rename(olddirfd, oldpath, newdirfd, newpath, type, rc, err);
    errno = err;
    return rc;
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags)
{
    const char *type = type_of(olddirfd, oldpath);
    int rc, err;

    REAL(renameat2);
    rc = real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
    err = errno;
    traced_rename(olddirfd, oldpath, newdirfd, newpath, type, rc, err);
    errno = err;
    return rc;
}

static void traced_path(const char *op, int dirfd, const char *path, const char *p2, int rc,
                        int err)
{
    char a[PATH_MAX];

    abs_path(dirfd, path, a, sizeof a);
    emit(op, rc, err, a, p2, NULL);
}

int mkdir(const char *path, mode_t mode)
{
    int rc, err;

    REAL(mkdir);
    rc = real_mkdir(path, mode);
    err = errno;
    traced_path("mkdir", AT_FDCWD, path, NULL, rc, err);
    errno = err;
    return rc;
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    int rc, err;

    REAL(mkdirat);
    rc = real_mkdirat(dirfd, path, mode);
    err = errno;
    traced_path("mkdir", dirfd, path, NULL, rc, err);
    errno = err;
    return rc;
}

int symlink(const char *target, const char *linkpath)
{
    int rc, err;

    REAL(symlink);
    rc = real_symlink(target, linkpath);
    err = errno;
    traced_path("symlink", AT_FDCWD, linkpath, target, rc, err);
    errno = err;
    return rc;
}

int symlinkat(const char *target, int dirfd, const char *linkpath)
{
    int rc, err;

    REAL(symlinkat);
    rc = real_symlinkat(target, dirfd, linkpath);
    err = errno;
    traced_path("symlink", dirfd, linkpath, target, rc, err);
    errno = err;
    return rc;
}

int unlink(const char *path)
{
    int rc, err;

    REAL(unlink);
    rc = real_unlink(path);
    err = errno;
    traced_path("unlink", AT_FDCWD, path, NULL, rc, err);
    errno = err;
    return rc;
}

int unlinkat(int dirfd, const char *path, int flags)
{
    int rc, err;

    REAL(unlinkat);
    rc = real_unlinkat(dirfd, path, flags);
    err = errno;
    traced_path("unlink", dirfd, path, NULL, rc, err);
    errno = err;
    return rc;
}
