/* store account directories: the account rule (which account a provider and EAB kid use),
 * the listing of accounts/<dir-id>/<key-id>/, and their removal or setting aside. Nothing
 * here follows a symlink: a link where an account directory should be is not an account. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/fsio.h"
#include "util/log.h"

long store_account_pick(const struct store_account *v, size_t n, const char *eab_kid)
{
    for (size_t i = 0; i < n; i++) {
        const char *k = v[i].eab_kid;

        if (v[i].signer)
            continue;
        if ((!eab_kid && !k) || (eab_kid && k && !strcmp(eab_kid, k)))
            return (long)i;
    }
    return -1;
}

int store_account_find(const struct store *st, const char *directory_url, const char *eab_kid,
                       struct store_account *out, bool *found, struct err *e)
{
    struct store_account *v = NULL;
    size_t n = 0;
    long i;
    int rc;

    *found = false;
    if ((rc = store_accounts_load(st, directory_url, &v, &n, e)) < 0)
        return rc;
    if ((i = store_account_pick(v, n, eab_kid)) >= 0) {
        *out = v[i];
        memset(&v[i], 0, sizeof v[i]);
        *found = true;
    }
    store_accounts_free(v, n);
    return 0;
}

/* ---- listing ---- */

struct refs {
    struct store_account_ref *v;
    size_t n, cap;
};

static int refs_add(struct refs *r, const char *dir_id, const char *key_id, bool deactivated)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        struct store_account_ref *g = realloc(r->v, cap * sizeof *g);

        if (!g)
            return -ENOMEM;
        r->v = g;
        r->cap = cap;
    }
    if (!(r->v[r->n].dir_id = strdup(dir_id)))
        return -ENOMEM;
    memcpy(r->v[r->n].key_id, key_id, STORE_ID_LEN + 1);
    r->v[r->n].deactivated = deactivated;
    r->n++;
    return 0;
}

/* Adds the key directories of accounts/<dir_id> (the real directory `path`). */
static int list_keys(const char *path, const char *dir_id, bool with_deactivated, struct refs *r,
                     struct err *e)
{
    static const char prefix[] = STORE_ACCOUNT_DEACTIVATED_PREFIX;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;
    struct dirent *de;
    struct stat sb;
    DIR *d;

    if (fd < 0)
        return errno == ENOENT ? 0 : err_sys(e, -errno, "cannot open %s", path);
    if (!(d = fdopendir(fd))) {
        rc = err_sys(e, -errno, "cannot list %s", path);
        close(fd);
        return rc;
    }
    while (rc == 0 && (de = readdir(d))) {
        const char *id = de->d_name;
        bool aside = false;

        if (with_deactivated && !strncmp(id, prefix, sizeof prefix - 1)) {
            id += sizeof prefix - 1;
            aside = true;
        }
        if (!store_id_valid(id) || fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISDIR(sb.st_mode))
            continue;
        if (refs_add(r, dir_id, id, aside) < 0)
            rc = err_set(e, -ENOMEM, "out of memory listing %s", path);
    }
    closedir(d);
    return rc;
}

static int cmp_refs(const void *pa, const void *pb)
{
    const struct store_account_ref *a = pa, *b = pb;
    int c = strcmp(a->dir_id, b->dir_id);

    if (c)
        return c;
    if ((c = strcmp(a->key_id, b->key_id)))
        return c;
    return (int)a->deactivated - (int)b->deactivated;
}

int store_accounts_list(const struct store *st, const char *dir_id, bool with_deactivated,
                        struct store_account_ref **out, size_t *n, struct err *e)
{
    char *top = store_path(st, "accounts"), *path = NULL, **dirs = NULL;
    struct refs r = {0};
    size_t ndirs = 0;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (!top)
        return err_set(e, -ENOMEM, "out of memory");
    if (dir_id && !store_name_valid(dir_id)) {
        rc = err_set(e, -EINVAL, "invalid account directory \"%s\"", dir_id);
        goto out;
    }
    if (dir_id) {
        if (!(dirs = calloc(1, sizeof *dirs)) || !(dirs[0] = strdup(dir_id))) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
        ndirs = 1;
    } else if ((rc = store_list_dir(top, true, &dirs, &ndirs, e)) < 0) {
        goto out;
    }
    for (size_t i = 0; i < ndirs && rc == 0; i++) {
        free(path);
        if (!(path = store_pathf(st, "accounts/%s", dirs[i])))
            rc = err_set(e, -ENOMEM, "out of memory");
        else if (store_is_real_dir(path))
            rc = list_keys(path, dirs[i], with_deactivated, &r, e);
    }
    if (rc < 0)
        goto out;
    if (r.n > 1)
        qsort(r.v, r.n, sizeof *r.v, cmp_refs);
    *out = r.v;
    *n = r.n;
    r.v = NULL;
    r.n = 0;
out:
    store_account_refs_free(r.v, r.n);
    store_names_free(dirs, ndirs);
    free(path);
    free(top);
    return rc;
}

