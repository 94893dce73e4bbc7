/* hooks/discover: which hooks run, in which order (DESIGN.md §5). */
#include "hooks/hooks.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsio.h"
#include "util/log.h"
#include "util/trust.h"

const char *const hooks_default_dirs[] = {
    "/etc/acme/hooks",
    "/usr/libexec/acme/hooks",
    "/usr/lib/acme/hooks",
};
const size_t hooks_ndefault_dirs = sizeof hooks_default_dirs / sizeof hooks_default_dirs[0];

/* A growable array of strings: the hooks found, and the names already taken by an earlier
 * directory. */
struct strv {
    char **v;
    size_t n, cap;
};

static int strv_push(struct strv *s, char *str)
{
    if (!str)
        return -ENOMEM;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **v = realloc(s->v, cap * sizeof *v);

        if (!v) {
            free(str);
            return -ENOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

static void strv_clear(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static bool strv_has(const struct strv *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return true;
    return false;
}

void hooks_paths_free(char **paths, size_t n)
{
    if (!paths)
        return;
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* Hooks run with cwd "/", so a relative directory (--hooks hooks) is anchored to our own
 * working directory now. Returns an allocated absolute path or NULL. */
static char *absolute_dir(const char *dir)
{
    char cwd[PATH_MAX];

    if (dir[0] == '/')
        return strdup(dir);
    if (!getcwd(cwd, sizeof cwd))
        return NULL;
    return fsio_join(cwd, dir);
}

/* Reads the non-dot names of `dir`. Returns 0 (an empty list when dir is missing), 1 when dir is
 * refused, or negative with e set. *open_to_others tells that dir is a sticky directory that
 * group or others may write to (see discover_dir). */
static int read_names(const char *dir, struct strv *names, bool *open_to_others, struct err *e)
{
    struct stat st;
    struct dirent *de;
    struct err te;
    DIR *d = NULL;
    int rc = 0;

    *open_to_others = false;
    if (stat(dir, &st) < 0) {
        if (errno == ENOENT)
            goto out;
        rc = err_sys(e, -errno, "cannot read hook directory %s", dir);
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_warn("hook directory %s is not a directory: ignored", dir);
        rc = 1;
        goto out;
    }
    /* Whoever could drop a hook into it, or swap it or a directory above it, would run code
     * as root: none of it may run, and none of its names may mask or disable a trusted hook
     * in a later directory. */
    if (trust_path(dir, &te) < 0) {
        log_warn("refusing hook directory %s: %s", dir, te.msg);
        rc = 1;
        goto out;
    }
    *open_to_others = trust_shared_write(&st);
    d = opendir(dir);
    if (!d) {
        rc = err_sys(e, -errno, "cannot read hook directory %s", dir);
        goto out;
    }
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (strv_push(names, strdup(de->d_name)) < 0) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
        errno = 0;
    }
    if (errno != 0) {
        rc = err_sys(e, -errno, "cannot read hook directory %s", dir);
        goto out;
    }
out:
    if (d)
        closedir(d);
    return rc;
}

/* True when `path` disables its name: an empty file, or a symlink resolving to /dev/null. */
static bool is_disabled(const char *path)
{
    struct stat st;
    char *real;
    bool devnull;

    if (lstat(path, &st) < 0)
        return false;
    if (S_ISLNK(st.st_mode)) {
        real = realpath(path, NULL);
        devnull = real && strcmp(real, "/dev/null") == 0;
        free(real);
        if (devnull)
            return true;
    }
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
}

/* True when `path` may run; logs why not otherwise. */
static bool is_runnable(const char *path)
{
    struct stat st;
    struct err e;

    if (stat(path, &st) < 0) {
        log_warn("refusing hook %s: %s", path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        log_warn("refusing hook %s: not a regular file", path);
        return false;
    }
    if (!(st.st_mode & 0111)) {
        log_warn("refusing hook %s: not executable", path);
        return false;
    }
    /* The file, and everything on the way to it and to a link's target, must be root's (or
     * ours) alone: otherwise its owner, or whoever can write to a directory on the way,
     * could run code as root. */
    if (trust_path(path, &e) < 0) {
        log_warn("refusing hook %s: %s", path, e.msg);
        return false;
    }
    return true;
}

/* In a sticky directory that others may write to (`dir`), anyone may create an entry: one
 * that is not root's (or ours) is none of the administrator's doing, so it neither runs nor
 * masks or disables a hook of the same name in a later directory. */
static bool planted(const char *dir, const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0 || trust_owner_ok(&st))
        return false;
    log_warn("ignoring hook %s: owned by uid %u in %s, which others can write to", path,
             (unsigned)st.st_uid, dir);
    return true;
}

/* Adds the hooks of one directory to `found`, skipping and recording names in `taken`. */
static int discover_dir(const char *dir, struct strv *taken, struct strv *found, struct err *e)
{
    struct strv names = {0};
    char *path = NULL;
    bool open_to_others;
    int rc;

    rc = read_names(dir, &names, &open_to_others, e);
    if (rc != 0) {
        rc = rc > 0 ? 0 : rc;
        goto out;
    }
    for (size_t i = 0; i < names.n; i++) {
        if (strv_has(taken, names.v[i])) {
            log_debug("hook %s/%s is masked by an earlier directory", dir, names.v[i]);
            continue;
        }
        if (!(path = fsio_join(dir, names.v[i]))) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
        if (open_to_others && planted(dir, path)) {
            free(path);
            path = NULL;
            continue;
        }
        if (strv_push(taken, strdup(names.v[i])) < 0) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
        if (is_disabled(path)) {
            log_debug("hook %s is disabled", path);
        } else if (is_runnable(path)) {
            rc = strv_push(found, path);
            path = NULL;
            if (rc < 0) {
                err_set(e, rc, "out of memory");
                goto out;
            }
        }
        free(path);
        path = NULL;
    }
out:
    free(path);
    strv_clear(&names);
    return rc;
}

/* Orders hooks by file name, whichever directory they come from: the directories form one
 * union, as in run-parts with overrides. */
static int cmp_basenames(const void *a, const void *b)
{
    const char *pa = *(char *const *)a, *pb = *(char *const *)b;

    return strcmp(strrchr(pa, '/') + 1, strrchr(pb, '/') + 1);
}

int hooks_discover(const struct hooks_opts *o, char ***paths, size_t *n, struct err *e)
{
    const char *const *dirs = hooks_default_dirs;
    size_t ndirs = hooks_ndefault_dirs;
    struct strv taken = {0}, found = {0};
    char *dir = NULL;
    int rc = 0;

    *paths = NULL;
    *n = 0;
    if (o && o->dirs) {
        dirs = o->dirs;
        ndirs = o->ndirs;
    }
    for (size_t i = 0; i < ndirs; i++) {
        if (!dirs[i] || !dirs[i][0]) {
            rc = err_set(e, -EINVAL, "empty hook directory name");
            goto out;
        }
        dir = absolute_dir(dirs[i]);
        if (!dir) {
            rc = err_sys(e, errno ? -errno : -ENOMEM, "cannot resolve hook directory %s", dirs[i]);
            goto out;
        }
        rc = discover_dir(dir, &taken, &found, e);
        if (rc < 0)
            goto out;
        free(dir);
        dir = NULL;
    }
    if (found.n > 1)
        qsort(found.v, found.n, sizeof *found.v, cmp_basenames);
    *paths = found.v;
    *n = found.n;
    found.v = NULL;
    found.n = 0;
out:
    free(dir);
    strv_clear(&taken);
    strv_clear(&found);
    return rc;
}
