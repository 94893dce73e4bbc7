#include "acme/objects.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"
#include "util/buf.h"
#include "acme/url.h"
#include "util/clock.h"
#include "util/sanitize.h"

#define ACME_ERROR_NS "urn:ietf:params:acme:error:"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

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

static int index_of(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++) {
        if (strcmp(names[i], s) == 0)
            return (int)i;
    }
    return -EINVAL;
}

#define ENUM_FUNCS(prefix, type, names)                                                            \
    const char *prefix##_str(type v)                                                               \
    {                                                                                              \
        return name_of(names, COUNT(names), (int)v);                                               \
    }                                                                                              \
    int prefix##_parse(const char *s, type *out)                                                   \
    {                                                                                              \
        int i = index_of(names, COUNT(names), s);                                                  \
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

/* Server text quoted in an error message, through the one sanitiser. */
static const char *clean(const char *s, char *dst, size_t size)
{
    sanitize_into(dst, size, s ? s : "", s ? strlen(s) : 0);
    return dst;
}

/* ---- JSON member accessors; `ctx` names the object in error messages ---- */

/* A member, with JSON null read as absent. */
static json_t *member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_null(v) ? NULL : v;
}

static int missing(const char *ctx, const char *key, struct err *e)
{
    return err_set(e, -EINVAL, "%s: missing \"%s\"", ctx, key);
}

static int wrong_type(const char *ctx, const char *key, const char *want, struct err *e)
{
    return err_set(e, -EINVAL, "%s: \"%s\" is not %s", ctx, key, want);
}

static int get_str(json_t *obj, const char *ctx, const char *key, bool required, bool url,
                   char **out, struct err *e)
{
    json_t *v = member(obj, key);

    if (!v)
        return required ? missing(ctx, key, e) : 0;
    if (!json_is_string(v))
        return wrong_type(ctx, key, "a string", e);
    if (url && !acme_url_ok(json_string_value(v)))
        return wrong_type(ctx, key, "a URL", e);
    if (required && !*json_string_value(v))
        return err_set(e, -EINVAL, "%s: \"%s\" is empty", ctx, key);
    /* A URL is used as given (checked above); any other text is sanitised once, here, so that
     * nothing a server sent reaches a log, a file or a terminal unfiltered. */
    *out = url ? strdup(json_string_value(v)) : sanitize_dup(json_string_value(v));
    return *out ? 0 : err_set(e, -ENOMEM, "%s: out of memory", ctx);
}

/* An array of strings. *out and *n are updated as entries are copied, so the caller's free
 * function releases a partial result. */
static int get_strv(json_t *obj, const char *ctx, const char *key, bool required, bool url,
                    char ***out, size_t *n, struct err *e)
{
    json_t *v = member(obj, key);
    size_t cnt;

    if (!v)
        return required ? missing(ctx, key, e) : 0;
    if (!json_is_array(v))
        return wrong_type(ctx, key, "an array", e);
    cnt = json_array_size(v);
    *out = calloc(cnt ? cnt : 1, sizeof(**out));
    if (!*out)
        return err_set(e, -ENOMEM, "%s: out of memory", ctx);
    for (size_t i = 0; i < cnt; i++) {
        json_t *it = json_array_get(v, i);

        if (!json_is_string(it))
            return err_set(e, -EINVAL, "%s: \"%s\"[%zu] is not a string", ctx, key, i);
        if (url && !acme_url_ok(json_string_value(it)))
            return err_set(e, -EINVAL, "%s: \"%s\"[%zu] is not a URL", ctx, key, i);
        if (!((*out)[i] =
                  url ? strdup(json_string_value(it)) : sanitize_dup(json_string_value(it))))
            return err_set(e, -ENOMEM, "%s: out of memory", ctx);
        *n = i + 1;
    }
    return 0;
}

