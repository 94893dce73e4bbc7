/* objects: the ACME resources of RFC 8555 §7.1, parsed strictly (see objects.h). */
#include "acme/objects.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/fields.h"
#include "acme/problem_internal.h"
#include "acme/url.h"
#include "crypto/b64.h"
#include "util/sanitize.h"

#define COUNT(a) ACME_FIELD_COUNT(a)

/* Enum values are the array indices, so one table serves both directions. */
static const char *const account_names[] = {"valid", "deactivated", "revoked"};
static const char *const order_names[] = {"pending", "ready", "processing", "valid", "invalid"};
static const char *const authz_names[] = {"pending",     "valid",   "invalid",
                                          "deactivated", "expired", "revoked"};
static const char *const chall_names[] = {"pending", "processing", "valid", "invalid"};
static const char *const id_names[] = {"dns", "ip"};

static const char *name_of(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "unknown";
}

#define ENUM_FUNCS(prefix, type, names)                                                            \
    const char *prefix##_str(type v)                                                               \
    {                                                                                              \
        return name_of(names, COUNT(names), (int)v);                                               \
    }                                                                                              \
    int prefix##_parse(const char *s, type *out)                                                   \
    {                                                                                              \
        int i = acme_field_index(names, COUNT(names), s);                                          \
        if (i < 0)                                                                                 \
            return i;                                                                              \
        *out = (type)i;                                                                            \
        return 0;                                                                                  \
    }

ENUM_FUNCS(acme_account_status, enum acme_account_status, account_names)
ENUM_FUNCS(acme_order_status, enum acme_order_status, order_names)
ENUM_FUNCS(acme_authz_status, enum acme_authz_status, authz_names)
ENUM_FUNCS(acme_chall_status, enum acme_chall_status, chall_names)
ENUM_FUNCS(acme_id_type, enum acme_id_type, id_names)

/* ---- directory ---- */

static int meta_from_json(json_t *meta, struct acme_directory *d, struct err *e)
{
    const char *ctx = "directory: meta";
    json_t *profiles, *v;
    const char *name;
    size_t i = 0;
    int rc;

    if (!json_is_object(meta))
        return acme_field_wrong_type("directory", "meta", "an object", e);
    if ((rc = acme_field_str(meta, ctx, "termsOfService", false, true, &d->meta.terms_of_service,
                             e)) < 0 ||
        (rc = acme_field_str(meta, ctx, "website", false, true, &d->meta.website, e)) < 0 ||
        (rc = acme_field_strv(meta, ctx, "caaIdentities", false, false, &d->meta.caa_identities,
                              &d->meta.ncaa_identities, e)) < 0 ||
        (rc = acme_field_bool(meta, ctx, "externalAccountRequired",
                              &d->meta.external_account_required, e)) < 0)
        return rc;
    if (!(profiles = acme_field_get(meta, "profiles")))
        return 0;
    if (!json_is_object(profiles))
        return acme_field_wrong_type(ctx, "profiles", "an object", e);
    d->meta.profiles = calloc(json_object_size(profiles) + 1, sizeof(*d->meta.profiles));
    if (!d->meta.profiles)
        return err_set(e, -ENOMEM, "%s: out of memory", ctx);
    json_object_foreach(profiles, name, v)
    {
        struct acme_profile *p = &d->meta.profiles[i++];
        char tmp[48];

        d->meta.nprofiles = i;
        if (!json_is_string(v))
            return err_set(e, -EINVAL, "%s: profile \"%s\" is not a string", ctx,
                           acme_field_clean(name, tmp, sizeof(tmp)));
        if (!(p->name = sanitize_dup(name)) ||
            !(p->description = sanitize_dup(json_string_value(v))))
            return err_set(e, -ENOMEM, "%s: out of memory", ctx);
    }
    return 0;
}

static int directory_from_json(json_t *root, struct acme_directory *d, struct err *e)
{
    const char *ctx = "directory";
    json_t *meta;
    int rc;

    if ((rc = acme_field_str(root, ctx, "newNonce", true, true, &d->new_nonce, e)) < 0 ||
        (rc = acme_field_str(root, ctx, "newAccount", true, true, &d->new_account, e)) < 0 ||
        (rc = acme_field_str(root, ctx, "newOrder", true, true, &d->new_order, e)) < 0 ||
        (rc = acme_field_str(root, ctx, "revokeCert", true, true, &d->revoke_cert, e)) < 0 ||
        (rc = acme_field_str(root, ctx, "keyChange", true, true, &d->key_change, e)) < 0 ||
        (rc = acme_field_str(root, ctx, "newAuthz", false, true, &d->new_authz, e)) < 0 ||
        (rc = acme_field_str(root, ctx, "renewalInfo", false, true, &d->renewal_info, e)) < 0)
        return rc;
    meta = acme_field_get(root, "meta");
    return meta ? meta_from_json(meta, d, e) : 0;
}

