/* etcd_json: request bodies for etcd's v3 gateway and standard base64 (see etcd_json.h). */
#include "net/etcd_json.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void etcd_result_clear(struct etcd_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nkvs; i++) {
        free(r->kvs[i].key);
        free(r->kvs[i].value);
    }
    free(r->kvs);
    memset(r, 0, sizeof *r);
}

char *etcd_b64_encode(const void *data, size_t n)
{
    const uint8_t *p = data;
    char *out, *o;
    size_t i;

    if (n > (SIZE_MAX - 1) / 4 * 3 - 3 || !(out = malloc((n + 2) / 3 * 4 + 1)))
        return NULL;
    o = out;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);

        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;

    return p ? (int)(p - b64_alphabet) : -1;
}

int etcd_b64_decode(const char *s, size_t len, size_t max, uint8_t **out, size_t *outlen)
{
    uint8_t *buf;
    size_t pad = 0, n, o = 0;

    *out = NULL;
    *outlen = 0;
    if (len % 4)
        return -EINVAL;
    if (len > 0 && s[len - 1] == '=')
        pad = len > 1 && s[len - 2] == '=' ? 2 : 1;
    n = len / 4 * 3 - pad;
    if (n > max)
        return -EFBIG;
    if (!(buf = malloc(n + 1)))
        return -ENOMEM;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        uint32_t w;
        size_t k, q = i + 4 == len ? 4 - pad : 4; /* real characters in this quad */

        for (k = 0; k < 4; k++) {
            v[k] = k < q ? b64_value(s[i + k]) : 0;
            if (v[k] < 0)
                goto bad;
        }
        w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        /* Unused bits must be zero: one encoding per value. */
        if ((q == 2 && (w & 0xffff)) || (q == 3 && (w & 0xff)))
            goto bad;
        buf[o++] = (uint8_t)(w >> 16);
        if (q > 2)
            buf[o++] = (uint8_t)(w >> 8);
        if (q > 3)
            buf[o++] = (uint8_t)w;
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
bad:
    free(buf);
    return -EINVAL;
}

uint8_t *etcd_prefix_end(const char *prefix, size_t *out_len)
{
    size_t n = strlen(prefix);
    uint8_t *end = malloc(n + 1);

    if (!end)
        return NULL;
    memcpy(end, prefix, n);
    while (n > 0) {
        if (end[n - 1] < 0xff) {
            end[n - 1]++;
            *out_len = n;
            return end;
        }
        n--;
    }
    end[0] = '\0';
    *out_len = 1;
    return end;
}

/* ---- bodies ---- */

/* Sets obj[name] to the base64 of data[0..n). Returns 0 or -ENOMEM. */
static int set_b64(json_t *obj, const char *name, const void *data, size_t n)
{
    char *s = etcd_b64_encode(data, n);
    int rc = s && json_object_set_new(obj, name, json_string(s)) == 0 ? 0 : -ENOMEM;

    free(s);
    return rc;
}

/* Sets obj[name] to v as a decimal string, as protobuf's JSON mapping writes int64. */
static int set_int(json_t *obj, const char *name, int64_t v)
{
    char s[24];

    snprintf(s, sizeof s, "%" PRId64, v);
    return json_object_set_new(obj, name, json_string(s)) == 0 ? 0 : -ENOMEM;
}

static int key_ok(const char *key, struct err *e)
{
    size_t n = key ? strlen(key) : 0;

    if (n == 0 || n > ETCD_MAX_KEY)
        return err_set(e, -EINVAL, "etcd: a key must have 1 to %d bytes", ETCD_MAX_KEY);
    return 0;
}

/* key, and range_end when prefix. */
static int set_key(json_t *obj, const char *key, bool prefix)
{
    uint8_t *end;
    size_t n = 0;
    int rc;

    if (set_b64(obj, "key", key, strlen(key)) < 0)
        return -ENOMEM;
    if (!prefix)
        return 0;
    if (!(end = etcd_prefix_end(key, &n)))
        return -ENOMEM;
    rc = set_b64(obj, "range_end", end, n);
    free(end);
    return rc;
}

/* Returns the compact text of o (dropping o), or NULL with e set. */
static char *dump(json_t *o, int rc, struct err *e)
{
    char *s = NULL;

    if (rc == 0 && o)
        s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s && rc != -EINVAL)
        err_set(e, -ENOMEM, "etcd: out of memory");
    return s;
}

char *etcd_body_range(const char *key, bool prefix, int64_t limit, struct err *e)
{
    json_t *o;
    int rc;

    if ((rc = key_ok(key, e)) < 0)
        return NULL;
    o = json_object();
    rc = o ? set_key(o, key, prefix) : -ENOMEM;
    if (rc == 0 && limit > 0)
        rc = set_int(o, "limit", limit);
    return dump(o, rc, e);
}

static int put_fields(json_t *o, const char *key, const void *value, size_t len, int64_t lease,
                      struct err *e)
{
    if (key_ok(key, e) < 0)
        return -EINVAL;
    if (len > ETCD_MAX_VALUE)
        return err_set(e, -EINVAL, "etcd: %s: a value of %zu bytes is above the limit", key, len);
    if (set_key(o, key, false) < 0 || set_b64(o, "value", value ? value : "", len) < 0 ||
        (lease && set_int(o, "lease", lease) < 0))
        return -ENOMEM;
    return 0;
}

char *etcd_body_put(const char *key, const void *value, size_t len, int64_t lease, struct err *e)
{
    json_t *o = json_object();

    return dump(o, o ? put_fields(o, key, value, len, lease, e) : -ENOMEM, e);
}