static int get_bool(json_t *obj, const char *ctx, const char *key, bool *out, struct err *e)
{
    json_t *v = member(obj, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return wrong_type(ctx, key, "a boolean", e);
    *out = json_is_true(v);
    return 0;
}

static int get_time(json_t *obj, const char *ctx, const char *key, time_t *out, struct err *e)
{
    json_t *v = member(obj, key);
    char tmp[48];

    if (!v)
        return 0;
    if (!json_is_string(v))
        return wrong_type(ctx, key, "a string", e);
    if (clock_parse_rfc3339(json_string_value(v), out) < 0)
        return err_set(e, -EINVAL, "%s: \"%s\" is not an RFC 3339 time: \"%s\"", ctx, key,
                       clean(json_string_value(v), tmp, sizeof(tmp)));
    return 0;
}

/* A required status member, looked up in `names`. */
static int get_status(json_t *obj, const char *ctx, const char *const *names, size_t n, int *out,
                      struct err *e)
{
    json_t *v = member(obj, "status");
    char tmp[48];

    if (!v)
        return missing(ctx, "status", e);
    if (!json_is_string(v))
        return wrong_type(ctx, "status", "a string", e);
    if ((*out = index_of(names, n, json_string_value(v))) < 0)
        return err_set(e, -EINVAL, "%s: unknown status \"%s\"", ctx,
                       clean(json_string_value(v), tmp, sizeof(tmp)));
    return 0;
}

/* ---- problem documents ---- */

static int problem_type(json_t *obj, const char *ctx, char **out, struct err *e)
{
    int rc = get_str(obj, ctx, "type", false, false, out, e);

    if (rc == 0 && !*out && !(*out = strdup("about:blank")))
        rc = err_set(e, -ENOMEM, "%s: out of memory", ctx);
    return rc;
}

static int subproblem_from_json(json_t *v, const char *ctx, struct acme_subproblem *sp,
                                struct err *e)
{
    json_t *id;
    int rc;

    if (!json_is_object(v))
        return err_set(e, -EINVAL, "%s: not an object", ctx);
    if ((rc = problem_type(v, ctx, &sp->type, e)) < 0 ||
        (rc = get_str(v, ctx, "detail", false, false, &sp->detail, e)) < 0)
        return rc;
    if (!(id = member(v, "identifier")))
        return 0;
    if (!json_is_object(id))
        return wrong_type(ctx, "identifier", "an object", e);
    if ((rc = get_str(id, ctx, "type", true, false, &sp->id_type, e)) < 0 ||
        (rc = get_str(id, ctx, "value", true, false, &sp->id_value, e)) < 0)
        return rc;
    return 0;
}

static int problem_from_json(json_t *v, const char *ctx, struct acme_problem *p, struct err *e)
{
    json_t *status, *subs;
    char sub_ctx[96];
    int rc;

    if (!json_is_object(v))
        return err_set(e, -EINVAL, "%s: not an object", ctx);
    if ((rc = problem_type(v, ctx, &p->type, e)) < 0 ||
        (rc = get_str(v, ctx, "detail", false, false, &p->detail, e)) < 0 ||
        (rc = get_str(v, ctx, "instance", false, false, &p->instance, e)) < 0)
        return rc;
    if ((status = member(v, "status"))) {
        if (!json_is_integer(status) || json_integer_value(status) < 0 ||
            json_integer_value(status) > 999)
            return wrong_type(ctx, "status", "an HTTP status code", e);
        p->status = (int)json_integer_value(status);
    }
    if (!(subs = member(v, "subproblems")))
        return 0;
    if (!json_is_array(subs))
        return wrong_type(ctx, "subproblems", "an array", e);
    p->subproblems = calloc(json_array_size(subs) + 1, sizeof(*p->subproblems));
    if (!p->subproblems)
        return err_set(e, -ENOMEM, "%s: out of memory", ctx);
    for (size_t i = 0; i < json_array_size(subs); i++) {
        p->nsubproblems = i + 1;
        snprintf(sub_ctx, sizeof(sub_ctx), "%s: subproblems[%zu]", ctx, i);
        if ((rc = subproblem_from_json(json_array_get(subs, i), sub_ctx, &p->subproblems[i], e)) <
            0)
            return rc;
    }
    return 0;
}

/* An optional embedded problem ("error" of orders and challenges). */
static int get_problem(json_t *obj, const char *ctx, const char *key, struct acme_problem **out,
                       struct err *e)
{
    json_t *v = member(obj, key);
    char sub_ctx[96];

    if (!v)
        return 0;
    if (!(*out = calloc(1, sizeof(**out))))
        return err_set(e, -ENOMEM, "%s: out of memory", ctx);
    snprintf(sub_ctx, sizeof(sub_ctx), "%s: %s", ctx, key);
    return problem_from_json(v, sub_ctx, *out, e);
}

void acme_problem_free(struct acme_problem *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nsubproblems; i++) {
        free(p->subproblems[i].type);
        free(p->subproblems[i].detail);
        free(p->subproblems[i].id_type);
        free(p->subproblems[i].id_value);
    }
    free(p->subproblems);
    free(p->type);
    free(p->detail);
    free(p->instance);
    free(p);
}

static void put_clean(struct buf *b, const char *s, int *rc)
{
    char tmp[SANITIZE_MAX];

    if (s && *rc == 0)
        *rc = buf_puts(b, clean(s, tmp, sizeof tmp));
}