int acme_directory_urls_check(const struct acme_directory *d, bool https_only, struct err *e)
{
    int rc;

    if ((rc = acme_url_check(d->new_nonce, https_only, "directory newNonce", e)) < 0 ||
        (rc = acme_url_check(d->new_account, https_only, "directory newAccount", e)) < 0 ||
        (rc = acme_url_check(d->new_order, https_only, "directory newOrder", e)) < 0 ||
        (rc = acme_url_check(d->revoke_cert, https_only, "directory revokeCert", e)) < 0 ||
        (rc = acme_url_check(d->key_change, https_only, "directory keyChange", e)) < 0 ||
        (rc = acme_url_check(d->new_authz, https_only, "directory newAuthz", e)) < 0 ||
        (rc = acme_url_check(d->renewal_info, https_only, "directory renewalInfo", e)) < 0)
        return rc;
    return 0;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void acme_directory_free(struct acme_directory *d)
{
    if (!d)
        return;
    free(d->new_nonce);
    free(d->new_account);
    free(d->new_order);
    free(d->revoke_cert);
    free(d->key_change);
    free(d->new_authz);
    free(d->renewal_info);
    free(d->meta.terms_of_service);
    free(d->meta.website);
    strv_free(d->meta.caa_identities, d->meta.ncaa_identities);
    for (size_t i = 0; i < d->meta.nprofiles; i++) {
        free(d->meta.profiles[i].name);
        free(d->meta.profiles[i].description);
    }
    free(d->meta.profiles);
    free(d);
}

/* ---- account, order ---- */

static int account_from_json(json_t *root, struct acme_account *a, struct err *e)
{
    const char *ctx = "account";
    int st, rc;

    if ((rc = acme_field_status(root, ctx, account_names, COUNT(account_names), &st, e)) < 0)
        return rc;
    a->status = (enum acme_account_status)st;
    if ((rc = acme_field_strv(root, ctx, "contact", false, true, &a->contact, &a->ncontact, e)) <
            0 ||
        (rc = acme_field_str(root, ctx, "orders", false, true, &a->orders, e)) < 0)
        return rc;
    return 0;
}

void acme_account_free(struct acme_account *a)
{
    if (!a)
        return;
    strv_free(a->contact, a->ncontact);
    free(a->orders);
    free(a);
}

static int identifier_from_json(json_t *v, const char *ctx, struct acme_identifier *id,
                                struct err *e)
{
    json_t *type;
    char tmp[48];
    int rc;

    if (!json_is_object(v))
        return err_set(e, -EINVAL, "%s: not an object", ctx);
    if (!(type = acme_field_get(v, "type")))
        return acme_field_missing(ctx, "type", e);
    if (!json_is_string(type))
        return acme_field_wrong_type(ctx, "type", "a string", e);
    if (acme_id_type_parse(json_string_value(type), &id->type) < 0)
        return err_set(e, -EINVAL, "%s: unsupported identifier type \"%s\"", ctx,
                       acme_field_clean(json_string_value(type), tmp, sizeof(tmp)));
    if ((rc = acme_field_str(v, ctx, "value", true, false, &id->value, e)) < 0)
        return rc;
    return 0;
}

static int order_identifiers(json_t *root, struct acme_order *o, struct err *e)
{
    json_t *ids = acme_field_get(root, "identifiers");
    char ctx[64];
    int rc;

    if (!ids)
        return acme_field_missing("order", "identifiers", e);
    if (!json_is_array(ids))
        return acme_field_wrong_type("order", "identifiers", "an array", e);
    if (json_array_size(ids) == 0)
        return err_set(e, -EINVAL, "order: \"identifiers\" is empty");
    if (!(o->identifiers = calloc(json_array_size(ids), sizeof(*o->identifiers))))
        return err_set(e, -ENOMEM, "order: out of memory");
    for (size_t i = 0; i < json_array_size(ids); i++) {
        o->nidentifiers = i + 1;
        snprintf(ctx, sizeof(ctx), "order: identifiers[%zu]", i);
        if ((rc = identifier_from_json(json_array_get(ids, i), ctx, &o->identifiers[i], e)) < 0)
            return rc;
    }
    return 0;
}

static int order_from_json(json_t *root, struct acme_order *o, struct err *e)
{
    const char *ctx = "order";
    int st, rc;

    if ((rc = acme_field_status(root, ctx, order_names, COUNT(order_names), &st, e)) < 0)
        return rc;
    o->status = (enum acme_order_status)st;
    if ((rc = acme_field_time(root, ctx, "expires", &o->expires, e)) < 0 ||
        (rc = order_identifiers(root, o, e)) < 0 ||
        (rc = acme_field_strv(root, ctx, "authorizations", true, true, &o->authorizations,
                              &o->nauthorizations, e)) < 0 ||
        (rc = acme_field_str(root, ctx, "finalize", true, true, &o->finalize, e)) < 0 ||
        (rc = acme_field_str(root, ctx, "certificate", false, true, &o->certificate, e)) < 0 ||
        (rc = acme_problem_member(root, ctx, "error", &o->error, e)) < 0 ||
        (rc = acme_field_str(root, ctx, "profile", false, false, &o->profile, e)) < 0 ||
        (rc = acme_field_str(root, ctx, "replaces", false, false, &o->replaces, e)) < 0)
        return rc;
    return 0;
}

void acme_order_free(struct acme_order *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->nidentifiers; i++)
        free(o->identifiers[i].value);
    free(o->identifiers);
    strv_free(o->authorizations, o->nauthorizations);
    free(o->finalize);
    free(o->certificate);
    acme_problem_free(o->error);
    free(o->profile);
    free(o->replaces);
    free(o);
}

