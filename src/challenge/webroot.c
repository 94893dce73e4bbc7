/* webroot: publishes http-01 key authorizations as files in webroot directories. */
#include "challenge/webroot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

/* Removes <path>/<token>; a missing file is success. */
static int remove_token(const char *path, const char *token, struct err *e)
{
    char *file = fsio_join(path, token);
    int rc = 0;

    if (!file) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (unlink(file) < 0 && errno != ENOENT)
        rc = err_sys(e, -errno, "cannot remove %s from webroot %s", token, path);
out:
    free(file);
    return rc;
}

int webroot_publish(const char *const *paths, size_t n, const char *token, const char *keyauth,
                    size_t keyauth_len, struct err *e)
{
    char *file = NULL;
    size_t done = 0;
    int rc;

    rc = check_args(paths, n, token, e);
    if (rc < 0)
        goto out;
    if (keyauth_len && !keyauth) {
        rc = err_set(e, -EINVAL, "no key authorization");
        goto out;
    }
    for (; done < n; done++) {
        file = fsio_join(paths[done], token);
        if (!file) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
        rc = fsio_mkdirs(paths[done], 0755, e);
        if (rc == 0)
            rc = fsio_write_atomic(file, keyauth, keyauth_len, 0644, e);
        if (rc < 0) {
            err_wrap(e, "cannot publish the http-01 response in webroot %s", paths[done]);
            goto out;
        }
        free(file);
        file = NULL;
    }
out:
    /* All or nothing: a half-published challenge would only leave stray files behind. */
    for (size_t i = 0; rc < 0 && i < done; i++) {
        struct err re;

        if (remove_token(paths[i], token, &re) < 0)
            log_warn("%s", err_msg(&re));
    }
    free(file);
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
