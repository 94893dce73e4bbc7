/* engine_acme: the engine (engine.h) over src/acme, one acme_client per CA. Each operation
 * is the acme/ops.h function of the same name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acme/ari.h"
#include "acme/client.h"
#include "acme/ops.h"
#include "acme/objects.h"
#include "acme/problem.h"
#include "reconcile/engine.h"

_Static_assert(ENGINE_EPROBLEM == ACME_EPROBLEM, "one code for a problem document");

struct engine_acme {
    struct engine base; /* first: the engine is the struct */
    struct acme_client *c;
    struct http_client *http;     /* borrowed: the self-test's GETs */
    struct engine_directory *dir; /* converted once start succeeded */
};

static struct acme_client *C(const struct engine *g)
{
    return ((const struct engine_acme *)g)->c;
}

/* --- Conversion of src/acme's results into the engine's plain data. Each returns 0, or
 * -ENOMEM with what it made so far left for the caller's _free. --- */

static int sdup(char **out, const char *s)
{
    *out = NULL;
    return s && !(*out = strdup(s)) ? -ENOMEM : 0;
}

static int dupv(char ***out, size_t *n, char *const *v, size_t nv)
{
    *n = 0;
    if (!nv) {
        *out = NULL;
        return 0;
    }
    if (!(*out = calloc(nv, sizeof **out)))
        return -ENOMEM;
    for (*n = nv; nv--;)
        if (sdup(&(*out)[nv], v[nv]) < 0)
            return -ENOMEM;
    return 0;
}

static int conv_id(struct engine_identifier *o, const struct acme_identifier *id)
{
    o->ip = id->type == ACME_ID_IP;
    return sdup(&o->value, id->value);
}

static int conv_problem(struct engine_problem **out, const struct acme_problem *p)
{
    struct engine_problem *o;

    *out = NULL;
    if (!p)
        return 0;
    if (!(*out = o = calloc(1, sizeof *o)))
        return -ENOMEM;
    o->status = p->status;
    if (sdup(&o->type, p->type) < 0 || sdup(&o->detail, p->detail) < 0 ||
        !(o->text = acme_problem_format(p)))
        return -ENOMEM;
    /* The subproblems that name a dns or ip identifier (RFC 8555 §6.7.1). */
    if (p->nsubproblems && !(o->sub_ids = calloc(p->nsubproblems, sizeof *o->sub_ids)))
        return -ENOMEM;
    for (size_t i = 0; i < p->nsubproblems; i++) {
        const struct acme_subproblem *sp = &p->subproblems[i];

        if (!sp->id_type || !sp->id_value ||
            (strcmp(sp->id_type, "dns") && strcmp(sp->id_type, "ip")))
            continue;
        o->sub_ids[o->nsub_ids].ip = !strcmp(sp->id_type, "ip");
        if (sdup(&o->sub_ids[o->nsub_ids].value, sp->id_value) < 0)
            return -ENOMEM;
        o->nsub_ids++;
    }
    return 0;
}

static int conv_account(struct engine_account **out, const struct acme_account *a, const char *url)
{
    struct engine_account *o;

    if (!(*out = o = calloc(1, sizeof *o)))
        return -ENOMEM;
    o->status = (enum engine_account_status)a->status;
    if (sdup(&o->url, url) < 0 || sdup(&o->orders, a->orders) < 0 ||
        dupv(&o->contact, &o->ncontact, a->contact, a->ncontact) < 0)
        return -ENOMEM;
    return 0;
}