char *etcd_body_delete(const char *key, bool prefix, struct err *e)
{
    json_t *o;
    int rc;

    if ((rc = key_ok(key, e)) < 0)
        return NULL;
    o = json_object();
    return dump(o, o ? set_key(o, key, prefix) : -ENOMEM, e);
}

static const char *const cmp_targets[] = {"VERSION", "CREATE", "MOD", "VALUE"};
static const char *const cmp_ops[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
static const char *const cmp_fields[] = {"version", "create_revision", "mod_revision"};

static json_t *txn_cmp(const struct etcd_cmp *c, int *rc, struct err *e)
{
    json_t *o = json_object();

    *rc = -ENOMEM;
    if ((unsigned)c->target > ETCD_CMP_VALUE || (unsigned)c->op > ETCD_CMP_NOT_EQUAL) {
        *rc = err_set(e, -EINVAL, "etcd: unknown compare");
    } else if (key_ok(c->key, e) < 0) {
        *rc = -EINVAL;
    } else if (c->target == ETCD_CMP_VALUE && c->value_len > ETCD_MAX_VALUE) {
        *rc = err_set(e, -EINVAL, "etcd: compared value above the limit");
    } else if (o && json_object_set_new(o, "target", json_string(cmp_targets[c->target])) == 0 &&
               json_object_set_new(o, "result", json_string(cmp_ops[c->op])) == 0 &&
               set_key(o, c->key, false) == 0 &&
               (c->target == ETCD_CMP_VALUE
                    ? set_b64(o, "value", c->value ? c->value : "", c->value_len)
                    : set_int(o, cmp_fields[c->target], c->num)) == 0) {
        *rc = 0;
        return o;
    }
    json_decref(o);
    return NULL;
}

static json_t *txn_op(const struct etcd_op *op, int *rc, struct err *e)
{
    json_t *o = json_object(), *w = json_object();

    *rc = -ENOMEM;
    if (!o || !w)
        goto fail;
    if (op->type == ETCD_OP_PUT) {
        if ((*rc = put_fields(o, op->key, op->value, op->value_len, op->lease, e)) < 0)
            goto fail;
        *rc = json_object_set_new(w, "request_put", o) == 0 ? 0 : -ENOMEM;
    } else if (op->type == ETCD_OP_DELETE || op->type == ETCD_OP_DELETE_PREFIX) {
        if ((*rc = key_ok(op->key, e)) < 0 ||
            (*rc = set_key(o, op->key, op->type == ETCD_OP_DELETE_PREFIX)) < 0)
            goto fail;
        *rc = json_object_set_new(w, "request_delete_range", o) == 0 ? 0 : -ENOMEM;
    } else {
        *rc = err_set(e, -EINVAL, "etcd: unknown transaction operation");
        goto fail;
    }
    return *rc == 0 ? w : (json_decref(w), NULL); /* set_new took o either way */
fail:
    json_decref(o);
    json_decref(w);
    return NULL;
}

static int txn_ops(json_t *body, const char *name, const struct etcd_op *ops, size_t n,
                   struct err *e)
{
    json_t *a = json_array(), *x;
    int rc = 0;

    if (!a || json_object_set_new(body, name, a) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((x = txn_op(&ops[i], &rc, e)) && json_array_append_new(a, x) < 0)
            rc = -ENOMEM;
    }
    return rc;
}

char *etcd_body_txn(const struct etcd_txn *t, struct err *e)
{
    json_t *o = json_object(), *a = json_array(), *x;
    int rc = o && a && json_object_set(o, "compare", a) == 0 ? 0 : -ENOMEM;

    for (size_t i = 0; rc == 0 && i < t->ncmp; i++) {
        if ((x = txn_cmp(&t->cmp[i], &rc, e)) && json_array_append_new(a, x) < 0)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = txn_ops(o, "success", t->then, t->nthen, e);
    if (rc == 0)
        rc = txn_ops(o, "failure", t->els, t->nels, e);
    json_decref(a);
    return dump(o, rc, e);
}

char *etcd_body_lease_grant(int64_t ttl, struct err *e)
{
    json_t *o = json_object();

    if (ttl <= 0) {
        json_decref(o);
        err_set(e, -EINVAL, "etcd: a lease needs a positive TTL");
        return NULL;
    }
    return dump(o, o ? set_int(o, "TTL", ttl) : -ENOMEM, e);
}

char *etcd_body_lease_id(int64_t id, struct err *e)
{
    json_t *o = json_object();

    return dump(o, o ? set_int(o, "ID", id) : -ENOMEM, e);
}

char *etcd_body_watch(const char *prefix, int64_t start_rev, struct err *e)
{
    json_t *o, *c;
    int rc;

    if ((rc = key_ok(prefix, e)) < 0)
        return NULL;
    o = json_object();
    c = json_object();
    rc =
        o && c && json_object_set(o, "create_request", c) == 0 ? set_key(c, prefix, true) : -ENOMEM;
    if (rc == 0 && start_rev > 0)
        rc = set_int(c, "start_revision", start_rev);
    json_decref(c);
    return dump(o, rc, e);
}

char *etcd_body_auth(const char *name, const char *password, struct err *e)
{
    json_t *o = json_object();
    int rc = -ENOMEM;

    if (o && json_object_set_new(o, "name", json_string(name ? name : "")) == 0 &&
        json_object_set_new(o, "password", json_string(password ? password : "")) == 0)
        rc = 0;
    return dump(o, rc, e);
}
