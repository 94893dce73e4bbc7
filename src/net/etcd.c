/* etcd: the client's endpoints, authentication and unary calls (see etcd.h; watches are in
 * etcd_watch.c). A call is a struct etcd_req: its body is built once and sent to one endpoint
 * after another until etcd_next_step (etcd_parse.h) says it is done. */
#include "net/etcd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/etcd_internal.h"
#include "net/etcd_parse.h"
#include "util/buf.h"
#include "util/log.h"

#define DEFAULT_TIMEOUT_MS 3000L

static const char *const paths[] = {
    [ETCD_RANGE] = "/v3/kv/range",
    [ETCD_PUT] = "/v3/kv/put",
    [ETCD_DELETE] = "/v3/kv/deleterange",
    [ETCD_TXN] = "/v3/kv/txn",
    [ETCD_LEASE_GRANT] = "/v3/lease/grant",
    [ETCD_LEASE_KEEPALIVE] = "/v3/lease/keepalive",
    [ETCD_LEASE_REVOKE] = "/v3/lease/revoke",
    [ETCD_AUTH] = "/v3/auth/authenticate",
};

struct etcd_req {
    struct etcd *c;
    enum etcd_call call;
    char *body; /* secret for ETCD_AUTH */
    size_t body_len;
    etcd_cb cb;
    void *arg;
    size_t ep;        /* endpoint of the current try */
    unsigned tries;   /* tries that failed */
    unsigned reauths; /* authentications this call asked for */
    bool inflight;    /* an HTTP request is out */
    bool ended;       /* cb has run (or is running) */
    char *token_used; /* the token the current try carries */
    struct err last;  /* why the latest try failed */
    uv_timer_t timer; /* the pause before a try; its close frees the call */
    struct etcd_waiter wait;
    struct etcd_req *prev, *next;
};

static void client_finalize(struct etcd *c);

/* ---- endpoints, lifetime ---------------------------------------------------------------- */

char *etcd_url(const struct etcd *c, size_t i, const char *path)
{
    char *url = NULL;

    return asprintf(&url, "%s%s", c->endpoints[i % c->n], path) < 0 ? NULL : url;
}

void etcd_endpoint_failed(struct etcd *c, size_t i)
{
    if (c->cur == i % c->n)
        c->cur = (c->cur + 1) % c->n;
}

long etcd_pause_ms(const struct etcd *c, unsigned tries)
{
    unsigned round = tries / (unsigned)c->n;

    if (tries == 0 || tries % c->n)
        return 0;
    return round >= 10 ? 1000 : 100L * round;
}

void etcd_hold(struct etcd *c)
{
    c->live++;
}

void etcd_release(struct etcd *c)
{
    c->live--;
    if (c->closing && c->live == 0 && !c->http)
        client_finalize(c);
}

void etcd_stream_add(struct etcd *c, struct etcd_stream *s)
{
    s->prev = NULL;
    s->next = c->streams;
    if (c->streams)
        c->streams->prev = s;
    c->streams = s;
}

