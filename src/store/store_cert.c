/* store_cert: one certificate in memory (struct store_cert: releasing it, filling it from the
 * leaf and from its key) and its meta file.
 *
 * meta is JSON: {"names": [...], "not_before", "not_after" (RFC 3339), "serial" (hex),
 * "directory" (the issuing CA's directory URL), "ari_start", "ari_end", "ari_chosen",
 * "ari_next_check" (RFC 3339, absent when unknown), "replaces", "replaces_dropped" (the
 * certID the order would have named) and "replaces_dropped_why" (the CA's refusal)}. Names,
 * dates and serial there are informative only: loading always takes them from the
 * certificate itself. Every member is optional: a meta written before one existed simply
 * lacks it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/x509.h"
#include "store/store_internal.h"
#include "util/fsio.h"
#include "util/log.h"
#include "util/sanitize.h"

void store_cert_clear(struct store_cert *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nnames; i++)
        free(c->names[i]);
    free(c->names);
    free(c->serial_hex);
    free(c->ari_cert_id);
    free(c->order_url);
    free(c->account_dir_id);
    free(c->directory);
    free(c->replaces);
    free(c->replaces_dropped);
    free(c->replaces_dropped_why);
    free(c->csr);
    memset(c, 0, sizeof *c);
}

void store_certs_free(struct store_cert *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        store_cert_clear(&c[i]);
    free(c);
}

int store_cert_fill_leaf(struct store_cert *c, const uint8_t *der, size_t len, struct err *e)
{
    struct x509_info *xi = NULL;
    size_t n;
    int rc;

    rc = x509_parse(der, len, &xi, e);
    if (rc < 0)
        return rc;
    n = xi->ndns + xi->nips;
    c->names = calloc(n ? n : 1, sizeof *c->names);
    if (!c->names)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const char *s = i < xi->ndns ? xi->dns[i] : xi->ips[i - xi->ndns];

        if (!(c->names[i] = strdup(s)))
            goto oom;
        c->nnames++;
    }
    c->not_before = xi->not_before;
    c->not_after = xi->not_after;
    if (!(c->serial_hex = strdup(xi->serial_hex ? xi->serial_hex : "")))
        goto oom;
    /* No AKI (or no serial) means no ARI for this certificate, not an error. */
    c->ari_cert_id = x509_ari_cert_id(xi->aki, xi->aki_len, xi->serial, xi->serial_len);
    if (!c->ari_cert_id && xi->aki && xi->aki_len && xi->serial_len)
        goto oom;
    x509_info_free(xi);
    return 0;
oom:
    x509_info_free(xi);
    return err_set(e, -ENOMEM, "out of memory");
}

int store_cert_check_key(const struct store *st, struct store_cert *c, const uint8_t *der,
                         size_t len, const char *key_id, struct err *e)
{
    struct ckey *key = NULL;
    int rc;

    rc = store_key_load(st, key_id, &key, e);
    if (rc < 0)
        return rc;
    rc = x509_matches_key(der, len, key, e);
    if (rc == 0)
        rc = err_set(e, -EINVAL, "the certificate is not for key %s", key_id);
    if (rc < 0)
        goto out;
    memcpy(c->key_id, key_id, STORE_ID_LEN + 1);
    c->key_is_rsa = key_get_type(key) == KEY_RSA;
    c->key_size = key_get_size(key);
    rc = 0;
out:
    key_free(key);
    return rc;
}

/* ---- meta ---- */

/* Sets o[key] to the string s; nothing when s is NULL. Returns 0 or -1. */
static int set_str(json_t *o, const char *key, const char *s)
{
    return s ? json_object_set_new(o, key, json_string(s)) : 0;
}

static json_t *cert_meta_json(const struct store_cert *c)
{
    json_t *o = json_object(), *names = json_array();
    int bad = !o || !names;

    for (size_t i = 0; !bad && i < c->nnames; i++)
        bad |= json_array_append_new(names, json_string(c->names[i]));
    if (!bad)
        bad |= json_object_set(o, "names", names);
    bad |= !bad && store_json_set_time(o, "not_before", c->not_before);
    bad |= !bad && store_json_set_time(o, "not_after", c->not_after);
    bad |= !bad && set_str(o, "serial", c->serial_hex);
    bad |= !bad && set_str(o, "directory", c->directory);
    bad |= !bad && store_json_set_time(o, "ari_start", c->ari_start);
    bad |= !bad && store_json_set_time(o, "ari_end", c->ari_end);
    bad |= !bad && store_json_set_time(o, "ari_chosen", c->ari_chosen);
    bad |= !bad && store_json_set_time(o, "ari_next_check", c->ari_next_check);
    bad |= !bad && set_str(o, "replaces", c->replaces);
    bad |= !bad && set_str(o, "replaces_dropped", c->replaces_dropped);
    bad |= !bad && set_str(o, "replaces_dropped_why", c->replaces_dropped_why);
    bad |= !bad && set_str(o, "csr", c->csr);
    json_decref(names);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int store_cert_write_meta(const char *dir, const struct store_cert *c, struct err *e)
{
    char *path = fsio_join(dir, "meta");
    json_t *o = cert_meta_json(c);
    int rc;

    if (!path || !o)
        rc = err_set(e, -ENOMEM, "out of memory");
    else
        rc = store_json_write(path, o, STORE_FILE_MODE, e);
    json_decref(o);
    free(path);
    return rc;
}

int store_cert_save_meta(const struct store *st, const struct store_cert *c, struct err *e)
{
    char *dir = NULL;
    int rc;

    if (!store_id_valid(c->id))
        return err_set(e, -EINVAL, "invalid certificate id \"%s\"", c->id);
    dir = store_pathf(st, "certs/%s", c->id);
    if (!dir)
        return err_set(e, -ENOMEM, "out of memory");
    if (!store_is_real_dir(dir))
        rc = err_set(e, -ENOENT, "certificate directory %s is missing (or not a directory)", dir);
    else
        rc = store_cert_write_meta(dir, c, e);
    free(dir);
    return rc;
}

/* Takes only our fields (directory, ARI, replaces...) from meta; a malformed meta is ignored
 * with a warning (the certificate stays usable, it merely loses its ARI schedule). The
 * refusal text is sanitised again: status prints it, and meta may have been edited. */
int store_cert_read_meta(const char *dir, struct store_cert *c, struct err *e)
{
    char *path = fsio_join(dir, "meta");
    json_t *o = NULL;
    struct err me;
    bool oom = false;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    if (store_json_read(path, &o, &me) == 0) {
        c->ari_start = store_json_get_time(o, "ari_start");
        c->ari_end = store_json_get_time(o, "ari_end");
        c->ari_chosen = store_json_get_time(o, "ari_chosen");
        c->ari_next_check = store_json_get_time(o, "ari_next_check");
        c->directory = store_json_get_str(o, "directory", &oom);
        c->replaces = store_json_get_str(o, "replaces", &oom);
        c->replaces_dropped = store_json_get_str(o, "replaces_dropped", &oom);
        c->csr = store_json_get_str(o, "csr", &oom);
        if (c->csr && !store_sha256_valid(c->csr)) {
            free(c->csr);
            c->csr = NULL;
        }
        if (json_is_string(json_object_get(o, "replaces_dropped_why")) &&
            !(c->replaces_dropped_why =
                  sanitize_dup(json_string_value(json_object_get(o, "replaces_dropped_why")))))
            oom = true;
    } else if (me.code != -ENOENT) {
        log_warn("ignoring certificate meta: %s", me.msg);
    }
    json_decref(o);
    free(path);
    return oom ? err_set(e, -ENOMEM, "out of memory") : 0;
}