/* ---- challenge, authorization ---- */

static int challenge_from_json(json_t *v, const char *ctx, struct acme_challenge *c, struct err *e)
{
    int st, rc;

    if (!json_is_object(v))
        return err_set(e, -EINVAL, "%s: not an object", ctx);
    if ((rc = acme_field_str(v, ctx, "type", true, false, &c->type, e)) < 0 ||
        (rc = acme_field_str(v, ctx, "url", true, true, &c->url, e)) < 0 ||
        (rc = acme_field_status(v, ctx, chall_names, COUNT(chall_names), &st, e)) < 0)
        return rc;
    c->status = (enum acme_chall_status)st;
    if ((rc = acme_field_str(v, ctx, "token", false, false, &c->token, e)) < 0)
        return rc;
    /* The token ends up in file names and hook arguments: only base64url is acceptable. */
    if (c->token && !b64url_valid(c->token))
        return err_set(e, -EINVAL, "%s: \"token\" is not base64url", ctx);
    if ((rc = acme_field_time(v, ctx, "validated", &c->validated, e)) < 0 ||
        (rc = acme_problem_member(v, ctx, "error", &c->error, e)) < 0)
        return rc;
    return 0;
}

static void challenge_clear(struct acme_challenge *c)
{
    free(c->type);
    free(c->url);
    free(c->token);
    acme_problem_free(c->error);
}

void acme_challenge_free(struct acme_challenge *c)
{
    if (!c)
        return;
    challenge_clear(c);
    free(c);
}

static int authz_from_json(json_t *root, struct acme_authz *a, struct err *e)
{
    const char *ctx = "authorization";
    json_t *id, *chs;
    char sub_ctx[64];
    int st, rc;

    if (!(id = acme_field_get(root, "identifier")))
        return acme_field_missing(ctx, "identifier", e);
    if ((rc = identifier_from_json(id, "authorization: identifier", &a->identifier, e)) < 0 ||
        (rc = acme_field_status(root, ctx, authz_names, COUNT(authz_names), &st, e)) < 0)
        return rc;
    a->status = (enum acme_authz_status)st;
    if ((rc = acme_field_time(root, ctx, "expires", &a->expires, e)) < 0 ||
        (rc = acme_field_bool(root, ctx, "wildcard", &a->wildcard, e)) < 0)
        return rc;
    if (!(chs = acme_field_get(root, "challenges")))
        return acme_field_missing(ctx, "challenges", e);
    if (!json_is_array(chs))
        return acme_field_wrong_type(ctx, "challenges", "an array", e);
    if (!(a->challenges = calloc(json_array_size(chs) + 1, sizeof(*a->challenges))))
        return err_set(e, -ENOMEM, "%s: out of memory", ctx);
    for (size_t i = 0; i < json_array_size(chs); i++) {
        a->nchallenges = i + 1;
        snprintf(sub_ctx, sizeof(sub_ctx), "%s: challenges[%zu]", ctx, i);
        if ((rc = challenge_from_json(json_array_get(chs, i), sub_ctx, &a->challenges[i], e)) < 0)
            return rc;
    }
    return 0;
}

void acme_authz_free(struct acme_authz *a)
{
    if (!a)
        return;
    free(a->identifier.value);
    for (size_t i = 0; i < a->nchallenges; i++)
        challenge_clear(&a->challenges[i]);
    free(a->challenges);
    free(a);
}

/* ---- entry points: parse, fill, hand over on success, free the partial result otherwise ---- */

ACME_FIELD_PARSE_FUNC(acme_directory_parse, struct acme_directory, "directory",
                      directory_from_json(root, obj, e), acme_directory_free)
ACME_FIELD_PARSE_FUNC(acme_account_parse, struct acme_account, "account",
                      account_from_json(root, obj, e), acme_account_free)
ACME_FIELD_PARSE_FUNC(acme_order_parse, struct acme_order, "order", order_from_json(root, obj, e),
                      acme_order_free)
ACME_FIELD_PARSE_FUNC(acme_authz_parse, struct acme_authz, "authorization",
                      authz_from_json(root, obj, e), acme_authz_free)
ACME_FIELD_PARSE_FUNC(acme_challenge_parse, struct acme_challenge, "challenge",
                      challenge_from_json(root, "challenge", obj, e), acme_challenge_free)
