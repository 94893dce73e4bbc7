/* etcd_watch: watch streams (see etcd_watch.h).
 *
 * Received bytes are appended to `pending` inside curl's write callback and nothing else
 * happens there; a zero timer then splits them into lines, parses each (etcd_parse.h) and
 * calls back. The transfer's end is recorded the same way and handled by the timer after the
 * lines that came before it. The watch's memory goes in its timer's close callback. */
#include "net/etcd_watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/etcd_internal.h"
#include "util/buf.h"
#include "util/log.h"

struct etcd_watch {
    struct etcd *c;
    char *body;
    etcd_watch_cb cb;
    void *arg;
    size_t ep;
    unsigned tries;
    unsigned reauths;
    unsigned long http_id;
    bool inflight;
    bool created;       /* etcd confirmed the watch on this stream */
    bool ended;         /* the caller was told (or cancelled): no more callbacks */
    bool closed;        /* the timer is closing */
    bool have_end;      /* the transfer ended: end_rc, status, end_err */
    bool restart;       /* send again once the transfer ended: the token was refused */
    bool setup_timeout; /* aborted: etcd did not confirm the watch within timeout_ms */
    uint64_t deadline;  /* loop time by which etcd must confirm the watch */
    int end_rc;
    long status;
    struct err end_err;
    char *token_used;
    struct buf pending; /* received, not yet handled */
    uv_timer_t timer;
    struct etcd_waiter wait;
    struct etcd_stream stream;
};

#define WATCH_OF(p, field)                                                                         \
    ((struct etcd_watch *)(void *)((char *)(p)-offsetof(struct etcd_watch, field)))

static void watch_send(struct etcd_watch *w);
static void on_timer(uv_timer_t *t);

static void on_timer_closed(uv_handle_t *h)
{
    struct etcd_watch *w = h->data;
    struct etcd *c = w->c;

    free(w->body);
    free(w->token_used);
    buf_clear(&w->pending);
    free(w);
    etcd_release(c);
}

/* Frees the watch once the caller is done with it and no transfer is out. */
static void watch_maybe_close(struct etcd_watch *w)
{
    if (!w->ended || w->inflight || w->closed)
        return;
    w->closed = true;
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}

/* Records that the watch is over (false when it already was) and stops everything it has
 * going: the wait for a token, the client's stream entry, the timer, the transfer. */
static bool watch_stop(struct etcd_watch *w)
{
    if (w->ended)
        return false;
    w->ended = true;
    etcd_unwait(w->c, &w->wait);
    etcd_stream_remove(w->c, &w->stream);
    uv_timer_stop(&w->timer);
    if (w->inflight)
        http_request_abort(w->c->http, w->http_id);
    return true;
}

/* Ends the watch with rc: stops the transfer, tells the caller, frees when possible. */
static void watch_end(struct etcd_watch *w, int rc, const struct etcd_watch_msg *m,
                      const struct err *e)
{
    if (!watch_stop(w))
        return;
    log_debug("etcd: watch ended: %s", err_msg(e));
    w->cb(w->arg, rc, m, e);
    watch_maybe_close(w);
}

/* etcd refused the token this try used: forget it and send again (authenticating first). */
static void watch_resend_reauth(struct etcd_watch *w)
{
    etcd_token_refused(w->c, w->token_used);
    buf_clear(&w->pending);
    watch_send(w);
}

static int on_data(void *arg, const char *data, size_t len)
{
    struct etcd_watch *w = arg;

    if (w->ended)
        return -ECANCELED;
    /* A line may be up to ETCD_MAX_RESPONSE; more than that unhandled means a line too long. */
    if (w->pending.len + len > 2 * ETCD_MAX_RESPONSE)
        return -EFBIG;
    if (buf_append(&w->pending, data, len) < 0)
        return -ENOMEM;
    uv_timer_start(&w->timer, on_timer, 0, 0);
    return 0;
}

/* Handles one line; returns 1 to go on, 0 when the watch ended, -1 to leave the line for
 * handle_end: an error before the watch started, which may call for another try. */
