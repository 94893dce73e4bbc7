/* engine: the release functions of the plain data in engine_types.h. */
#include "reconcile/engine.h"
#include "crypto/b64.h"

#include <stdlib.h>
#include <string.h>

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void ids_free(struct engine_identifier *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i].value);
    free(ids);
}

void engine_problem_free(struct engine_problem *p)
{
    if (!p)
        return;
    free(p->type);
    free(p->detail);
    free(p->text);
    for (size_t i = 0; i < p->nsub_ids; i++)
        free(p->sub_ids[i].value);
    free(p->sub_ids);
    free(p);
}

bool engine_problem_is(const struct engine_problem *p, const char *name)
{
    static const char ns[] = "urn:ietf:params:acme:error:";

    return p && p->type && name && !strncmp(p->type, ns, sizeof ns - 1) &&
           !strcmp(p->type + sizeof ns - 1, name);
}

void engine_result_clear(struct engine_result *r)
{
    engine_problem_free(r->problem);
    free(r->location);
    engine_account_free(r->account);
    engine_order_free(r->order);
    engine_authz_free(r->authz);
    engine_renewal_info_free(r->renewal_info);
    free(r->cert_pem);
    free(r->body);
    memset(r, 0, sizeof *r);
    r->retry_after = -1;
}

void engine_account_free(struct engine_account *a)
{
    if (!a)
        return;
    free(a->url);
    strv_free(a->contact, a->ncontact);
    free(a->orders);
    free(a);
}

void engine_order_free(struct engine_order *o)
{
    if (!o)
        return;
    free(o->url);
    free(o->finalize);
    free(o->certificate);
    ids_free(o->identifiers, o->nidentifiers);
    strv_free(o->authorizations, o->nauthorizations);
    engine_problem_free(o->error);
    free(o);
}

static void challenge_clear(struct engine_challenge *c)
{
    free(c->type);
    free(c->url);
    free(c->token);
    engine_problem_free(c->error);
}

void engine_challenge_free(struct engine_challenge *c)
{
    if (!c)
        return;
    challenge_clear(c);
    free(c);
}

void engine_authz_free(struct engine_authz *a)
{
    if (!a)
        return;
    free(a->identifier.value);
    for (size_t i = 0; i < a->nchallenges; i++)
        challenge_clear(&a->challenges[i]);
    free(a->challenges);
    free(a);
}

void engine_directory_free(struct engine_directory *d)
{
    if (!d)
        return;
    free(d->new_account);
    free(d->new_order);
    free(d->revoke_cert);
    free(d->key_change);
    free(d->new_authz);
    free(d->renewal_info);
    free(d->terms_of_service);
    free(d->website);
    strv_free(d->caa_identities, d->ncaa_identities);
    strv_free(d->profiles, d->nprofiles);
    free(d);
}

void engine_renewal_info_free(struct engine_renewal_info *r)
{
    if (!r)
        return;
    free(r->explanation_url);
    free(r);
}

const struct engine_challenge *engine_challenge_select(const struct engine_authz *authz,
                                                       const char *type)
{
    for (size_t i = 0; i < authz->nchallenges; i++) {
        const struct engine_challenge *ch = &authz->challenges[i];

        if (!strcmp(ch->type, type) && ch->token && b64url_valid(ch->token))
            return ch;
    }
    return NULL;
}

const char *engine_order_status_str(enum engine_order_status s)
{
    static const char *const n[] = {"pending", "ready", "processing", "valid", "invalid"};
    return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "unknown";
}

const char *engine_authz_status_str(enum engine_authz_status s)
{
    static const char *const n[] = {"pending",     "valid",   "invalid",
                                    "deactivated", "expired", "revoked"};
    return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "unknown";
}

const char *engine_chall_status_str(enum engine_chall_status s)
{
    static const char *const n[] = {"pending", "processing", "valid", "invalid"};
    return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "unknown";
}
