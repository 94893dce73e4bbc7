/* ckv: sealed values under the cluster's prefix in etcd (see ckv.h). */
#include "cluster/ckv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ckv {
    struct etcd *c;
    char *prefix;
    size_t prefix_len;
    uint8_t secret[SEAL_KEY_LEN];
};

/* One get or list in flight. */
struct req {
    struct ckv *kv;
    ckv_cb cb;
    void *arg;
    bool one; /* get: absent is -ENOENT, a value that does not open is an error */
};

int ckv_new(struct etcd *c, const char *prefix, const uint8_t secret[SEAL_KEY_LEN],
            struct ckv **out, struct err *e)
{
    struct ckv *kv = calloc(1, sizeof *kv);

    *out = NULL;
    if (!kv || !(kv->prefix = strdup(prefix))) {
        free(kv);
        return err_set(e, -ENOMEM, "out of memory");
    }
    kv->c = c;
    kv->prefix_len = strlen(prefix);
    memcpy(kv->secret, secret, SEAL_KEY_LEN);
    *out = kv;
    return 0;
}

void ckv_free(struct ckv *kv)
{
    if (!kv)
        return;
    explicit_bzero(kv->secret, sizeof kv->secret);
    free(kv->prefix);
    free(kv);
}

bool ckv_key(const struct ckv *kv, const char *name, char *out, size_t out_len)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > CKV_NAME_MAX || name[0] == '/' || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return snprintf(out, out_len, "%s%s", kv->prefix, name) < (int)out_len;
}

static void on_range(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct req *q = arg;
    struct ckv_item *items = NULL;
    uint8_t **pts = NULL;
    size_t n = 0, bad = 0, total = rc == 0 ? r->nkvs : 0;
    struct err oe = {0};

    if (rc == 0 && q->one && total == 0)
        rc = err_set(&oe, -ENOENT, "not in etcd"), e = &oe;
    if (rc == 0 && total &&
        (!(items = calloc(total, sizeof *items)) || !(pts = calloc(total, sizeof *pts))))
        rc = err_set(&oe, -ENOMEM, "out of memory"), e = &oe;
    for (size_t i = 0; rc == 0 && i < total; i++) {
        const struct etcd_kv *kv = &r->kvs[i];
        size_t len = 0;
        struct err se = {0};

        if (strncmp(kv->key, q->kv->prefix, q->kv->prefix_len))
            err_set(&se, -EBADMSG, "a key outside the prefix");
        else if (seal_open(q->kv->secret, kv->key, strlen(kv->key), kv->value, kv->value_len,
                           &pts[n], &len, &se) == 0)
            se.code = 0;
        if (se.code < 0) {
            if (q->one) {
                oe = se;
                rc = -EBADMSG;
                e = &oe;
            }
            bad++;
            continue;
        }
        items[n] = (struct ckv_item){.name = kv->key + q->kv->prefix_len,
                                     .value = pts[n],
                                     .len = len,
                                     .create_revision = kv->create_revision,
                                     .mod_revision = kv->mod_revision,
                                     .lease = kv->lease};
        n++;
    }
    q->cb(q->arg, rc, rc == 0 ? items : NULL, rc == 0 ? n : 0, bad, rc < 0 ? e : NULL);
    for (size_t i = 0; i < n; i++)
        seal_free_secret(pts[i], items[i].len);
    free(pts);
    free(items);
    free(q);
}

static int range(struct ckv *kv, const char *name, bool one, ckv_cb cb, void *arg, struct err *e)
{
    char key[ETCD_MAX_KEY];
    struct req *q;
    int rc;

    if (!ckv_key(kv, name, key, sizeof key))
        return err_set(e, -EINVAL, "not a name for etcd");
    if (!(q = calloc(1, sizeof *q)))
        return err_set(e, -ENOMEM, "out of memory");
    *q = (struct req){.kv = kv, .cb = cb, .arg = arg, .one = one};
    rc =
        one ? etcd_get(kv->c, key, on_range, q, e) : etcd_get_prefix(kv->c, key, 0, on_range, q, e);
    if (rc < 0)
        free(q);
    return rc;
}

int ckv_get(struct ckv *kv, const char *name, ckv_cb cb, void *arg, struct err *e)
{
    return range(kv, name, true, cb, arg, e);
}

int ckv_list(struct ckv *kv, const char *name_prefix, ckv_cb cb, void *arg, struct err *e)
{
    return range(kv, name_prefix, false, cb, arg, e);
}

/* The sealed value for name into *out (caller frees) and its key into key. */
static int seal_for(struct ckv *kv, const char *name, const void *value, size_t len, char *key,
                    size_t keylen, uint8_t **out, size_t *outlen, struct err *e)
{
    if (!ckv_key(kv, name, key, keylen))
        return err_set(e, -EINVAL, "not a name for etcd");
    return seal(kv->secret, key, strlen(key), value, len, out, outlen, e);
}

