/* ccert: certificates and their keys shared by a fleet (see ccert.h). */
#include "cluster/ccert.h"
#include "cluster/ccert_parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/key.h"
#include "crypto/seal.h"
#include "util/fsio.h"

struct job {
    struct ckv *kv;
    const struct store *st;
    char cert_id[STORE_ID_LEN + 1];
    char key_id[STORE_ID_LEN + 1];
    char *json; /* publish: the certificate's value, put once the key is in */
    size_t json_len;
    char *url, *chain; /* materialise: from the certificate's value */
    bool key_only;     /* ccert_key_publish, ccert_key_materialize */
    ccert_cb cb;
    void *arg;
};

static void job_end(struct job *j, int rc, const struct err *e)
{
    j->cb(j->arg, rc, e);
    free(j->json);
    free(j->url);
    free(j->chain);
    free(j);
}

/* A job for id (a certificate's, or with key_only a key's), or NULL with e set. */
static struct job *job_new(struct ckv *kv, const struct store *st, const char *id, bool key_only,
                           ccert_cb cb, void *arg, struct err *e)
{
    struct job *j;

    if (!store_id_valid(id)) {
        err_set(e, -EINVAL, key_only ? "not a key id" : "not a certificate id");
        return NULL;
    }
    if (!(j = calloc(1, sizeof *j))) {
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    *j = (struct job){.kv = kv, .st = st, .cb = cb, .arg = arg, .key_only = key_only};
    memcpy(key_only ? j->key_id : j->cert_id, id, STORE_ID_LEN + 1);
    return j;
}

/* ---- publishing ---- */

static void on_cert_put(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    (void)r;
    job_end(arg, rc, rc < 0 ? e : NULL);
}

static void on_key_put(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct job *j = arg;
    char name[16 + STORE_ID_LEN];
    struct err pe;

    (void)r;
    if (rc < 0 || j->key_only) {
        job_end(j, rc, rc < 0 ? e : NULL);
        return;
    }
    snprintf(name, sizeof name, "certs/%s", j->cert_id);
    if ((rc = ckv_put(j->kv, name, j->json, j->json_len, 0, on_cert_put, j, &pe)) < 0)
        job_end(j, rc, &pe);
}

/* The certificate's value: {"v":1,"url":...,"chain":...,"key":...}. */
static int cert_json(const struct store *st, struct job *j, struct err *e)
{
    char rel[16 + STORE_ID_LEN], *dir, *p = NULL, *chain = NULL, *url = NULL;
    size_t clen = 0, ulen = 0;
    json_t *o = NULL;
    int rc = -ENOMEM;

    snprintf(rel, sizeof rel, "certs/%s", j->cert_id);
    dir = store_path(st, rel);
    if (!dir || !(p = fsio_join(dir, "fullchain")))
        goto out;
    if ((rc = fsio_read_file(p, CCERT_CHAIN_MAX, &chain, &clen, e)) < 0)
        goto out;
    free(p);
    if (!(p = fsio_join(dir, "url"))) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = fsio_read_file(p, 4096, &url, &ulen, e)) < 0)
        goto out;
    rc = -ENOMEM;
    if (!(o = json_pack("{s:i, s:s, s:s, s:s}", "v", 1, "url", url, "chain", chain, "key",
                        j->key_id)) ||
        !(j->json = json_dumps(o, JSON_COMPACT)))
        goto out;
    j->json_len = strlen(j->json);
    rc = 0;
out:
    if (rc == -ENOMEM)
        err_set(e, rc, "out of memory");
    json_decref(o);
    free(dir);
    free(p);
    free(chain);
    free(url);
    return rc;
}

/* Puts keys/<j->key_id>, sealed; on_key_put goes on. */
static int put_key(struct job *j, struct err *e)
{
    struct ckey *key = NULL;
    char *pem = NULL, name[16 + STORE_ID_LEN];
    size_t plen = 0;
    int rc;

    if ((rc = store_key_load(j->st, j->key_id, &key, e)) < 0 ||
        (rc = key_to_pem(key, &pem, &plen, e)) < 0) {
        key_free(key);
        return rc;
    }
    snprintf(name, sizeof name, "keys/%s", j->key_id);
    rc = ckv_put(j->kv, name, pem, plen, 0, on_key_put, j, e);
    seal_free_secret(pem, plen);
    key_free(key);
    return rc;
}

int ccert_publish(struct ckv *kv, const struct store *st, const char *cert_id, ccert_cb cb,
                  void *arg, struct err *e)
{
    struct job *j = job_new(kv, st, cert_id, false, cb, arg, e);
    int rc;

    if (!j)
        return e->code;
    rc = store_cert_key_link(st, cert_id, j->key_id, e);
    if (rc == -ENOENT || (rc == 0 && !j->key_id[0]))
        rc = err_set(e, -EINVAL, "certificate %s has no key of ours: it stays here", cert_id);
    if (rc < 0 || (rc = cert_json(st, j, e)) < 0 || (rc = put_key(j, e)) < 0) {
        free(j->json);
        free(j);
        return rc;
    }
    return 0;
}