void etcd_stream_remove(struct etcd *c, struct etcd_stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else if (c->streams == s)
        c->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* ---- one call --------------------------------------------------------------------------- */

static const char *call_name(enum etcd_call call)
{
    return paths[call] + 4; /* "kv/range", "lease/grant"... */
}

static void on_req_closed(uv_handle_t *h)
{
    struct etcd_req *q = h->data;
    struct etcd *c = q->c;

    if (q->call == ETCD_AUTH && q->body)
        buf_secret_free(q->body, q->body_len);
    else
        free(q->body);
    free(q->token_used);
    free(q);
    etcd_release(c);
}

/* Ends the call: unlinks it, runs its callback, closes its timer (which frees it). */
static void req_end(struct etcd_req *q, int rc, const struct etcd_result *r, const struct err *e)
{
    struct etcd *c = q->c;

    if (q->ended)
        return;
    q->ended = true;
    etcd_unwait(c, &q->wait);
    if (q->prev)
        q->prev->next = q->next;
    else
        c->reqs = q->next;
    if (q->next)
        q->next->prev = q->prev;
    uv_timer_stop(&q->timer);
    if (rc < 0)
        log_debug("%s", err_msg(e));
    q->cb(q->arg, rc, r, e);
    uv_close((uv_handle_t *)&q->timer, on_req_closed);
}

static void req_fail(struct etcd_req *q, int code, const char *detail)
{
    struct err e;

    err_set(&e, code, "etcd: %s: %s", call_name(q->call), detail);
    req_end(q, code, NULL, &e);
}

static void on_http(void *arg, int rc, const struct http_response *resp, const struct err *he);

/* Sends the current try. From the loop only (a failure ends the call at once). */
static void req_send(struct etcd_req *q)
{
    struct etcd *c = q->c;
    struct http_request hr;
    struct err e;
    char *url;
    int rc;

    if (c->closing)
        return req_fail(q, -ECANCELED, "the client was closed");
    memset(&hr, 0, sizeof hr);
    free(q->token_used);
    q->token_used = NULL;
    if (!(url = etcd_url(c, q->ep, paths[q->call])) ||
        (c->token && q->call != ETCD_AUTH && !(q->token_used = strdup(c->token)))) {
        free(url);
        return req_fail(q, -ENOMEM, "out of memory");
    }
    hr.method = "POST";
    hr.url = url;
    hr.content_type = "application/json";
    hr.body = q->body;
    hr.body_len = q->body_len;
    hr.authorization = q->token_used;
    hr.report_unsent = true;
    err_clear(&e);
    rc = http_request_start(c->http, &hr, on_http, q, &e);
    free(url);
    if (rc < 0)
        return req_end(q, rc, NULL, &e);
    q->inflight = true;
}

static void on_pause_over(uv_timer_t *t)
{
    req_send(t->data);
}

/* One more try on the next endpoint, after a pause when every endpoint failed in a row; or
 * the end when the tries are spent. */
static void req_retry(struct etcd_req *q)
{
    struct etcd *c = q->c;
    long pause;

    etcd_endpoint_failed(c, q->ep);
    if (++q->tries >= c->tries) {
        char why[ERR_MSG_MAX - 64];

        snprintf(why, sizeof why, "no endpoint answered in %u tries, the last: %.1900s", q->tries,
                 q->last.msg);
        req_fail(q, -EHOSTDOWN, why);
        return;
    }
    q->ep = (q->ep + 1) % c->n;
    if ((pause = etcd_pause_ms(c, q->tries)) > 0)
        uv_timer_start(&q->timer, on_pause_over, (uint64_t)pause, 0);
    else
        req_send(q);
}

static void on_token(struct etcd_waiter *w, int rc, const struct err *e)
{
    struct etcd_req *q = (struct etcd_req *)(void *)((char *)w - offsetof(struct etcd_req, wait));

    if (rc < 0)
        return req_end(q, rc, NULL, e);
    req_send(q);
}

/* Starts the call's first (or next) try once a token is at hand. */
static void req_go(struct etcd_req *q)
{
    struct err e;
    int rc = 1;

    err_clear(&e);
    if (q->call == ETCD_AUTH || (rc = etcd_need_token(q->c, &q->wait, &e)) > 0)
        req_send(q);
    else if (rc < 0)
        req_end(q, rc, NULL, &e);
}

static void on_first_try(uv_timer_t *t)
{
    req_go(t->data);
}

/* A 200: parse the answer and end the call with it. */
static void req_answer(struct etcd_req *q, const struct http_response *resp)
{
    struct etcd *c = q->c;
    struct etcd_result r;
    struct err e;
    char *token = NULL;
    int rc;

    err_clear(&e);
    c->cur = q->ep;
    rc = etcd_parse(q->call, resp->body, resp->body_len, &r, q->call == ETCD_AUTH ? &token : NULL,
                    &e);
    if (rc == 0 && token) {
        free(c->token);
        c->token = token;
    }
    req_end(q, rc, rc == 0 ? &r : NULL, &e);
    etcd_result_clear(&r);
}

static void on_http(void *arg, int rc, const struct http_response *resp, const struct err *he)
{
    struct etcd_req *q = arg;
    const char *body = resp ? resp->body : NULL;
    size_t len = resp ? resp->body_len : 0;
    long status = resp ? resp->status : 0;
    char why[512], detail[600], *url = etcd_url(q->c, q->ep, "");
    int code = 0;

    q->inflight = false;
    if (rc < 0)
        snprintf(why, sizeof why, "%s", err_msg(he));
    else
        etcd_error_text(body, len, why, sizeof why);
    switch (q->c->closing ? ETCD_NEXT_DONE
                          : etcd_next_step(q->call, rc, status, body, len, &code)) {
    case ETCD_NEXT_DONE:
        if (rc == 0 && status == 200 && !q->c->closing)
            req_answer(q, resp);
        else if (q->c->closing)
            req_fail(q, -ECANCELED, "the client was closed");
        else if (rc < 0)
            req_fail(q, code ? code : -EIO, why);
        else {
            snprintf(detail, sizeof detail, "HTTP %ld from %s: %s", status, url ? url : "?", why);
            req_fail(q, code ? code : -EIO, detail);
        }
        break;
    case ETCD_NEXT_RETRY:
        if (rc < 0)
            err_set(&q->last, rc, "%s", why); /* names the URL already */
        else
            err_set(&q->last, -EAGAIN, "HTTP %ld from %s: %s", status, url ? url : "?", why);
        req_retry(q);
        break;
    case ETCD_NEXT_REAUTH:
        if (q->reauths++ >= 1 || !q->c->user) {
            req_fail(q, -EACCES, why);
            break;
        }
        etcd_token_refused(q->c, q->token_used);
        req_go(q);
        break;
    case ETCD_NEXT_UNKNOWN:
        snprintf(detail, sizeof detail, "sent but not answered, outcome unknown: %s", why);
        req_fail(q, ETCD_EUNKNOWN, detail);
        break;
    }
    free(url);
}

/* Creates a call with body (taken) and starts it; the call is never ended from inside. */
static int req_start(struct etcd *c, enum etcd_call call, char *body, etcd_cb cb, void *arg,
                     struct err *e)
{
    struct etcd_req *q;

    if (!body)
        return e ? e->code : -ENOMEM;
    if (c->closing) {
        free(body);
        return err_set(e, -ESHUTDOWN, "etcd: %s: the client is closed", call_name(call));
    }
    if (!(q = calloc(1, sizeof *q))) {
        free(body);
        return err_set(e, -ENOMEM, "etcd: out of memory");
    }
    q->c = c;
    q->call = call;
    q->body = body;
    q->body_len = strlen(body);
    q->cb = cb;
    q->arg = arg;
    q->ep = c->cur;
    q->wait.ready = on_token;
    uv_timer_init(c->loop, &q->timer);
    q->timer.data = q;
    q->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = q;
    c->reqs = q;
    etcd_hold(c);
    /* The first try starts from the loop, so that cb never runs inside this call. */
    uv_timer_start(&q->timer, call == ETCD_AUTH ? on_pause_over : on_first_try, 0, 0);
    return 0;
}

/* ---- authentication --------------------------------------------------------------------- */

/* Tells every waiter (all of them: those queued meanwhile wait for the next round). */
static void on_auth(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct etcd *c = arg;
    struct etcd_waiter *w, *list = c->waiters;

    (void)r;
    c->auth = NULL;
    c->waiters = NULL;
    if (rc == 0)
        log_debug("etcd: authenticated as %s", c->user);
    while ((w = list)) {
        list = w->next;
        w->next = NULL;
        w->ready(w, rc, e);
    }
}

int etcd_need_token(struct etcd *c, struct etcd_waiter *w, struct err *e)
{
    char *body;
    int rc;

    if (!c->user || c->token)
        return 1;
    if (!c->auth) {
        body = etcd_body_auth(c->user, c->password, e);
        if ((rc = req_start(c, ETCD_AUTH, body, on_auth, c, e)) < 0)
            return err_wrap(e, "etcd: cannot authenticate");
        c->auth = c->reqs;
    }
    w->next = c->waiters;
    c->waiters = w;
    return 0;
}

void etcd_unwait(struct etcd *c, struct etcd_waiter *w)
{
    for (struct etcd_waiter **p = &c->waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            w->next = NULL;
            return;
        }
    }
}

