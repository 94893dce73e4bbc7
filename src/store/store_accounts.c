/* store accounts and keys: accounts/<dir-id>/<key-id>/{privkey,meta} and keys/<key-id>/privkey.
 * Private keys are written once, 0600, and never rewritten; their PEM is zeroed after use. */
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_internal.h"
#include "util/clock.h"
#include "util/fsio.h"
#include "util/log.h"

/* Reads and parses the private key at `path`; when `want_id` is given the key's id must be
 * it (a key filed under another id would be a mix-up we refuse to use). */
static int load_key_file(const char *path, const char *want_id, struct ckey **out, struct err *e)
{
    struct ckey *key = NULL;
    char id[STORE_ID_LEN + 1];
    char *pem = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = fsio_read_file(path, STORE_MAX_FILE, &pem, &len, e);
    if (rc < 0)
        return rc;
    rc = key_from_pem(pem, len, &key, e);
    key_pem_free(pem, len);
    if (rc < 0)
        return err_wrap(e, "%s", path);
    rc = key_id(key, id, e);
    if (rc < 0)
        goto out;
    if (want_id && strcmp(id, want_id) != 0) {
        rc = err_set(e, -EINVAL, "%s holds key %s, not %s", path, id, want_id);
        goto out;
    }
    *out = key;
    key = NULL;
out:
    key_free(key);
    return rc;
}

/* Writes `key` to `path` (0600) unless a file is already there: keys are never rewritten,
 * so a crash or a second call can never replace a key a certificate depends on. */
static int save_key_file(const char *path, const struct ckey *key, struct err *e)
{
    struct stat sb;
    char *pem = NULL;
    size_t len = 0;
    int rc;

    if (lstat(path, &sb) == 0)
        return 0;
    if (errno != ENOENT)
        return err_sys(e, -errno, "cannot stat %s", path);
    rc = key_to_pem(key, &pem, &len, e);
    if (rc < 0)
        return rc;
    rc = fsio_write_atomic(path, pem, len, STORE_PRIV_FILE_MODE, e);
    key_pem_free(pem, len);
    return rc;
}

/* ---- accounts ---- */

void store_account_clear(struct store_account *a)
{
    if (!a)
        return;
    free(a->dir_id);
    key_free(a->key);
    free(a->url);
    for (size_t i = 0; i < a->ncontact; i++)
        free(a->contact[i]);
    free(a->contact);
    free(a->eab_kid);
    free(a->signer);
    free(a->thumbprint);
    free(a->jwk);
    memset(a, 0, sizeof *a);
}

void store_accounts_free(struct store_account *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        store_account_clear(&a[i]);
    free(a);
}

static int meta_contacts(const json_t *arr, struct store_account *a)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;

    if (n == 0)
        return 0;
    a->contact = calloc(n, sizeof *a->contact);
    if (!a->contact)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);

        if (!json_is_string(v))
            continue;
        if (!(a->contact[a->ncontact] = strdup(json_string_value(v))))
            return -ENOMEM;
        a->ncontact++;
    }
    return 0;
}

/* Fills the meta fields of `a` from <dir>/meta. A missing meta (acmetool's accounts have
 * none) leaves them empty; a malformed one is warned about and ignored. */
static int account_read_meta(const char *dir, struct store_account *a, struct err *e)
{
    char *path = fsio_join(dir, "meta");
    json_t *o = NULL;
    bool oom = false;
    int rc;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    rc = store_json_read(path, &o, e);
    if (rc < 0) {
        if (rc != -ENOENT)
            log_warn("ignoring account meta: %s", e ? e->msg : path);
        rc = 0;
        goto out;
    }
    a->url = store_json_get_str(o, "url", &oom);
    a->eab_kid = store_json_get_str(o, "eab_kid", &oom);
    a->created = store_json_get_time(o, "created");
    a->signer = store_json_get_str(o, "signer", &oom);
    a->thumbprint = store_json_get_str(o, "thumbprint", &oom);
    if (json_is_object(json_object_get(o, "jwk")) &&
        !(a->jwk = json_dumps(json_object_get(o, "jwk"), JSON_COMPACT | JSON_SORT_KEYS)))
        oom = true;
    if (oom || meta_contacts(json_object_get(o, "contact"), a) < 0)
        rc = err_set(e, -ENOMEM, "out of memory reading %s", path);
out:
    json_decref(o);
    free(path);
    return rc;
}

