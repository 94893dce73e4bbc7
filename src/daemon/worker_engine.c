/* worker_engine: engine operations run for the keeper, and their outcome sent back. */
#include "daemon/worker_engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"
#include "net/mgmt_url.h"
#include "privsep/wmsg.h"
#include "privsep/wmsg_encode.h"
#include "privsep/wmsg_engine.h"
#include "reconcile/engine.h"
#include "util/clock.h"
#include "util/log.h"

struct wop;

struct weng {
    struct weng *next;
    struct worker_engines *set;
    uint64_t id;
    char *url;
    struct engine *eng;
    enum { W_IDLE, W_STARTING, W_STARTED } state;
    struct signer acct;
    struct signer rolled; /* the account's key after a rollover */
    unsigned inflight;
    bool dropped;
    struct buf *waiting; /* frames of operations waiting for the directory */
    size_t nwaiting;
};

struct worker_engines {
    uv_loop_t *loop;
    struct remote_hub *hub;
    remote_send_fn send;
    void *send_arg;
    struct http_client *http;
    char *ca_path;
    bool insecure_http;
    unsigned max_requests;
    struct weng *engines;
    bool ending;
};

/* One operation in flight, and the request data it lends the engine. */
struct wop {
    struct weng *w;
    uint64_t id;
    enum wmsg_op kind;
    struct signer key; /* account_new, a revocation with the certificate's key */
    struct engine_identifier *ids;
    size_t nids;
    char **strs; /* texts the request points at */
    size_t nstrs;
    const char **names; /* contacts the request points at */
};

static void wop_free(struct wop *o)
{
    for (size_t i = 0; i < o->nids; i++)
        free(o->ids[i].value);
    free(o->ids);
    for (size_t i = 0; i < o->nstrs; i++)
        free(o->strs[i]);
    free(o->strs);
    free(o->names);
    free(o);
}

/* A copy of text field tag kept with o (NULL when absent or out of memory: *bad set). */
static const char *text(struct wop *o, const struct ipc_msg *m, uint16_t tag, size_t idx, bool *bad)
{
    char **grown;
    char *s;

    if (ipc_count(m, tag) <= idx)
        return NULL;
    if (!(grown = realloc(o->strs, (o->nstrs + 1) * sizeof *grown)) ||
        !(s = ipc_get_text(m, tag, idx))) {
        if (grown)
            o->strs = grown;
        *bad = true;
        return NULL;
    }
    o->strs = grown;
    o->strs[o->nstrs++] = s;
    return s;
}

static void weng_free(struct weng *w)
{
    engine_free(w->eng);
    for (size_t i = 0; i < w->nwaiting; i++)
        buf_clear(&w->waiting[i]);
    free(w->waiting);
    free(w->url);
    free(w);
}