static int conv_order(struct engine_order **out, const struct acme_order *a, const char *url)
{
    struct engine_order *o;

    if (!(*out = o = calloc(1, sizeof *o)))
        return -ENOMEM;
    o->status = (enum engine_order_status)a->status;
    o->expires = a->expires;
    if (sdup(&o->url, url) < 0 || sdup(&o->finalize, a->finalize) < 0 ||
        sdup(&o->certificate, a->certificate) < 0 || conv_problem(&o->error, a->error) < 0 ||
        dupv(&o->authorizations, &o->nauthorizations, a->authorizations, a->nauthorizations) < 0)
        return -ENOMEM;
    if (a->nidentifiers && !(o->identifiers = calloc(a->nidentifiers, sizeof *o->identifiers)))
        return -ENOMEM;
    for (; o->nidentifiers < a->nidentifiers; o->nidentifiers++)
        if (conv_id(&o->identifiers[o->nidentifiers], &a->identifiers[o->nidentifiers]) < 0)
            return -ENOMEM;
    return 0;
}

static int conv_authz(struct engine_authz **out, const struct acme_authz *a)
{
    struct engine_authz *o;

    if (!(*out = o = calloc(1, sizeof *o)))
        return -ENOMEM;
    o->status = (enum engine_authz_status)a->status;
    o->wildcard = a->wildcard;
    o->expires = a->expires;
    if (conv_id(&o->identifier, &a->identifier) < 0)
        return -ENOMEM;
    if (a->nchallenges && !(o->challenges = calloc(a->nchallenges, sizeof *o->challenges)))
        return -ENOMEM;
    for (; o->nchallenges < a->nchallenges; o->nchallenges++) {
        const struct acme_challenge *c = &a->challenges[o->nchallenges];
        struct engine_challenge *oc = &o->challenges[o->nchallenges];

        oc->status = (enum engine_chall_status)c->status;
        if (sdup(&oc->type, c->type) < 0 || sdup(&oc->url, c->url) < 0 ||
            sdup(&oc->token, c->token) < 0 || conv_problem(&oc->error, c->error) < 0) {
            o->nchallenges++;
            return -ENOMEM;
        }
    }
    return 0;
}

static int conv_directory(struct engine_directory **out, const struct acme_directory *d)
{
    struct engine_directory *o;

    if (!(*out = o = calloc(1, sizeof *o)))
        return -ENOMEM;
    o->external_account_required = d->meta.external_account_required;
    if (sdup(&o->new_account, d->new_account) < 0 || sdup(&o->new_order, d->new_order) < 0 ||
        sdup(&o->revoke_cert, d->revoke_cert) < 0 || sdup(&o->key_change, d->key_change) < 0 ||
        sdup(&o->new_authz, d->new_authz) < 0 || sdup(&o->renewal_info, d->renewal_info) < 0 ||
        sdup(&o->terms_of_service, d->meta.terms_of_service) < 0 ||
        sdup(&o->website, d->meta.website) < 0 ||
        dupv(&o->caa_identities, &o->ncaa_identities, d->meta.caa_identities,
             d->meta.ncaa_identities) < 0)
        return -ENOMEM;
    if (d->meta.nprofiles && !(o->profiles = calloc(d->meta.nprofiles, sizeof *o->profiles)))
        return -ENOMEM;
    for (; o->nprofiles < d->meta.nprofiles; o->nprofiles++)
        if (sdup(&o->profiles[o->nprofiles], d->meta.profiles[o->nprofiles].name) < 0)
            return -ENOMEM;
    return 0;
}

/* One operation in flight: the caller's callback, and what to convert. */
enum what { W_NONE, W_START, W_ACCOUNT, W_ORDER, W_AUTHZ, W_ARI, W_CERT };

struct call {
    struct engine_acme *g;
    enum what what;
    engine_cb cb;
    void *arg;
};

static int convert(struct call *k, int rc, struct acme_result *r, struct engine_result *o,
                   struct err *pe)
{
    struct acme_renewal_info ri = {0};