char *acme_problem_format(const struct acme_problem *p)
{
    struct buf b = BUF_INIT;
    int rc = 0;

    if (!p)
        return strdup("no problem document");
    put_clean(&b, p->type ? p->type : "about:blank", &rc);
    if (rc == 0 && p->status)
        rc = buf_printf(&b, " (%d)", p->status);
    if (rc == 0 && p->detail)
        rc = buf_puts(&b, ": ");
    put_clean(&b, p->detail, &rc);
    for (size_t i = 0; i < p->nsubproblems && rc == 0; i++) {
        const struct acme_subproblem *sp = &p->subproblems[i];

        rc = buf_puts(&b, "; ");
        if (rc == 0 && sp->id_type) {
            rc = buf_puts(&b, "[");
            put_clean(&b, sp->id_type, &rc);
            if (rc == 0)
                rc = buf_puts(&b, " ");
            put_clean(&b, sp->id_value, &rc);
            if (rc == 0)
                rc = buf_puts(&b, "] ");
        }
        put_clean(&b, sp->type, &rc);
        if (rc == 0 && sp->detail)
            rc = buf_puts(&b, ": ");
        put_clean(&b, sp->detail, &rc);
    }
    if (rc < 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

bool acme_problem_is(const struct acme_problem *p, const char *name)
{
    size_t ns = strlen(ACME_ERROR_NS);

    return p && p->type && name && strncmp(p->type, ACME_ERROR_NS, ns) == 0 &&
           strcmp(p->type + ns, name) == 0;
}

/* ---- directory ---- */

static int meta_from_json(json_t *meta, struct acme_directory *d, struct err *e)
{
    const char *ctx = "directory: meta";
    json_t *profiles, *v;
    const char *name;
    size_t i = 0;
    int rc;

    if (!json_is_object(meta))
        return wrong_type("directory", "meta", "an object", e);
    if ((rc = get_str(meta, ctx, "termsOfService", false, true, &d->meta.terms_of_service, e)) <
            0 ||
        (rc = get_str(meta, ctx, "website", false, true, &d->meta.website, e)) < 0 ||
        (rc = get_strv(meta, ctx, "caaIdentities", false, false, &d->meta.caa_identities,
                       &d->meta.ncaa_identities, e)) < 0 ||
        (rc = get_bool(meta, ctx, "externalAccountRequired", &d->meta.external_account_required,
                       e)) < 0)
        return rc;
    if (!(profiles = member(meta, "profiles")))
        return 0;
    if (!json_is_object(profiles))
        return wrong_type(ctx, "profiles", "an object", e);
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
                           clean(name, tmp, sizeof(tmp)));
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

    if ((rc = get_str(root, ctx, "newNonce", true, true, &d->new_nonce, e)) < 0 ||
        (rc = get_str(root, ctx, "newAccount", true, true, &d->new_account, e)) < 0 ||
        (rc = get_str(root, ctx, "newOrder", true, true, &d->new_order, e)) < 0 ||
        (rc = get_str(root, ctx, "revokeCert", true, true, &d->revoke_cert, e)) < 0 ||
        (rc = get_str(root, ctx, "keyChange", true, true, &d->key_change, e)) < 0 ||
        (rc = get_str(root, ctx, "newAuthz", false, true, &d->new_authz, e)) < 0 ||
        (rc = get_str(root, ctx, "renewalInfo", false, true, &d->renewal_info, e)) < 0)
        return rc;
    meta = member(root, "meta");
    return meta ? meta_from_json(meta, d, e) : 0;
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

    if ((rc = get_status(root, ctx, account_names, COUNT(account_names), &st, e)) < 0)
        return rc;
    a->status = (enum acme_account_status)st;
    if ((rc = get_strv(root, ctx, "contact", false, true, &a->contact, &a->ncontact, e)) < 0 ||
        (rc = get_str(root, ctx, "orders", false, true, &a->orders, e)) < 0)
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
    if (!(type = member(v, "type")))
        return missing(ctx, "type", e);
    if (!json_is_string(type))
        return wrong_type(ctx, "type", "a string", e);
    if (acme_id_type_parse(json_string_value(type), &id->type) < 0)
        return err_set(e, -EINVAL, "%s: unsupported identifier type \"%s\"", ctx,
                       clean(json_string_value(type), tmp, sizeof(tmp)));
    if ((rc = get_str(v, ctx, "value", true, false, &id->value, e)) < 0)
        return rc;
    return 0;
}

static int order_identifiers(json_t *root, struct acme_order *o, struct err *e)
{
    json_t *ids = member(root, "identifiers");
    char ctx[64];
    int rc;

    if (!ids)
        return missing("order", "identifiers", e);
    if (!json_is_array(ids))
        return wrong_type("order", "identifiers", "an array", e);
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

    if ((rc = get_status(root, ctx, order_names, COUNT(order_names), &st, e)) < 0)
        return rc;
    o->status = (enum acme_order_status)st;
    if ((rc = get_time(root, ctx, "expires", &o->expires, e)) < 0 ||
        (rc = order_identifiers(root, o, e)) < 0 ||
        (rc = get_strv(root, ctx, "authorizations", true, true, &o->authorizations,
                       &o->nauthorizations, e)) < 0 ||
        (rc = get_str(root, ctx, "finalize", true, true, &o->finalize, e)) < 0 ||
        (rc = get_str(root, ctx, "certificate", false, true, &o->certificate, e)) < 0 ||
        (rc = get_problem(root, ctx, "error", &o->error, e)) < 0 ||
        (rc = get_str(root, ctx, "profile", false, false, &o->profile, e)) < 0 ||
        (rc = get_str(root, ctx, "replaces", false, false, &o->replaces, e)) < 0)
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
    if ((rc = get_str(v, ctx, "type", true, false, &c->type, e)) < 0 ||
        (rc = get_str(v, ctx, "url", true, true, &c->url, e)) < 0 ||
        (rc = get_status(v, ctx, chall_names, COUNT(chall_names), &st, e)) < 0)
        return rc;
    c->status = (enum acme_chall_status)st;
    if ((rc = get_str(v, ctx, "token", false, false, &c->token, e)) < 0)
        return rc;
    /* The token ends up in file names and hook arguments: only base64url is acceptable. */
    if (c->token && !b64url_valid(c->token))
        return err_set(e, -EINVAL, "%s: \"token\" is not base64url", ctx);
    if ((rc = get_time(v, ctx, "validated", &c->validated, e)) < 0 ||
        (rc = get_problem(v, ctx, "error", &c->error, e)) < 0)
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

    if (!(id = member(root, "identifier")))
        return missing(ctx, "identifier", e);
    if ((rc = identifier_from_json(id, "authorization: identifier", &a->identifier, e)) < 0 ||
        (rc = get_status(root, ctx, authz_names, COUNT(authz_names), &st, e)) < 0)
        return rc;
    a->status = (enum acme_authz_status)st;
    if ((rc = get_time(root, ctx, "expires", &a->expires, e)) < 0 ||
        (rc = get_bool(root, ctx, "wildcard", &a->wildcard, e)) < 0)
        return rc;
    if (!(chs = member(root, "challenges")))
        return missing(ctx, "challenges", e);
    if (!json_is_array(chs))
        return wrong_type(ctx, "challenges", "an array", e);
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

/* ---- entry points ---- */

/* Parses text as a JSON object and allocates a zeroed struct of `size` bytes for it. Returns
 * the struct, or NULL with *rc and e set. */
static void *begin(const char *text, size_t len, const char *what, size_t size, json_t **root,
                   int *rc, struct err *e)
{
    json_error_t jerr;
    void *obj;

    *root = NULL;
    if (!text) {
        *rc = err_set(e, -EINVAL, "%s: empty response", what);
        return NULL;
    }
    *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*root) {
        char tmp[sizeof jerr.text];

        *rc = err_set(e, -EINVAL, "%s: not JSON: %s (line %d, column %d)", what,
                      clean(jerr.text, tmp, sizeof tmp), jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(*root)) {
        *rc = err_set(e, -EINVAL, "%s: not a JSON object", what);
        return NULL;
    }
    if (!(obj = calloc(1, size)))
        *rc = err_set(e, -ENOMEM, "%s: out of memory", what);
    return obj;
}

/* Each entry point: parse, fill, hand over on success, free the partial result otherwise. */
#define PARSE_FUNC(fname, type, what, fill, release)                                               \
    int fname(const char *text, size_t len, type **out, struct err *e)                             \
    {                                                                                              \
        json_t *root = NULL;                                                                       \
        int rc = 0;                                                                                \
        type *obj = begin(text, len, what, sizeof(type), &root, &rc, e);                           \
                                                                                                   \
        if (obj && (rc = fill) == 0) {                                                             \
            *out = obj;                                                                            \
            obj = NULL;                                                                            \
        }                                                                                          \
        release(obj);                                                                              \
        json_decref(root);                                                                         \
        return rc;                                                                                 \
    }

PARSE_FUNC(acme_directory_parse, struct acme_directory, "directory",
           directory_from_json(root, obj, e), acme_directory_free)
PARSE_FUNC(acme_account_parse, struct acme_account, "account", account_from_json(root, obj, e),
           acme_account_free)
PARSE_FUNC(acme_order_parse, struct acme_order, "order", order_from_json(root, obj, e),
           acme_order_free)
PARSE_FUNC(acme_authz_parse, struct acme_authz, "authorization", authz_from_json(root, obj, e),
           acme_authz_free)
PARSE_FUNC(acme_challenge_parse, struct acme_challenge, "challenge",
           challenge_from_json(root, "challenge", obj, e), acme_challenge_free)
PARSE_FUNC(acme_problem_parse, struct acme_problem, "problem",
           problem_from_json(root, "problem", obj, e), acme_problem_free)