static void weng_release(struct weng *w)
{
    struct worker_engines *s = w->set;

    if (!w->dropped || w->inflight || w->state == W_STARTING)
        return;
    for (struct weng **pp = &s->engines; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    weng_free(w);
}

/* ---- results ---- */

static void send_result(struct worker_engines *s, struct weng *w, uint64_t id, int rc,
                        const struct engine_result *r, const struct err *e, bool directory)
{
    struct engine_stats st = {0};
    struct ipc_out o;
    struct err se = {0};

    if (s->ending)
        return;
    if (w->eng)
        engine_stats(w->eng, &st);
    for (int attempt = 0; attempt < 2; attempt++) {
        ipc_out_begin(&o, WMSG_RESULT);
        ipc_put_u64(&o, WMSG_T_ID, id);
        if (attempt == 0) {
            wmsg_put_result(&o, rc, r, e);
            if (directory && rc == 0 && engine_directory(w->eng))
                wmsg_put_directory(&o, engine_directory(w->eng));
        } else {
            /* What the CA sent does not fit the channel's bounds: an error instead. */
            struct err big;

            err_set(&big, -EPROTO, "the CA's answer is too large for the worker channel");
            wmsg_put_result(&o, big.code, NULL, &big);
        }
        ipc_put_u64(&o, WMSG_T_REQUESTS, st.requests);
        ipc_put_u64(&o, WMSG_T_NONCES, st.nonce_heads);
        ipc_put_u64(&o, WMSG_T_RETRIES, st.retries);
        if (ipc_out_end(&o, &se) == 0)
            break;
    }
    if (o.b.data && s->send(s->send_arg, &o.b, &se) < 0)
        log_warn("worker: %s", err_msg(&se));
    buf_clear(&o.b);
}

static void on_done(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct wop *o = arg;
    struct weng *w = o->w;

    w->inflight--;
    send_result(w->set, w, o->id, rc, r, e, o->kind == WOP_START);
    wop_free(o);
    weng_release(w);
}

/* ---- operations ---- */

static int key_of(struct wop *o, const struct ipc_msg *m, struct err *e)
{
    bool bad = false;
    const char *alg = text(o, m, WMSG_T_ALG, 0, &bad), *jwk = text(o, m, WMSG_T_JWK, 0, &bad);
    json_t *j;
    int rc;

    if (!alg || !jwk)
        return err_set(e, -EPROTO, "an operation signed with its own key names none");
    if (!(j = json_loads(jwk, 0, NULL)))
        return err_set(e, -EPROTO, "the key's JWK is not JSON");
    rc = remote_hub_signer(o->w->set->hub, o->w->url, alg, j, &o->key, e);
    json_decref(j);
    return rc;
}

static int run(struct wop *o, const struct ipc_msg *m, struct err *e)
{
    struct engine *g = o->w->eng;
    bool bad = false;
    const char *url = text(o, m, WMSG_T_URL, 0, &bad), *auth = text(o, m, WMSG_T_AUTHN, 0, &bad);
    uint64_t v = 0, dl = 0;
    const uint8_t *p = NULL;
    size_t n = 0;
    int rc;

    ipc_get_u64(m, WMSG_T_DEADLINE, 0, &dl);
    if (bad)
        return err_set(e, -ENOMEM, "out of memory");
    switch (o->kind) {
    case WOP_START: /* answered by op_run */
        break;
    case WOP_ACCOUNT_NEW: {
        struct engine_new_account req = {0};
        size_t nc = ipc_count(m, WMSG_T_CONTACT);
        const char **c = calloc(nc ? nc : 1, sizeof *c);

        if (!c)
            return err_set(e, -ENOMEM, "out of memory");
        for (size_t i = 0; i < nc; i++)
            c[i] = text(o, m, WMSG_T_CONTACT, i, &bad);
        o->names = c; /* freed with o */
        if ((rc = key_of(o, m, e)) < 0)
            return rc;
        req.key = &o->key;
        req.contact = c;
        req.ncontact = nc;
        req.agree_tos = ipc_get_u64(m, WMSG_T_AGREE, 0, &v) && v;
        req.only_return_existing = ipc_get_u64(m, WMSG_T_ONLY_EXISTING, 0, &v) && v;
        req.eab_jws = text(o, m, WMSG_T_EAB, 0, &bad);
        if (bad)
            return err_set(e, -ENOMEM, "out of memory");
        return engine_account_new(g, &req, on_done, o, e);
    }
    case WOP_ACCOUNT_UPDATE: {
        size_t nc = ipc_count(m, WMSG_T_CONTACT);

        if (!(o->names = calloc(nc ? nc : 1, sizeof *o->names)))
            return err_set(e, -ENOMEM, "out of memory");
        for (size_t i = 0; i < nc; i++)
            o->names[i] = text(o, m, WMSG_T_CONTACT, i, &bad);
        if (bad)
            return err_set(e, -ENOMEM, "out of memory");
        return engine_account_update(g, o->names, nc, on_done, o, e);
    }
    case WOP_ORDER_NEW: {
        struct engine_new_order req = {0};

        o->nids = ipc_count(m, WMSG_T_IDENT);
        if (!(o->ids = calloc(o->nids ? o->nids : 1, sizeof *o->ids)))
            return err_set(e, -ENOMEM, "out of memory");
        for (size_t i = 0; i < o->nids; i++)
            if ((rc = wmsg_get_ident(m, WMSG_T_IDENT, i, &o->ids[i], e)) < 0)
                return rc;
        req.ids = o->ids;
        req.nids = o->nids;
        req.profile = text(o, m, WMSG_T_PROFILE, 0, &bad);
        req.replaces = text(o, m, WMSG_T_REPLACES, 0, &bad);
        if (bad)
            return err_set(e, -ENOMEM, "out of memory");
        return engine_order_new(g, &req, on_done, o, e);
    }
    case WOP_ORDER_GET:
    case WOP_AUTHZ_GET:
    case WOP_CHALLENGE_ANSWER:
    case WOP_AUTHZ_POLL:
    case WOP_ORDER_FINALIZE:
    case WOP_ORDER_POLL:
    case WOP_CSR_POST:
        if (!url)
            return err_set(e, -EPROTO, "an operation on a URL without one");
        if (o->kind == WOP_ORDER_GET || o->kind == WOP_AUTHZ_GET || o->kind == WOP_CHALLENGE_ANSWER)
            return (o->kind == WOP_ORDER_GET   ? engine_order_get
                    : o->kind == WOP_AUTHZ_GET ? engine_authz_get
                                               : engine_challenge_answer)(g, url, on_done, o, e);
        if (o->kind == WOP_AUTHZ_POLL)
            return engine_authz_poll(g, url, clock_mono_ms() + dl, on_done, o, e);
        if (o->kind == WOP_ORDER_POLL)
            return engine_order_poll(g, url, ipc_get_u64(m, WMSG_T_UNTIL_READY, 0, &v) && v,
                                     clock_mono_ms() + dl, on_done, o, e);
        if (!ipc_get_bytes(m, WMSG_T_CSR, 0, &p, &n))
            return err_set(e, -EPROTO, "finalize or a CSR post without a CSR");
        if (o->kind == WOP_CSR_POST) /* a central server's (its body copied as it starts) */
            return engine_csr_post(g,
                                   &(struct engine_csr_post){
                                       .url = url, .body = (const char *)p, .len = n, .auth = auth},
                                   on_done, o, e);
        return engine_order_finalize(g, url, p, n, on_done, o, e);
    case WOP_CERT_DOWNLOAD: {
        struct engine_download req = {.url = url};

        if (!url)
            return err_set(e, -EPROTO, "a download without a URL");
        req.preferred_chain = text(o, m, WMSG_T_PREFERRED, 0, &bad);
        if (ipc_get_bytes(m, WMSG_T_ANCHORS, 0, &p, &n)) {
            char *a = malloc(n + 1);

            if (!a || !(o->strs = realloc(o->strs, (o->nstrs + 1) * sizeof *o->strs))) {
                free(a);
                return err_set(e, -ENOMEM, "out of memory");
            }
            memcpy(a, p, n);
            a[n] = '\0';
            o->strs[o->nstrs++] = a;
            req.trust_anchors = a;
            req.trust_anchors_len = n;
        }
        if (bad)
            return err_set(e, -ENOMEM, "out of memory");
        /* The keeper checks the leaf (key, names); the anchors choose among chains. */
        return engine_cert_download(g, &req, on_done, o, e);
    }
    case WOP_CERT_REVOKE: {
        const struct signer *ck = NULL;
        int reason = ipc_get_u64(m, WMSG_T_REASON, 0, &v) && v < 11 ? (int)v : -1;

        if (!ipc_get_bytes(m, WMSG_T_DER, 0, &p, &n))
            return err_set(e, -EPROTO, "a revocation without a certificate");
        if (ipc_count(m, WMSG_T_JWK)) {
            if ((rc = key_of(o, m, e)) < 0)
                return rc;
            ck = &o->key;
        }
        return engine_cert_revoke(g, p, n, reason, ck, on_done, o, e);
    }
    case WOP_RENEWAL_INFO: {
        const char *id = text(o, m, WMSG_T_CERTID, 0, &bad);

        if (!id)
            return err_set(e, -EPROTO, "renewal information without a certificate id");
        return engine_renewal_info_get(g, id, on_done, o, e);
    }
    case WOP_KEY_CHANGE: {
        struct engine_key_change req = {.inner = text(o, m, WMSG_T_INNER, 0, &bad)};

        if (!req.inner)
            return err_set(e, -EPROTO, "a key rollover without its inner JWS");
        if ((rc = key_of(o, m, e)) < 0)
            return rc;
        /* The new key signs what follows: its signer lives as long as the engine. */
        o->w->rolled = o->key;
        req.new_key = &o->w->rolled;
        return engine_account_key_change(g, &req, on_done, o, e);
    }
    case WOP_DEACTIVATE:
        return engine_account_deactivate(g, on_done, o, e);
    case WOP_HTTP01_FETCH:
        if (!url)
            return err_set(e, -EPROTO, "a self-test without a URL");
        return engine_http01_fetch(g, url, text(o, m, WMSG_T_CONNECT, 0, &bad), on_done, o, e);
    case WOP_END:
        break;
    }
    return err_set(e, -EPROTO, "unknown operation %d", (int)o->kind);
}

/* Runs a decoded WMSG_OP on its (started) engine; a failure to start is answered at once. */
static void op_run(struct weng *w, const struct ipc_msg *m)
{
    struct wop *o = calloc(1, sizeof *o);
    struct err e = {0};
    uint64_t id = 0, kind = 0;

    ipc_get_u64(m, WMSG_T_ID, 0, &id);
    ipc_get_u64(m, WMSG_T_OP, 0, &kind);
    if (kind == WOP_START) {
        /* The engine fetched its directory before running anything: that is the answer. */
        free(o);
        send_result(w->set, w, id, 0, &(struct engine_result){.retry_after = -1}, NULL, true);
        return;
    }
    if (!o) {
        err_set(&e, -ENOMEM, "out of memory");
        send_result(w->set, w, id, e.code, NULL, &e, false);
        return;
    }
    o->w = w;
    o->id = id;
    o->kind = (enum wmsg_op)kind;
    w->inflight++;
    if (run(o, m, &e) < 0) {
        w->inflight--;
        send_result(w->set, w, id, e.code ? e.code : -EINVAL, NULL, &e, false);
        wop_free(o);
    }
}

static void run_waiting(struct weng *w, int rc, const struct err *why)
{
    struct buf *v = w->waiting;
    size_t n = w->nwaiting;
    struct ipc_msg *m = malloc(sizeof *m);
    struct err e = {0};

    w->waiting = NULL;
    w->nwaiting = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = 0;

        if (m && ipc_decode(&wmsg_to_worker, (const uint8_t *)v[i].data, v[i].len, m, &e) == 0) {
            if (rc == 0)
                op_run(w, m);
            else if (ipc_get_u64(m, WMSG_T_ID, 0, &id))
                send_result(w->set, w, id, rc, NULL, why, false);
        }
        buf_clear(&v[i]);
    }
    free(v);
    free(m);
}