int ccert_key_publish(struct ckv *kv, const struct store *st, const char *key_id, ccert_cb cb,
                      void *arg, struct err *e)
{
    struct job *j = job_new(kv, st, key_id, true, cb, arg, e);
    int rc;

    if (!j)
        return e->code;
    if ((rc = put_key(j, e)) < 0)
        free(j);
    return rc;
}

/* ---- materialising ---- */

static void on_key(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                   const struct err *e)
{
    struct job *j = arg;
    struct ckey *key = NULL;
    char id[STORE_ID_LEN + 1];
    struct err ke;

    (void)bad;
    if (rc < 0 || n != 1) {
        job_end(j, rc < 0 ? rc : -ENOENT, e);
        return;
    }
    /* The key must be the one its name says, and the leaf must be for it (store_cert_install
     * checks that before it writes anything of the certificate). */
    if ((rc = key_from_pem((const char *)it[0].value, it[0].len, &key, &ke)) < 0 ||
        (rc = key_id(key, id, &ke)) < 0)
        goto out;
    if (strcmp(id, j->key_id)) {
        rc = err_set(&ke, -EBADMSG, "keys/%s in etcd holds another key", j->key_id);
        goto out;
    }
    if ((rc = store_key_save(j->st, key, id, &ke)) < 0 && rc != -EEXIST)
        goto out;
    if (!j->key_only && (rc = store_cert_install(j->st, j->url, j->chain, strlen(j->chain),
                                                 j->key_id, NULL, NULL, NULL, NULL, &ke)) < 0)
        goto out;
    rc = 0;
out:
    key_free(key);
    job_end(j, rc, rc < 0 ? &ke : NULL);
}

/* The certificate's value, checked; the key's name next. */
static int parse_cert(struct job *j, const uint8_t *v, size_t len, struct err *e)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)v, len, JSON_REJECT_DUPLICATES, &je);
    const char *url = json_string_value(json_object_get(o, "url"));
    const char *chain = json_string_value(json_object_get(o, "chain"));
    const char *kid = json_string_value(json_object_get(o, "key"));
    char id[STORE_ID_LEN + 1];
    int rc = 0;

    if (!o || json_integer_value(json_object_get(o, "v")) != 1 || json_object_size(o) != 4 ||
        !url || !chain || !kid || !store_id_valid(kid) || strlen(url) > 4096 ||
        strpbrk(url, "\r\n") || strlen(chain) > CCERT_CHAIN_MAX)
        rc = err_set(e, -EBADMSG, "certs/%s in etcd is not a certificate acmed published",
                     j->cert_id);
    else {
        /* The id is the order URL's: a value moved to another id would install elsewhere. */
        store_cert_id(url, id);
        if (strcmp(id, j->cert_id))
            rc = err_set(e, -EBADMSG, "certs/%s in etcd is the certificate of another order",
                         j->cert_id);
    }
    if (rc == 0 && (!(j->url = strdup(url)) || !(j->chain = strdup(chain))))
        rc = err_set(e, -ENOMEM, "out of memory");
    if (rc == 0)
        memcpy(j->key_id, kid, sizeof j->key_id);
    json_decref(o);
    return rc;
}

int ccert_parse_value(const char *cert_id, const uint8_t *v, size_t len, char **url, char **chain,
                      char key_id[STORE_ID_LEN + 1], struct err *e)
{
    struct job j = {0};
    int rc;

    *url = *chain = NULL;
    if (!store_id_valid(cert_id))
        return err_set(e, -EINVAL, "not a certificate id");
    memcpy(j.cert_id, cert_id, sizeof j.cert_id);
    rc = parse_cert(&j, v, len, e);
    *url = j.url;
    *chain = j.chain;
    memcpy(key_id, j.key_id, sizeof j.key_id);
    return rc;
}

static void on_cert(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                    const struct err *e)
{
    struct job *j = arg;
    char name[16 + STORE_ID_LEN];
    struct err pe;

    (void)bad;
    if (rc < 0 || n != 1) {
        job_end(j, rc < 0 ? rc : -ENOENT, e);
        return;
    }
    if ((rc = parse_cert(j, it[0].value, it[0].len, &pe)) < 0) {
        job_end(j, rc, &pe);
        return;
    }
    snprintf(name, sizeof name, "keys/%s", j->key_id);
    if ((rc = ckv_get(j->kv, name, on_key, j, &pe)) < 0)
        job_end(j, rc, &pe);
}

int ccert_materialize(struct ckv *kv, const struct store *st, const char *cert_id, ccert_cb cb,
                      void *arg, struct err *e)
{
    struct job *j = job_new(kv, st, cert_id, false, cb, arg, e);
    char name[16 + STORE_ID_LEN];
    int rc;

    if (!j)
        return e->code;
    snprintf(name, sizeof name, "certs/%s", cert_id);
    if ((rc = ckv_get(kv, name, on_cert, j, e)) < 0)
        free(j);
    return rc;
}

int ccert_key_materialize(struct ckv *kv, const struct store *st, const char *key_id, ccert_cb cb,
                          void *arg, struct err *e)
{
    struct job *j = job_new(kv, st, key_id, true, cb, arg, e);
    char name[16 + STORE_ID_LEN];
    int rc;

    if (!j)
        return e->code;
    snprintf(name, sizeof name, "keys/%s", key_id);
    if ((rc = ckv_get(kv, name, on_key, j, e)) < 0)
        free(j);
    return rc;
}
