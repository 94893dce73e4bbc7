/* sign_guard: the keeper's check of each request its worker asks it to sign. */
#include "privsep/sign_guard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/b64.h"

static const char *op_name(enum sign_guard_op op)
{
    static const char *const names[] = {
        [SIGN_GUARD_POST_AS_GET] = "a read (POST-as-GET)",
        [SIGN_GUARD_CHALLENGE] = "a challenge answer",
        [SIGN_GUARD_NEW_ACCOUNT] = "an account registration",
        [SIGN_GUARD_ACCOUNT_CONTACT] = "a contact update",
        [SIGN_GUARD_NEW_ORDER] = "a new order",
        [SIGN_GUARD_FINALIZE] = "a finalization",
        [SIGN_GUARD_REVOKE] = "a revocation",
    };

    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "an unknown operation";
}

static int refuse(const struct sign_guard *g, struct err *e, const char *why)
{
    return err_set(e, -EPERM, "refusing to sign for the worker: %s is not %s", why, op_name(g->op));
}

/* The protected header: only alg, nonce, url and one of kid/jwk, each as the guard says. */
static int check_header(const struct sign_guard *g, const struct signer_request *r, struct err *e)
{
    const char *k;
    json_t *v;

    json_object_foreach(r->header, k, v)
    {
        if (strcmp(k, "alg") && strcmp(k, "nonce") && strcmp(k, "url") && strcmp(k, "kid") &&
            strcmp(k, "jwk"))
            return refuse(g, e, "a header with other members");
    }
    if (!r->alg || !g->alg || strcmp(r->alg, g->alg))
        return refuse(g, e, "another signature algorithm");
    if (g->kid) {
        if (!r->kid || strcmp(r->kid, g->kid) || r->jwk)
            return refuse(g, e, "a request for another account");
    } else if (!r->jwk || r->kid || !g->jwk || !json_equal(r->jwk, g->jwk)) {
        return refuse(g, e, "a request under another key");
    }
    if (g->url && (!r->url || strcmp(r->url, g->url)))
        return refuse(g, e, "a request to another URL");
    return 0;
}

/* The payload is a JSON object whose members are all among `allowed` (NULL-terminated). */
static int members_only(const struct sign_guard *g, const struct signer_request *r,
                        const char *const *allowed, struct err *e)
{
    const char *k;
    json_t *v;

    if (!json_is_object(r->payload_json))
        return refuse(g, e, "a payload that is not a JSON object");
    json_object_foreach(r->payload_json, k, v)
    {
        size_t i;

        for (i = 0; allowed[i] && strcmp(allowed[i], k); i++)
            ;
        if (!allowed[i])
            return refuse(g, e, "a payload with other members");
    }
    return 0;
}

static bool strings_equal(json_t *arr, const char *const *want, size_t n)
{
    if (!json_is_array(arr) || json_array_size(arr) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));

        if (!s || strcmp(s, want[i]))
            return false;
    }
    return true;
}

/* A base64url member equal to the encoding of der. */
static bool b64_member_is(json_t *o, const char *member, const uint8_t *der, size_t len)
{
    const char *s = json_string_value(json_object_get(o, member));
    char *want;
    bool ok;

    if (!s || !der || !(want = b64url_encode(der, len)))
        return false;
    ok = strcmp(s, want) == 0;
    free(want);
    return ok;
}

/* identifiers: exactly the guard's names, each once, dns or ip. */
static bool identifiers_match(const struct sign_guard *g, json_t *ids)
{
    bool *seen;
    bool ok = true;
    size_t i;
    json_t *id;

    if (!json_is_array(ids) || json_array_size(ids) != g->nnames || g->nnames == 0)
        return false;
    if (!(seen = calloc(g->nnames, sizeof *seen)))
        return false;
    json_array_foreach(ids, i, id)
    {
        const char *type = json_string_value(json_object_get(id, "type"));
        const char *value = json_string_value(json_object_get(id, "value"));
        size_t j;

        if (!json_is_object(id) || json_object_size(id) != 2 || !type || !value ||
            (strcmp(type, "dns") && strcmp(type, "ip"))) {
            ok = false;
            break;
        }
        for (j = 0; j < g->nnames && (seen[j] || strcasecmp(g->names[j], value)); j++)
            ;
        if (j == g->nnames) {
            ok = false;
            break;
        }
        seen[j] = true;
    }
    free(seen);
    return ok;
}

static int check_new_order(const struct sign_guard *g, const struct signer_request *r,
                           struct err *e)
{
    static const char *const allowed[] = {"identifiers", "replaces", NULL};
    json_t *rep;
    int rc;