static void on_started(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct weng *w = arg;

    (void)r;
    w->state = rc == 0 ? W_STARTED : W_IDLE;
    if (rc < 0)
        log_warn("worker: %s: %s", w->url, err_msg(e));
    run_waiting(w, rc, e);
    weng_release(w);
}

static struct weng *find(struct worker_engines *s, uint64_t id)
{
    for (struct weng *w = s->engines; w; w = w->next)
        if (w->id == id && !w->dropped)
            return w;
    return NULL;
}

/* The engine the keeper names, made on first mention. */
static struct weng *engine_of(struct worker_engines *s, const struct ipc_msg *m, struct err *e)
{
    uint64_t id = 0;
    struct weng *w;
    struct http_client_opts ho = {0};
    char *url;

    ipc_get_u64(m, WMSG_T_ENGINE, 0, &id);
    if ((w = find(s, id))) {
        url = ipc_get_text(m, WMSG_T_DIRECTORY, 0);
        if (!url || strcmp(url, w->url)) {
            free(url);
            err_set(e, -EPROTO, "engine %llu named with another directory", (unsigned long long)id);
            return NULL;
        }
        free(url);
        return w;
    }
    if (!s->http) {
        ho.ca_bundle = s->ca_path;
        ho.allow_insecure_http = s->insecure_http;
        if (http_client_new(s->loop, &ho, &s->http, e) < 0)
            return NULL;
    }
    if (!(w = calloc(1, sizeof *w)) || !(w->url = ipc_get_text(m, WMSG_T_DIRECTORY, 0))) {
        free(w);
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    w->set = s;
    w->id = id;
    w->state = mgmt_url_http(w->url) ? W_STARTED : W_IDLE; /* a central server: no directory */
    if ((w->state ? engine_mgmt_new(s->http, w->url, &w->eng, e)
                  : engine_acme_new(s->loop, s->http, w->url, s->max_requests, &w->eng, e)) < 0) {
        free(w->url);
        free(w);
        return NULL;
    }
    w->next = s->engines;
    s->engines = w;
    return w;
}

static int on_op(struct worker_engines *s, const struct ipc_msg *m, const uint8_t *frame,
                 size_t len, struct err *e)
{
    struct weng *w = engine_of(s, m, e);
    struct buf *grown;

    if (!w)
        return e->code == -EPROTO ? e->code : 0;
    if (w->state == W_STARTED) {
        op_run(w, m);
        return 0;
    }
    /* Each engine fetches its directory first; what comes meanwhile waits for it. */
    if (!(grown = realloc(w->waiting, (w->nwaiting + 1) * sizeof *grown)))
        return err_set(e, -ENOMEM, "out of memory");
    w->waiting = grown;
    w->waiting[w->nwaiting] = (struct buf)BUF_INIT;
    if (buf_append(&w->waiting[w->nwaiting], frame, len) < 0)
        return err_set(e, -ENOMEM, "out of memory");
    w->nwaiting++;
    if (w->state == W_IDLE) {
        struct err se = {0};

        w->state = W_STARTING;
        if (engine_start(w->eng, on_started, w, &se) < 0) {
            w->state = W_IDLE;
            run_waiting(w, se.code, &se);
        }
    }
    return 0;
}

static int on_account(struct worker_engines *s, const struct ipc_msg *m, struct err *e)
{
    struct weng *w = engine_of(s, m, e);
    char *alg, *jwk, *kid;
    json_t *j = NULL;
    int rc = 0;

    if (!w)
        return e->code == -EPROTO ? e->code : 0;
    if (!ipc_count(m, WMSG_T_ALG))
        return engine_set_account(w->eng, NULL, NULL);
    alg = ipc_get_text(m, WMSG_T_ALG, 0);
    jwk = ipc_count(m, WMSG_T_JWK) ? ipc_get_text(m, WMSG_T_JWK, 0) : NULL;
    kid = ipc_count(m, WMSG_T_KID) ? ipc_get_text(m, WMSG_T_KID, 0) : NULL;
    if (jwk && !(j = json_loads(jwk, 0, NULL)))
        rc = err_set(e, -EPROTO, "the account's JWK is not JSON");
    else if (!alg)
        rc = err_set(e, -ENOMEM, "out of memory");
    else if ((rc = remote_hub_signer(s->hub, w->url, alg, j, &w->acct, e)) == 0)
        rc = engine_set_account(w->eng, &w->acct, kid);
    json_decref(j);
    free(alg);
    free(jwk);
    free(kid);
    return rc == -EPROTO ? rc : 0;
}

int worker_engines_handle(struct worker_engines *s, const struct ipc_msg *m, const uint8_t *frame,
                          size_t len, struct err *e)
{
    struct weng *w;
    uint64_t id = 0;

    switch (m->type) {
    case WMSG_OP:
        return on_op(s, m, frame, len, e);
    case WMSG_ACCOUNT:
        return on_account(s, m, e);
    case WMSG_DROP:
        ipc_get_u64(m, WMSG_T_ENGINE, 0, &id);
        if ((w = find(s, id))) {
            w->dropped = true;
            weng_release(w);
        }
        return 0;
    }
    return err_set(e, -EPROTO, "not an engine message");
}

int worker_engines_config(struct worker_engines *s, const char *ca_path, bool insecure_http,
                          unsigned max_requests, struct err *e)
{
    free(s->ca_path);
    s->ca_path = NULL;
    if (ca_path && !(s->ca_path = strdup(ca_path)))
        return err_set(e, -ENOMEM, "out of memory");
    s->insecure_http = insecure_http;
    s->max_requests = max_requests;
    return 0;
}

struct worker_engines *worker_engines_new(const struct worker_engines_opts *o)
{
    struct worker_engines *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->loop = o->loop;
    s->hub = o->hub;
    s->send = o->send;
    s->send_arg = o->send_arg;
    return s;
}

static void on_http_closed(void *arg)
{
    struct worker_engines *s = arg;

    while (s->engines) {
        struct weng *w = s->engines;

        s->engines = w->next;
        weng_free(w);
    }
    free(s->ca_path);
    free(s);
}

bool worker_engines_busy(const struct worker_engines *s)
{
    for (const struct weng *w = s ? s->engines : NULL; w; w = w->next)
        if (w->inflight || w->state == W_STARTING)
            return true;
    return false;
}

void worker_engines_free(struct worker_engines *s)
{
    if (!s)
        return;
    s->ending = true;
    if (s->http)
        http_client_close(s->http, on_http_closed, s);
    else
        on_http_closed(s);
}