/* Loads accounts/<dir_id>/<key_id>/ into *a: with `with_key` its privkey (-EINVAL with e
 * when unusable), then its meta. */
static int account_load(const struct store *st, const char *dir_id, const char *key_id,
                        bool with_key, struct store_account *a, struct err *e)
{
    char *dir = NULL, *path = NULL;
    int rc;

    memset(a, 0, sizeof *a);
    if (!store_name_valid(dir_id) || !store_id_valid(key_id))
        return err_set(e, -EINVAL, "invalid account id \"%s/%s\"", dir_id ? dir_id : "",
                       key_id ? key_id : "");
    dir = store_pathf(st, "accounts/%s/%s", dir_id, key_id);
    path = dir ? fsio_join(dir, "privkey") : NULL;
    if (!path) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    memcpy(a->key_id, key_id, STORE_ID_LEN + 1);
    if (!(a->dir_id = strdup(dir_id))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = account_read_meta(dir, a, e)) < 0)
        goto out;
    if (a->signer) {
        /* Held by a signer: no key here, and the id must be its key's (a meta moved to
         * another account's directory would otherwise lend that account its name). */
        char want[STORE_ID_LEN + 1];

        if (!a->thumbprint || store_signer_key_id(a->thumbprint, want, NULL) < 0 ||
            strcmp(want, key_id) != 0)
            rc = err_set(e, -EINVAL,
                         "account %s/%s: its signer's key is not the one it is "
                         "named for",
                         dir_id, key_id);
        goto out;
    }
    if (with_key)
        rc = load_key_file(path, key_id, &a->key, e);
out:
    if (rc < 0)
        store_account_clear(a);
    free(dir);
    free(path);
    return rc;
}

int store_account_load(const struct store *st, const char *dir_id, const char *key_id,
                       struct store_account *a, struct err *e)
{
    return account_load(st, dir_id, key_id, true, a, e);
}

int store_account_read_meta(const struct store *st, const char *dir_id, const char *key_id,
                            struct store_account *a, struct err *e)
{
    return account_load(st, dir_id, key_id, false, a, e);
}

/* Oldest first (an unknown creation time, as with acmetool's accounts, counts as oldest),
 * then by key id, so that the choice among several accounts is stable. */
static int cmp_accounts(const void *pa, const void *pb)
{
    const struct store_account *a = pa, *b = pb;

    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    return strcmp(a->key_id, b->key_id);
}

int store_accounts_load(const struct store *st, const char *directory_url,
                        struct store_account **out, size_t *n, struct err *e)
{
    char *dir_id = store_dir_id(directory_url, e);
    char *dir = NULL, **names = NULL;
    struct store_account *v = NULL;
    size_t nnames = 0, cnt = 0;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (!dir_id)
        return e ? e->code : -EINVAL;
    dir = store_pathf(st, "accounts/%s", dir_id);
    if (!dir) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    /* accounts/<dir-id> itself must not be a link leading elsewhere. */
    if (!store_is_real_dir(dir))
        goto out;
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
        rc = store_account_load(st, dir_id, names[i], &v[cnt], &le);
        if (rc == -ENOMEM) {
            rc = err_set(e, rc, "%s", le.msg);
            goto out;
        }
        if (rc < 0) {
            log_warn("skipping account %s/%s: %s", dir_id, names[i], le.msg);
            rc = 0;
            continue;
        }
        cnt++;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_accounts);
    *out = v;
    *n = cnt;
    v = NULL;
out:
    store_accounts_free(v, cnt);
    store_names_free(names, nnames);
    free(dir);
    free(dir_id);
    return rc;
}

int store_account_save_key(const struct store *st, const char *directory_url,
                           struct store_account *a, struct err *e)
{
    char *dir_id = store_dir_id(directory_url, e);
    char *dir = NULL, *path = NULL;
    int rc;