static int handle_line(struct etcd_watch *w, const char *line, size_t len)
{
    struct etcd_watch_msg m;
    struct err e;
    int rc;

    err_clear(&e);
    if ((rc = etcd_parse_watch(line, len, &m, &e)) == -ECONNRESET && !w->created)
        return -1;
    if (rc < 0) {
        watch_end(w, rc == -ENOMEM ? rc : -ECONNRESET, NULL, &e);
        return 0;
    }
    switch (m.kind) {
    case ETCD_WATCH_COMPACTED:
        err_set(&e, -ESTALE, "etcd: watch: revision compacted (the oldest kept is %lld)",
                (long long)m.compact_revision);
        watch_end(w, -ESTALE, &m, &e);
        break;
    case ETCD_WATCH_CANCELED:
        if (m.unauthenticated && !w->created && w->reauths++ < 1 && w->c->user) {
            /* The token was refused: authenticate and start over once this stream is gone. */
            w->restart = true;
            http_request_abort(w->c->http, w->http_id);
            etcd_watch_msg_clear(&m);
            return 0;
        }
        err_set(&e, -ECONNRESET, "etcd: watch: etcd cancelled the watch: %s",
                m.cancel_reason ? m.cancel_reason : "(no reason given)");
        watch_end(w, m.unauthenticated ? -EACCES : -ECONNRESET, &m, &e);
        break;
    case ETCD_WATCH_CREATED:
        if (w->restart)
            break;
        w->created = true;
        w->tries = 0;
        w->c->cur = w->ep % w->c->n;
        /* fall through */
    case ETCD_WATCH_EVENTS:
        w->cb(w->arg, 0, &m, NULL);
        break;
    }
    etcd_watch_msg_clear(&m);
    return w->ended ? 0 : 1;
}

/* The transfer ended (every line before it handled): retry if the watch never started and
 * the failure allows it, else end the watch. */
static void handle_end(struct etcd_watch *w)
{
    struct etcd *c = w->c;
    char why[512];
    struct err e;
    int code = 0;
    enum etcd_next next;

    w->have_end = false;
    /* The gateway ends a stream with an error object and no newline after it. */
    if (w->created && w->pending.len > 0 && handle_line(w, w->pending.data, w->pending.len) == 0)
        return;
    if (w->end_rc < 0)
        snprintf(why, sizeof why, "%s", w->end_err.msg);
    else
        etcd_error_text(w->pending.data, w->pending.len, why, sizeof why);
    if (w->created) {
        err_set(&e, w->end_rc < 0 ? w->end_rc : -ECONNRESET, "etcd: watch: the stream ended: %s",
                w->end_rc < 0 ? why : "closed by the server");
        return watch_end(w, -ECONNRESET, NULL, &e);
    }
    next = etcd_next_step(ETCD_RANGE, w->end_rc, w->status, w->pending.data, w->pending.len, &code);
    if (next == ETCD_NEXT_REAUTH && w->reauths++ < 1 && c->user)
        return watch_resend_reauth(w);
    if (next == ETCD_NEXT_RETRY && ++w->tries < c->tries) {
        long pause = etcd_pause_ms(c, w->tries);

        etcd_endpoint_failed(c, w->ep);
        w->ep = (w->ep + 1) % c->n;
        buf_clear(&w->pending);
        if (pause > 0)
            uv_timer_start(&w->timer, on_timer, (uint64_t)pause, 0);
        else
            watch_send(w);
        return;
    }
    if (next == ETCD_NEXT_RETRY)
        etcd_endpoint_failed(c, w->ep);
    err_set(&e,
            next == ETCD_NEXT_RETRY ? -EHOSTDOWN
            : code                  ? code
                                    : -EIO,
            "etcd: watch: %s%s", next == ETCD_NEXT_RETRY ? "no endpoint answered: " : "", why);
    watch_end(w, e.code, NULL, &e);
}

static void on_timer(uv_timer_t *t)
{
    struct etcd_watch *w = t->data;
    char *nl;
    size_t used = 0, n;
    int go = 1;

    if (w->ended || w->restart)
        return;
    if (!w->inflight && !w->have_end) {
        watch_send(w); /* the pause before another try is over */
        return;
    }
    /* A callback that frees the client stops the delivery: the end comes as -ECANCELED. */
    while (go > 0 && !w->c->closing && used < w->pending.len &&
           (nl = memchr(w->pending.data + used, '\n', w->pending.len - used))) {
        n = (size_t)(nl - (w->pending.data + used));
        if (n > 0 && (go = handle_line(w, w->pending.data + used, n)) == 0)
            return;
        if (go > 0)
            used += n + 1;
    }
    if (used > 0) {
        memmove(w->pending.data, w->pending.data + used, w->pending.len - used);
        w->pending.len -= used;
        w->pending.data[w->pending.len] = '\0';
    }
    if (w->have_end)
        return handle_end(w);
    /* Until etcd confirms the watch, the try is bounded like a call (a black hole that accepts
     * the connection must not hold it forever); afterwards the stream stays open. */
    if (w->inflight && !w->created && !w->c->closing) {
        uint64_t now = uv_now(w->c->loop);

        if (now >= w->deadline) {
            w->setup_timeout = true;
            http_request_abort(w->c->http, w->http_id);
        } else {
            uv_timer_start(&w->timer, on_timer, w->deadline - now, 0);
        }
    }
}

