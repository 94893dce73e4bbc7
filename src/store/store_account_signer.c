/* store accounts held by a signer (DESIGN.md §10): accounts/<dir-id>/<key-id>/meta only, the
 * key-id being the base32 of the signer's key thumbprint. */
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/clock.h"

int store_account_save_signer(const struct store *st, const char *directory_url,
                              struct store_account *a, struct err *e)
{
    char *dir_id = NULL, *dir = NULL;
    int rc;

    if (!a->signer || a->key)
        return err_set(e, -EINVAL, "not an account held by a signer");
    if ((rc = store_signer_key_id(a->thumbprint, a->key_id, e)) < 0)
        return rc;
    if (!(dir_id = store_dir_id(directory_url, e)))
        return e ? e->code : -EINVAL;
    free(a->dir_id);
    a->dir_id = dir_id;
    if (!(dir = store_pathf(st, "accounts/%s", a->dir_id))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = store_ensure_dir(dir, STORE_PRIV_DIR_MODE, e)) < 0)
        goto out;
    free(dir);
    if (!(dir = store_pathf(st, "accounts/%s/%s", a->dir_id, a->key_id))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = store_ensure_dir(dir, STORE_PRIV_DIR_MODE, e)) < 0)
        goto out;
    if (a->created == 0)
        a->created = clock_now();
    rc = store_account_save_meta(st, a, e);
out:
    free(dir);
    return rc;
}

int store_account_find_signer(const struct store *st, const char *directory_url,
                              const char *thumbprint, struct store_account *out, bool *found,
                              struct err *e)
{
    struct store_account *v = NULL;
    char id[STORE_ID_LEN + 1];
    size_t n = 0;
    int rc;

    *found = false;
    if ((rc = store_signer_key_id(thumbprint, id, e)) < 0 ||
        (rc = store_accounts_load(st, directory_url, &v, &n, e)) < 0)
        return rc;
    for (size_t i = 0; i < n && !*found; i++) {
        if (v[i].signer && !strcmp(v[i].key_id, id)) {
            *out = v[i];
            memset(&v[i], 0, sizeof v[i]);
            *found = true;
        }
    }
    store_accounts_free(v, n);
    return 0;
}
