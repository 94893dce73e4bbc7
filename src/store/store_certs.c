/* store certificates: loading certs/<cert-id>/ (ours and acmetool's, which have no meta)
 * through state/certs.cache, their markers and removal. One certificate in memory and its
 * meta are in store_cert.c, installing in store_cert_install.c. */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/pem.h"
#include "store/store_internal.h"
#include "util/fsio.h"
#include "util/log.h"

/* ---- links ---- */

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

/* Keeps *f (taken before the file was read) as the stamp of what was read only when the file
 * is still that one and has stood long enough (store_fstat_settled); else zeros. */
static void stamp_keep(const char *path, bool dir, struct store_fstat *f)
{
    struct store_fstat now;

    if ((dir ? store_fstat_dir(path, &now) : store_fstat_get(path, &now)) < 0 ||
        !store_fstat_eq(f, &now) || !store_fstat_settled(f))
        memset(f, 0, sizeof *f);
}

#define MOVE(dst, src) ((dst) = (src), (src) = NULL)

/* One certificate being loaded: where, what the cache says (hit, may be NULL; its strings are
 * moved out), and the stamp being gathered. */
struct one {
    const struct store *st;
    const char *dir;
    struct store_cert *c;
    struct store_cert_facts *hit;
    struct store_cert_stamp *s;
    struct leaf l;
};

/* The leaf's facts (names, dates, serial, ARI certID): from the cache when the cert file is
 * still the one it describes, else parsed. */
static int load_leaf(struct one *o, struct err *e)
{
    struct store_cert *c = o->c;
    int rc;

    store_fstat_get(o->l.path, &o->s->cert);
    if (o->hit && store_fstat_eq(&o->s->cert, &o->hit->stamp.cert)) {
        struct store_cert *h = &o->hit->c;

        MOVE(c->names, h->names);
        c->nnames = h->nnames;
        h->nnames = 0;
        MOVE(c->serial_hex, h->serial_hex);
        MOVE(c->ari_cert_id, h->ari_cert_id);
        c->not_before = h->not_before;
        c->not_after = h->not_after;
        return 0;
    }
    if ((rc = leaf_load(&o->l, e)) < 0 ||
        (rc = store_cert_fill_leaf(c, o->l.ch.certs[0].der, o->l.ch.certs[0].len, e)) < 0)
        return rc;
    stamp_keep(o->l.path, false, &o->s->cert);
    return 0;
}

/* Reads certs/<id>/url (whitespace stripped, as the acmetool spec asks) into c->order_url;
 * it must hash to the directory's id. A missing url leaves order_url NULL. */
static int read_url(const char *path, struct store_cert *c, struct err *e)
{
    char *text = NULL, *s, *end;
    char id[STORE_ID_LEN + 1];
    struct err re;
    int rc = 0;

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
    return rc;
}

static int load_url(struct one *o, struct err *e)
{
    char *path = fsio_join(o->dir, "url");
    int rc = 0;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    store_fstat_get(path, &o->s->url);
    if (o->hit && store_fstat_eq(&o->s->url, &o->hit->stamp.url))
        MOVE(o->c->order_url, o->hit->c.order_url);
    else if ((rc = read_url(path, o->c, e)) == 0)
        stamp_keep(path, false, &o->s->url);
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

/* The directory's entries: the privkey link's key id (into the stamp), the account link and
 * the markers; from the cache while the directory is unchanged. A privkey link leading out of
 * keys/ is warned about (and the directory not cached, so the warning comes every pass). */
static int load_entries(struct one *o)
{
    struct store_cert *c = o->c;
    struct err ke;
    int rc;

    store_fstat_dir(o->dir, &o->s->dir);
    if (o->hit && store_fstat_eq(&o->s->dir, &o->hit->stamp.dir)) {
        memcpy(o->s->link_kid, o->hit->stamp.link_kid, sizeof o->s->link_kid);
        MOVE(c->account_dir_id, o->hit->c.account_dir_id);
        c->revoke_asked = o->hit->c.revoke_asked;
        c->revoked = o->hit->c.revoked;
        return 0;
    }
    rc = cert_key_link(o->st, c->id, o->s->link_kid, &ke);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0) {
        o->s->link_kid[0] = '\0';
        if (rc != -ENOENT) {
            log_warn("certificate %s has no usable key: %s", c->id, ke.msg);
            memset(&o->s->dir, 0, sizeof o->s->dir);
        }
    }
    c->revoke_asked = has_marker(o->dir, "revoke");
    c->revoked = has_marker(o->dir, "revoked");
    if ((rc = cert_account_link(o->st, c->id, &c->account_dir_id)) < 0)
        return rc;
    stamp_keep(o->dir, true, &o->s->dir);
    return 0;
}

