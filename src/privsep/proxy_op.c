/* proxy_op: operations in flight, their answers, and what each worker is told first. */
#include "privsep/proxy_op.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acme/ops.h"
#include "privsep/wmsg_engine.h"
#include "util/log.h"

void proxy_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int proxy_strv_dup(char ***out, size_t *n, const char *const *v, size_t nv)
{
    *out = NULL;
    *n = 0;
    if (!nv)
        return 0;
    if (!(*out = calloc(nv, sizeof **out)))
        return -ENOMEM;
    for (; *n < nv; (*n)++)
        if (!((*out)[*n] = strdup(v[*n])))
            return -ENOMEM;
    return 0;
}

void proxy_pop_free(struct pop *o)
{
    if (!o)
        return;
    free(o->url);
    free(o->kid);
    free(o->replaces);
    proxy_strv_free(o->names, o->nnames);
    free(o->der);
    proxy_strv_free(o->contact, o->ncontact);
    json_decref(o->eab);
    json_decref(o->inner);
    json_decref(o->jwk);
    free(o->anchors);
    free(o);
}

static void pop_unlink(struct pop *o)
{
    for (struct pop **pp = &o->p->ops; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            return;
        }
}

/* A guard of o, signed by the account's key with its kid unless told otherwise. */
struct sign_guard *proxy_grant(struct pop *o, enum sign_guard_op op, const char *url)
{
    struct sign_guard *g = &o->g[o->ngrants];

    *g = (struct sign_guard){.op = op, .url = url, .reason = -1, .kid = o->kid};
    g->alg = o->p->acct ? o->p->acct->alg : NULL;
    o->grants[o->ngrants] = (struct keeper_grant){g, o->p->acct};
    o->ngrants++;
    return g;
}

static void account_stats(struct proxy *p, const struct ipc_msg *m)
{
    uint64_t v;

    if (ipc_get_u64(m, WMSG_T_REQUESTS, 0, &v))
        p->now.requests = v;
    if (ipc_get_u64(m, WMSG_T_NONCES, 0, &v))
        p->now.nonce_heads = v;
    if (ipc_get_u64(m, WMSG_T_RETRIES, 0, &v))
        p->now.retries = v;
}

/* The keeper's own check of a chain before anyone installs it. */
static int verify_chain(const struct pop *o, const struct engine_result *r, struct err *e)
{
    if (!r->cert_pem)
        return err_set(e, -EPROTO, "the worker's download has no chain");
    return acme_chain_verify(r->cert_pem, r->cert_len, o->key, (const char *const *)o->names,
                             o->nnames, o->anchors, o->anchors_len, NULL, e);
}

static void on_result(void *arg, const struct ipc_msg *m, const struct err *lost)
{
    struct pop *o = arg;
    struct proxy *p = o->p;
    struct engine_result r = {.retry_after = -1};
    struct err why = {0}, de = {0};
    int rc, x;

    pop_unlink(o);
    if (!m) {
        /* Lost with a dying worker (ENGINE_ELOST), or cancelled by a forced stop. */
        rc = lost->code ? lost->code : ENGINE_ELOST;
        why = *lost;
    } else if ((x = wmsg_get_result(m, &rc, &why, &r, &de)) < 0) {
        /* Nothing of a result that breaks the rules is believed. */
        rc = x;
        why = de;
        log_warn("privsep: %s", err_msg(&why));
    } else {
        account_stats(p, m);
        if (rc == 0 && o->kind == WOP_START) {
            struct engine_directory *d;

            if ((rc = wmsg_get_directory(m, &d, &de)) < 0) {
                why = de;
                if (rc == -ENOENT)
                    rc = err_set(&why, -EPROTO, "the worker sent no directory");
            } else {
                engine_directory_free(p->dir);
                p->dir = d;
            }
        } else if (rc == 0 && o->kind == WOP_CERT_DOWNLOAD) {
            rc = verify_chain(o, &r, &why);
        } else if (rc == 0 && o->kind == WOP_CSR_POST &&
                   (r.status < 100 || r.status > 599 || r.order || r.authz || r.account ||
                    r.renewal_info || r.problem || (r.status == 200) != (r.cert_pem != NULL))) {
            /* An HTTP answer: a status, and a chain with a 200 only (checked below, as a
             * download's); nothing else of it is believed. */
            engine_result_clear(&r);
            rc = err_set(&why, -EPROTO, "the worker sent a bad answer of a central server");
            log_warn("privsep: %s", err_msg(&why));
        } else if (rc == 0 && o->kind == WOP_CSR_POST && r.status == 200 &&
                   (rc = verify_chain(o, &r, &why)) < 0) {
            err_wrap(&why, "%s", o->url ? o->url : "the central server");
            engine_result_clear(&r); /* a chain that fails is never handed over */
        }
    }
    o->cb(o->arg, rc, &r, rc < 0 ? &why : NULL);
    engine_result_clear(&r);
    proxy_pop_free(o);
}

