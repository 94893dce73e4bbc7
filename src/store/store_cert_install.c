/* store_cert_install: writing a downloaded chain as certs/<cert-id>/ (DESIGN.md §2). */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/pem.h"
#include "store/store_internal.h"
#include "util/failpoint.h"
#include "util/buf.h"
#include "util/fsio.h"

/* The three PEM files, re-encoded from the DER so that nothing but CERTIFICATE blocks ever
 * reaches them, whatever text surrounded the blocks in the download. */
struct pem_files {
    char *cert, *chain, *fullchain;
};

static void pem_files_free(struct pem_files *f)
{
    free(f->cert);
    free(f->chain);
    free(f->fullchain);
}

static int pem_files_make(const struct pem_chain *ch, struct pem_files *f, struct err *e)
{
    struct buf chain = BUF_INIT;
    int rc = 0;

    memset(f, 0, sizeof *f);
    f->cert = pem_encode_cert(ch->certs[0].der, ch->certs[0].len);
    if (!f->cert)
        goto oom;
    for (size_t i = 1; i < ch->n; i++) {
        char *p = pem_encode_cert(ch->certs[i].der, ch->certs[i].len);

        rc = p ? buf_puts(&chain, p) : -ENOMEM;
        free(p);
        if (rc < 0)
            goto oom;
    }
    f->chain = buf_steal(&chain);
    if (!f->chain || asprintf(&f->fullchain, "%s%s", f->cert, f->chain) < 0) {
        f->fullchain = NULL;
        goto oom;
    }
    return 0;
oom:
    buf_clear(&chain);
    pem_files_free(f);
    return err_set(e, -ENOMEM, "out of memory");
}

static int write_file(const char *dir, const char *name, const char *text, struct err *e)
{
    char *path = fsio_join(dir, name);
    int rc;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    rc = fsio_write_atomic(path, text, strlen(text), STORE_FILE_MODE, e);
    free(path);
    return rc;
}

static int write_link(const char *dir, const char *name, const char *target, struct err *e)
{
    char *path = fsio_join(dir, name);
    int rc;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    rc = fsio_symlink_atomic(target, path, e);
    free(path);
    return rc;
}

/* Writes everything but `cert`, then `cert`: a directory with a `cert` is complete. The url
 * has no trailing newline, as the acmetool spec asks. */
static int install_files(const char *dir, const char *order_url, const struct pem_files *f,
                         const struct store_cert *c, const char *account_dir_id,
                         const char *account_key_id, struct err *e)
{
    char *target = NULL;
    int rc;

    rc = write_file(dir, "url", order_url, e);
    if (rc == 0)
        rc = write_file(dir, "chain", f->chain, e);
    if (rc == 0)
        rc = write_file(dir, "fullchain", f->fullchain, e);
    if (rc < 0)
        return rc;
    if (c->key_id[0]) {
        if (asprintf(&target, "../../keys/%s/privkey", c->key_id) < 0)
            return err_set(e, -ENOMEM, "out of memory");
        rc = write_link(dir, "privkey", target, e);
        free(target);
    }
    if (rc == 0 && account_dir_id) {
        if (asprintf(&target, "../../accounts/%s/%s", account_dir_id, account_key_id) < 0)
            return err_set(e, -ENOMEM, "out of memory");
        rc = write_link(dir, "account", target, e);
        free(target);
    }
    if (rc == 0)
        rc = store_cert_write_meta(dir, c, e);
    if (rc == 0) {
        /* Test-only checkpoint: everything but `cert` is in place. */
        failpoint("install-cert");
        rc = write_file(dir, "cert", f->cert, e);
    }
    return rc;
}

/* *dst = a copy of s (NULL stays NULL). False on allocation failure. */
static bool dup_opt(char **dst, const char *s)
{
    return !s || (*dst = strdup(s)) != NULL;
}

