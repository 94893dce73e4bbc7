/* engine_proxy: engine operations sent to the worker, each with what the keeper will sign. */
#include "privsep/engine_proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acme/ops.h"
#include "crypto/jws.h"
#include "privsep/proxy_op.h"
#include "privsep/wmsg_encode.h"
#include "util/clock.h"
#include "util/log.h"

static struct proxy *P(const struct engine *g)
{
    return (struct proxy *)g;
}

/* An operation on one URL that only reads (POST-as-GET), or answers a challenge; deadline_ms
 * (sent as the time left) and until_ready are for the polls only. */
static int url_op(struct engine *g, enum wmsg_op kind, enum sign_guard_op gop, const char *url,
                  uint64_t deadline_ms, bool until_ready, engine_cb cb, void *arg, struct err *e)
{
    struct ipc_out out;
    struct pop *o = proxy_pop_begin(P(g), kind, cb, arg, &out, e);
    uint64_t now = clock_mono_ms();

    if (!o)
        return -ENOMEM;
    if (!(o->url = strdup(url)))
        return proxy_fail_oom(o, &out, e);
    ipc_put_text(&out, WMSG_T_URL, url);
    if (kind == WOP_AUTHZ_POLL || kind == WOP_ORDER_POLL)
        ipc_put_u64(&out, WMSG_T_DEADLINE, deadline_ms > now ? deadline_ms - now : 0);
    if (kind == WOP_ORDER_POLL)
        ipc_put_u64(&out, WMSG_T_UNTIL_READY, until_ready);
    proxy_grant(o, gop, o->url);
    return proxy_pop_send(o, &out, e);
}

/* ---- the operations ---- */

static int px_start(struct engine *g, engine_cb cb, void *arg, struct err *e)
{
    struct ipc_out out;
    struct pop *o = proxy_pop_begin(P(g), WOP_START, cb, arg, &out, e);

    return o ? proxy_pop_send(o, &out, e) : -ENOMEM;
}

static const struct engine_directory *px_directory(const struct engine *g)
{
    return P(g)->dir;
}

static int px_set_account(struct engine *g, const struct signer *s, const char *kid)
{
    struct proxy *p = P(g);
    char *k = kid ? strdup(kid) : NULL;
    struct err e = {0};

    if (kid && !k)
        return -ENOMEM;
    free(p->kid);
    p->kid = k;
    p->acct = s;
    if (proxy_send_account(p, &e) < 0) {
        log_warn("privsep: %s", err_msg(&e));
        return e.code;
    }
    return 0;
}

static const char *px_account_url(const struct engine *g)
{
    return P(g)->kid;
}

static int px_account_new(struct engine *g, const struct engine_new_account *in, engine_cb cb,
                          void *arg, struct err *e)
{
    struct proxy *p = P(g);
    struct ipc_out out;
    struct pop *o;
    struct sign_guard *gd;
    char *jwk_text = NULL, *eab = NULL;
    int rc;

    if (!p->dir)
        return err_set(e, -EINVAL, "newAccount before the directory was fetched");
    if (!(o = proxy_pop_begin(p, WOP_ACCOUNT_NEW, cb, arg, &out, e)))
        return -ENOMEM;
    if (!(o->jwk = in->key->jwk(in->key->ctx, e))) {
        buf_clear(&out.b);
        proxy_pop_free(o);
        return e->code ? e->code : -EINVAL;
    }
    if (in->eab && !in->only_return_existing) {
        struct acme_eab a = {in->eab->kid, in->eab->hmac, in->eab->hmac_len};

        if (!(eab = acme_eab_jws(&a, in->key, p->dir->new_account, e)) ||
            !(o->eab = json_loads(eab, 0, NULL))) {
            rc = e->code ? e->code : -ENOMEM;
            free(eab);
            buf_clear(&out.b);
            proxy_pop_free(o);
            return rc;
        }
        ipc_put_text(&out, WMSG_T_EAB, eab);
        free(eab);
    }
    if (proxy_strv_dup(&o->contact, &o->ncontact, in->contact, in->ncontact) < 0 ||
        !(jwk_text = json_dumps(o->jwk, JSON_COMPACT)))
        return proxy_fail_oom(o, &out, e);
    ipc_put_text(&out, WMSG_T_ALG, in->key->alg);
    ipc_put_text(&out, WMSG_T_JWK, jwk_text);
    free(jwk_text);
    for (size_t i = 0; i < in->ncontact; i++)
        ipc_put_text(&out, WMSG_T_CONTACT, in->contact[i]);
    ipc_put_u64(&out, WMSG_T_AGREE, in->agree_tos);
    ipc_put_u64(&out, WMSG_T_ONLY_EXISTING, in->only_return_existing);
    gd = proxy_grant(o, SIGN_GUARD_NEW_ACCOUNT, p->dir->new_account);
    gd->kid = NULL;
    gd->alg = in->key->alg;
    gd->jwk = o->jwk;
    gd->contact = (const char *const *)o->contact;
    gd->ncontact = o->ncontact;
    gd->eab = o->eab;
    gd->only_return_existing = in->only_return_existing;
    o->grants[0].signer = in->key;
    return proxy_pop_send(o, &out, e);
}

