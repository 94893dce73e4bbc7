/* store certificates: loading certs/<cert-id>/ (ours and acmetool's, which have no meta),
 * their meta, markers and removal. Installing is in store_cert_install.c.
 *
 * meta is JSON: {"names": [...], "not_before", "not_after" (RFC 3339), "serial" (hex),
 * "directory" (the issuing CA's directory URL), "ari_start", "ari_end", "ari_chosen",
 * "ari_next_check" (RFC 3339, absent when unknown), "replaces", "replaces_dropped" (the
 * certID the order would have named) and "replaces_dropped_why" (the CA's refusal)}. Names,
 * dates and serial there are informative only: loading always takes them from the
 * certificate itself. Every member is optional: a meta written before one existed simply
 * lacks it. */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/pem.h"
#include "crypto/x509.h"
#include "store/store_internal.h"
#include "util/fsio.h"
#include "util/log.h"
#include "util/sanitize.h"

static void cert_clear(struct store_cert *c)
{
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
    memset(c, 0, sizeof *c);
}

void store_cert_clear(struct store_cert *c)
{
    if (c)
        cert_clear(c);
}

void store_certs_free(struct store_cert *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++)
        cert_clear(&c[i]);
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
static int cert_read_meta(const char *dir, struct store_cert *c, struct err *e)
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

/* ---- loading ---- */

/* The key id certs/<id>/privkey links to. The link must resolve, lexically, to
 * keys/<key-id>/privkey: anything else is refused (-EXDEV), never followed. */
