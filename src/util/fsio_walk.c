/* fsio_walk: fsio_open_dir_safe and fsio_mkdirs (util/fsio.h).
 *
 * A path root walks may run through directories other users own (a web server's document
 * root). Resolving it by path in one mkdir() and then a chmod() or open() would let such a
 * user swap a component for a symlink between the two calls and send root's chmod or write
 * anywhere. Here every step is taken relative to a descriptor of the directory reached so
 * far, a component is opened without following links, and a symlink is followed (by reading
 * it and walking its target by the same rules) only when nobody but us could have planted
 * it: the link and the directory holding it both belong to the effective uid (or root). */
#include "util/fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One directory of the walk: an O_PATH descriptor and the length of `shown` naming it. */
struct level {
    int fd;
    size_t shown_len;
};

struct walk {
    struct level *lv; /* the directories walked into; lv[n - 1] is the current one */
    size_t n, cap;
    bool from_root;   /* lv[0] is "/" (whose ".." is itself), else the working directory */
    char *todo;       /* what is left to walk: the path, then a link target and the rest */
    const char *next; /* the next component, inside todo */
    int links;        /* symlinks followed so far */
    bool create;
    mode_t mode;
    uid_t euid;
    char shown[PATH_MAX];              /* the current directory as messages name it */
    char msg[PATH_MAX + NAME_MAX + 2]; /* scratch for show() */
};

static int cur_fd(const struct walk *w)
{
    return w->lv[w->n - 1].fd;
}

/* The current directory as messages name it ("." at the start of a relative walk). */
static const char *here(const struct walk *w)
{
    return w->shown[0] ? w->shown : ".";
}

/* `name` in the current directory as messages name it. Borrowed: valid until the next call. */
static const char *show(struct walk *w, const char *name)
{
    size_t n = strlen(w->shown);

    snprintf(w->msg, sizeof w->msg, "%s%s%s", w->shown, n == 0 || w->shown[n - 1] == '/' ? "" : "/",
             name);
    return w->msg;
}

/* Appends "/name" to the shown path. Returns 0 or -ENAMETOOLONG. */
static int shown_append(struct walk *w, const char *name, struct err *e)
{
    size_t n = strlen(w->shown);
    const char *sep = n == 0 || w->shown[n - 1] == '/' ? "" : "/";

    if (n + strlen(sep) + strlen(name) >= sizeof w->shown)
        return err_set(e, -ENAMETOOLONG, "%s: path too long", show(w, name));
    strcat(strcat(w->shown, sep), name);
    return 0;
}

/* Makes fd, the directory `name` in the current one (NULL for the start of the walk), the
 * current directory. Takes fd: it is closed on failure. */
static int walk_push(struct walk *w, int fd, const char *name, struct err *e)
{
    int rc = 0;

    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        struct level *lv = realloc(w->lv, cap * sizeof *lv);

        if (!lv) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
        w->lv = lv;
        w->cap = cap;
    }
    if (name && (rc = shown_append(w, name, e)) < 0)
        goto out;
    w->lv[w->n++] = (struct level){.fd = fd, .shown_len = strlen(w->shown)};
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Starts (again) from "/" or from the working directory, closing what was walked. */
static int walk_reset(struct walk *w, bool from_root, struct err *e)
{
    int fd;

    while (w->n > 0)
        close(w->lv[--w->n].fd);
    w->from_root = from_root;
    snprintf(w->shown, sizeof w->shown, "%s", from_root ? "/" : "");
    fd = open(from_root ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, -errno, "cannot open directory %s", from_root ? "/" : ".");
    return walk_push(w, fd, NULL, e);
}

/* "..": back to the directory the walk came from. At the bottom of the walk "/" stays
 * where it is and the working directory gives way to its parent. */