static int px_account_update(struct engine *g, const char *const *contact, size_t ncontact,
                             engine_cb cb, void *arg, struct err *e)
{
    struct ipc_out out;
    struct pop *o = proxy_pop_begin(P(g), WOP_ACCOUNT_UPDATE, cb, arg, &out, e);
    struct sign_guard *gd;

    if (!o)
        return -ENOMEM;
    if (proxy_strv_dup(&o->contact, &o->ncontact, contact, ncontact) < 0)
        return proxy_fail_oom(o, &out, e);
    for (size_t i = 0; i < ncontact; i++)
        ipc_put_text(&out, WMSG_T_CONTACT, contact[i]);
    gd = proxy_grant(o, SIGN_GUARD_ACCOUNT_CONTACT, o->kid);
    gd->contact = (const char *const *)o->contact;
    gd->ncontact = o->ncontact;
    proxy_grant(o, SIGN_GUARD_POST_AS_GET, o->kid);
    return proxy_pop_send(o, &out, e);
}

static int px_account_key_change(struct engine *g, const struct engine_key_change *in, engine_cb cb,
                                 void *arg, struct err *e)
{
    struct proxy *p = P(g);
    struct ipc_out out;
    struct pop *o;
    struct sign_guard *gd;
    char *inner = NULL, *jwk_text = NULL;
    int rc;

    if (!p->dir || !p->dir->key_change || !p->acct || !p->kid)
        return err_set(e, -EINVAL, "key rollover needs the directory's keyChange and an account");
    /* The inner JWS is made here, with the new key, which never leaves the keeper. */
    if (!(inner = acme_key_change_inner(p->dir->key_change, p->kid, p->acct, in->new_key, e)))
        return e->code ? e->code : -ENOMEM;
    if (!(o = proxy_pop_begin(p, WOP_KEY_CHANGE, cb, arg, &out, e))) {
        free(inner);
        return -ENOMEM;
    }
    if (!(o->jwk = in->new_key->jwk(in->new_key->ctx, e)) ||
        !(jwk_text = json_dumps(o->jwk, JSON_COMPACT)) ||
        !(o->inner = json_loads(inner, 0, NULL))) {
        free(inner);
        free(jwk_text);
        return proxy_fail_oom(o, &out, e);
    }
    ipc_put_text(&out, WMSG_T_INNER, inner);
    ipc_put_text(&out, WMSG_T_ALG, in->new_key->alg);
    ipc_put_text(&out, WMSG_T_JWK, jwk_text);
    free(inner);
    free(jwk_text);
    gd = proxy_grant(o, SIGN_GUARD_KEY_CHANGE, p->dir->key_change);
    gd->inner = o->inner;
    rc = proxy_pop_send(o, &out, e);
    if (rc == 0) {
        /* From now on the account is the new key's: requests after the rollover sign with it. */
        p->acct = in->new_key;
    }
    return rc;
}

static int px_account_deactivate(struct engine *g, engine_cb cb, void *arg, struct err *e)
{
    struct ipc_out out;
    struct pop *o = proxy_pop_begin(P(g), WOP_DEACTIVATE, cb, arg, &out, e);

    if (!o)
        return -ENOMEM;
    proxy_grant(o, SIGN_GUARD_DEACTIVATE, o->kid);
    return proxy_pop_send(o, &out, e);
}

static bool has_profile(const struct engine_directory *d, const char *name)
{
    for (size_t i = 0; i < d->nprofiles; i++)
        if (!strcmp(d->profiles[i], name))
            return true;
    return false;
}