/* The key the privkey link names, matched against the leaf (unless the cache matched this
 * very leaf with this very key file). A missing or mismatched key leaves key_id "" (with a
 * warning unless simply absent): the certificate is then known but not usable. */
static int load_key(struct one *o)
{
    const char *kid = o->s->link_kid;
    struct store_cert *c = o->c;
    char *kpath;
    struct err ke;
    int rc;

    if (!kid[0])
        return 0;
    if (!(kpath = store_pathf(o->st, "keys/%s/privkey", kid)))
        return -ENOMEM;
    store_fstat_get(kpath, &o->s->key);
    if (o->hit && store_fstat_eq(&o->s->cert, &o->hit->stamp.cert) &&
        !strcmp(o->hit->stamp.link_kid, kid) && store_fstat_eq(&o->s->key, &o->hit->stamp.key)) {
        memcpy(c->key_id, kid, sizeof c->key_id);
        c->key_is_rsa = o->hit->c.key_is_rsa;
        c->key_size = o->hit->c.key_size;
        rc = 0;
        goto out;
    }
    if ((rc = leaf_load(&o->l, &ke)) == 0)
        rc = store_cert_check_key(o->st, c, o->l.ch.certs[0].der, o->l.ch.certs[0].len, kid, &ke);
    if (rc == -ENOMEM)
        goto out;
    if (rc < 0 && rc != -ENOENT)
        log_warn("certificate %s has no usable key: %s", c->id, ke.msg);
    if (rc < 0) {
        c->key_id[0] = '\0';
        memset(&o->s->key, 0, sizeof o->s->key);
    } else {
        stamp_keep(kpath, false, &o->s->key);
    }
    rc = 0;
out:
    free(kpath);
    return rc;
}

/* meta's fields: from the cache while meta is unchanged. */
static int load_meta(struct one *o, struct err *e)
{
    char *path = fsio_join(o->dir, "meta");
    struct store_cert *c = o->c, *h = o->hit ? &o->hit->c : NULL;
    int rc = 0;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    store_fstat_get(path, &o->s->meta);
    if (h && store_fstat_eq(&o->s->meta, &o->hit->stamp.meta)) {
        MOVE(c->directory, h->directory);
        MOVE(c->replaces, h->replaces);
        MOVE(c->replaces_dropped, h->replaces_dropped);
        MOVE(c->replaces_dropped_why, h->replaces_dropped_why);
        MOVE(c->csr, h->csr);
        c->ari_start = h->ari_start;
        c->ari_end = h->ari_end;
        c->ari_chosen = h->ari_chosen;
        c->ari_next_check = h->ari_next_check;
    } else if ((rc = store_cert_read_meta(o->dir, c, e)) == 0) {
        stamp_keep(path, false, &o->s->meta);
    }
    free(path);
    return rc;
}

/* Loads certs/<id> into *c (zeroed first; cleared again on failure), filling *s with the
 * identities of what it read. hit: the cache's entry for id, or NULL. */
static int cert_load_one(const struct store *st, const char *id, struct store_cert *c,
                         struct store_cert_facts *hit, struct store_cert_stamp *s, struct err *e)
{
    char *dir = store_pathf(st, "certs/%s", id);
    char *path = dir ? fsio_join(dir, "cert") : NULL;
    struct one o = {.st = st, .dir = dir, .c = c, .hit = hit, .s = s, .l = {.path = path}};
    int rc;

