/* engine_mgmt: the engine (engine.h) of a central certificate server, acme-mgmtserver's
 * protocol (DESIGN.md §11): one POST of a PEM CSR, answered by the chain or by an error status
 * with a one-line reason. It knows no ACME: every other operation fails with -ENOTSUP, and the
 * provider of such a server never asks for them (reconcile/provider.c). A 200's chain is
 * checked here as acme_cert_download checks a CA's (what to check is the caller's: under
 * privilege separation the keeper checks it again with the key); what an error status means is
 * for the caller (step_mgmt.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acme/headers.h"
#include "acme/ops.h"
#include "net/mgmt_url.h"
#include "reconcile/engine.h"
#include "util/clock.h"

/* The server holds the request while it orders (acmed serve's request-timeout, 300 s by
 * default): the client waits a little longer than that. */
#define MGMT_POST_TIMEOUT_MS (330 * 1000)

struct engine_mgmt {
    struct engine base; /* first: the engine is the struct */
    struct http_client *http;
    char *url;      /* the provider's "mgmt+http(s)://..." */
    char *http_url; /* what is posted to */
    uint64_t requests;
};

/* One post in flight: the caller's callback and copies of what its chain is checked against. */
struct post {
    engine_cb cb;
    void *arg;
    const char *url;        /* borrowed from the engine, which outlives its posts */
    const struct ckey *key; /* borrowed: the caller keeps its key until the callback */
    char **names;
    size_t nnames;
    char *anchors;
    size_t anchors_len;
};

static void post_free(struct post *p)
{
    for (size_t i = 0; i < p->nnames; i++)
        free(p->names[i]);
    free(p->names);
    free(p->anchors);
    free(p);
}

/* A post for req's checks, or NULL when out of memory. */
static struct post *post_new(const struct engine_csr_post *in, engine_cb cb, void *arg)
{
    struct post *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    *p = (struct post){.cb = cb, .arg = arg, .key = in->key};
    if (in->nnames && !(p->names = calloc(in->nnames, sizeof *p->names)))
        goto fail;
    for (; p->nnames < in->nnames; p->nnames++)
        if (!(p->names[p->nnames] = strdup(in->names[p->nnames])))
            goto fail;
    if (in->trust_anchors) {
        if (!(p->anchors = malloc(in->trust_anchors_len + 1)))
            goto fail;
        memcpy(p->anchors, in->trust_anchors, in->trust_anchors_len);
        p->anchors[in->trust_anchors_len] = '\0';
        p->anchors_len = in->trust_anchors_len;
    }
    return p;
fail:
    post_free(p);
    return NULL;
}

static int no_acme(const struct engine *g, struct err *e)
{
    return err_set(e, -ENOTSUP, "%s is a central certificate server, not an ACME CA",
                   ((const struct engine_mgmt *)g)->url);
}

/* What a response gives the caller; 0 or -ENOMEM. */
static int fill(struct engine_result *r, const struct http_response *resp)
{
    const char *ra = http_header_get(resp, "Retry-After");
    time_t delay;
    size_t n = resp->body_len;
    char *copy;

    r->status = resp->status;
    if (ra && acme_retry_after_parse(ra, clock_now(), 0, &delay) == 0)
        r->retry_after = delay;
    if (resp->status != 200 && n > ENGINE_FETCH_MAX)
        n = ENGINE_FETCH_MAX;
    if (!(copy = malloc(n + 1)))
        return -ENOMEM;
    memcpy(copy, resp->body, n);
    copy[n] = '\0';
    if (resp->status == 200) {
        r->cert_pem = copy;
        r->cert_len = n;
    } else {
        r->body = copy;
        r->body_len = n;
    }
    return 0;
}

static void on_posted(void *arg, int rc, const struct http_response *resp, const struct err *e)
{
    struct post *p = arg;
    struct engine_result r = {.retry_after = -1};
    struct err oe;

    if (rc == 0 && fill(&r, resp) < 0) {
        rc = err_set(&oe, -ENOMEM, "out of memory");
        e = &oe;
    } else if (rc == 0 && r.cert_pem &&
               (rc =
                    acme_chain_verify(r.cert_pem, r.cert_len, p->key, (const char *const *)p->names,
                                      p->nnames, p->anchors, p->anchors_len, NULL, &oe)) < 0) {
        err_wrap(&oe, "%s", p->url);
        free(r.cert_pem); /* a chain that fails is never handed over */
        r.cert_pem = NULL;
        r.cert_len = 0;
        e = &oe;
    }
    p->cb(p->arg, rc, &r, e);
    engine_result_clear(&r);
    post_free(p);
}

static int em_csr_post(struct engine *g, const struct engine_csr_post *in, engine_cb cb, void *arg,
                       struct err *e)
{
    struct engine_mgmt *m = (struct engine_mgmt *)g;
    struct http_request req = {.method = "POST",
                               .url = in->url,
                               .content_type = "application/pkcs10",
                               .body = in->body,
                               .body_len = in->len,
                               .authentication = in->auth,
                               .timeout_ms = MGMT_POST_TIMEOUT_MS};
    struct post *p;
    int rc;

    /* Only to the server this engine is for, whoever asks. */
    if (!in->url || strcmp(in->url, m->http_url))
        return err_set(e, -EINVAL, "a CSR for %s posted through the engine of %s",
                       in->url ? in->url : "(none)", m->url);
    if (!(p = post_new(in, cb, arg)))
        return err_set(e, -ENOMEM, "out of memory");
    p->url = m->http_url;
    if ((rc = http_request_start(m->http, &req, on_posted, p, e)) < 0) {
        post_free(p);
        return rc;
    }
    m->requests++;
    return 0;
}