static int px_order_new(struct engine *g, const struct engine_new_order *in, engine_cb cb,
                        void *arg, struct err *e)
{
    struct proxy *p = P(g);
    struct ipc_out out;
    struct pop *o;
    struct sign_guard *gd;

    if (!p->dir)
        return err_set(e, -EINVAL, "newOrder before the directory was fetched");
    if (in->nids == 0)
        return err_set(e, -EINVAL, "an order needs at least one identifier");
    if (in->profile && !has_profile(p->dir, in->profile))
        return p->dir->nprofiles == 0
                   ? err_set(e, -ENOTSUP, "profile \"%s\" asked for, but the CA offers no profiles",
                             in->profile)
                   : err_set(e, -EINVAL, "profile \"%s\" is not among the CA's profiles",
                             in->profile);
    if (!(o = proxy_pop_begin(p, WOP_ORDER_NEW, cb, arg, &out, e)))
        return -ENOMEM;
    if (!(o->names = calloc(in->nids, sizeof *o->names)))
        return proxy_fail_oom(o, &out, e);
    for (; o->nnames < in->nids; o->nnames++) {
        if (!(o->names[o->nnames] = strdup(in->ids[o->nnames].value)))
            return proxy_fail_oom(o, &out, e);
        wmsg_put_ident(&out, WMSG_T_IDENT, &in->ids[o->nnames]);
    }
    if (in->profile)
        ipc_put_text(&out, WMSG_T_PROFILE, in->profile);
    /* Without renewalInfo the CA does not know `replaces` (RFC 9773 §5): neither is it sent. */
    if (in->replaces && p->dir->renewal_info) {
        if (!(o->replaces = strdup(in->replaces)))
            return proxy_fail_oom(o, &out, e);
        ipc_put_text(&out, WMSG_T_REPLACES, in->replaces);
    }
    gd = proxy_grant(o, SIGN_GUARD_NEW_ORDER, p->dir->new_order);
    gd->names = (const char *const *)o->names;
    gd->nnames = o->nnames;
    gd->replaces = o->replaces;
    return proxy_pop_send(o, &out, e);
}

static int px_order_get(struct engine *g, const char *url, engine_cb cb, void *arg, struct err *e)
{
    return url_op(g, WOP_ORDER_GET, SIGN_GUARD_POST_AS_GET, url, 0, false, cb, arg, e);
}

static int px_authz_get(struct engine *g, const char *url, engine_cb cb, void *arg, struct err *e)
{
    return url_op(g, WOP_AUTHZ_GET, SIGN_GUARD_POST_AS_GET, url, 0, false, cb, arg, e);
}

static int px_challenge_answer(struct engine *g, const char *url, engine_cb cb, void *arg,
                               struct err *e)
{
    return url_op(g, WOP_CHALLENGE_ANSWER, SIGN_GUARD_CHALLENGE, url, 0, false, cb, arg, e);
}

static int px_authz_poll(struct engine *g, const char *url, uint64_t deadline_ms, engine_cb cb,
                         void *arg, struct err *e)
{
    return url_op(g, WOP_AUTHZ_POLL, SIGN_GUARD_POST_AS_GET, url, deadline_ms, false, cb, arg, e);
}

static int px_order_poll(struct engine *g, const char *url, bool until_ready, uint64_t deadline_ms,
                         engine_cb cb, void *arg, struct err *e)
{
    return url_op(g, WOP_ORDER_POLL, SIGN_GUARD_POST_AS_GET, url, deadline_ms, until_ready, cb, arg,
                  e);
}

static int px_order_finalize(struct engine *g, const char *url, const uint8_t *csr, size_t len,
                             engine_cb cb, void *arg, struct err *e)
{
    struct ipc_out out;
    struct pop *o = proxy_pop_begin(P(g), WOP_ORDER_FINALIZE, cb, arg, &out, e);
    struct sign_guard *gd;

    if (!o)
        return -ENOMEM;
    if (!(o->url = strdup(url)) || !(o->der = malloc(len ? len : 1)))
        return proxy_fail_oom(o, &out, e);
    memcpy(o->der, csr, len);
    o->der_len = len;
    ipc_put_text(&out, WMSG_T_URL, url);
    ipc_put_bytes(&out, WMSG_T_CSR, csr, len);
    gd = proxy_grant(o, SIGN_GUARD_FINALIZE, o->url);
    gd->der = o->der;
    gd->der_len = o->der_len;
    return proxy_pop_send(o, &out, e);
}

