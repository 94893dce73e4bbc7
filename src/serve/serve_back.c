/* serve_back: the certificate server's decisions and orders (see serve_back.h). */
#include "serve/serve_back.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/csr_read.h"
#include "serve/rate.h"
#include "serve/serve_keys.h"
#include "serve/serve_target.h"
#include "store/desired.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/sanitize.h"

struct sorder;

struct serve_wait {
    struct serve_back *b;
    struct sorder *o;
    serve_answer_cb cb;
    void *arg;
    uv_timer_t timer; /* request-timeout */
    struct serve_wait *next;
};

/* One CSR's order: the requests waiting for it share it. */
struct sorder {
    struct serve_back *b;
    char sha[65];
    char client[64];
    struct target t;
    struct serve_wait *waiters;
    struct rec_extra x;  /* when it joined a running pass (reconcile_add_extra) */
    bool done;           /* answered: no longer joinable */
    bool orphan;         /* in a pass that could not record it: freed once answered */
    struct sorder *next; /* b->queue, then b->active */
};

/* One pass of the reconciler over a batch of orders. */
struct spass {
    struct serve_back *b;
    struct rec *pass;
    struct rec_opts o;
    struct rec_extra *x;
    struct sorder **ords;
    size_t n;
    struct spass *next;
};

struct serve_back {
    struct serve_back_opts o;
    struct store st;
    struct rules_key *keys; /* one per client; key NULL when it has no hmac-key-file */
    struct rate rate;
    struct sorder *queue, *active; /* waiting for a pass; in a pass */
    struct spass *passes;
    size_t inflight; /* orders in passes not yet answered */
    unsigned long orders;
    uv_timer_t trim; /* malloc_trim once the passes are over */
    bool stopping;
    bool closing; /* stopped: only the timer's close is left */
    void (*stopped)(void *arg);
    void *stopped_arg;
};

/* ---- answers ---- */