void etcd_token_refused(struct etcd *c, const char *used)
{
    if (c->token && (!used || strcmp(c->token, used) == 0)) {
        free(c->token);
        c->token = NULL;
    }
}

/* ---- the client ------------------------------------------------------------------------- */

static int copy_endpoints(struct etcd *c, const struct etcd_opts *o, struct err *e)
{
    size_t len;

    if (!o->endpoints || o->n == 0)
        return err_set(e, -EINVAL, "etcd: no endpoint");
    if (!(c->endpoints = calloc(o->n, sizeof *c->endpoints)))
        return err_set(e, -ENOMEM, "etcd: out of memory");
    c->n = o->n;
    for (size_t i = 0; i < o->n; i++) {
        const char *ep = o->endpoints[i];

        if (!ep || (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) ||
            strpbrk(ep, "\r\n ?#") || strlen(ep) > 512)
            return err_set(e, -EINVAL, "etcd: endpoint %zu is not an http:// or https:// URL",
                           i + 1);
        len = strlen(ep);
        while (len > 0 && ep[len - 1] == '/')
            len--;
        if (!(c->endpoints[i] = strndup(ep, len)))
            return err_set(e, -ENOMEM, "etcd: out of memory");
    }
    return 0;
}

static void free_fields(struct etcd *c)
{
    for (size_t i = 0; c->endpoints && i < c->n; i++)
        free(c->endpoints[i]);
    free(c->endpoints);
    free(c->user);
    if (c->password)
        buf_secret_free(c->password, strlen(c->password));
    free(c->token);
    free(c);
}