    if ((rc = members_only(g, r, allowed, e)) < 0)
        return rc;
    if (!identifiers_match(g, json_object_get(r->payload_json, "identifiers")))
        return refuse(g, e, "an order for other names");
    rep = json_object_get(r->payload_json, "replaces");
    if (rep &&
        (!g->replaces || !json_is_string(rep) || strcmp(json_string_value(rep), g->replaces)))
        return refuse(g, e, "an order replacing another certificate");
    return 0;
}

static int check_new_account(const struct sign_guard *g, const struct signer_request *r,
                             struct err *e)
{
    static const char *const allowed[] = {"termsOfServiceAgreed", "contact",
                                          "externalAccountBinding", "onlyReturnExisting", NULL};
    json_t *p = r->payload_json, *v;
    int rc;

    if ((rc = members_only(g, r, allowed, e)) < 0)
        return rc;
    v = json_object_get(p, "contact");
    if (v ? !strings_equal(v, g->contact, g->ncontact) : g->ncontact != 0)
        return refuse(g, e, "a registration with other contacts");
    v = json_object_get(p, "externalAccountBinding");
    if (v ? !g->eab || !json_equal(v, g->eab) : g->eab != NULL)
        return refuse(g, e, "a registration with another external account binding");
    v = json_object_get(p, "onlyReturnExisting");
    if (v ? !json_is_boolean(v) || json_is_true(v) != g->only_return_existing
          : g->only_return_existing)
        return refuse(g, e, "a registration of another kind");
    v = json_object_get(p, "termsOfServiceAgreed");
    if (v && !json_is_true(v))
        return refuse(g, e, "a registration refusing the terms");
    return 0;
}

int sign_guard_check(const struct sign_guard *g, const struct signer_request *r, struct err *e)
{
    static const char *const contact_only[] = {"contact", NULL};
    static const char *const csr_only[] = {"csr", NULL};
    static const char *const revoke_members[] = {"certificate", "reason", NULL};
    json_t *v;
    int rc;

    if ((rc = check_header(g, r, e)) < 0)
        return rc;
    switch (g->op) {
    case SIGN_GUARD_POST_AS_GET:
        return r->payload_len == 0 ? 0 : refuse(g, e, "a request with a payload");
    case SIGN_GUARD_CHALLENGE:
        if (!g->url || !json_is_object(r->payload_json) || json_object_size(r->payload_json))
            return refuse(g, e, "a payload other than {}");
        return 0;
    case SIGN_GUARD_NEW_ACCOUNT:
        return check_new_account(g, r, e);
    case SIGN_GUARD_ACCOUNT_CONTACT:
        if ((rc = members_only(g, r, contact_only, e)) < 0)
            return rc;
        if (!g->kid || !r->url || strcmp(r->url, g->kid))
            return refuse(g, e, "a post to another URL than the account");
        if (!strings_equal(json_object_get(r->payload_json, "contact"), g->contact, g->ncontact))
            return refuse(g, e, "other contacts");
        return 0;
    case SIGN_GUARD_NEW_ORDER:
        return check_new_order(g, r, e);
    case SIGN_GUARD_FINALIZE:
        if ((rc = members_only(g, r, csr_only, e)) < 0)
            return rc;
        if (!b64_member_is(r->payload_json, "csr", g->der, g->der_len))
            return refuse(g, e, "another CSR");
        return 0;
    case SIGN_GUARD_REVOKE:
        if ((rc = members_only(g, r, revoke_members, e)) < 0)
            return rc;
        if (!b64_member_is(r->payload_json, "certificate", g->der, g->der_len))
            return refuse(g, e, "another certificate");
        v = json_object_get(r->payload_json, "reason");
        if (v ? !json_is_integer(v) || json_integer_value(v) != g->reason : g->reason >= 0)
            return refuse(g, e, "another revocation reason");
        return 0;
    case SIGN_GUARD_KEY_CHANGE:
        if (!g->inner || !r->payload_json || !json_equal(r->payload_json, g->inner))
            return refuse(g, e, "a key rollover to another key");
        return 0;
    case SIGN_GUARD_DEACTIVATE:
        if (!g->kid || !r->url || strcmp(r->url, g->kid))
            return refuse(g, e, "a post to another URL than the account");
        v = r->payload_json;
        if (!json_is_object(v) || json_object_size(v) != 1 ||
            !json_is_string(json_object_get(v, "status")) ||
            strcmp(json_string_value(json_object_get(v, "status")), "deactivated"))
            return refuse(g, e, "a payload other than a deactivation");
        return 0;
    }
    return refuse(g, e, "an unknown operation");
}