static void answer_text(serve_answer_cb cb, void *arg, unsigned status, unsigned retry_after,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void answer_text(serve_answer_cb cb, void *arg, unsigned status, unsigned retry_after,
                        const char *fmt, ...)
{
    char line[600], clean[600];
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    n = sanitize_into(clean, sizeof clean - 1, line, strlen(line));
    clean[n++] = '\n';
    clean[n] = '\0';
    cb(arg, status, clean, n, retry_after);
}

static void on_wait_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Takes w off its order's list and frees it (the timer closes first). */
static void wait_drop(struct serve_wait *w)
{
    if (w->o) {
        for (struct serve_wait **p = &w->o->waiters; *p; p = &(*p)->next) {
            if (*p == w) {
                *p = w->next;
                break;
            }
        }
        w->o = NULL;
    }
    w->timer.data = w;
    uv_close((uv_handle_t *)&w->timer, on_wait_closed);
}

static void on_wait_timeout(uv_timer_t *t)
{
    struct serve_wait *w = t->data;
    serve_answer_cb cb = w->cb;
    void *arg = w->arg;
    unsigned s = w->b->o.conf->request_timeout_s;

    wait_drop(w);
    answer_text(cb, arg, 500, 0,
                "the order is still running after %u s (request-timeout); ask again later", s);
}

/* Answers every request waiting for o. */
static void order_answer(struct sorder *o, unsigned status, const char *body, size_t len)
{
    while (o->waiters) {
        struct serve_wait *w = o->waiters;
        serve_answer_cb cb = w->cb;
        void *arg = w->arg;

        wait_drop(w);
        cb(arg, status, body, len, 0);
    }
}

/* Answers every request waiting for o with the line "<prefix><s>". */
static void order_answer_text(struct sorder *o, unsigned status, const char *prefix, const char *s)
{
    char line[600], clean[600];
    size_t n;

    snprintf(line, sizeof line, "%s%s", prefix, s);
    n = sanitize_into(clean, sizeof clean - 1, line, strlen(line));
    clean[n++] = '\n';
    clean[n] = '\0';
    order_answer(o, status, clean, n);
}

/* ---- orders ---- */

static void list_remove(struct sorder **head, struct sorder *o)
{
    for (struct sorder **p = head; *p; p = &(*p)->next) {
        if (*p == o) {
            *p = o->next;
            o->next = NULL;
            return;
        }
    }
}

static void order_free(struct sorder *o)
{
    if (!o)
        return;
    target_clear(&o->t);
    free(o);
}

static void start_passes(struct serve_back *b);

/* An order is over (rec_opts.extra's done): its requests get the chain or the reason, and
 * the chain is cached under served/. */
static void on_order_done(void *arg, const struct target *t, const struct rec_extra_result *res)
{
    struct sorder *o = arg;
    struct serve_back *b = o->b;
    struct err e;

    (void)t;
    if (o->done)
        return;
    o->done = true;
    b->inflight--;
    list_remove(&b->active, o);
    if (res->ok) {
        if (store_served_set(&b->st, o->sha, res->cert_id, &e) < 0)
            log_warn("serve: cannot cache certificate %s: %s", res->cert_id, err_msg(&e));
        log_notice("serve: %s: certificate %s for CSR %.16s...", o->client, res->cert_id, o->sha);
        order_answer(o, 200, res->chain, res->chain_len);
    } else if (res->interrupted) {
        order_answer_text(o, 500, "", "the server is stopping; ask again later");
    } else if (res->step && !strcmp(res->step, "authorize") && res->problem &&
               strcmp(res->problem, "local")) {
        log_warn("serve: %s: validation failed: %s", o->client, err_msg(res->err));
        order_answer_text(o, 421, "the CA's validation failed: ", err_msg(res->err));
    } else {
        log_warn("serve: %s: %s", o->client, err_msg(res->err));
        order_answer_text(o, 500, "the order failed: ", err_msg(res->err));
    }
    if (o->orphan)
        order_free(o);
    start_passes(b);
}

static void pass_free(struct spass *sp)
{
    for (size_t i = 0; i < sp->n; i++)
        order_free(sp->ords[i]);
    free(sp->ords);
    free(sp->x);
    free(sp);
}

static void maybe_stopped(struct serve_back *b);

static void on_trim(uv_timer_t *t)
{
    (void)t;
    malloc_trim(0);
}

static void on_pass_done(void *arg, int code, const struct rec_summary *sum, const struct err *e)
{
    struct spass *sp = arg;
    struct serve_back *b = sp->b;
    struct rec_extra_result res = {.problem = "local", .step = "pass", .err = e};
    struct err pe;

    (void)sum;
    if (code == REC_USAGE || code == REC_LOCKED || !e) {
        if (!e || (code != REC_USAGE && code != REC_LOCKED)) {
            err_set(&pe, -EIO, "the pass ended without an answer");
            res.err = &pe;
        }
    }
    /* Orders the pass never reached (a configuration error stopped it first). */
    for (size_t i = 0; i < sp->n; i++)
        on_order_done(sp->ords[i], &sp->ords[i]->t, &res);
    for (struct spass **p = &b->passes; *p; p = &(*p)->next) {
        if (*p == sp) {
            *p = sp->next;
            break;
        }
    }
    pass_free(sp);
    if (b->stopping) {
        maybe_stopped(b);
        return;
    }
    /* The pass frees what it loaded once this returns: give the heap back when all is quiet
     * (as the daemon does after its passes). */
    if (!b->passes && !b->queue)
        uv_timer_start(&b->trim, on_trim, 0, 0);
    start_passes(b);
}

/* Moves o from the queue into pass sp (its orders are freed with it). */
static bool pass_take(struct spass *sp, struct sorder *o)
{
    struct sorder **g = realloc(sp->ords, (sp->n + 1) * sizeof *g);

    if (!g)
        return false;
    sp->ords = g;
    sp->ords[sp->n++] = o;
    sp->b->queue = o->next;
    o->next = sp->b->active;
    sp->b->active = o;
    sp->b->inflight++;
    return true;
}

/* Queued orders join the pass still running its jobs (one account lookup, one set of
 * connections for a burst of requests, and no two passes registering an account at once on
 * a fresh state directory); when none is, a new pass takes them all. The pass runs at most
 * max-orders of them at a time (conf/acmed.yaml, as every pass). */
static void start_passes(struct serve_back *b)
{
    struct spass *sp;
    struct err e;
    size_t n = 0;

    if (b->stopping || !b->queue)
        return;
    for (sp = b->passes; sp && b->queue; sp = sp->next) {
        while (b->queue) {
            struct sorder *o = b->queue;

            o->x = (struct rec_extra){.t = &o->t, .done = on_order_done, .arg = o};
            if (reconcile_add_extra(sp->pass, &o->x) < 0)
                break;
            if (!pass_take(sp, o)) {
                /* Joined, but the pass cannot keep it: it is answered, and freed, as usual. */
                list_remove(&b->queue, o);
                o->orphan = true;
            }
        }
    }
    if (!b->queue)
        return;
    for (struct sorder *o = b->queue; o; o = o->next)
        n++;
    if (!(sp = calloc(1, sizeof *sp)) || !(sp->x = calloc(n, sizeof *sp->x))) {
        free(sp);
        log_err("serve: out of memory starting orders");
        return;
    }
    sp->b = b;
    for (size_t i = 0; i < n; i++) {
        struct sorder *o = b->queue;

        sp->x[i] = (struct rec_extra){.t = &o->t, .done = on_order_done, .arg = o};
        if (!pass_take(sp, o)) {
            free(sp->ords);
            free(sp->x);
            free(sp);
            log_err("serve: out of memory starting orders");
            return;
        }
    }
    sp->o = *b->o.rec;
    sp->o.locked = true;
    sp->o.extra = sp->x;
    sp->o.nextra = n;
    sp->next = b->passes;
    b->passes = sp;
    if (reconcile_start(b->o.loop, &sp->o, on_pass_done, sp, &sp->pass, &e) < 0) {
        b->passes = sp->next;
        for (size_t i = 0; i < n; i++) {
            struct rec_extra_result res = {.problem = "local", .step = "pass", .err = &e};

            on_order_done(sp->ords[i], &sp->ords[i]->t, &res);
        }
        pass_free(sp);
    }
}

/* ---- one request ---- */

/* The chain cached for sha while more than renew-within days remain, else NULL. */
static char *cached(struct serve_back *b, const char *sha, size_t *len)
{
    char *pem = NULL;
    time_t not_after = 0;
    struct err e;
    int rc = store_served_chain(&b->st, sha, &pem, len, &not_after, &e);

    if (rc < 0) {
        if (rc != -ENOENT)
            log_warn("serve: cache: %s", err_msg(&e));
        return NULL;
    }
    if (not_after - (time_t)b->o.conf->renew_within_days * 86400 <= clock_now()) {
        free(pem);
        return NULL;
    }
    return pem;
}

static struct sorder *find(struct sorder *l, const char *sha)
{
    for (; l; l = l->next)
        if (!strcmp(l->sha, sha))
            return l;
    return NULL;
}

static int wait_on(struct serve_back *b, struct sorder *o, serve_answer_cb cb, void *arg,
                   struct serve_wait **out)
{
    struct serve_wait *w = calloc(1, sizeof *w);

    if (!w)
        return -ENOMEM;
    w->b = b;
    w->o = o;
    w->cb = cb;
    w->arg = arg;
    uv_timer_init(b->o.loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, on_wait_timeout, (uint64_t)b->o.conf->request_timeout_s * 1000, 0);
    w->next = o->waiters;
    o->waiters = w;
    *out = w;
    return 0;
}

int serve_back_ask(struct serve_back *b, const struct serve_ask *a, serve_answer_cb cb, void *arg,
                   struct serve_wait **w)
{
    struct rules_request rq = {.peer = a->peer,
                               .peer_len = a->peer_len,
                               .headers = a->headers,
                               .nheaders = a->nheaders,
                               .body = a->body,
                               .body_len = a->len};
    struct rules_verdict v;
    struct csr_info *csr = NULL;
    struct sorder *o;
    unsigned wait_s = 0;
    char *chain;
    size_t len;
    struct err e;

    *w = NULL;
    rq.peer_only = true;
    if (b->stopping) {
        answer_text(cb, arg, 500, 0, "the server is stopping");
        return 0;
    }
    /* Who is asking, first: a stranger learns nothing about its body. */
    if (rules_check(b->o.conf, b->keys, &rq, &v) < 0) {
        log_info("serve: refused: %s", v.reason);
        answer_text(cb, arg, v.status, 0, "%s", v.reason);
        return 0;
    }
    if (csr_read(a->body, a->len, &csr, &e) < 0) {
        answer_text(cb, arg, 415, 0, "not a CSR acmed orders for: %s", err_msg(&e));
        return 0;
    }
    rq.names = csr_names(csr, &rq.nnames);
    rq.peer_only = false;
    rq.mac_checked = v.client; /* its HMAC matched just above */
    if (rules_check(b->o.conf, b->keys, &rq, &v) < 0) {
        log_info("serve: refused: %s", v.reason);
        answer_text(cb, arg, v.status, 0, "%s", v.reason);
        csr_info_free(csr);
        return 0;
    }
    if (rate_take(&b->rate, v.index, &wait_s) < 0) {
        answer_text(cb, arg, 429, wait_s, "client %s is over its rate; retry in %u s",
                    v.client->name, wait_s);
        csr_info_free(csr);
        return 0;
    }
    if ((chain = cached(b, csr->sha256_hex, &len))) {
        log_info("serve: %s: the cached chain for CSR %.16s...", v.client->name, csr->sha256_hex);
        cb(arg, 200, chain, len, 0);
        free(chain);
        csr_info_free(csr);
        return 0;
    }
    /* The same CSR already on its way: one order for both. */
    if ((o = find(b->queue, csr->sha256_hex)) || (o = find(b->active, csr->sha256_hex))) {
        csr_info_free(csr);
        return wait_on(b, o, cb, arg, w);
    }
    if (!(o = calloc(1, sizeof *o))) {
        csr_info_free(csr);
        return -ENOMEM;
    }
    o->b = b;
    memcpy(o->sha, csr->sha256_hex, sizeof o->sha);
    snprintf(o->client, sizeof o->client, "%s", v.client->name);
    if (serve_target_make(b->o.state_dir, o->sha, csr, v.client, &o->t, &e) < 0) {
        order_free(o);
        answer_text(cb, arg, 500, 0, "%s", err_msg(&e));
        return 0;
    }
    if (wait_on(b, o, cb, arg, w) < 0) {
        order_free(o);
        return -ENOMEM;
    }
    log_info("serve: %s: ordering for CSR %.16s... (%zu names)", o->client, o->sha,
             o->t.nreq_names);
    b->orders++;
    o->next = NULL;
    {
        struct sorder **p = &b->queue;

        while (*p)
            p = &(*p)->next;
        *p = o;
    }
    start_passes(b);
    return 0;
}

void serve_back_forget(struct serve_back *b, struct serve_wait *w)
{
    (void)b;
    if (w)
        wait_drop(w);
}

size_t serve_back_inflight(const struct serve_back *b)
{
    size_t n = b->inflight;

    for (struct sorder *o = b->queue; o; o = o->next)
        n++;
    return n;
}

unsigned long serve_back_orders(const struct serve_back *b)
{
    return b->orders;
}

/* ---- life ---- */

int serve_back_new(const struct serve_back_opts *o, struct serve_back **out, struct err *e)
{
    struct serve_back *b = calloc(1, sizeof *b);
    int rc;

    *out = NULL;
    if (!b)
        return err_set(e, -ENOMEM, "out of memory");
    b->o = *o;
    b->st.lock_fd = -1;
    if ((rc = store_open(o->state_dir, &b->st, e)) < 0)
        goto fail;
    if ((rc = serve_keys_load(o->conf, &b->keys, e)) < 0)
        goto fail;
    if ((rc = rate_init(&b->rate, o->conf, NULL, NULL, e)) < 0)
        goto fail;
    uv_timer_init(o->loop, &b->trim);
    b->trim.data = b;
    *out = b;
    return 0;
fail:
    serve_keys_free(b->keys, o->conf->nclients);
    store_close(&b->st);
    free(b);
    return rc;
}

/* The last handle is closed: the caller hears that the server is stopped, then b goes. */
static void on_closed(uv_handle_t *h)
{
    struct serve_back *b = h->data;

    if (b->stopped)
        b->stopped(b->stopped_arg);
    free(b);
}

static void maybe_stopped(struct serve_back *b)
{
    if (b->passes || b->closing)
        return;
    b->closing = true;
    while (b->queue) {
        struct sorder *o = b->queue;

        b->queue = o->next;
        order_answer_text(o, 500, "", "the server is stopping; ask again later");
        order_free(o);
    }
    serve_keys_free(b->keys, b->o.conf->nclients);
    b->keys = NULL;
    rate_clear(&b->rate);
    store_close(&b->st);
    if (!uv_is_closing((uv_handle_t *)&b->trim))
        uv_close((uv_handle_t *)&b->trim, on_closed);
}

void serve_back_stop(struct serve_back *b, bool force, void (*done)(void *arg), void *arg)
{
    if (!b->stopping) {
        b->stopping = true;
        b->stopped = done;
        b->stopped_arg = arg;
    }
    for (struct spass *p = b->passes; p; p = p->next) {
        if (force)
            reconcile_force_stop(p->pass);
        else
            reconcile_stop(p->pass);
    }
    maybe_stopped(b);
}