    memset(c, 0, sizeof *c);
    memset(s, 0, sizeof *s);
    memcpy(c->id, id, STORE_ID_LEN + 1);
    if (!path) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = load_leaf(&o, e)) < 0 || (rc = load_url(&o, e)) < 0)
        goto out;
    if (load_entries(&o) < 0 || load_key(&o) < 0) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    rc = load_meta(&o, e);
out:
    if (rc < 0)
        store_cert_clear(c);
    leaf_free(&o.l);
    free(path);
    free(dir);
    return rc;
}

int store_certs_load(const struct store *st, struct store_cert **out, size_t *n, struct err *e)
{
    return store_certs_load_cached(st, false, out, n, e);
}

/* The stamps of v[0..n), which were all as the cache says: read back from it (for a write). */
static void recall_stamps(const struct store *st, const struct store_cert *v,
                          struct store_cert_stamp *stamps, size_t n)
{
    struct store_certs_cache in;

    store_certs_cache_open(st, &in);
    for (size_t i = 0; i < n; i++) {
        struct store_cert_facts *h = store_certs_cache_find(&in, v[i].id);

        if (h)
            stamps[i] = h->stamp;
    }
    store_certs_cache_close(&in);
}

/* Writes the cache for v[0..n): stamps[same..n) as gathered (when stamps is not NULL), the
 * first `same` as the cache itself holds them (they were equal). */
static void save_cache(const struct store *st, const struct store_cert *v,
                       struct store_cert_stamp *stamps, size_t same, size_t n)
{
    struct store_cert_stamp *all = stamps ? stamps : calloc(n ? n : 1, sizeof *all);
    struct err ce;

    if (!all)
        return;
    recall_stamps(st, v, all, same);
    if (store_certs_cache_write(st, v, all, n, &ce) < 0)
        log_debug("certificate cache not saved: %s", ce.msg);
    if (all != stamps)
        free(all);
}

/* Stamps are kept only from the first certificate that differs from the cache on (none in a
 * pass where nothing changed): those before it are the cache's own, read back if it must be
 * written. */
int store_certs_load_cached(const struct store *st, bool save, struct store_cert **out, size_t *n,
                            struct err *e)
{
    char *dir = store_path(st, "certs");
    char **names = NULL;
    struct store_cert *v = NULL;
    struct store_cert_stamp *stamps = NULL, one;
    struct store_certs_cache in;
    size_t nnames = 0, cnt = 0, same = 0;
    bool changed = false;
    int rc;

    store_certs_cache_open(st, &in);
    *out = NULL;
    *n = 0;
    if (!dir) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    /* Only real directories: a certs/<id> symlink could lead anywhere. */
    rc = store_list_dir(dir, true, &names, &nnames, e);
    if (rc < 0 || nnames == 0)
        goto out;
    if (!(v = calloc(nnames, sizeof *v))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nnames; i++) {
        struct store_cert_stamp *s = stamps ? &stamps[cnt] : &one;
        struct store_cert_facts *hit;
        struct err le;
        bool differs;

        if (!store_id_valid(names[i]))
            continue;
        hit = store_certs_cache_find(&in, names[i]);
        /* Compared before the entry's strings are moved out (the stamp stays). */
        rc = cert_load_one(st, names[i], &v[cnt], hit, s, &le);
        if (rc == -ENOMEM) {
            rc = err_set(e, rc, "%s", le.msg);
            goto out;
        }
        if (rc < 0) {
            log_warn("skipping certificate directory %s/%s: %s", dir, names[i], le.msg);
            rc = 0;
            continue;
        }
        /* An entry stamped with nothing trustworthy (all just written) is not recorded. */
        differs = hit ? !store_cert_stamp_eq(&hit->stamp, s) : !store_cert_stamp_empty(s);
        if (differs && save && !stamps) {
            if (!(stamps = calloc(nnames, sizeof *stamps))) {
                rc = err_set(e, -ENOMEM, "out of memory");
                goto out;
            }
            stamps[cnt] = one;
        }
        changed = changed || differs;
        same += !changed;
        cnt++;
    }
out:
    changed = store_certs_cache_close(&in) || changed;
    if (rc == 0 && save && changed)
        save_cache(st, v, stamps, same, cnt);
    if (rc == 0) {
        *out = v;
        *n = cnt;
        v = NULL;
    }
    free(stamps);
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