static int px_cert_download(struct engine *g, const struct engine_download *in, engine_cb cb,
                            void *arg, struct err *e)
{
    struct ipc_out out;
    struct pop *o = proxy_pop_begin(P(g), WOP_CERT_DOWNLOAD, cb, arg, &out, e);

    if (!o)
        return -ENOMEM;
    o->key = in->key;
    if (proxy_strv_dup(&o->names, &o->nnames, in->names, in->names ? in->nnames : 0) < 0)
        return proxy_fail_oom(o, &out, e);
    if (in->trust_anchors) {
        if (!(o->anchors = malloc(in->trust_anchors_len + 1)))
            return proxy_fail_oom(o, &out, e);
        memcpy(o->anchors, in->trust_anchors, in->trust_anchors_len);
        o->anchors[in->trust_anchors_len] = '\0';
        o->anchors_len = in->trust_anchors_len;
        ipc_put_bytes(&out, WMSG_T_ANCHORS, in->trust_anchors, in->trust_anchors_len);
    }
    ipc_put_text(&out, WMSG_T_URL, in->url);
    if (in->preferred_chain)
        ipc_put_text(&out, WMSG_T_PREFERRED, in->preferred_chain);
    /* The worker chooses among the default chain and its alternates by the anchors; the key
     * and names, facts of the leaf, are checked here (verify_chain), first, as in one process.
     * Reads: the default chain and its alternates, at URLs the CA names. */
    proxy_grant(o, SIGN_GUARD_POST_AS_GET, NULL);
    return proxy_pop_send(o, &out, e);
}

static int px_cert_revoke(struct engine *g, const uint8_t *der, size_t len, int reason,
                          const struct signer *cert_key, engine_cb cb, void *arg, struct err *e)
{
    struct proxy *p = P(g);
    struct ipc_out out;
    struct pop *o;
    struct sign_guard *gd;
    char *jwk_text = NULL;

    if (!p->dir || !p->dir->revoke_cert)
        return err_set(e, -ENOTSUP, "the CA has no revokeCert");
    if (!(o = proxy_pop_begin(p, WOP_CERT_REVOKE, cb, arg, &out, e)))
        return -ENOMEM;
    if (!(o->der = malloc(len ? len : 1)))
        return proxy_fail_oom(o, &out, e);
    memcpy(o->der, der, len);
    o->der_len = len;
    ipc_put_bytes(&out, WMSG_T_DER, der, len);
    if (reason >= 0)
        ipc_put_u64(&out, WMSG_T_REASON, (uint64_t)reason);
    gd = proxy_grant(o, SIGN_GUARD_REVOKE, p->dir->revoke_cert);
    gd->der = o->der;
    gd->der_len = o->der_len;
    gd->reason = reason;
    if (cert_key) {
        /* Signed by the certificate's key, which names itself by its JWK. */
        if (!(o->jwk = cert_key->jwk(cert_key->ctx, e))) {
            buf_clear(&out.b);
            proxy_pop_free(o);
            return e->code ? e->code : -EINVAL;
        }
        if (!(jwk_text = json_dumps(o->jwk, JSON_COMPACT)))
            return proxy_fail_oom(o, &out, e);
        ipc_put_text(&out, WMSG_T_ALG, cert_key->alg);
        ipc_put_text(&out, WMSG_T_JWK, jwk_text);
        free(jwk_text);
        gd->kid = NULL;
        gd->jwk = o->jwk;
        gd->alg = cert_key->alg;
        o->grants[0].signer = cert_key;
    }
    return proxy_pop_send(o, &out, e);
}

static int px_renewal_info_get(struct engine *g, const char *cert_id, engine_cb cb, void *arg,
                               struct err *e)
{
    struct ipc_out out;
    struct pop *o = proxy_pop_begin(P(g), WOP_RENEWAL_INFO, cb, arg, &out, e);

    if (!o)
        return -ENOMEM;
    ipc_put_text(&out, WMSG_T_CERTID, cert_id);
    return proxy_pop_send(o, &out, e); /* a GET: nothing to sign */
}

static int px_http01_fetch(struct engine *g, const char *url, const char *connect_to, engine_cb cb,
                           void *arg, struct err *e)
{
    struct ipc_out out;
    struct pop *o = proxy_pop_begin(P(g), WOP_HTTP01_FETCH, cb, arg, &out, e);

    if (!o)
        return -ENOMEM;
    ipc_put_text(&out, WMSG_T_URL, url);
    if (connect_to)
        ipc_put_text(&out, WMSG_T_CONNECT, connect_to);
    return proxy_pop_send(o, &out, e); /* plain http, no account: nothing to sign */
}