static int walk_up(struct walk *w, struct err *e)
{
    int fd, rc;

    if (w->n > 1) {
        close(w->lv[--w->n].fd);
        w->shown[w->lv[w->n - 1].shown_len] = '\0';
        return 0;
    }
    if (w->from_root)
        return 0;
    fd = openat(cur_fd(w), "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, -errno, "cannot open directory %s", show(w, ".."));
    if ((rc = shown_append(w, "..", e)) < 0) {
        close(fd);
        return rc;
    }
    close(w->lv[0].fd);
    w->lv[0] = (struct level){.fd = fd, .shown_len = strlen(w->shown)};
    return 0;
}

/* Copies the next component of what is left into name (NAME_MAX + 1 bytes). Returns 1, 0
 * when nothing is left, or negative. */
static int walk_next(struct walk *w, char *name, struct err *e)
{
    const char *p = w->next, *end;

    while (*p == '/')
        p++;
    if (!*p)
        return 0;
    end = strchrnul(p, '/');
    if ((size_t)(end - p) > NAME_MAX)
        return err_set(e, -ENAMETOOLONG, "%s: a name in the path is too long", here(w));
    memcpy(name, p, (size_t)(end - p));
    name[end - p] = '\0';
    w->next = end;
    return 1;
}

/* Whether a link or directory owned by uid may steer the walk: ours, or root's (root controls
 * the system's own links, such as /var/run -> /run, which an unprivileged acmed must follow;
 * for acmed running as root the two are the same). */
static bool trusted(const struct walk *w, uid_t uid)
{
    return uid == w->euid || uid == 0;
}

/* Follows the symlink `name` (lfd: its O_PATH descriptor, st: its stat) when it and the
 * current directory are ours: what is left to walk becomes its target, then the rest. The
 * owner and the target come from the same descriptor, so the link cannot change between. */
static int walk_link(struct walk *w, int lfd, const struct stat *st, const char *name,
                     struct err *e)
{
    struct stat dir;
    char target[PATH_MAX];
    char *todo = NULL;
    ssize_t n;

    if (!trusted(w, st->st_uid))
        return err_set(e, -ELOOP, "%s is a symlink owned by uid %u; refusing to follow it",
                       show(w, name), (unsigned)st->st_uid);
    if (fstat(cur_fd(w), &dir) < 0)
        return err_sys(e, -errno, "cannot stat %s", here(w));
    if (!trusted(w, dir.st_uid))
        return err_set(e, -ELOOP,
                       "%s is a symlink in a directory owned by uid %u; refusing to follow it",
                       show(w, name), (unsigned)dir.st_uid);
    if (++w->links > FSIO_MAX_LINKS)
        return err_set(e, -ELOOP, "%s: more than %d symlinks on the way; refusing to follow it",
                       show(w, name), FSIO_MAX_LINKS);
    n = readlinkat(lfd, "", target, sizeof target);
    if (n < 0)
        return err_sys(e, -errno, "cannot read symlink %s", show(w, name));
    if (n == 0 || (size_t)n >= sizeof target)
        return err_set(e, n ? -ENAMETOOLONG : -ENOENT, "symlink %s has %s target", show(w, name),
                       n ? "too long a" : "an empty");
    target[n] = '\0';
    if (asprintf(&todo, "%s/%s", target, w->next) < 0)
        return err_set(e, -ENOMEM, "out of memory");
    free(w->todo);
    w->todo = todo;
    w->next = todo;
    return target[0] == '/' ? walk_reset(w, true, e) : 0;
}

/* Creates the missing directory `name` in the current one and walks into it: mkdirat, then
 * the exact mode set on the new directory's descriptor (never by path), then the parent
 * fsynced so the entry is durable. Returns -EEXIST, with nothing set in e, when someone
 * else created it first (the caller looks again). */
static int walk_mkdir(struct walk *w, const char *name, struct err *e)
{
    struct stat st;
    int fd = -1, pfd = -1, rc = 0;

    if (mkdirat(cur_fd(w), name, w->mode) < 0) {
        if (errno == EEXIST)
            return -EEXIST;
        return err_sys(e, -errno, "cannot create directory %s", show(w, name));
    }
    fd = openat(cur_fd(w), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rc = err_sys(e, -errno, "cannot open new directory %s", show(w, name));
        goto out;
    }
    /* The owner of the parent could have put another directory in its place: only ours
     * gets the mode. */
    if (fstat(fd, &st) < 0 || st.st_uid != w->euid) {
        rc = err_set(e, -EPERM, "%s was replaced while it was being created; refusing it",
                     show(w, name));
        goto out;
    }
    /* mkdirat applied the umask: set the mode exactly. */
    if (fchmod(fd, w->mode) < 0) {
        rc = err_sys(e, -errno, "cannot chmod %s", show(w, name));
        goto out;
    }
    /* The new entry is durable before anything is created inside it. */
    pfd = openat(cur_fd(w), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        rc = err_sys(e, -errno, "cannot open directory %s", here(w));
        goto out;
    }
    if ((rc = fsio_fsync_dirfd(pfd, here(w), e)) < 0)
        goto out;
    rc = walk_push(w, fd, name, e);
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (pfd >= 0)
        close(pfd);
    return rc;
}

/* Walks one component: into a directory, through a symlink we may follow, or (with
 * create) into a new directory. Anything else stops the walk. */
static int walk_step(struct walk *w, const char *name, struct err *e)
{
    struct stat st;
    int lfd, rc;

    if (strcmp(name, ".") == 0)
        return 0;
    if (strcmp(name, "..") == 0)
        return walk_up(w, e);
    /* A few tries: another process may create or remove the entry while we look at it. */
    for (int tries = 0; tries < 8; tries++) {
        lfd = openat(cur_fd(w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (lfd < 0 && errno == ENOENT && w->create) {
            if ((rc = walk_mkdir(w, name, e)) != -EEXIST)
                return rc;
            continue;
        }
        if (lfd < 0)
            return err_sys(e, -errno, "cannot open %s", show(w, name));
        if (fstat(lfd, &st) < 0) {
            rc = err_sys(e, -errno, "cannot stat %s", show(w, name));
            close(lfd);
            return rc;
        }
        if (S_ISDIR(st.st_mode))
            return walk_push(w, lfd, name, e);
        if (S_ISLNK(st.st_mode))
            rc = walk_link(w, lfd, &st, name, e);
        else
            rc = err_set(e, -ENOTDIR, "%s exists and is not a directory", show(w, name));
        close(lfd);
        return rc;
    }
    return err_set(e, -EAGAIN, "%s keeps changing while it is being created", show(w, name));
}

int fsio_open_dir_safe(const char *path, bool create, mode_t mode, struct err *e)
{
    struct walk w = {.create = create, .mode = mode & 07777, .euid = geteuid()};
    char name[NAME_MAX + 1];
    int fd = -1, rc;

    if (!path || !*path)
        return err_set(e, -EINVAL, "empty directory path");
    w.todo = strdup(path);
    if (!w.todo)
        return err_set(e, -ENOMEM, "out of memory");
    w.next = w.todo;
    rc = walk_reset(&w, path[0] == '/', e);
    while (rc == 0 && (rc = walk_next(&w, name, e)) > 0)
        rc = walk_step(&w, name, e);
    if (rc == 0) {
        /* The walk holds O_PATH descriptors: the caller gets one it can fsync and read. */
        fd = openat(cur_fd(&w), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            rc = err_sys(e, -errno, "cannot open directory %s", here(&w));
    }
    while (w.n > 0)
        close(w.lv[--w.n].fd);
    free(w.lv);
    free(w.todo);
    return rc < 0 ? rc : fd;
}

int fsio_mkdirs(const char *path, mode_t mode, struct err *e)
{
    int fd = fsio_open_dir_safe(path, true, mode, e);

    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}
