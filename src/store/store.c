/* store: opening, locking and closing the state directory (DESIGN.md §2). The other parts of
 * store.h live in store_ids.c, store_accounts.c, store_certs.c and store_live.c. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/fsio.h"
#include "util/lock.h"
#include "util/log.h"

static const struct {
    const char *name;
    mode_t mode;
} layout[] = {
    {"desired", STORE_DIR_MODE},    {"conf", STORE_DIR_MODE},  {"accounts", STORE_PRIV_DIR_MODE},
    {"keys", STORE_PRIV_DIR_MODE},  {"certs", STORE_DIR_MODE}, {"live", STORE_DIR_MODE},
    {"state", STORE_PRIV_DIR_MODE}, {"tmp", STORE_DIR_MODE},
};

char *store_path(const struct store *st, const char *rel)
{
    return fsio_join(st->root, rel);
}

/* The absolute form of root without trailing slashes; symlinks are kept as given so that
 * paths shown to the user (and ACME_STATE_DIR for hooks) are the ones they configured. */
static char *absolute_root(const char *root)
{
    char *abs = NULL;
    size_t n;

    if (root[0] == '/') {
        abs = strdup(root);
    } else {
        char cwd[PATH_MAX];

        if (!getcwd(cwd, sizeof cwd))
            return NULL;
        abs = fsio_join(cwd, root);
    }
    if (!abs)
        return NULL;
    n = strlen(abs);
    while (n > 1 && abs[n - 1] == '/')
        abs[--n] = '\0';
    return abs;
}

/* A directory of the layout must be a real directory nobody else can write to: a
 * world-writable one would let any local user plant links or keys. */
static int check_dir(const char *path, bool follow, struct err *e)
{
    struct stat sb;

    if ((follow ? stat(path, &sb) : lstat(path, &sb)) < 0)
        return err_sys(e, -errno, "cannot stat %s", path);
    if (S_ISLNK(sb.st_mode))
        return err_set(e, -ELOOP, "%s is a symbolic link; refusing to follow it", path);
    if (!S_ISDIR(sb.st_mode))
        return err_set(e, -ENOTDIR, "%s exists and is not a directory", path);
    if (sb.st_mode & S_IWOTH)
        return err_set(e, -EPERM, "%s is world-writable (mode %04o); refusing to use it", path,
                       (unsigned)(sb.st_mode & 07777));
    return 0;
}

int store_open(const char *root, struct store *st, struct err *e)
{
    char *path = NULL;
    int rc = 0;

    st->root = NULL;
    st->lock_fd = -1;
    st->swept = 0;
    if (!root || !*root)
        return err_set(e, -EINVAL, "no state directory given");
    st->root = absolute_root(root);
    if (!st->root)
        return err_sys(e, -errno ? -errno : -ENOMEM, "cannot make %s absolute", root);
    /* The root itself may be a symlink (/var/lib/acme -> /srv/acme): that is the admin's
     * choice, so it is followed; the layout directories below it are not. */
    rc = fsio_mkdirs(st->root, STORE_DIR_MODE, e);
    if (rc == 0)
        rc = check_dir(st->root, true, e);
    for (size_t i = 0; rc == 0 && i < sizeof layout / sizeof layout[0]; i++) {
        path = fsio_join(st->root, layout[i].name);
        if (!path) {
            rc = err_set(e, -ENOMEM, "out of memory");
            break;
        }
        rc = store_ensure_dir(path, layout[i].mode, e);
        if (rc == 0)
            rc = check_dir(path, false, e);
        free(path);
        path = NULL;
    }
    if (rc < 0)
        store_close(st);
    return rc;
}

/* Removes the ".tmp-*" directories store_cert_remove leaves when interrupted between its
 * rename and its recursive removal. */
static int remove_stale_tmp_dirs(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int removed = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char *p;
        struct stat sb;

        if (strncmp(de->d_name, ".tmp-", 5) != 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode))
            continue;
        p = fsio_join(dir, de->d_name);
        if (p && store_rmtree(p, NULL) == 0)
            removed++;
        free(p);
    }
    closedir(d);
    return removed;
}