int ckv_put(struct ckv *kv, const char *name, const void *value, size_t len, int64_t lease,
            etcd_cb cb, void *arg, struct err *e)
{
    char key[ETCD_MAX_KEY];
    uint8_t *sealed = NULL;
    size_t slen = 0;
    int rc = seal_for(kv, name, value, len, key, sizeof key, &sealed, &slen, e);

    if (rc == 0)
        rc = etcd_put(kv->c, key, sealed, slen, lease, cb, arg, e);
    free(sealed);
    return rc;
}

/* A conditional write: a put of name's sealed value (value NULL: a delete of name) run only
 * while `target` of the key cmp_name (NULL: name itself) equals rev. */
static int write_if(struct ckv *kv, const char *cmp_name, enum etcd_cmp_target target, int64_t rev,
                    const char *name, const void *value, size_t len, int64_t lease, etcd_cb cb,
                    void *arg, struct err *e)
{
    char key[ETCD_MAX_KEY], ckey[ETCD_MAX_KEY];
    uint8_t *sealed = NULL;
    size_t slen = 0;
    int rc = 0;

    if (cmp_name && !ckv_key(kv, cmp_name, ckey, sizeof ckey))
        return err_set(e, -EINVAL, "not a name for etcd");
    if (value)
        rc = seal_for(kv, name, value, len, key, sizeof key, &sealed, &slen, e);
    else if (!ckv_key(kv, name, key, sizeof key))
        rc = err_set(e, -EINVAL, "not a name for etcd");
    if (rc == 0) {
        struct etcd_cmp cmp = {
            .target = target, .op = ETCD_CMP_EQUAL, .key = cmp_name ? ckey : key, .num = rev};
        struct etcd_op op = {.type = value ? ETCD_OP_PUT : ETCD_OP_DELETE,
                             .key = key,
                             .value = sealed,
                             .value_len = slen,
                             .lease = lease};
        struct etcd_txn t = {.cmp = &cmp, .ncmp = 1, .then = &op, .nthen = 1};

        rc = etcd_txn(kv->c, &t, cb, arg, e);
    }
    free(sealed);
    return rc;
}

int ckv_put_fenced(struct ckv *kv, const char *lock, int64_t rev, const char *name,
                   const void *value, size_t len, etcd_cb cb, void *arg, struct err *e)
{
    if (rev <= 0 || !value)
        return err_set(e, -EINVAL, "a fence needs a lock and its create revision");
    return write_if(kv, lock, ETCD_CMP_CREATE, rev, name, value, len, 0, cb, arg, e);
}

int ckv_put_absent(struct ckv *kv, const char *name, const void *value, size_t len, int64_t lease,
                   etcd_cb cb, void *arg, struct err *e)
{
    if (!value)
        return err_set(e, -EINVAL, "nothing to put");
    return write_if(kv, NULL, ETCD_CMP_CREATE, 0, name, value, len, lease, cb, arg, e);
}

int ckv_delete_fenced(struct ckv *kv, const char *name, int64_t rev, etcd_cb cb, void *arg,
                      struct err *e)
{
    if (rev <= 0)
        return err_set(e, -EINVAL, "a fenced delete needs a name and its create revision");
    return write_if(kv, NULL, ETCD_CMP_CREATE, rev, name, NULL, 0, 0, cb, arg, e);
}

int ckv_put_if_mod(struct ckv *kv, const char *name, int64_t rev, const void *value, size_t len,
                   etcd_cb cb, void *arg, struct err *e)
{
    if (!value)
        return err_set(e, -EINVAL, "nothing to put");
    return write_if(kv, NULL, ETCD_CMP_MOD, rev, name, value, len, 0, cb, arg, e);
}

int ckv_delete_if_mod(struct ckv *kv, const char *name, int64_t rev, etcd_cb cb, void *arg,
                      struct err *e)
{
    if (rev <= 0)
        return err_set(e, -EINVAL, "a checked delete needs a name and its mod revision");
    return write_if(kv, NULL, ETCD_CMP_MOD, rev, name, NULL, 0, 0, cb, arg, e);
}

int ckv_open(const struct ckv *kv, const struct etcd_kv *raw, const char **name, uint8_t **pt,
             size_t *len, struct err *e)
{
    if (strncmp(raw->key, kv->prefix, kv->prefix_len))
        return err_set(e, -EBADMSG, "a key outside the prefix");
    *name = raw->key + kv->prefix_len;
    return seal_open(kv->secret, raw->key, strlen(raw->key), raw->value, raw->value_len, pt, len,
                     e);
}

struct etcd *ckv_etcd(const struct ckv *kv)
{
    return kv->c;
}
