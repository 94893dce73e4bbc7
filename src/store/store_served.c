/* store_served: acmed serve's cache (DESIGN.md §11): served/<sha256 of a CSR's DER> is a
 * link to ../certs/<cert-id>, the certificate last issued for that CSR. The certificate
 * itself lives in certs/ like any other (no privkey link; meta records the CSR), so status,
 * revoke and cull see it; the link only finds it again without an order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/pem.h"
#include "store/store_internal.h"
#include "util/fsio.h"

int store_served_set(const struct store *st, const char *sha, const char *cert_id, struct err *e)
{
    char *dir = store_path(st, "served"), *path = NULL, *certdir = NULL, target[128];
    int rc;

    if (!store_sha256_valid(sha) || !store_id_valid(cert_id)) {
        free(dir);
        return err_set(e, -EINVAL, "served: invalid CSR hash or certificate id");
    }
    snprintf(target, sizeof target, "../certs/%s", cert_id);
    path = store_pathf(st, "served/%s", sha);
    certdir = store_pathf(st, "certs/%s", cert_id);
    if (!dir || !path || !certdir)
        rc = err_set(e, -ENOMEM, "out of memory");
    else if (!store_is_real_dir(certdir))
        rc = err_set(e, -ENOENT, "served: no certificate directory %s", certdir);
    else if ((rc = store_ensure_dir(dir, STORE_DIR_MODE, e)) == 0)
        rc = fsio_symlink_atomic(target, path, e);
    free(dir);
    free(path);
    free(certdir);
    return rc;
}

int store_served_get(const struct store *st, const char *sha, char *out, struct err *e)
{
    char *path, buf[128];
    ssize_t n;

    if (!store_sha256_valid(sha))
        return err_set(e, -EINVAL, "served: invalid CSR hash");
    if (!(path = store_pathf(st, "served/%s", sha)))
        return err_set(e, -ENOMEM, "out of memory");
    n = readlink(path, buf, sizeof buf - 1);
    free(path);
    if (n < 0)
        return errno == ENOENT ? -ENOENT
                               : err_set(e, -errno, "served/%s: %s", sha, strerror(errno));
    buf[n] = '\0';
    if (strncmp(buf, "../certs/", 9) || !store_id_valid(buf + 9))
        return err_set(e, -EXDEV, "served/%s points outside certs/", sha);
    memcpy(out, buf + 9, STORE_ID_LEN + 1);
    return 0;
}

/* True when certs/<id>/<name> exists (a revocation marker). */
static bool marked(const struct store *st, const char *id, const char *name)
{
    char *p = store_pathf(st, "certs/%s/%s", id, name);
    struct stat sb;
    bool yes = p && lstat(p, &sb) == 0;

    free(p);
    return yes;
}

int store_served_chain(const struct store *st, const char *sha, char **pem, size_t *len,
                       time_t *not_after, struct err *e)
{
    char id[STORE_ID_LEN + 1], *path = NULL, *certdir = NULL;
    struct pem_chain ch = {0};
    struct store_cert c = {0};
    int rc;

    *pem = NULL;
    if ((rc = store_served_get(st, sha, id, e)) < 0)
        return rc;
    if (!(certdir = store_pathf(st, "certs/%s", id)) ||
        !(path = store_pathf(st, "certs/%s/fullchain", id))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    /* Gone (cull), replaced by a link, or revoked: not something to hand out again. */
    if (!store_is_real_dir(certdir) || marked(st, id, "revoke") || marked(st, id, "revoked")) {
        rc = -ENOENT;
        goto out;
    }
    if ((rc = fsio_read_file(path, 1u << 20, pem, len, e)) < 0)
        goto out;
    if ((rc = pem_split_chain(*pem, *len, &ch, e)) == 0 &&
        (rc = store_cert_fill_leaf(&c, ch.certs[0].der, ch.certs[0].len, e)) == 0)
        *not_after = c.not_after;
out:
    if (rc < 0) {
        free(*pem);
        *pem = NULL;
    }
    store_cert_clear(&c);
    pem_chain_clear(&ch);
    free(path);
    free(certdir);
    return rc;
}