static int cert_key_link(const struct store *st, const char *id, char *key_id_out, struct err *e)
{
    char *path = store_pathf(st, "certs/%s/privkey", id);
    char *base = NULL, *target = NULL, *res = NULL;
    int rc;

    if (!path || asprintf(&base, "certs/%s", id) < 0) {
        base = NULL;
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    rc = store_read_link(path, &target, e);
    if (rc < 0)
        goto out;
    rc = store_link_resolve(base, target, &res);
    if (rc == -ENOMEM) {
        rc = err_set(e, rc, "out of memory");
        goto out;
    }
    if (rc < 0 || strncmp(res, "keys/", 5) != 0 || strlen(res) != 5 + STORE_ID_LEN + 8 ||
        strcmp(res + 5 + STORE_ID_LEN, "/privkey") != 0) {
        rc = err_set(e, -EXDEV, "%s points to %s, outside keys/; refusing it", path, target);
        goto out;
    }
    memcpy(key_id_out, res + 5, STORE_ID_LEN);
    key_id_out[STORE_ID_LEN] = '\0';
    if (!store_id_valid(key_id_out))
        rc = err_set(e, -EXDEV, "%s points to %s, not a key; refusing it", path, target);
out:
    free(path);
    free(base);
    free(target);
    free(res);
    return rc;
}

/* The dir-id of the account certs/<id>/account links to, into *dir_id (caller frees), or
 * NULL when there is no link. A link that does not lead, lexically, to
 * accounts/<dir-id>/<key-id> names no account: NULL too (it is never followed). Returns 0,
 * or -ENOMEM. */
static int cert_account_link(const struct store *st, const char *id, char **dir_id)
{
    char *path = store_pathf(st, "certs/%s/account", id);
    char *base = NULL, *target = NULL, *res = NULL, *slash;
    struct err le;
    int rc = 0;

    *dir_id = NULL;
    if (!path || asprintf(&base, "certs/%s", id) < 0) {
        base = NULL;
        rc = -ENOMEM;
        goto out;
    }
    /* None (acmetool's certificates have none), or not a link: no account. */
    rc = store_read_link(path, &target, &le);
    if (rc == 0)
        rc = store_link_resolve(base, target, &res);
    if (rc < 0) {
        rc = rc == -ENOMEM ? rc : 0;
        goto out;
    }
    /* accounts/<dir-id>/<key-id>, nothing more. */
    slash = strncmp(res, "accounts/", 9) == 0 ? strchr(res + 9, '/') : NULL;
    if (!slash || !store_id_valid(slash + 1))
        goto out;
    *slash = '\0';
    if (store_name_valid(res + 9) && !(*dir_id = strdup(res + 9)))
        rc = -ENOMEM;
out:
    free(path);
    free(base);
    free(target);
    free(res);
    return rc;
}

/* Reads certs/<id>/url (whitespace stripped, as the acmetool spec asks) into c->order_url;
 * it must hash to the directory's id. A missing url leaves order_url NULL. */
static int cert_read_url(const char *dir, struct store_cert *c, struct err *e)
{
    char *path = fsio_join(dir, "url");
    char *text = NULL, *s, *end;
    char id[STORE_ID_LEN + 1];
    struct err re;
    int rc = 0;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    if (fsio_read_file(path, STORE_MAX_FILE, &text, NULL, &re) < 0) {
        if (re.code != -ENOENT)
            rc = err_set(e, re.code, "%s", re.msg);
        goto out;
    }
    for (s = text; isspace((unsigned char)*s); s++)
        ;
    for (end = s + strlen(s); end > s && isspace((unsigned char)end[-1]); end--)
        ;
    *end = '\0';
    store_cert_id(s, id);
    if (strcmp(id, c->id) != 0) {
        rc = err_set(e, -EINVAL, "%s holds %s, whose id is not %s", path, s, c->id);
        goto out;
    }
    if (!(c->order_url = strdup(s)))
        rc = err_set(e, -ENOMEM, "out of memory");
out:
    free(text);
    free(path);
    return rc;
}

static bool has_marker(const char *dir, const char *name)
{
    char *path = fsio_join(dir, name);
    struct stat sb;
    bool yes = path && lstat(path, &sb) == 0;

    free(path);
    return yes;
}

/* The cert file's content, read and split (once) when something must be parsed. */
struct leaf {
    const char *path;
    char *pem;
    size_t len;
    struct pem_chain ch;
    bool loaded;
};

static int leaf_load(struct leaf *l, struct err *e)
{
    int rc;

    if (l->loaded)
        return 0;
    rc = fsio_read_file(l->path, STORE_MAX_FILE, &l->pem, &l->len, e);
    if (rc == 0)
        rc = pem_split_chain(l->pem, l->len, &l->ch, e);
    l->loaded = rc == 0;
    return rc;
}

static void leaf_free(struct leaf *l)
{
    pem_chain_clear(&l->ch);
    free(l->pem);
}

/* The key of a loaded certificate: from the privkey link, checked against the leaf (unless
 * the cache entry `hit` matched this very link target and key file). A missing, escaping or
 * mismatched key leaves key_id "" (with a warning unless simply absent): the certificate is
 * then known but not usable. *kst is the key file's identity when it can be cached. */
static int cert_load_key(const struct store *st, struct store_cert *c, struct leaf *l,
                         const struct store_cert_facts *hit, struct store_fstat *kst)
{
    char kid[STORE_ID_LEN + 1], *kpath = NULL;
    struct store_fstat k0, k1;
    struct err ke;
    int rc;

    memset(kst, 0, sizeof *kst);
    rc = cert_key_link(st, c->id, kid, &ke);
    if (rc == 0 && !(kpath = store_pathf(st, "keys/%s/privkey", kid)))
        return -ENOMEM;
    if (rc == 0 && store_fstat_get(kpath, &k0) < 0)
        memset(&k0, 0, sizeof k0);
    if (rc == 0 && hit && !strcmp(hit->c.key_id, kid) && store_fstat_eq(&k0, &hit->key)) {
        memcpy(c->key_id, kid, sizeof c->key_id);
        c->key_is_rsa = hit->c.key_is_rsa;
        c->key_size = hit->c.key_size;
        *kst = k0;
        goto out;
    }
    if (rc == 0 && (rc = leaf_load(l, &ke)) == 0)
        rc = store_cert_check_key(st, c, l->ch.certs[0].der, l->ch.certs[0].len, kid, &ke);
    if (rc == -ENOMEM)
        goto out;
    if (rc < 0 && rc != -ENOENT)
        log_warn("certificate %s has no usable key: %s", c->id, ke.msg);
    if (rc < 0)
        c->key_id[0] = '\0';
    else if (store_fstat_get(kpath, &k1) == 0 && store_fstat_eq(&k0, &k1) &&
             store_fstat_settled(&k0))
        *kst = k0;
    rc = 0;
out:
    free(kpath);
    return rc;
}

/* The leaf's facts (names, dates, serial, ARI certID): from the cache entry when the cert
 * file is still the one it describes, else parsed. *cacheable says whether the file stood
 * still while it was read, long enough ago to be trusted next time (store_fstat_settled). */
static int cert_load_leaf(struct store_cert *c, struct leaf *l, const struct store_cert_facts **hit,
                          struct store_fstat *fst, bool *cacheable, struct err *e)
{
    struct store_fstat f1;
    int rc;

    *cacheable = false;
    if (store_fstat_get(l->path, fst) < 0)
        memset(fst, 0, sizeof *fst);
    if (*hit && store_fstat_eq(fst, &(*hit)->cert)) {
        if (store_cert_copy_facts(c, &(*hit)->c) < 0)
            return err_set(e, -ENOMEM, "out of memory");
        c->key_id[0] = '\0'; /* cert_load_key decides */
        c->key_is_rsa = false;
        c->key_size = 0;
        *cacheable = true;
        return 0;
    }
    *hit = NULL;
    if ((rc = leaf_load(l, e)) < 0 ||
        (rc = store_cert_fill_leaf(c, l->ch.certs[0].der, l->ch.certs[0].len, e)) < 0)
        return rc;
    *cacheable =
        store_fstat_get(l->path, &f1) == 0 && store_fstat_eq(fst, &f1) && store_fstat_settled(fst);
    return 0;
}

static int cert_load_one(const struct store *st, const char *id, struct store_cert *c,
                         const struct store_certs_cache *in, struct store_certs_cache *out,
                         struct err *e)
{
    char *dir = store_pathf(st, "certs/%s", id);
    char *path = dir ? fsio_join(dir, "cert") : NULL;
    const struct store_cert_facts *hit = store_certs_cache_find(in, id);
    struct store_cert_facts f;
    struct leaf l = {.path = path};
    bool cacheable = false;
    int rc;

    memset(c, 0, sizeof *c);
    memset(&f, 0, sizeof f);
    memcpy(c->id, id, STORE_ID_LEN + 1);
    if (!path) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    rc = cert_load_leaf(c, &l, &hit, &f.cert, &cacheable, e);
    if (rc == 0)
        rc = cert_read_url(dir, c, e);
    if (rc < 0)
        goto out;
    if (cert_load_key(st, c, &l, hit, &f.key) < 0) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    c->revoke_asked = has_marker(dir, "revoke");
    c->revoked = has_marker(dir, "revoked");
    if (cert_account_link(st, id, &c->account_dir_id) < 0)
        rc = err_set(e, -ENOMEM, "out of memory");
    else
        rc = cert_read_meta(dir, c, e);
    if (rc == 0 && cacheable && out) {
        /* The key part only when the key itself is settled too; else it is matched again. */
        f.c = *c;
        if (f.key.ino == 0)
            f.c.key_id[0] = '\0';
        /* out borrows c's strings until the cache is written; freed with free(out->v). */
        if (store_certs_cache_add(out, &f) < 0)
            rc = err_set(e, -ENOMEM, "out of memory");
    }
out:
    if (rc < 0)
        cert_clear(c);
    leaf_free(&l);
    free(path);
    free(dir);
    return rc;
}

/* True when the facts gathered this time differ from the cache read (then worth writing). */
static bool cache_changed(const struct store_certs_cache *in, const struct store_certs_cache *out)
{
    if (in->n != out->n)
        return true;
    for (size_t i = 0; i < out->n; i++) {
        const struct store_cert_facts *h = store_certs_cache_find(in, out->v[i].c.id);

        if (!h || !store_fstat_eq(&h->cert, &out->v[i].cert) ||
            strcmp(h->c.key_id, out->v[i].c.key_id) ||
            (h->c.key_id[0] && !store_fstat_eq(&h->key, &out->v[i].key)))
            return true;
    }
    return false;
}

static int cmp_facts_id(const void *a, const void *b)
{
    return strcmp(((const struct store_cert_facts *)a)->c.id,
                  ((const struct store_cert_facts *)b)->c.id);
}

int store_certs_load(const struct store *st, struct store_cert **out, size_t *n, struct err *e)
{
    return store_certs_load_cached(st, false, out, n, e);
}

int store_certs_load_cached(const struct store *st, bool save, struct store_cert **out, size_t *n,
                            struct err *e)
{
    char *dir = store_path(st, "certs");
    char **names = NULL;
    struct store_cert *v = NULL;
    struct store_certs_cache in, now = {0};
    size_t nnames = 0, cnt = 0;
    int rc;

    store_certs_cache_read(st, &in);
    *out = NULL;
    *n = 0;
    if (!dir)
        return err_set(e, -ENOMEM, "out of memory");
    /* Only real directories: a certs/<id> symlink could lead anywhere. */
    rc = store_list_dir(dir, true, &names, &nnames, e);
    if (rc < 0 || nnames == 0)
        goto out;
    v = calloc(nnames, sizeof *v);
    if (!v) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nnames; i++) {
        struct err le;

        if (!store_id_valid(names[i]))
            continue;
        rc = cert_load_one(st, names[i], &v[cnt], &in, save ? &now : NULL, &le);
        if (rc == -ENOMEM) {
            rc = err_set(e, rc, "%s", le.msg);
            goto out;
        }
        if (rc < 0) {
            log_warn("skipping certificate directory %s/%s: %s", dir, names[i], le.msg);
            rc = 0;
            continue;
        }
        cnt++;
    }
    *out = v;
    *n = cnt;
    v = NULL;
    if (save && cache_changed(&in, &now)) {
        struct err ce;

        qsort(now.v, now.n, sizeof *now.v, cmp_facts_id);
        if (store_certs_cache_write(st, &now, &ce) < 0)
            log_debug("certificate cache not saved: %s", ce.msg);
    }
out:
    store_certs_cache_free(&in);
    free(now.v); /* borrowed from v */
    store_certs_free(v, cnt);
    store_names_free(names, nnames);
    free(dir);
    return rc;
}

