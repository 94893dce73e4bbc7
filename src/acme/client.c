/* client: the request machinery of client.h (the directory is fetched in client_dir.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acme/client_internal.h"
#include "acme/retry.h"
#include "util/clock.h"
#include "util/log.h"

#define NONCE_WAIT_MS 300 /* longest wait for a nonce from another answer */

/* One logical request: the attempts, nonce fetches and waits it takes until it completes. */
struct call {
    struct acme_client *c;
    char *method;
    char *url;
    char *payload;
    char *accept;
    enum acme_auth auth;
    const struct signer *signer;
    acme_cb cb;
    void *arg;
    unsigned attempts;      /* transport/5xx attempts made */
    unsigned nonce_retries; /* badNonce retries made */
    uint64_t start_ms;
    bool fetching_nonce; /* the in-flight HTTP request is HEAD newNonce */
    bool no_wait;        /* waited long enough for a nonce: fetch one now */
    bool busy;           /* an HTTP request or a signature is under way, not the timer */
    uv_timer_t timer;
    struct acme_waiter waiter; /* among the client's until the call finishes */
};

static void call_attempt(struct call *k);

/* Every response brings a fresh nonce, so a POST that finds the pool empty while requests
 * are in flight waits for one of their answers instead of spending a HEAD newNonce: many
 * orders started together then cost one HEAD, not one each. */
static void on_wait_timeout(uv_timer_t *t);

static int nonce_wait(struct acme_client *c, struct call *k)
{
    struct call **g = realloc(c->nonce_waiters, (c->nwaiters + 1) * sizeof *g);

    if (!g)
        return -ENOMEM;
    c->nonce_waiters = g;
    c->nonce_waiters[c->nwaiters++] = k;
    /* The answers in flight may be slow (a stalled server): do not wait on them for long. */
    uv_timer_start(&k->timer, on_wait_timeout, NONCE_WAIT_MS, 0);
    return 0;
}

static void nonce_unwait(struct acme_client *c, struct call *k)
{
    for (size_t i = 0; i < c->nwaiters; i++) {
        if (c->nonce_waiters[i] == k) {
            memmove(c->nonce_waiters + i, c->nonce_waiters + i + 1,
                    (c->nwaiters - i - 1) * sizeof k);
            c->nwaiters--;
            return;
        }
    }
}

static void on_wait_timeout(uv_timer_t *t)
{
    struct call *k = t->data;

    nonce_unwait(k->c, k);
    k->no_wait = true;
    call_attempt(k);
}

/* Hands pooled nonces to waiting POSTs (oldest first); when nothing is in flight any more,
 * the first waiter fetches a nonce itself. */
static void nonce_wake(struct acme_client *c)
{
    size_t n = c->nwaiters;

    /* Each waiter is looked at once: one that cannot go on queues itself again. */
    while (n-- > 0 && c->nwaiters > 0) {
        struct call *k = c->nonce_waiters[0];

        if (c->max_inflight && c->inflight >= c->max_inflight)
            break;
        if (c->nonces.n == 0 && c->inflight > 0 && !strcmp(k->method, "POST"))
            break;
        memmove(c->nonce_waiters, c->nonce_waiters + 1, (c->nwaiters - 1) * sizeof k);
        c->nwaiters--;
        uv_timer_stop(&k->timer);
        call_attempt(k);
    }
}

void acme_retry_policy_default(struct acme_retry_policy *p)
{
    p->max_attempts = 6;
    p->max_nonce_retries = 16;
    p->max_total_ms = 120 * 1000;
    p->base_backoff_ms = 500;
    p->max_backoff_ms = 30 * 1000;
    p->max_retry_after_s = 120;
}

/* --- cancellation --- */

void acme_client_waiter_add(struct acme_client *c, struct acme_waiter *w)
{
    w->prev = NULL;
    w->next = c->waiters;
    if (c->waiters)
        c->waiters->prev = w;
    c->waiters = w;
}