    o->status = r->status;
    o->retry_after = r->retry_after;
    if (conv_problem(&o->problem, r->problem) < 0 || sdup(&o->location, r->location) < 0)
        return err_set(pe, -ENOMEM, "out of memory");
    if (rc < 0)
        return rc;
    switch (k->what) {
    case W_START:
        if (conv_directory(&k->g->dir, acme_client_directory(k->g->c)) < 0) {
            engine_directory_free(k->g->dir);
            k->g->dir = NULL;
            return err_set(pe, -ENOMEM, "out of memory");
        }
        break;
    case W_ACCOUNT:
        if (r->account && conv_account(&o->account, r->account, r->location) < 0)
            return err_set(pe, -ENOMEM, "out of memory");
        break;
    case W_ORDER:
        if (r->order && conv_order(&o->order, r->order, r->location) < 0)
            return err_set(pe, -ENOMEM, "out of memory");
        break;
    case W_AUTHZ:
        if (r->authz && conv_authz(&o->authz, r->authz) < 0)
            return err_set(pe, -ENOMEM, "out of memory");
        break;
    case W_ARI:
        /* An invalid window is no answer (RFC 9773 §4.2): the caller sees the parse error. */
        if ((rc = acme_renewal_info_parse(r->http->body, r->http->body_len, &ri, pe)) < 0)
            return rc;
        if (!(o->renewal_info = calloc(1, sizeof *o->renewal_info))) {
            acme_renewal_info_clear(&ri);
            return err_set(pe, -ENOMEM, "out of memory");
        }
        o->renewal_info->start = ri.start;
        o->renewal_info->end = ri.end;
        o->renewal_info->explanation_url = ri.explanation_url;
        break;
    case W_CERT:
        o->cert_pem = r->cert_pem;
        o->cert_len = r->cert_len;
        r->cert_pem = NULL;
        break;
    case W_NONE:
        break;
    }
    return 0;
}

static void on_done(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct call *k = arg;
    struct engine_result o = {.retry_after = -1};
    struct err pe;
    int crc = convert(k, rc, r, &o, &pe);

    /* A failure of the conversion itself is told with its own error. */
    k->cb(k->arg, crc, &o, crc == rc ? e : &pe);
    engine_result_clear(&o);
    free(k);
}

/* The context of one call, or NULL (e set) when out of memory. */
static struct call *K(struct engine *g, enum what what, engine_cb cb, void *arg, struct err *e)
{
    struct call *k = calloc(1, sizeof *k);