/* Cleans `rel` and, `depth` levels down, each real subdirectory (never through symlinks). */
static int clean_tree(const struct store *st, const char *rel, int depth)
{
    char *dir = store_path(st, rel);
    char **names = NULL;
    size_t n = 0;
    struct err e;
    int removed = 0, rc;

    if (!dir)
        return 0;
    rc = fsio_remove_stale_tmp(dir, &e);
    if (rc < 0)
        log_warn("cannot clean temp files: %s", e.msg);
    else
        removed += rc;
    if (depth > 0 && store_list_dir(dir, true, &names, &n, &e) == 0) {
        for (size_t i = 0; i < n; i++) {
            char *sub = fsio_join(rel, names[i]);

            if (sub)
                removed += clean_tree(st, sub, depth - 1);
            free(sub);
        }
    }
    store_names_free(names, n);
    free(dir);
    return removed;
}

/* ---- the sweep of stale temp files ----
 *
 * Only the lock holder writes, so a ".tmp-*" file found once the lock is taken was left by a
 * holder that died mid-write. Opening every certs/<id>, keys/<id> and account directory to
 * look for them costs thousands of system calls in a large state directory, so the lock
 * holder leaves STORE_CLEAN_MARK when it closes cleanly (store_close), and the next holder
 * sweeps only the top-level directories when it finds it (removing it first, so a crash of
 * its own leaves none). A missing, unreadable or old marker (the last full sweep more than
 * STORE_SWEEP_EVERY_S ago) means a full sweep. The marker is written without fsync: losing
 * it merely costs a full sweep. */

#define STORE_CLEAN_MARK "state/.clean-close"
#define STORE_SWEEP_EVERY_S (24 * 3600)

/* The time of the last full sweep recorded in the marker, 0 when there is none (or it is
 * unreadable); the marker is removed. */
static time_t take_clean_mark(const struct store *st)
{
    char *path = store_path(st, STORE_CLEAN_MARK), *text = NULL, *end;
    long long t = 0;
    struct err e;

    if (path && fsio_read_file(path, 64, &text, NULL, &e) == 0) {
        errno = 0;
        t = strtoll(text, &end, 10);
        if (errno || end == text || (*end != '\n' && *end) || t < 0)
            t = 0;
    }
    if (path && text && unlink(path) < 0)
        t = 0;
    free(text);
    free(path);
    return (time_t)t;
}

/* Leaves the marker for the next lock holder: this one ends cleanly. */
static void put_clean_mark(const struct store *st)
{
    char *path = store_path(st, STORE_CLEAN_MARK);
    char text[32];
    int fd, len;

    if (!path || st->swept <= 0)
        goto out;
    len = snprintf(text, sizeof text, "%lld\n", (long long)st->swept);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, STORE_PRIV_FILE_MODE);
    if (fd < 0)
        goto out;
    if (write(fd, text, (size_t)len) != len)
        (void)unlink(path); /* a torn marker would only mean a full sweep; none is clearer */
    close(fd);
out:
    free(path);
}

int store_lock(struct store *st, struct err *e)
{
    char *certs = NULL;
    int rc, removed = 0;
    time_t now = time(NULL), last;
    bool full;

    if (st->lock_fd >= 0)
        return 0;
    rc = lock_acquire(st->root, &st->lock_fd, e);
    if (rc < 0)
        return rc;
    last = take_clean_mark(st);
    full = last <= 0 || last > now || now - last >= STORE_SWEEP_EVERY_S;
    st->swept = full ? now : last;
    removed += clean_tree(st, ".", 0);
    for (size_t i = 0; i < sizeof layout / sizeof layout[0]; i++) {
        const char *name = layout[i].name;
        int depth = 0;

        if (full && (strcmp(name, "certs") == 0 || strcmp(name, "keys") == 0))
            depth = 1;
        else if (full && strcmp(name, "accounts") == 0)
            depth = 2;
        removed += clean_tree(st, name, depth);
    }
    certs = store_path(st, "certs");
    if (certs)
        removed += remove_stale_tmp_dirs(certs);
    free(certs);
    if (removed > 0)
        log_info("removed %d stale temporary file(s) from %s", removed, st->root);
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->lock_fd >= 0 && st->root)
        put_clean_mark(st);
    lock_release(st->lock_fd);
    st->lock_fd = -1;
    free(st->root);
    st->root = NULL;
}
