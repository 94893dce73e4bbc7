/* caccount: a fleet's ACME account per provider (see caccount.h). */
#include "cluster/caccount.h"
#include "cluster/caccount_parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/key.h"
#include "crypto/seal.h"
#include "store/target.h"

struct job {
    const struct store *st;
    char *directory;
    caccount_cb cb;
    void *arg;
};

static void job_end(struct job *j, int rc, const struct err *e)
{
    j->cb(j->arg, rc, e);
    free(j->directory);
    free(j);
}

/* accounts/<dir-id> for directory into name. */
static int name_for(const char *directory, char *name, size_t len, struct err *e)
{
    char *dir_id = store_dir_id(directory, e);

    if (!dir_id)
        return e->code ? e->code : -EINVAL;
    snprintf(name, len, "accounts/%s", dir_id);
    free(dir_id);
    return 0;
}

static void on_put(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    (void)r;
    job_end(arg, rc, rc < 0 ? e : NULL);
}

int caccount_publish(struct ckv *kv, const struct store *st, const char *directory_url,
                     const char *eab_kid, caccount_cb cb, void *arg, struct err *e)
{
    struct store_account a = {0};
    char name[600], *pem = NULL, *s = NULL;
    size_t plen = 0;
    json_t *o = NULL, *contact;
    bool found = false;
    struct job *j = NULL;
    int rc;

    if ((rc = name_for(directory_url, name, sizeof name, e)) < 0 ||
        (rc = store_account_find(st, directory_url, eab_kid, &a, &found, e)) < 0)
        return rc;
    if (!found)
        return err_set(e, -ENOENT, "no account for %s here", directory_url);
    if (!a.key) {
        rc = err_set(e, -EINVAL, "the account for %s is held by a signer: it stays here",
                     directory_url);
        goto out;
    }
    if ((rc = key_to_pem(a.key, &pem, &plen, e)) < 0)
        goto out;
    if (!(contact = json_array())) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < a.ncontact; i++)
        json_array_append_new(contact, json_string(a.contact[i]));
    if (!(o = json_pack("{s:i, s:s, s:s?, s:s?, s:o, s:s}", "v", 1, "directory", directory_url,
                        "url", a.url, "eab_kid", a.eab_kid, "contact", contact, "key", pem)) ||
        !(s = json_dumps(o, JSON_COMPACT)) || !(j = calloc(1, sizeof *j)) ||
        !(j->directory = strdup(directory_url))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    j->st = st;
    j->cb = cb;
    j->arg = arg;
    rc = ckv_put(kv, name, s, strlen(s), 0, on_put, j, e);
out:
    if (rc < 0 && j) {
        free(j->directory);
        free(j);
    }
    if (s)
        seal_free_secret(s, strlen(s)); /* it holds the key */
    json_decref(o);
    if (pem)
        seal_free_secret(pem, plen);
    store_account_clear(&a);
    return rc;
}

/* The account value, checked, into a (its key parsed). */
static int parse(const struct job *j, const uint8_t *v, size_t len, struct store_account *a,
                 struct err *e)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)v, len, JSON_REJECT_DUPLICATES, &je);
    const char *dir = json_string_value(json_object_get(o, "directory"));
    const char *url = json_string_value(json_object_get(o, "url"));
    const char *eab = json_string_value(json_object_get(o, "eab_kid"));
    const char *key = json_string_value(json_object_get(o, "key"));
    json_t *contact = json_object_get(o, "contact"), *c;
    size_t i;
    int rc = 0;

    if (!o || json_integer_value(json_object_get(o, "v")) != 1 || !dir ||
        strcmp(dir, j->directory) || !key || !json_is_array(contact) ||
        json_array_size(contact) > 16 || (url && (strlen(url) > 2048 || strpbrk(url, "\r\n"))) ||
        (eab && (strlen(eab) > 256 || strpbrk(eab, "\r\n"))))
        rc = err_set(e, -EBADMSG, "the fleet's account for %s is not one acmed published",
                     j->directory);
    if (rc == 0)
        rc = key_from_pem(key, strlen(key), &a->key, e);
    if (rc == 0 && ((url && !(a->url = strdup(url))) || (eab && !(a->eab_kid = strdup(eab))) ||
                    !(a->contact = calloc(json_array_size(contact) + 1, sizeof *a->contact))))
        rc = err_set(e, -ENOMEM, "out of memory");
    json_array_foreach(contact, i, c)
    {
        if (rc < 0)
            break;
        if (!json_is_string(c) || target_contact_check(json_string_value(c)))
            rc = err_set(e, -EBADMSG, "the fleet's account for %s has a bad contact", j->directory);
        else if (!(a->contact[a->ncontact++] = strdup(json_string_value(c))))
            rc = err_set(e, -ENOMEM, "out of memory");
    }
    json_decref(o);
    return rc;
}

int caccount_parse_value(const char *directory_url, const uint8_t *v, size_t len,
                         struct store_account *a, struct err *e)
{
    /* parse reads the job's directory only. */
    const struct job j = {.directory = (char *)directory_url};

    return parse(&j, v, len, a, e);
}

static void on_get(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                   const struct err *e)
{
    struct job *j = arg;
    struct store_account a = {0};
    struct err pe;

    (void)bad;
    if (rc < 0 || n != 1) {
        job_end(j, rc < 0 ? rc : -ENOENT, e);
        return;
    }
    if ((rc = parse(j, it[0].value, it[0].len, &a, &pe)) == 0 &&
        (rc = store_account_save_key(j->st, j->directory, &a, &pe)) == 0)
        rc = store_account_save_meta(j->st, &a, &pe);
    store_account_clear(&a);
    job_end(j, rc, rc < 0 ? &pe : NULL);
}

int caccount_materialize(struct ckv *kv, const struct store *st, const char *directory_url,
                         caccount_cb cb, void *arg, struct err *e)
{
    struct job *j;
    char name[600];
    int rc;

    if ((rc = name_for(directory_url, name, sizeof name, e)) < 0)
        return rc;
    if (!(j = calloc(1, sizeof *j)) || !(j->directory = strdup(directory_url))) {
        free(j);
        return err_set(e, -ENOMEM, "out of memory");
    }
    j->st = st;
    j->cb = cb;
    j->arg = arg;
    if ((rc = ckv_get(kv, name, on_get, j, e)) < 0) {
        free(j->directory);
        free(j);
    }
    return rc;
}