/* A CSR for a central certificate server: the worker gets the URL, the PEM and the header the
 * keeper computed (the HMAC key never leaves the keeper), and no signature at all; the chain it
 * brings back is checked here (proxy_op.c) against the key, names and anchors of the request. */
static int px_csr_post(struct engine *g, const struct engine_csr_post *in, engine_cb cb, void *arg,
                       struct err *e)
{
    struct ipc_out out;
    struct pop *o;

    if (!in->url || !in->body || in->len > WMSG_CSR_MAX ||
        (in->auth && strlen(in->auth) > WMSG_AUTH_MAX))
        return err_set(e, -EINVAL, "a CSR post without a URL, or too large");
    if (!(o = proxy_pop_begin(P(g), WOP_CSR_POST, cb, arg, &out, e)))
        return -ENOMEM;
    /* The chain of a 200 is checked here, as a download's: the worker sees none of it. */
    o->key = in->key;
    if (!(o->url = strdup(in->url)) ||
        proxy_strv_dup(&o->names, &o->nnames, in->names, in->names ? in->nnames : 0) < 0 ||
        (in->trust_anchors && !(o->anchors = malloc(in->trust_anchors_len + 1))))
        return proxy_fail_oom(o, &out, e);
    if (in->trust_anchors) {
        memcpy(o->anchors, in->trust_anchors, in->trust_anchors_len);
        o->anchors[in->trust_anchors_len] = '\0';
        o->anchors_len = in->trust_anchors_len;
    }
    ipc_put_text(&out, WMSG_T_URL, in->url);
    ipc_put_bytes(&out, WMSG_T_CSR, in->body, in->len);
    if (in->auth)
        ipc_put_text(&out, WMSG_T_AUTHN, in->auth);
    return proxy_pop_send(o, &out, e); /* nothing to sign: no grant */
}

static void px_cancel(struct engine *g)
{
    keeper_abort(P(g)->k);
}

static void px_stats(const struct engine *g, struct engine_stats *out)
{
    const struct proxy *p = P(g);

    out->requests = p->done.requests + p->now.requests;
    out->nonce_heads = p->done.nonce_heads + p->now.nonce_heads;
    out->retries = p->done.retries + p->now.retries;
}

static void px_free(struct engine *g)
{
    struct proxy *p = P(g);
    struct ipc_out out;
    struct err e = {0};

    while (p->ops) {
        struct pop *o = p->ops;

        p->ops = o->next;
        keeper_op_cancel(p->k, o->id);
        proxy_pop_free(o);
    }
    keeper_watch_remove(p->k, &p->watch);
    ipc_out_begin(&out, WMSG_DROP);
    ipc_put_u64(&out, WMSG_T_ENGINE, p->id);
    if (ipc_out_end(&out, &e) < 0 || keeper_send(p->k, &out.b, &e) < 0)
        log_debug("privsep: %s", err_msg(&e));
    engine_directory_free(p->dir);
    free(p->kid);
    free(p->url);
    free(p);
}

static const struct engine_ops proxy_ops = {
    .start = px_start,
    .directory = px_directory,
    .set_account = px_set_account,
    .account_url = px_account_url,
    .account_new = px_account_new,
    .account_update = px_account_update,
    .account_key_change = px_account_key_change,
    .account_deactivate = px_account_deactivate,
    .order_new = px_order_new,
    .order_get = px_order_get,
    .authz_get = px_authz_get,
    .challenge_answer = px_challenge_answer,
    .authz_poll = px_authz_poll,
    .order_finalize = px_order_finalize,
    .order_poll = px_order_poll,
    .cert_download = px_cert_download,
    .cert_revoke = px_cert_revoke,
    .renewal_info_get = px_renewal_info_get,
    .http01_fetch = px_http01_fetch,
    .csr_post = px_csr_post,
    .cancel = px_cancel,
    .stats = px_stats,
    .free = px_free,
};

int engine_proxy_new(void *keeper, const char *url, struct engine **out, struct err *e)
{
    struct keeper *k = keeper;
    struct proxy *p = calloc(1, sizeof *p);

    *out = NULL;
    if (!p || !(p->url = strdup(url))) {
        free(p);
        return err_set(e, -ENOMEM, "out of memory");
    }
    p->base.ops = &proxy_ops;
    p->k = k;
    p->id = keeper_new_id(k); /* ids of engines and operations never meet: different fields */
    p->watch = (struct keeper_watch){proxy_worker_up, p, NULL};
    keeper_watch_add(k, &p->watch);
    *out = &p->base;
    return 0;
}