/* ---- markers and removal ---- */

int store_cert_mark(const struct store *st, const char *id, const char *marker, bool on,
                    struct err *e)
{
    char *dir = NULL, *path = NULL;
    int rc = 0;

    if (!store_id_valid(id))
        return err_set(e, -EINVAL, "invalid certificate id \"%s\"", id ? id : "");
    if (!marker || (strcmp(marker, "revoke") != 0 && strcmp(marker, "revoked") != 0))
        return err_set(e, -EINVAL, "unknown certificate marker \"%s\"", marker ? marker : "");
    dir = store_pathf(st, "certs/%s", id);
    path = dir ? fsio_join(dir, marker) : NULL;
    if (!path) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (!store_is_real_dir(dir)) {
        rc = err_set(e, -ENOENT, "certificate directory %s is missing (or not a directory)", dir);
        goto out;
    }
    if (on) {
        if (!has_marker(dir, marker))
            rc = fsio_write_atomic(path, "", 0, STORE_FILE_MODE, e);
    } else if (unlink(path) == 0) {
        rc = fsio_fsync_dir(dir, e);
    } else if (errno != ENOENT) {
        rc = err_sys(e, -errno, "cannot remove %s", path);
    }
out:
    free(dir);
    free(path);
    return rc;
}

/* The directory is first renamed to a ".tmp-" name, so a crash mid-way leaves no half
 * certificate under its id; store_lock removes such leftovers. */