    if (!k) {
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    *k = (struct call){(struct engine_acme *)g, what, cb, arg};
    return k;
}

/* Runs op; on a synchronous failure the context is freed and cb never runs. */
#define RUN(g, what, cb, arg, e, call_expr)                                                        \
    do {                                                                                           \
        struct call *k = K(g, what, cb, arg, e);                                                   \
        int rc_;                                                                                   \
        if (!k)                                                                                    \
            return -ENOMEM;                                                                        \
        if ((rc_ = (call_expr)) < 0)                                                               \
            free(k);                                                                               \
        return rc_;                                                                                \
    } while (0)

static int ea_start(struct engine *g, engine_cb cb, void *arg, struct err *e)
{
    RUN(g, W_START, cb, arg, e, acme_client_start(C(g), on_done, k, e));
}

static const struct engine_directory *ea_directory(const struct engine *g)
{
    return ((const struct engine_acme *)g)->dir;
}

static int ea_set_account(struct engine *g, const struct signer *s, const char *kid)
{
    return acme_client_set_account(C(g), s, kid);
}

static const char *ea_account_url(const struct engine *g)
{
    return acme_client_account_url(C(g));
}

static int ea_account_new(struct engine *g, const struct engine_new_account *in, engine_cb cb,
                          void *arg, struct err *e)
{
    struct acme_eab eab = {0};
    struct acme_new_account req = {.key = in->key,
                                   .contact = in->contact,
                                   .ncontact = in->ncontact,
                                   .agree_tos = in->agree_tos,
                                   .only_return_existing = in->only_return_existing,
                                   .eab_jws = in->eab_jws};

    if (in->eab) {
        eab = (struct acme_eab){in->eab->kid, in->eab->hmac, in->eab->hmac_len};
        req.eab = &eab;
    }
    RUN(g, W_ACCOUNT, cb, arg, e, acme_account_new(C(g), &req, on_done, k, e));
}

static int order_new(struct engine *g, const struct acme_new_order *req, engine_cb cb, void *arg,
                     struct err *e)
{
    RUN(g, W_ORDER, cb, arg, e, acme_order_new(C(g), req, on_done, k, e));
}

static int ea_account_update(struct engine *g, const char *const *contact, size_t ncontact,
                             engine_cb cb, void *arg, struct err *e)
{
    RUN(g, W_ACCOUNT, cb, arg, e, acme_account_update(C(g), contact, ncontact, on_done, k, e));
}

static int ea_account_key_change(struct engine *g, const struct engine_key_change *in, engine_cb cb,
                                 void *arg, struct err *e)
{
    if (in->inner)
        RUN(g, W_ACCOUNT, cb, arg, e,
            acme_account_key_change_inner(C(g), in->inner, in->new_key, on_done, k, e));
    RUN(g, W_ACCOUNT, cb, arg, e, acme_account_key_change(C(g), in->new_key, on_done, k, e));
}

static int ea_account_deactivate(struct engine *g, engine_cb cb, void *arg, struct err *e)
{
    RUN(g, W_ACCOUNT, cb, arg, e, acme_account_deactivate(C(g), on_done, k, e));
}

static int ea_order_new(struct engine *g, const struct engine_new_order *in, engine_cb cb,
                        void *arg, struct err *e)
{
    struct acme_identifier *ids = calloc(in->nids ? in->nids : 1, sizeof *ids);
    struct acme_new_order req = {
        .ids = ids, .nids = in->nids, .profile = in->profile, .replaces = in->replaces};
    int rc;

    if (!ids)
        return err_set(e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < in->nids; i++) {
        ids[i].type = in->ids[i].ip ? ACME_ID_IP : ACME_ID_DNS;
        ids[i].value = in->ids[i].value;
    }
    rc = order_new(g, &req, cb, arg, e);
    free(ids);
    return rc;
}

static int ea_order_get(struct engine *g, const char *url, engine_cb cb, void *arg, struct err *e)
{
    RUN(g, W_ORDER, cb, arg, e, acme_order_get(C(g), url, on_done, k, e));
}

static int ea_authz_get(struct engine *g, const char *url, engine_cb cb, void *arg, struct err *e)
{
    RUN(g, W_AUTHZ, cb, arg, e, acme_authz_get(C(g), url, on_done, k, e));
}

static int ea_challenge_answer(struct engine *g, const char *url, engine_cb cb, void *arg,
                               struct err *e)
{
    RUN(g, W_NONE, cb, arg, e, acme_challenge_answer(C(g), url, on_done, k, e));
}

static int ea_authz_poll(struct engine *g, const char *url, uint64_t deadline_ms, engine_cb cb,
                         void *arg, struct err *e)
{
    RUN(g, W_AUTHZ, cb, arg, e, acme_authz_poll(C(g), url, deadline_ms, on_done, k, e));
}

static int ea_order_finalize(struct engine *g, const char *url, const uint8_t *csr, size_t len,
                             engine_cb cb, void *arg, struct err *e)
{
    RUN(g, W_ORDER, cb, arg, e, acme_order_finalize(C(g), url, csr, len, on_done, k, e));
}

static int ea_order_poll(struct engine *g, const char *url, bool until_ready, uint64_t deadline_ms,
                         engine_cb cb, void *arg, struct err *e)
{
    RUN(g, W_ORDER, cb, arg, e,
        acme_order_poll(C(g), url, until_ready, deadline_ms, on_done, k, e));
}

static int ea_cert_download(struct engine *g, const struct engine_download *in, engine_cb cb,
                            void *arg, struct err *e)
{
    struct acme_download req = {.url = in->url,
                                .preferred_chain = in->preferred_chain,
                                .key = in->key,
                                .names = in->names,
                                .nnames = in->nnames,
                                .trust_anchors = in->trust_anchors,
                                .trust_anchors_len = in->trust_anchors_len};

    RUN(g, W_CERT, cb, arg, e, acme_cert_download(C(g), &req, on_done, k, e));
}

static int ea_cert_revoke(struct engine *g, const uint8_t *der, size_t len, int reason,
                          const struct signer *cert_key, engine_cb cb, void *arg, struct err *e)
{
    RUN(g, W_NONE, cb, arg, e, acme_cert_revoke(C(g), der, len, reason, cert_key, on_done, k, e));
}

struct fetch {
    engine_cb cb;
    void *arg;
};

static void on_fetched(void *arg, int rc, const struct http_response *resp, const struct err *e)
{
    struct fetch *f = arg;
    struct engine_result r = {.retry_after = -1};
    struct err oe;

    if (rc == 0) {
        size_t n = resp->body_len < ENGINE_FETCH_MAX ? resp->body_len : ENGINE_FETCH_MAX;

        r.status = resp->status;
        if (!(r.body = malloc(n + 1))) {
            rc = err_set(&oe, -ENOMEM, "out of memory");
            e = &oe;
        } else {
            memcpy(r.body, resp->body, n);
            r.body[n] = '\0';
            r.body_len = n;
        }
    }
    f->cb(f->arg, rc, &r, e);
    engine_result_clear(&r);
    free(f);
}

static int ea_http01_fetch(struct engine *g, const char *url, const char *connect_to, engine_cb cb,
                           void *arg, struct err *e)
{
    struct http_request req = {
        .method = "GET", .url = url, .connect_to = connect_to, .plain_http = true};
    struct fetch *f = calloc(1, sizeof *f);
    int rc;

    if (!f)
        return err_set(e, -ENOMEM, "out of memory");
    f->cb = cb;
    f->arg = arg;
    if ((rc = http_request_start(((struct engine_acme *)g)->http, &req, on_fetched, f, e)) < 0)
        free(f);
    return rc;
}

static int ea_renewal_info_get(struct engine *g, const char *cert_id, engine_cb cb, void *arg,
                               struct err *e)
{
    RUN(g, W_ARI, cb, arg, e, acme_renewal_info_get(C(g), cert_id, on_done, k, e));
}

static void ea_stats(const struct engine *g, struct engine_stats *out)
{
    struct acme_client_stats cs;

    acme_client_stats(C(g), &cs);
    *out = (struct engine_stats){cs.requests, cs.nonce_heads, cs.retries};
}

static void ea_free(struct engine *g)
{
    acme_client_free(C(g));
    engine_directory_free(((struct engine_acme *)g)->dir);
    free(g);
}

static const struct engine_ops ea_ops = {
    .start = ea_start,
    .directory = ea_directory,
    .set_account = ea_set_account,
    .account_url = ea_account_url,
    .account_new = ea_account_new,
    .account_update = ea_account_update,
    .account_key_change = ea_account_key_change,
    .account_deactivate = ea_account_deactivate,
    .order_new = ea_order_new,
    .order_get = ea_order_get,
    .authz_get = ea_authz_get,
    .challenge_answer = ea_challenge_answer,
    .authz_poll = ea_authz_poll,
    .order_finalize = ea_order_finalize,
    .order_poll = ea_order_poll,
    .cert_download = ea_cert_download,
    .cert_revoke = ea_cert_revoke,
    .renewal_info_get = ea_renewal_info_get,
    .http01_fetch = ea_http01_fetch,
    .stats = ea_stats,
    .free = ea_free,
};

int engine_acme_new(uv_loop_t *loop, struct http_client *http, const char *directory_url,
                    unsigned max_inflight, struct engine **out, struct err *e)
{
    struct engine_acme *g = calloc(1, sizeof *g);
    int rc;

    *out = NULL;
    if (!g)
        return err_set(e, -ENOMEM, "out of memory");
    if ((rc = acme_client_new(loop, http, directory_url, NULL, &g->c, e)) < 0) {
        free(g);
        return rc;
    }
    acme_client_set_max_inflight(g->c, max_inflight);
    g->http = http;
    g->base.ops = &ea_ops;
    *out = &g->base;
    return 0;
}