/* ---- what a central server does not do ---- */

static int em_start(struct engine *g, engine_cb cb, void *arg, struct err *e)
{
    (void)cb, (void)arg;
    return no_acme(g, e);
}

static const struct engine_directory *em_directory(const struct engine *g)
{
    (void)g;
    return NULL;
}

static int em_set_account(struct engine *g, const struct signer *s, const char *kid)
{
    (void)g, (void)s, (void)kid;
    return -ENOTSUP;
}

static const char *em_account_url(const struct engine *g)
{
    (void)g;
    return NULL;
}

static int em_account_new(struct engine *g, const struct engine_new_account *req, engine_cb cb,
                          void *arg, struct err *e)
{
    (void)req, (void)cb, (void)arg;
    return no_acme(g, e);
}

static int em_account_update(struct engine *g, const char *const *contact, size_t ncontact,
                             engine_cb cb, void *arg, struct err *e)
{
    (void)contact, (void)ncontact, (void)cb, (void)arg;
    return no_acme(g, e);
}

static int em_account_key_change(struct engine *g, const struct engine_key_change *req,
                                 engine_cb cb, void *arg, struct err *e)
{
    (void)req, (void)cb, (void)arg;
    return no_acme(g, e);
}

static int em_order_new(struct engine *g, const struct engine_new_order *req, engine_cb cb,
                        void *arg, struct err *e)
{
    (void)req, (void)cb, (void)arg;
    return no_acme(g, e);
}

/* order_get, authz_get, challenge_answer, account_deactivate (with a NULL url). */
static int em_url_op(struct engine *g, const char *url, engine_cb cb, void *arg, struct err *e)
{
    (void)url, (void)cb, (void)arg;
    return no_acme(g, e);
}

static int em_account_deactivate(struct engine *g, engine_cb cb, void *arg, struct err *e)
{
    return em_url_op(g, NULL, cb, arg, e);
}

static int em_authz_poll(struct engine *g, const char *url, uint64_t deadline_ms, engine_cb cb,
                         void *arg, struct err *e)
{
    (void)deadline_ms;
    return em_url_op(g, url, cb, arg, e);
}

static int em_order_finalize(struct engine *g, const char *url, const uint8_t *csr, size_t len,
                             engine_cb cb, void *arg, struct err *e)
{
    (void)csr, (void)len;
    return em_url_op(g, url, cb, arg, e);
}

static int em_order_poll(struct engine *g, const char *url, bool until_ready, uint64_t deadline_ms,
                         engine_cb cb, void *arg, struct err *e)
{
    (void)until_ready, (void)deadline_ms;
    return em_url_op(g, url, cb, arg, e);
}

static int em_cert_download(struct engine *g, const struct engine_download *req, engine_cb cb,
                            void *arg, struct err *e)
{
    return em_url_op(g, req->url, cb, arg, e);
}

static int em_cert_revoke(struct engine *g, const uint8_t *der, size_t len, int reason,
                          const struct signer *cert_key, engine_cb cb, void *arg, struct err *e)
{
    (void)der, (void)len, (void)reason, (void)cert_key;
    return em_url_op(g, NULL, cb, arg, e);
}

static int em_http01_fetch(struct engine *g, const char *url, const char *connect_to, engine_cb cb,
                           void *arg, struct err *e)
{
    (void)connect_to;
    return em_url_op(g, url, cb, arg, e);
}

static void em_stats(const struct engine *g, struct engine_stats *out)
{
    *out = (struct engine_stats){((const struct engine_mgmt *)g)->requests, 0, 0};
}

static void em_free(struct engine *g)
{
    struct engine_mgmt *m = (struct engine_mgmt *)g;

    free(m->url);
    free(m);
}

static const struct engine_ops em_ops = {
    .start = em_start,
    .directory = em_directory,
    .set_account = em_set_account,
    .account_url = em_account_url,
    .account_new = em_account_new,
    .account_update = em_account_update,
    .account_key_change = em_account_key_change,
    .account_deactivate = em_account_deactivate,
    .order_new = em_order_new,
    .order_get = em_url_op,
    .authz_get = em_url_op,
    .challenge_answer = em_url_op,
    .authz_poll = em_authz_poll,
    .order_finalize = em_order_finalize,
    .order_poll = em_order_poll,
    .cert_download = em_cert_download,
    .cert_revoke = em_cert_revoke,
    .renewal_info_get = em_url_op,
    .http01_fetch = em_http01_fetch,
    .csr_post = em_csr_post,
    .stats = em_stats,
    .free = em_free,
};

int engine_mgmt_new(struct http_client *http, const char *url, struct engine **out, struct err *e)
{
    struct engine_mgmt *m;

    *out = NULL;
    if (!mgmt_url_http(url))
        return err_set(e, -EINVAL, "\"%s\" is not a central server's URL (mgmt+https://...)",
                       url ? url : "");
    if (!(m = calloc(1, sizeof *m)) || !(m->url = strdup(url))) {
        free(m);
        return err_set(e, -ENOMEM, "out of memory");
    }
    m->http_url = m->url + (mgmt_url_http(url) - url);
    m->http = http;
    m->base.ops = &em_ops;
    *out = &m->base;
    return 0;
}