int store_cert_remove(const struct store *st, const char *id, struct err *e)
{
    char *dir = NULL, *certs = NULL, *tmp = NULL;
    unsigned char rnd[6];
    struct stat sb;
    int rc = 0;

    if (!store_id_valid(id))
        return err_set(e, -EINVAL, "invalid certificate id \"%s\"", id ? id : "");
    certs = store_path(st, "certs");
    dir = store_pathf(st, "certs/%s", id);
    if (!certs || !dir || fsio_random(rnd, sizeof rnd) < 0 ||
        asprintf(&tmp, "%s/.tmp-%s-%02x%02x%02x%02x%02x%02x", certs, id, rnd[0], rnd[1], rnd[2],
                 rnd[3], rnd[4], rnd[5]) < 0) {
        tmp = NULL;
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (lstat(dir, &sb) < 0) {
        if (errno != ENOENT)
            rc = err_sys(e, -errno, "cannot stat %s", dir);
        goto out;
    }
    if (rename(dir, tmp) < 0) {
        rc = err_sys(e, -errno, "cannot rename %s", dir);
        goto out;
    }
    rc = fsio_fsync_dir(certs, e);
    if (rc == 0)
        rc = store_rmtree(tmp, e);
out:
    free(certs);
    free(dir);
    free(tmp);
    return rc;
}