static int check_args(const char *order_url, const char *key_id, const char *account_dir_id,
                      const char *account_key_id, const struct store_cert *meta, struct err *e)
{
    if (!order_url || !*order_url || strpbrk(order_url, "\r\n"))
        return err_set(e, -EINVAL, "invalid order URL");
    if (!key_id && !(meta && meta->csr && store_sha256_valid(meta->csr)))
        return err_set(e, -EINVAL, "a certificate without our key needs its CSR's hash");
    if (key_id && !store_id_valid(key_id))
        return err_set(e, -EINVAL, "invalid key id \"%s\"", key_id ? key_id : "");
    if (account_dir_id && (!store_name_valid(account_dir_id) || !store_id_valid(account_key_id)))
        return err_set(e, -EINVAL, "invalid account id \"%s/%s\"", account_dir_id,
                       account_key_id ? account_key_id : "");
    return 0;
}

int store_cert_install(const struct store *st, const char *order_url, const char *chain_pem,
                       size_t chain_len, const char *key_id, const char *account_dir_id,
                       const char *account_key_id, const struct store_cert *meta,
                       struct store_cert *out, struct err *e)
{
    struct pem_chain ch = {0};
    struct pem_files f = {0};
    struct store_cert c = {0};
    char *dir = NULL;
    int rc;

    rc = check_args(order_url, key_id, account_dir_id, account_key_id, meta, e);
    if (rc < 0)
        return rc;
    store_cert_id(order_url, c.id);
    rc = pem_split_chain(chain_pem, chain_len, &ch, e);
    if (rc == 0)
        rc = store_cert_fill_leaf(&c, ch.certs[0].der, ch.certs[0].len, e);
    /* Never publish a certificate whose key is not the one we hold for it. */
    if (rc == 0 && key_id)
        rc = store_cert_check_key(st, &c, ch.certs[0].der, ch.certs[0].len, key_id, e);
    if (rc == 0)
        rc = pem_files_make(&ch, &f, e);
    if (rc < 0)
        goto out;
    if (meta) {
        c.ari_start = meta->ari_start;
        c.ari_end = meta->ari_end;
        c.ari_chosen = meta->ari_chosen;
        c.ari_next_check = meta->ari_next_check;
        if (!dup_opt(&c.directory, meta->directory) || !dup_opt(&c.replaces, meta->replaces) ||
            !dup_opt(&c.replaces_dropped, meta->replaces_dropped) ||
            !dup_opt(&c.replaces_dropped_why, meta->replaces_dropped_why) ||
            !dup_opt(&c.csr, meta->csr))
            goto oom;
    }
    if (!dup_opt(&c.account_dir_id, account_dir_id))
        goto oom;
    if (!(c.order_url = strdup(order_url)) || !(dir = store_pathf(st, "certs/%s", c.id)))
        goto oom;
    rc = store_ensure_dir(dir, STORE_DIR_MODE, e);
    if (rc == 0)
        rc = install_files(dir, order_url, &f, &c, account_dir_id, account_key_id, e);
    if (rc < 0) {
        err_wrap(e, "installing certificate %s", c.id);
        goto out;
    }
    if (out) {
        *out = c;
        memset(&c, 0, sizeof c);
    }
    goto out;
oom:
    rc = err_set(e, -ENOMEM, "out of memory");
out:
    store_cert_clear(&c);
    pem_files_free(&f);
    pem_chain_clear(&ch);
    free(dir);
    return rc;
}

int store_cert_ask_revoke(const struct store *st, const char *id, int reason, struct err *e)
{
    char *dir = NULL, *path = NULL, text[16];
    int rc;

    if (!store_id_valid(id) || reason < 0)
        return err_set(e, -EINVAL, "invalid certificate id \"%s\" or reason %d", id ? id : "",
                       reason);
    dir = store_pathf(st, "certs/%s", id);
    path = dir ? fsio_join(dir, "revoke") : NULL;
    if (!path) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (!store_is_real_dir(dir)) {
        rc = err_set(e, -ENOENT, "certificate directory %s is missing (or not a directory)", dir);
        goto out;
    }
    snprintf(text, sizeof text, "%d\n", reason);
    rc = fsio_write_atomic(path, text, strlen(text), STORE_FILE_MODE, e);
out:
    free(dir);
    free(path);
    return rc;
}
