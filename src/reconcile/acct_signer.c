/* acct_signer: from a target's request.account.signer to a signer client and its account. */
#include "reconcile/acct_signer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int acct_signer_client(uv_loop_t *loop, const struct target *t, struct signer_client **out,
                       struct err *e)
{
    struct signer_client_opts o = {0};
    char **argv = NULL;
    char *name = target_signer_name(t);
    int rc;

    *out = NULL;
    if (!name)
        return err_set(e, target_has_signer(t) ? -ENOMEM : -EINVAL, "%s names no account signer",
                       t ? t->file : "?");
    if (t->signer_unix) {
        o.socket_path = t->signer_unix;
    } else {
        /* The client copies argv: a NULL-terminated view of the target's words. */
        if (!(argv = calloc(t->nsigner_exec + 1, sizeof *argv))) {
            free(name);
            return err_set(e, -ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < t->nsigner_exec; i++)
            argv[i] = t->signer_exec[i];
        o.argv = argv;
    }
    o.name = name;
    rc = signer_client_new(loop, &o, out, e);
    free(argv);
    free(name);
    return rc;
}

int acct_signer_account(const struct signer_client *sc, const char *name, struct store_account *a,
                        struct err *e)
{
    const char *thumb = signer_client_thumbprint(sc), *kid = signer_client_kid(sc);
    json_t *jwk = signer_client_jwk(sc);

    memset(a, 0, sizeof *a);
    if (!thumb)
        return err_set(e, -ENOTCONN, "signer %s has not greeted yet", name);
    if (!(a->signer = strdup(name)) || !(a->thumbprint = strdup(thumb)) ||
        (kid && !(a->url = strdup(kid))) ||
        (jwk && !(a->jwk = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS)))) {
        store_account_clear(a);
        return err_set(e, -ENOMEM, "out of memory");
    }
    return 0;
}