int etcd_new(uv_loop_t *loop, const struct etcd_opts *o, struct etcd **out, struct err *e)
{
    struct http_client_opts ho;
    struct etcd *c;
    int rc;

    if (!loop || !o || !out)
        return err_set(e, -EINVAL, "etcd: missing loop, options or result pointer");
    *out = NULL;
    if (!(c = calloc(1, sizeof *c)))
        return err_set(e, -ENOMEM, "etcd: out of memory");
    c->loop = loop;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    if ((rc = copy_endpoints(c, o, e)) < 0)
        goto fail;
    c->tries = o->tries ? o->tries : (unsigned)(c->n + 1 < 3 ? 3 : c->n + 1);
    if (o->user &&
        (!(c->user = strdup(o->user)) || !(c->password = strdup(o->password ? o->password : "")))) {
        rc = err_set(e, -ENOMEM, "etcd: out of memory");
        goto fail;
    }
    memset(&ho, 0, sizeof ho);
    ho.ca_bundle = o->ca_bundle;
    ho.client_cert = o->cert;
    ho.client_key = o->key;
    ho.connect_timeout_ms = c->timeout_ms;
    ho.total_timeout_ms = c->timeout_ms;
    ho.max_body = ETCD_MAX_RESPONSE;
    ho.allow_insecure_http = o->allow_insecure_http;
    if ((rc = http_client_new(loop, &ho, &c->http, e)) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    free_fields(c);
    return rc;
}

static void client_finalize(struct etcd *c)
{
    void (*done)(void *) = c->done;
    void *arg = c->done_arg;

    free_fields(c);
    if (done)
        done(arg);
}

/* The HTTP client is closed: its transfers have ended (with -ECANCELED). End what was not in
 * flight: calls that paused or waited for a token, and watches between two tries. */
static void on_http_closed(void *arg)
{
    struct etcd *c = arg;
    struct etcd_stream *s;

    c->http = NULL;
    c->waiters = NULL;
    etcd_hold(c); /* the client stays while the loop below runs callbacks */
    while (c->reqs)
        req_fail(c->reqs, -ECANCELED, "the client was closed");
    while ((s = c->streams)) {
        etcd_stream_remove(c, s);
        s->closing(s);
    }
    etcd_release(c);
}

void etcd_free(struct etcd *c, void (*done)(void *arg), void *arg)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    c->done = done;
    c->done_arg = arg;
    http_client_close(c->http, on_http_closed, c);
}

/* ---- the calls -------------------------------------------------------------------------- */

int etcd_get(struct etcd *c, const char *key, etcd_cb cb, void *arg, struct err *e)
{
    return req_start(c, ETCD_RANGE, etcd_body_range(key, false, 0, e), cb, arg, e);
}

int etcd_get_prefix(struct etcd *c, const char *prefix, int64_t limit, etcd_cb cb, void *arg,
                    struct err *e)
{
    return req_start(c, ETCD_RANGE, etcd_body_range(prefix, true, limit, e), cb, arg, e);
}

int etcd_put(struct etcd *c, const char *key, const void *value, size_t len, int64_t lease,
             etcd_cb cb, void *arg, struct err *e)
{
    return req_start(c, ETCD_PUT, etcd_body_put(key, value, len, lease, e), cb, arg, e);
}

int etcd_delete(struct etcd *c, const char *key, bool prefix, etcd_cb cb, void *arg, struct err *e)
{
    return req_start(c, ETCD_DELETE, etcd_body_delete(key, prefix, e), cb, arg, e);
}

int etcd_txn(struct etcd *c, const struct etcd_txn *t, etcd_cb cb, void *arg, struct err *e)
{
    return req_start(c, ETCD_TXN, etcd_body_txn(t, e), cb, arg, e);
}

int etcd_lease_grant(struct etcd *c, int64_t ttl, etcd_cb cb, void *arg, struct err *e)
{
    return req_start(c, ETCD_LEASE_GRANT, etcd_body_lease_grant(ttl, e), cb, arg, e);
}

int etcd_lease_keepalive(struct etcd *c, int64_t id, etcd_cb cb, void *arg, struct err *e)
{
    return req_start(c, ETCD_LEASE_KEEPALIVE, etcd_body_lease_id(id, e), cb, arg, e);
}

int etcd_lease_revoke(struct etcd *c, int64_t id, etcd_cb cb, void *arg, struct err *e)
{
    return req_start(c, ETCD_LEASE_REVOKE, etcd_body_lease_id(id, e), cb, arg, e);
}
