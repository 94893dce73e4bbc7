/* store live links (live/<name> -> ../certs/<cert-id>) and reconciler state files
 * (state/<desired-file>.json). */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/fsio.h"

/* ---- live links ---- */

static int check_live_name(const char *name, struct err *e)
{
    if (!store_name_valid(name))
        return err_set(e, -EINVAL, "invalid live name \"%s\"", name ? name : "");
    return 0;
}

int store_live_target_id(const char *target, char *out)
{
    char *res = NULL;
    int rc = store_link_resolve("live", target, &res);

    if (rc == 0 && (strncmp(res, "certs/", 6) != 0 || !store_id_valid(res + 6)))
        rc = -EXDEV;
    if (rc == 0)
        memcpy(out, res + 6, STORE_ID_LEN + 1);
    free(res);
    return rc;
}

/* Reads live/<name> and checks, without following anything, that it leads to
 * certs/<cert-id> and that certs/<cert-id> is not itself a link. */
static int live_read(const struct store *st, const char *name, char *out, struct err *e)
{
    char *path = store_pathf(st, "live/%s", name);
    char *target = NULL, *certdir = NULL;
    char id[STORE_ID_LEN + 1];
    struct stat sb;
    int rc;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    rc = store_read_link(path, &target, e);
    if (rc < 0)
        goto out;
    rc = store_live_target_id(target, id);
    if (rc == -ENOMEM) {
        rc = err_set(e, rc, "out of memory");
        goto out;
    }
    if (rc < 0) {
        rc = err_set(e, -EXDEV, "%s points to %s, outside certs/; refusing it", path, target);
        goto out;
    }
    certdir = store_pathf(st, "certs/%s", id);
    if (!certdir) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (lstat(certdir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        rc = err_set(e, -EXDEV, "%s (the target of %s) is not a directory; refusing it", certdir,
                     path);
        goto out;
    }
    memcpy(out, id, sizeof id);
out:
    free(path);
    free(target);
    free(certdir);
    return rc;
}

int store_live_get(const struct store *st, const char *name, char *out, struct err *e)
{
    int rc = check_live_name(name, e);

    return rc < 0 ? rc : live_read(st, name, out, e);
}

/* True when `path` is a symlink whose text is exactly `target`. */
static bool live_is(const char *path, const char *target)
{
    char buf[STORE_ID_LEN + 16];
    ssize_t n = readlink(path, buf, sizeof buf);

    return n >= 0 && (size_t)n == strlen(target) && memcmp(buf, target, (size_t)n) == 0;
}

int store_live_set(const struct store *st, const char *name, const char *cert_id, bool *changed,
                   struct err *e)
{
    char cur[STORE_ID_LEN + 1];
    char *path = NULL, *certdir = NULL, *target = NULL;
    struct err ge;
    int rc;

    if (changed)
        *changed = false;
    rc = check_live_name(name, e);
    if (rc < 0)
        return rc;
    if (!store_id_valid(cert_id))
        return err_set(e, -EINVAL, "invalid certificate id \"%s\"", cert_id ? cert_id : "");
    path = store_pathf(st, "live/%s", name);
    certdir = store_pathf(st, "certs/%s", cert_id);
    if (!path || !certdir || asprintf(&target, "../certs/%s", cert_id) < 0) {
        target = NULL;
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    /* The usual case in a pass over thousands of targets: the link is already the one we
     * would write (one readlink; the pass found certs/<cert_id> a real directory). */
    if (live_is(path, target))
        goto out;
    /* Links are never left dangling: the certificate must be there first. */
    if (!store_is_real_dir(certdir)) {
        rc = err_set(e, -ENOENT, "cannot point %s at %s: no such certificate directory", path,
                     certdir);
        goto out;
    }
    if (live_read(st, name, cur, &ge) == 0 && strcmp(cur, cert_id) == 0)
        goto out;
    rc = fsio_symlink_atomic(target, path, e);
    if (rc == 0 && changed)
        *changed = true;
out:
    free(path);
    free(certdir);
    free(target);
    return rc;
}

int store_live_remove(const struct store *st, const char *name, struct err *e)
{
    char *dir = NULL, *path = NULL;
    int rc = check_live_name(name, e);

    if (rc < 0)
        return rc;
    dir = store_path(st, "live");
    path = store_pathf(st, "live/%s", name);
    if (!dir || !path) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (unlink(path) == 0)
        rc = fsio_fsync_dir(dir, e);
    else if (errno != ENOENT)
        rc = err_sys(e, -errno, "cannot remove %s", path);
out:
    free(dir);
    free(path);
    return rc;
}

int store_live_list(const struct store *st, char ***names, size_t *n, struct err *e)
{
    char *dir = store_path(st, "live");
    int rc;

    *names = NULL;
    *n = 0;
    if (!dir)
        return err_set(e, -ENOMEM, "out of memory");
    rc = store_list_dir(dir, false, names, n, e);
    free(dir);
    return rc;
}

/* ---- reconciler state ---- */

/* state/<file>.json for a desired file name, refusing names that could leave state/ or
 * collide with temp files. */
static int state_path(const struct store *st, const char *file, char **path, struct err *e)
{
    *path = NULL;
    if (!store_name_valid(file))
        return err_set(e, -EINVAL, "invalid desired file name \"%s\"", file ? file : "");
    *path = store_pathf(st, "state/%s.json", file);
    return *path ? 0 : err_set(e, -ENOMEM, "out of memory");
}

int store_state_read(const struct store *st, const char *file, char **json, struct err *e)
{
    char *path = NULL;
    int rc;

    *json = NULL;
    rc = state_path(st, file, &path, e);
    if (rc == 0)
        rc = fsio_read_file(path, STORE_MAX_FILE, json, NULL, e);
    free(path);
    return rc;
}

int store_state_write(const struct store *st, const char *file, const char *json, struct err *e)
{
    char *path = NULL;
    int rc;

    rc = state_path(st, file, &path, e);
    if (rc == 0)
        rc = fsio_write_atomic(path, json, strlen(json), STORE_PRIV_FILE_MODE, e);
    free(path);
    return rc;
}

int store_state_remove(const struct store *st, const char *file, struct err *e)
{
    char *path = NULL, *dir = NULL;
    int rc;

    rc = state_path(st, file, &path, e);
    if (rc < 0)
        goto out;
    if (unlink(path) == 0) {
        dir = store_path(st, "state");
        rc = dir ? fsio_fsync_dir(dir, e) : err_set(e, -ENOMEM, "out of memory");
    } else if (errno != ENOENT) {
        rc = err_sys(e, -errno, "cannot remove %s", path);
    }
out:
    free(dir);
    free(path);
    return rc;
}