void store_account_refs_free(struct store_account_ref *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i].dir_id);
    free(v);
}

/* ---- removing and setting aside ---- */

/* Opens accounts/<dir_id> (not a symlink) and checks both names; *path is its path. */
static int open_account_parent(const struct store *st, const char *dir_id, const char *key_id,
                               char **path, struct err *e)
{
    int fd;

    *path = NULL;
    if (!store_name_valid(dir_id) || !store_id_valid(key_id))
        return err_set(e, -EINVAL, "invalid account id \"%s/%s\"", dir_id ? dir_id : "",
                       key_id ? key_id : "");
    if (!(*path = store_pathf(st, "accounts/%s", dir_id)))
        return err_set(e, -ENOMEM, "out of memory");
    if ((fd = open(*path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return err_sys(e, -errno, "cannot open %s", *path);
    return fd;
}

int store_account_remove(const struct store *st, const char *dir_id, const char *key_id,
                         struct err *e)
{
    static const char *const files[] = {"privkey", "meta"};
    char *path = NULL;
    int dfd, kfd = -1, rc = 0;
    struct stat sb;

    if ((dfd = open_account_parent(st, dir_id, key_id, &path, e)) < 0) {
        rc = dfd;
        goto out;
    }
    if ((kfd = openat(dfd, key_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        rc = err_sys(e, -errno, "cannot open %s/%s", path, key_id);
        goto out;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (fstatat(kfd, files[i], &sb, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            rc = err_sys(e, -errno, "cannot stat %s/%s/%s", path, key_id, files[i]);
            goto out;
        }
        if (!S_ISREG(sb.st_mode)) {
            rc = err_set(e, -EINVAL, "%s/%s/%s is not a regular file; refusing it", path, key_id,
                         files[i]);
            goto out;
        }
        if (unlinkat(kfd, files[i], 0) < 0) {
            rc = err_sys(e, -errno, "cannot remove %s/%s/%s", path, key_id, files[i]);
            goto out;
        }
    }
    if (unlinkat(dfd, key_id, AT_REMOVEDIR) < 0) {
        rc = err_sys(e, -errno, "cannot remove %s/%s", path, key_id);
        goto out;
    }
    if (fsync(dfd) < 0)
        rc = err_sys(e, -errno, "cannot fsync %s", path);
out:
    if (kfd >= 0)
        close(kfd);
    if (dfd >= 0)
        close(dfd);
    free(path);
    return rc;
}

int store_account_set_aside(const struct store *st, const char *dir_id, const char *key_id,
                            struct err *e)
{
    char aside[sizeof STORE_ACCOUNT_DEACTIVATED_PREFIX + STORE_ID_LEN];
    char *path = NULL;
    struct stat sb;
    int dfd, rc = 0;

    if ((dfd = open_account_parent(st, dir_id, key_id, &path, e)) < 0) {
        rc = dfd;
        goto out;
    }
    if (fstatat(dfd, key_id, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = err_sys(e, -errno, "cannot move %s/%s aside", path, key_id);
        goto out;
    }
    if (!S_ISDIR(sb.st_mode)) {
        rc = err_set(e, -EINVAL, "%s/%s is not a directory; refusing it", path, key_id);
        goto out;
    }
    memcpy(aside, STORE_ACCOUNT_DEACTIVATED_PREFIX, sizeof STORE_ACCOUNT_DEACTIVATED_PREFIX - 1);
    memcpy(aside + sizeof STORE_ACCOUNT_DEACTIVATED_PREFIX - 1, key_id, STORE_ID_LEN + 1);
    if (renameat(dfd, key_id, dfd, aside) < 0) {
        rc = err_sys(e, -errno, "cannot move %s/%s aside to %s", path, key_id, aside);
        goto out;
    }
    /* Moved: a directory that cannot be synced is worth a warning, not a failure. */
    if (fsync(dfd) < 0)
        log_warn("cannot fsync %s: %s", path, strerror(errno));
out:
    if (dfd >= 0)
        close(dfd);
    free(path);
    return rc;
}