    if (!dir_id)
        return e ? e->code : -EINVAL;
    if (!a->key) {
        rc = err_set(e, -EINVAL, "no account key to save");
        goto out;
    }
    rc = key_id(a->key, a->key_id, e);
    if (rc < 0)
        goto out;
    free(a->dir_id);
    a->dir_id = dir_id;
    dir_id = NULL;
    dir = store_pathf(st, "accounts/%s", a->dir_id);
    if (!dir) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    rc = store_ensure_dir(dir, STORE_PRIV_DIR_MODE, e);
    if (rc < 0)
        goto out;
    free(dir);
    dir = store_pathf(st, "accounts/%s/%s", a->dir_id, a->key_id);
    path = dir ? fsio_join(dir, "privkey") : NULL;
    if (!path) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    rc = store_ensure_dir(dir, STORE_PRIV_DIR_MODE, e);
    if (rc == 0)
        rc = save_key_file(path, a->key, e);
    if (rc < 0)
        goto out;
    if (a->created == 0)
        a->created = clock_now();
    rc = store_account_save_meta(st, a, e);
out:
    free(dir_id);
    free(dir);
    free(path);
    return rc;
}

static json_t *account_meta_json(const struct store_account *a)
{
    json_t *o = json_object(), *contact = json_array();
    int bad = !o || !contact;

    for (size_t i = 0; !bad && i < a->ncontact; i++)
        bad |= json_array_append_new(contact, json_string(a->contact[i]));
    if (!bad && a->url)
        bad |= json_object_set_new(o, "url", json_string(a->url));
    if (!bad)
        bad |= json_object_set(o, "contact", contact);
    if (!bad && a->eab_kid)
        bad |= json_object_set_new(o, "eab_kid", json_string(a->eab_kid));
    if (!bad && a->signer)
        bad |=
            json_object_set_new(o, "signer", json_string(a->signer)) ||
            json_object_set_new(o, "thumbprint", json_string(a->thumbprint ? a->thumbprint : ""));
    if (!bad && a->signer && a->jwk) {
        json_t *jwk = json_loads(a->jwk, 0, NULL);

        bad |= !jwk || json_object_set_new(o, "jwk", jwk);
    }
    if (!bad)
        bad |= store_json_set_time(o, "created", a->created);
    json_decref(contact);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int store_account_save_meta(const struct store *st, const struct store_account *a, struct err *e)
{
    char *dir = NULL, *path = NULL;
    json_t *o = NULL;
    int rc;

    if (!store_name_valid(a->dir_id) || !store_id_valid(a->key_id))
        return err_set(e, -EINVAL, "invalid account id \"%s/%s\"", a->dir_id ? a->dir_id : "",
                       a->key_id);
    dir = store_pathf(st, "accounts/%s/%s", a->dir_id, a->key_id);
    path = dir ? fsio_join(dir, "meta") : NULL;
    o = account_meta_json(a);
    if (!path || !o) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (!store_is_real_dir(dir)) {
        rc = err_set(e, -ENOENT, "account directory %s is missing (or not a directory)", dir);
        goto out;
    }
    rc = store_json_write(path, o, STORE_PRIV_FILE_MODE, e);
out:
    json_decref(o);
    free(dir);
    free(path);
    return rc;
}

/* ---- certificate keys ---- */

int store_key_save(const struct store *st, const struct ckey *key, char *id_out, struct err *e)
{
    char *dir = NULL, *path = NULL;
    int rc;

    rc = key_id(key, id_out, e);
    if (rc < 0)
        return rc;
    dir = store_pathf(st, "keys/%s", id_out);
    path = dir ? fsio_join(dir, "privkey") : NULL;
    if (!path) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    rc = store_ensure_dir(dir, STORE_PRIV_DIR_MODE, e);
    if (rc == 0)
        rc = save_key_file(path, key, e);
out:
    free(dir);
    free(path);
    return rc;
}

int store_key_load(const struct store *st, const char *id, struct ckey **out, struct err *e)
{
    char *dir = NULL, *path = NULL;
    struct stat sb;
    int rc;

    *out = NULL;
    if (!store_id_valid(id))
        return err_set(e, -EINVAL, "invalid key id \"%s\"", id ? id : "");
    dir = store_pathf(st, "keys/%s", id);
    path = dir ? fsio_join(dir, "privkey") : NULL;
    if (!path) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    /* keys/<id> must be a real directory: a symlink there could lead out of the state dir. */
    if (lstat(dir, &sb) < 0) {
        rc = err_sys(e, -errno, "key %s: cannot stat %s", id, dir);
        goto out;
    }
    if (!S_ISDIR(sb.st_mode)) {
        rc = err_set(e, -EINVAL, "%s is not a directory; refusing it", dir);
        goto out;
    }
    rc = load_key_file(path, id, out, e);
out:
    free(dir);
    free(path);
    return rc;
}
