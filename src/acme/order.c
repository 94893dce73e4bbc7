/* order: new orders, authorizations, challenges and finalization (RFC 8555 §7.4, §7.5). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acme/op_internal.h"
#include "acme/ops.h"
#include "crypto/b64.h"

static bool directory_has_profile(const struct acme_directory *d, const char *name)
{
    for (size_t i = 0; i < d->meta.nprofiles; i++)
        if (!strcmp(d->meta.profiles[i].name, name))
            return true;
    return false;
}

static json_t *identifiers_json(const struct acme_identifier *ids, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++) {
        json_t *id =
            json_pack("{s:s, s:s}", "type", acme_id_type_str(ids[i].type), "value", ids[i].value);

        if (!id || json_array_append_new(a, id) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int acme_order_new(struct acme_client *c, const struct acme_new_order *req, acme_cb cb, void *arg,
                   struct err *e)
{
    const struct acme_directory *d = acme_client_directory(c);
    json_t *p = NULL;
    int rc;

    if (!d)
        return err_set(e, -EINVAL, "newOrder before the directory was fetched");
    if (req->nids == 0)
        return err_set(e, -EINVAL, "an order needs at least one identifier");
    if (req->profile && !directory_has_profile(d, req->profile)) {
        if (d->meta.nprofiles == 0)
            return err_set(e, -ENOTSUP,
                           "profile \"%s\" asked for, but the CA offers no "
                           "profiles",
                           req->profile);
        return err_set(e, -EINVAL, "profile \"%s\" is not among the CA's profiles", req->profile);
    }
    p = json_pack("{s:o}", "identifiers", identifiers_json(req->ids, req->nids));
    if (!p)
        return err_set(e, -ENOMEM, "out of memory");
    if (req->profile)
        json_object_set_new(p, "profile", json_string(req->profile));
    /* Without renewalInfo the CA does not know `replaces` (RFC 9773 §5): leave it out. */
    if (req->replaces && d->renewal_info)
        json_object_set_new(p, "replaces", json_string(req->replaces));
    rc = acme_op_post(c, d->new_order, p, OP_ORDER, cb, arg, e);
    json_decref(p);
    return rc;
}

int acme_order_get(struct acme_client *c, const char *url, acme_cb cb, void *arg, struct err *e)
{
    return acme_op_post(c, url, NULL, OP_ORDER, cb, arg, e);
}

int acme_authz_get(struct acme_client *c, const char *url, acme_cb cb, void *arg, struct err *e)
{
    return acme_op_post(c, url, NULL, OP_AUTHZ, cb, arg, e);
}

int acme_challenge_answer(struct acme_client *c, const char *url, acme_cb cb, void *arg,
                          struct err *e)
{
    json_t *p = json_object();
    int rc;

    if (!p)
        return err_set(e, -ENOMEM, "out of memory");
    rc = acme_op_post(c, url, p, OP_CHALLENGE, cb, arg, e);
    json_decref(p);
    return rc;
}

int acme_authz_deactivate(struct acme_client *c, const char *url, acme_cb cb, void *arg,
                          struct err *e)
{
    json_t *p = json_pack("{s:s}", "status", "deactivated");
    int rc;

    if (!p)
        return err_set(e, -ENOMEM, "out of memory");
    rc = acme_op_post(c, url, p, OP_AUTHZ, cb, arg, e);
    json_decref(p);
    return rc;
}

const struct acme_challenge *acme_challenge_select(const struct acme_authz *authz,
                                                   const char *const *prefs, size_t nprefs)
{
    for (size_t p = 0; p < nprefs; p++) {
        for (size_t i = 0; i < authz->nchallenges; i++) {
            const struct acme_challenge *ch = &authz->challenges[i];

            if (!strcmp(ch->type, prefs[p]) && ch->token && b64url_valid(ch->token))
                return ch;
        }
    }
    return NULL;
}

int acme_order_finalize(struct acme_client *c, const char *finalize_url, const uint8_t *csr,
                        size_t csr_len, acme_cb cb, void *arg, struct err *e)
{
    char *csr64 = b64url_encode(csr, csr_len);
    json_t *p = csr64 ? json_pack("{s:s}", "csr", csr64) : NULL;
    int rc;

    free(csr64);
    if (!p)
        return err_set(e, -ENOMEM, "out of memory");
    rc = acme_op_post(c, finalize_url, p, OP_ORDER, cb, arg, e);
    json_decref(p);
    return rc;
}