static void on_http(void *arg, int rc, const struct http_response *resp, const struct err *he)
{
    struct etcd_watch *w = arg;
    struct err e;

    w->inflight = false;
    if (w->ended)
        return watch_maybe_close(w);
    if (w->c->closing) {
        err_set(&e, -ECANCELED, "etcd: watch: the client was closed");
        return watch_end(w, -ECANCELED, NULL, &e);
    }
    if (w->restart) {
        w->restart = false;
        return watch_resend_reauth(w);
    }
    w->have_end = true;
    w->end_rc = rc;
    w->status = resp ? resp->status : 0;
    err_clear(&w->end_err);
    if (rc < 0 && he)
        w->end_err = *he;
    if (w->setup_timeout) {
        w->setup_timeout = false;
        w->end_rc = err_set(&w->end_err, -ETIMEDOUT, "%s: no confirmation of the watch in %ld ms",
                            w->c->endpoints[w->ep % w->c->n], w->c->timeout_ms);
    }
    uv_timer_start(&w->timer, on_timer, 0, 0);
}

static void watch_send(struct etcd_watch *w)
{
    struct etcd *c = w->c;
    struct http_request hr;
    struct err e;
    char *url = NULL;
    int rc;

    err_clear(&e);
    w->created = false;
    if (c->closing) {
        err_set(&e, -ECANCELED, "etcd: watch: the client was closed");
        return watch_end(w, -ECANCELED, NULL, &e);
    }
    etcd_unwait(c, &w->wait);
    if ((rc = etcd_need_token(c, &w->wait, &e)) <= 0) {
        if (rc < 0)
            watch_end(w, rc, NULL, &e);
        return;
    }
    free(w->token_used);
    w->token_used = NULL;
    if (!(url = etcd_url(c, w->ep, "/v3/watch")) ||
        (c->token && !(w->token_used = strdup(c->token)))) {
        free(url);
        err_set(&e, -ENOMEM, "etcd: watch: out of memory");
        return watch_end(w, -ENOMEM, NULL, &e);
    }
    memset(&hr, 0, sizeof hr);
    hr.method = "POST";
    hr.url = url;
    hr.content_type = "application/json";
    hr.body = w->body;
    hr.body_len = strlen(w->body);
    hr.authorization = w->token_used;
    hr.report_unsent = true;
    hr.on_data = on_data;
    /* gRPC metadata through the gateway: etcd refuses the watch on a member without a leader
     * and ends it when the member loses its leader (a partition, a lost quorum), instead of
     * keeping a silent stream. */
    hr.extra_header = "Grpc-Metadata-hasleader: true";
    rc = http_request_start_id(c->http, &hr, on_http, w, &w->http_id, &e);
    free(url);
    if (rc < 0)
        return watch_end(w, rc, NULL, &e);
    w->inflight = true;
    w->deadline = uv_now(c->loop) + (uint64_t)c->timeout_ms;
    uv_timer_start(&w->timer, on_timer, (uint64_t)c->timeout_ms, 0);
}

static void on_token(struct etcd_waiter *wt, int rc, const struct err *e)
{
    struct etcd_watch *w = WATCH_OF(wt, wait);

    if (rc < 0)
        return watch_end(w, rc, NULL, e);
    watch_send(w);
}

/* The client is closing and the watch has no transfer out. */
static void on_closing(struct etcd_stream *s)
{
    struct etcd_watch *w = WATCH_OF(s, stream);
    struct err e;

    err_set(&e, -ECANCELED, "etcd: watch: the client was closed");
    watch_end(w, -ECANCELED, NULL, &e);
}

int etcd_watch_start(struct etcd *c, const char *prefix, int64_t start_rev, etcd_watch_cb cb,
                     void *arg, struct etcd_watch **out, struct err *e)
{
    struct etcd_watch *w;
    char *body;

    if (out)
        *out = NULL;
    if (!c || !cb)
        return err_set(e, -EINVAL, "etcd: watch: missing client or callback");
    if (c->closing)
        return err_set(e, -ESHUTDOWN, "etcd: watch: the client is closed");
    if (!(body = etcd_body_watch(prefix, start_rev, e)))
        return e ? e->code : -ENOMEM;
    if (!(w = calloc(1, sizeof *w))) {
        free(body);
        return err_set(e, -ENOMEM, "etcd: watch: out of memory");
    }
    w->c = c;
    w->body = body;
    w->cb = cb;
    w->arg = arg;
    w->ep = c->cur;
    w->wait.ready = on_token;
    w->stream.closing = on_closing;
    uv_timer_init(c->loop, &w->timer);
    w->timer.data = w;
    etcd_hold(c);
    etcd_stream_add(c, &w->stream);
    /* With neither a transfer out nor an end recorded, the timer sends. */
    uv_timer_start(&w->timer, on_timer, 0, 0);
    if (out)
        *out = w;
    return 0;
}

void etcd_watch_cancel(struct etcd_watch *w)
{
    if (w && watch_stop(w))
        watch_maybe_close(w);
}