void acme_client_waiter_remove(struct acme_client *c, struct acme_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else if (c->waiters == w)
        c->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

bool acme_client_cancelled(const struct acme_client *c)
{
    return c->cancelled;
}

/* The HTTP client was cancelled (a forced stop): its requests on the wire end with
 * -ECANCELED through it; every waiter is told to stop waiting. A waiter's cancel only starts
 * a timer, so the list does not change under this loop. */
static void on_http_cancel(struct http_watch *hw)
{
    struct acme_client *c =
        (struct acme_client *)(void *)((char *)hw - offsetof(struct acme_client, watch));

    c->cancelled = true;
    for (struct acme_waiter *w = c->waiters; w; w = w->next)
        w->cancel(w);
}

int acme_client_new(uv_loop_t *loop, struct http_client *http, const char *directory_url,
                    const struct acme_retry_policy *policy, struct acme_client **out, struct err *e)
{
    struct acme_client *c = calloc(1, sizeof *c);

    *out = NULL;
    if (!c || !(c->dir_url = strdup(directory_url))) {
        free(c);
        return err_set(e, -ENOMEM, "out of memory");
    }
    c->loop = loop;
    c->http = http;
    if (policy)
        c->pol = *policy;
    else
        acme_retry_policy_default(&c->pol);
    c->watch.cb = on_http_cancel;
    if (http)
        http_client_watch(http, &c->watch);
    *out = c;
    return 0;
}

void acme_client_free(struct acme_client *c)
{
    if (!c)
        return;
    if (!c->cancelled)
        http_client_unwatch(c->http, &c->watch);
    nonce_pool_clear(&c->nonces);
    acme_directory_free(c->dir);
    free(c->dir_url);
    free(c->kid);
    free(c->nonce_waiters);
    free(c);
}

bool acme_client_offer_nonce(struct acme_client *c, const char *nonce)
{
    return nonce_pool_offer(&c->nonces, nonce);
}

size_t acme_client_nonce_count(const struct acme_client *c)
{
    return c->nonces.n;
}

/* --- one logical request --- */

static void call_free_cb(uv_handle_t *h)
{
    struct call *k = h->data;

    free(k->method);
    free(k->url);
    free(k->payload);
    free(k->accept);
    free(k);
}

static void result_clear(struct acme_result *r)
{
    acme_problem_free(r->problem);
    acme_account_free(r->account);
    acme_order_free(r->order);
    acme_authz_free(r->authz);
    acme_challenge_free(r->challenge);
    free(r->cert_pem);
}

/* Completes the call: runs the callback once, then releases the call after its timer closed. */
static void call_finish(struct call *k, int rc, struct acme_result *r, const struct err *e)
{
    acme_client_waiter_remove(k->c, &k->waiter);
    k->busy = false;
    k->cb(k->arg, rc, r, e);
    uv_close((uv_handle_t *)&k->timer, call_free_cb);
}

static void call_fail(struct call *k, int rc, const struct err *e)
{
    struct acme_result r = {.retry_after = -1};

    call_finish(k, rc, &r, e);
}

static void on_timer(uv_timer_t *t)
{
    call_attempt(t->data);
}

/* The client is cancelled: a call waiting on its timer (its start, a backoff, a nonce, its
 * turn) fails from it at once; one on the wire or at its signer fails when that answers. */
static void call_cancel(struct acme_waiter *w)
{
    struct call *k = (struct call *)(void *)((char *)w - offsetof(struct call, waiter));

    if (!k->busy)
        uv_timer_start(&k->timer, on_timer, 0, 0);
}

/* Waits `ms` then attempts again. Waits are timers, never sleeps. */
static void call_retry_in(struct call *k, uint64_t ms)
{
    k->c->stats.retries++;
    uv_timer_start(&k->timer, on_timer, ms, 0);
}

/* Retries after a transport error or a 429/5xx when the policy allows; otherwise fails with
 * the given error. retry_after < 0 means the server did not say. */
static void call_retry_or_fail(struct call *k, int rc, struct acme_result *r, const struct err *e)
{
    const struct acme_retry_policy *p = &k->c->pol;
    uint64_t elapsed = clock_mono_ms() - k->start_ms;
    uint64_t wait;

    if (r->retry_after > (time_t)p->max_retry_after_s)
        goto give_up;
    wait = r->retry_after >= 0
               ? (uint64_t)r->retry_after * 1000
               : acme_backoff_ms(p->base_backoff_ms, p->max_backoff_ms, k->attempts);
    if (k->attempts >= p->max_attempts || elapsed + wait > p->max_total_ms)
        goto give_up;
    /* e already names the method and the URL. */
    log_info("%s; retrying in %llu ms (attempt %u of %u)", err_msg(e), (unsigned long long)wait,
             k->attempts + 1, p->max_attempts);
    result_clear(r);
    call_retry_in(k, wait);
    return;
give_up:
    call_finish(k, rc, r, e);
    result_clear(r);
}

static void handle_response(void *arg, int rc, const struct http_response *resp,
                            const struct err *herr);

static void on_response(void *arg, int rc, const struct http_response *resp, const struct err *herr)
{
    struct call *k = arg;
    struct acme_client *c = k->c;

    c->inflight--;
    k->busy = false;
    handle_response(arg, rc, resp, herr);
    nonce_wake(c);
}

static void handle_response(void *arg, int rc, const struct http_response *resp,
                            const struct err *herr)
{
    struct call *k = arg;
    struct acme_client *c = k->c;
    struct acme_result r = {.retry_after = -1};
    struct err e, pe;

    err_clear(&e);
    if (rc == -ECANCELED) {
        call_fail(k, rc, herr);
        return;
    }
    if (rc < 0) {
        if (k->fetching_nonce)
            k->attempts++;
        k->fetching_nonce = false;
        err_set(&e, rc, "%s", err_msg(herr));
        /* An untrusted certificate, a missing CA bundle or a malformed URL will not get
         * better by waiting: only network trouble is retried. */
        if (rc == -EKEYREJECTED || rc == -ENOENT || rc == -EINVAL || rc == -EPROTONOSUPPORT) {
            call_fail(k, rc, &e);
            return;
        }
        call_retry_or_fail(k, rc, &r, &e);
        return;
    }
    acme_client_offer_nonce(c, http_header_get(resp, "Replay-Nonce"));
    if (k->fetching_nonce) {
        k->fetching_nonce = false;
        k->attempts++; /* a nonce fetch that fails uses up an attempt like any request */
        if (resp->status / 100 == 2 && c->nonces.n > 0) {
            k->attempts--; /* it worked: the attempt is the request that follows */
            call_attempt(k);
            return;
        }
        r.status = resp->status;
        r.retry_after = acme_response_retry_after(resp);
        err_set(&e, -EPROTO, "HEAD %s: no usable Replay-Nonce (HTTP %ld)", c->dir->new_nonce,
                resp->status);
        call_retry_or_fail(k, -EPROTO, &r, &e);
        return;
    }

    r.status = resp->status;
    r.http = resp;
    r.location = http_header_get(resp, "Location");
    r.retry_after = acme_response_retry_after(resp);
    if (resp->status >= 200 && resp->status < 400) {
        call_finish(k, 0, &r, NULL);
        result_clear(&r);
        return;
    }

    if (acme_response_may_be_problem(resp) &&
        acme_problem_parse(resp->body, resp->body_len, &r.problem, &pe) < 0)
        r.problem = NULL;
    if (r.problem) {
        char *text = acme_problem_format(r.problem);

        err_set(&e, ACME_EPROBLEM, "%s %s: %s", k->method, k->url, text ? text : "problem");
        free(text);
    } else {
        err_set(&e, -EPROTO, "%s %s: HTTP %ld without a problem document", k->method, k->url,
                resp->status);
    }
    if (resp->status == 400 && acme_problem_is(r.problem, "badNonce") &&
        !strcmp(k->method, "POST")) {
        /* The error response carried a fresh nonce (pooled above): retry at once. */
        if (k->nonce_retries < c->pol.max_nonce_retries) {
            k->nonce_retries++;
            log_debug("%s: badNonce, retry %u", k->url, k->nonce_retries);
            result_clear(&r);
            call_retry_in(k, 0);
            return;
        }
        err_wrap(&e, "giving up after %u badNonce retries", k->nonce_retries);
    } else if (resp->status == 429 || resp->status >= 500) {
        call_retry_or_fail(k, r.problem ? ACME_EPROBLEM : -EPROTO, &r, &e);
        return;
    }
    call_finish(k, e.code, &r, &e);
    result_clear(&r);
}

static int start_nonce_fetch(struct call *k, struct err *e)
{
    struct http_request req = {.method = "HEAD", .url = k->c->dir->new_nonce};

    int rc;

    k->fetching_nonce = true;
    k->c->stats.requests++;
    k->c->stats.nonce_heads++;
    rc = http_request_start(k->c->http, &req, on_response, k, e);
    if (rc == 0) {
        k->c->inflight++;
        k->busy = true;
    }
    return rc;
}

/* Sends the request, with `body` (the JWS of a POST, borrowed) or none. */
static void call_send(struct call *k, const char *body)
{
    struct acme_client *c = k->c;
    struct http_request req = {.method = k->method, .url = k->url, .accept = k->accept};
    struct err e;
    int rc;

    err_clear(&e);
    if (body) {
        req.content_type = "application/jose+json";
        req.body = body;
        req.body_len = strlen(body);
    }
    c->stats.requests++;
    log_debug("%s %s", k->method, k->url);
    rc = http_request_start(c->http, &req, on_response, k, &e);
    if (rc < 0) {
        call_fail(k, rc, &e);
    } else {
        c->inflight++;
        k->busy = true;
    }
}

/* The signature of a POST arrives from the signer, perhaps before jws_sign_acme_start has
 * returned (a local key), perhaps much later (a remote signer). A refusal fails this request
 * alone, with the signer's error. */
static void on_signed(void *arg, int rc, const char *jws, const struct err *se)
{
    struct call *k = arg;
    struct acme_client *c = k->c;
    struct err e;

    c->inflight--; /* the signature was counted as in flight */
    k->busy = false;
    if (rc >= 0) {
        call_send(k, jws);
        return;
    }
    err_set(&e, rc, "signing the request to %s: %s", k->url, err_msg(se));
    call_fail(k, rc, &e);
    nonce_wake(c);
}

/* Starts the signature of a POST with the nonce taken for it (freed here). On success k
 * belongs to on_signed, which may already have run: nothing touches k afterwards. */
static void call_sign(struct call *k, char *nonce)
{
    struct acme_client *c = k->c;
    bool kid = k->auth == ACME_AUTH_KID;
    struct err e;
    int rc;

    err_clear(&e);
    if (kid && !c->kid) {
        free(nonce);
        call_fail(k, err_set(&e, -EINVAL, "POST %s needs an account", k->url), &e);
        return;
    }
    /* A signature in progress counts against max_inflight: it becomes a request. */
    c->inflight++;
    k->busy = true;
    rc = jws_sign_acme_start(kid ? c->acct_signer : k->signer, kid ? c->kid : NULL, nonce, k->url,
                             k->payload, on_signed, k, &e);
    free(nonce);
    if (rc < 0) {
        c->inflight--;
        k->busy = false;
        err_wrap(&e, "signing the request to %s", k->url);
        call_fail(k, rc, &e);
    }
}

static void call_attempt(struct call *k)
{
    struct acme_client *c = k->c;
    char *nonce = NULL;
    struct err e;
    int rc;

    err_clear(&e);
    if (c->cancelled) {
        nonce_unwait(c, k);
        call_fail(k,
                  err_set(&e, -ECANCELED, "%s %s: cancelled: acmed is stopping", k->method, k->url),
                  &e);
        return;
    }
    /* At most max_inflight requests to this CA at once: the others wait their turn. */
    if (c->max_inflight && c->inflight >= c->max_inflight && nonce_wait(c, k) == 0)
        return;
    k->attempts++;
    if (strcmp(k->method, "POST") != 0) {
        call_send(k, NULL);
        return;
    }
    if (!c->dir) {
        call_fail(k, err_set(&e, -EINVAL, "POST %s before the directory", k->url), &e);
        return;
    }
    nonce = nonce_pool_take(&c->nonces);
    if (!nonce) {
        k->attempts--; /* the nonce fetch is part of this attempt */
        if (c->inflight > 0 && !k->no_wait && nonce_wait(c, k) == 0)
            return;
        k->no_wait = false;
        rc = start_nonce_fetch(k, &e);
        if (rc < 0)
            call_fail(k, rc, &e);
        return;
    }
    call_sign(k, nonce);
}

static char *dup_or_null(const char *s, bool *oom)
{
    char *p;

    if (!s)
        return NULL;
    p = strdup(s);
    if (!p)
        *oom = true;
    return p;
}

int acme_call(struct acme_client *c, const struct acme_call *call, acme_cb cb, void *arg,
              struct err *e)
{
    struct call *k = calloc(1, sizeof *k);
    bool oom = false;

    if (!k)
        return err_set(e, -ENOMEM, "out of memory");
    k->c = c;
    k->method = dup_or_null(call->method, &oom);
    k->url = dup_or_null(call->url, &oom);
    k->payload = dup_or_null(call->payload, &oom);
    k->accept = dup_or_null(call->accept, &oom);
    k->auth = call->auth;
    k->signer = call->signer;
    k->cb = cb;
    k->arg = arg;
    k->start_ms = clock_mono_ms();
    if (oom || !k->method || !k->url) {
        free(k->method);
        free(k->url);
        free(k->payload);
        free(k->accept);
        free(k);
        return err_set(e, oom ? -ENOMEM : -EINVAL, "invalid request");
    }
    if (!strcmp(k->method, "POST") && !k->payload)
        k->payload = strdup("");
    uv_timer_init(c->loop, &k->timer);
    k->timer.data = k;
    k->waiter.cancel = call_cancel;
    acme_client_waiter_add(c, &k->waiter);
    /* Start from a timer so the callback can never run inside this call. */
    uv_timer_start(&k->timer, on_timer, 0, 0);
    return 0;
}
