/* webroot: publishes http-01 key authorizations as files in webroot directories. */
#include "challenge/webroot.h"

#include <errno.h>
#include <unistd.h>

#include "crypto/b64.h"
#include "util/fsio.h"
#include "util/log.h"

/* Checks everything that reaches a path before anything is written or removed: the token
 * becomes a file name, so it must not be able to name another directory. */
static int check_args(const char *const *paths, size_t n, const char *token, struct err *e)
{
    if (!token || !b64url_valid(token))
        return err_set(e, -EINVAL, "invalid ACME token \"%s\": not base64url", token ? token : "");
    if (n && !paths)
        return err_set(e, -EINVAL, "no webroot paths");
    for (size_t i = 0; i < n; i++)
        if (!paths[i] || !paths[i][0])
            return err_set(e, -EINVAL, "empty webroot path");
    return 0;
}

/* Removes <path>/<token>; a missing file or directory is success. The directory is reached
 * as webroot_publish reaches it and the file removed relative to it, so a symlink swapped in
 * by whoever owns the webroot cannot make us remove a file elsewhere. */
static int remove_token(const char *path, const char *token, struct err *e)
{
    int dfd = fsio_open_dir_safe(path, false, 0, e);
    int rc = 0;

    if (dfd == -ENOENT)
        return 0;
    if (dfd < 0)
        return err_wrap(e, "cannot remove %s from webroot %s", token, path);
    if (unlinkat(dfd, token, 0) < 0 && errno != ENOENT)
        rc = err_sys(e, -errno, "cannot remove %s from webroot %s", token, path);
    close(dfd);
    return rc;
}

/* Creates (if need be) the webroot directory `path` without following anybody else's
 * symlinks and writes <path>/<token> relative to it. */
static int publish_one(const char *path, const char *token, const char *keyauth, size_t keyauth_len,
                       struct err *e)
{
    int dfd = fsio_open_dir_safe(path, true, 0755, e);
    int rc = dfd < 0 ? dfd : 0;

    if (dfd >= 0) {
        rc = fsio_write_atomic_at(dfd, path, token, keyauth, keyauth_len, 0644, e);
        close(dfd);
    }
    if (rc < 0)
        err_wrap(e, "cannot publish the http-01 response in webroot %s", path);
    return rc;
}

int webroot_publish(const char *const *paths, size_t n, const char *token, const char *keyauth,
                    size_t keyauth_len, struct err *e)
{
    size_t done = 0;
    int rc;

    rc = check_args(paths, n, token, e);
    if (rc < 0)
        goto out;
    if (keyauth_len && !keyauth) {
        rc = err_set(e, -EINVAL, "no key authorization");
        goto out;
    }
    for (; done < n; done++)
        if ((rc = publish_one(paths[done], token, keyauth, keyauth_len, e)) < 0)
            goto out;
out:
    /* All or nothing: a half-published challenge would only leave stray files behind. */
    for (size_t i = 0; rc < 0 && i < done; i++) {
        struct err re;

        if (remove_token(paths[i], token, &re) < 0)
            log_warn("%s", err_msg(&re));
    }
    return rc;
}

int webroot_unpublish(const char *const *paths, size_t n, const char *token, struct err *e)
{
    int rc;

    rc = check_args(paths, n, token, e);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct err re;
        int r = remove_token(paths[i], token, &re);

        if (r < 0 && rc == 0) {
            rc = r;
            if (e)
                *e = re;
        } else if (r < 0) {
            log_warn("%s", err_msg(&re));
        }
    }
    return rc;
}