/* Starts an operation: a frame begun with its header; the caller adds its fields. */
struct pop *proxy_pop_begin(struct proxy *p, enum wmsg_op kind, engine_cb cb, void *arg,
                            struct ipc_out *out, struct err *e)
{
    struct pop *o = calloc(1, sizeof *o);

    if (!o || (p->kid && !(o->kid = strdup(p->kid)))) {
        free(o);
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    o->p = p;
    o->id = keeper_new_id(p->k);
    o->kind = kind;
    o->cb = cb;
    o->arg = arg;
    ipc_out_begin(out, WMSG_OP);
    ipc_put_u64(out, WMSG_T_ID, o->id);
    ipc_put_u64(out, WMSG_T_ENGINE, p->id);
    ipc_put_text(out, WMSG_T_DIRECTORY, p->url);
    ipc_put_u64(out, WMSG_T_OP, kind);
    return o;
}

/* Sends it (o and the frame taken in every case). */
int proxy_pop_send(struct pop *o, struct ipc_out *out, struct err *e)
{
    int rc;

    if ((rc = ipc_out_end(out, e)) < 0) {
        proxy_pop_free(o);
        return rc;
    }
    if ((rc = keeper_op(o->p->k, o->id, &out->b, o->grants, o->ngrants, on_result, o, e)) < 0) {
        proxy_pop_free(o);
        return rc;
    }
    o->next = o->p->ops;
    o->p->ops = o;
    return 0;
}

int proxy_fail_oom(struct pop *o, struct ipc_out *out, struct err *e)
{
    buf_clear(&out->b);
    proxy_pop_free(o);
    return err_set(e, -ENOMEM, "out of memory");
}
/* Tells the worker which account its requests are signed for (again after each restart). */
int proxy_send_account(struct proxy *p, struct err *e)
{
    struct ipc_out out;
    json_t *jwk = NULL;
    char *text = NULL;

    ipc_out_begin(&out, WMSG_ACCOUNT);
    ipc_put_u64(&out, WMSG_T_ENGINE, p->id);
    ipc_put_text(&out, WMSG_T_DIRECTORY, p->url);
    if (p->acct) {
        struct err je;

        ipc_put_text(&out, WMSG_T_ALG, p->acct->alg);
        /* A signer known only by its kid has no JWK: the worker needs none then. */
        if ((jwk = p->acct->jwk ? p->acct->jwk(p->acct->ctx, &je) : NULL) &&
            (text = json_dumps(jwk, JSON_COMPACT)))
            ipc_put_text(&out, WMSG_T_JWK, text);
        if (p->kid)
            ipc_put_text(&out, WMSG_T_KID, p->kid);
    }
    json_decref(jwk);
    free(text);
    if (ipc_out_end(&out, e) < 0)
        return e->code;
    return keeper_send(p->k, &out.b, e);
}

void proxy_worker_up(void *arg)
{
    struct proxy *p = arg;
    struct err e = {0};

    /* The counters of the worker that went start again from 0. */
    p->done.requests += p->now.requests;
    p->done.nonce_heads += p->now.nonce_heads;
    p->done.retries += p->now.retries;
    p->now = (struct engine_stats){0};
    if (p->acct && proxy_send_account(p, &e) < 0)
        log_warn("privsep: %s", err_msg(&e));
}
