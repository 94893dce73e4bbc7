/* http: the asynchronous HTTPS client of http.h, curl's multi interface driven by libuv.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one uv_poll_t per socket,
 * attached to curl's socket with curl_multi_assign) and when to wake it up
 * (CURLMOPT_TIMERFUNCTION: one uv_timer_t). curl_multi_socket_action is called only from
 * those uv callbacks, never from inside curl's callbacks; a timeout of 0 just starts the uv
 * timer, so a request never completes inside http_request_start. Finished transfers are read
 * with curl_multi_info_read; each easy handle carries its struct http_xfer in CURLOPT_PRIVATE.
 * One CURLM per client keeps the connection cache, so consecutive requests reuse connections.
 *
 * Closing: http_client_close removes every pending transfer from curl at once, closes the uv
 * handles, and parks the transfers on `cancelled`; when the last uv close callback has run,
 * their callbacks fire with -ECANCELED, then done(), then the memory is freed. Because memory
 * is only freed from a close callback, closing from inside a completion callback is safe.
 *
 * Cancelling (a forced stop) parks the transfers the same way without closing anything; a
 * second timer delivers their -ECANCELED from the loop, and the watchers hear of it at once. */
#include "net/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "net/http_global.h"
#include "net/http_xfer.h"
#include "net/url_policy.h"
#include "util/log.h"

#ifndef ACMED_VERSION
#define ACMED_VERSION "0"
#endif

#define DEFAULT_CONNECT_MS 10000L
#define DEFAULT_TOTAL_MS 60000L
#define DEFAULT_MAX_BODY ((size_t)4 << 20)

/* One socket curl asked us to watch. */
struct http_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct http_client *c;
    struct http_sock *prev, *next;
};

struct http_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct http_client_opts opts; /* defaults filled in; ca_bundle is owned */
    struct http_stats stats;
    struct http_xfer *xfers;     /* in flight, newest first */
    struct http_xfer *cancelled; /* removed by close or cancel, oldest first; callbacks pending */
    uv_timer_t cancel_timer;     /* delivers the cancelled callbacks after http_client_cancel */
    struct http_watch *watches;  /* told by http_client_cancel */
    int aborted;                 /* http_client_cancel was called */
    struct http_sock *socks;     /* polls that are open (not closing) */
    unsigned closing_handles;    /* uv_close calls whose callback has not run yet */
    unsigned long last_id;       /* of the latest request started */
    int closing;
    void (*done)(void *arg);
    void *done_arg;
};

static char empty_body[1];

/* ---- lists -------------------------------------------------------------------------------- */

static void xfer_link(struct http_xfer **head, struct http_xfer *x)
{
    x->prev = NULL;
    x->next = *head;
    if (*head)
        (*head)->prev = x;
    *head = x;
}

static void xfer_unlink(struct http_xfer **head, struct http_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        *head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

/* ---- uv handles ---------------------------------------------------------------------------- */

static void client_finalize(struct http_client *c);

/* Counts one finished uv_close; the last one after http_client_close finalizes the client. */
static void handle_closed(struct http_client *c)
{
    c->closing_handles--;
    if (c->closing && c->closing_handles == 0)
        client_finalize(c);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct http_sock *s = h->data;
    struct http_client *c = s->c;

    free(s);
    handle_closed(c);
}

/* Stops watching a socket: detaches it from curl and closes its poll (freed in the callback).
 * The poll is stopped synchronously, so curl may reuse the descriptor number at once. */
static void sock_close(struct http_sock *s)
{
    struct http_client *c = s->c;

    if (c->multi)
        curl_multi_assign(c->multi, s->fd, NULL);
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    c->closing_handles++;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void check_done(struct http_client *c);

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct http_sock *s = h->data;
    struct http_client *c = s->c;
    int flags = 0;
    int running = 0;

    if (c->closing)
        return;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    /* s may be closed by curl's socket callback during this call; do not touch it after. */
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    check_done(c);
}

static void on_timer(uv_timer_t *t)
{
    struct http_client *c = t->data;
    int running = 0;

    if (c->closing)
        return;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching `fd`. Called from inside curl, so it
 * only (re)arms uv handles. Returns 0, or -1 when a poll cannot be set up. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
    struct http_client *c = userp;
    struct http_sock *s = sockp;
    int events = 0;

    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_close(s);
        return 0;
    }
    if (!s) {
        if (c->closing)
            return 0;
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) < 0) {
            log_err("http: cannot watch socket %d", (int)fd);
            free(s);
            return -1;
        }
        s->fd = fd;
        s->c = c;
        s->poll.data = s;
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) < 0 ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: (re)arms or stops the single uv timer. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct http_client *c = userp;

    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else if (!c->closing)
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- completion ------------------------------------------------------------------------------ */

/* Adds the connections a transfer opened to the counters and takes it out of curl. */
static void xfer_detach(struct http_client *c, struct http_xfer *x)
{
    long nconn = 0;

    if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK && nconn > 0)
        c->stats.connections += (uint64_t)nconn;
    curl_multi_remove_handle(c->multi, x->easy);
    xfer_unlink(&c->xfers, x);
}

/* Hands a finished transfer to its callback, then frees it. */
static void xfer_finish(struct http_xfer *x, CURLcode res)
{
    struct http_client *c = x->c;
    struct http_response resp;
    struct err e;
    char *url = NULL;
    int rc = 0;

    err_clear(&e);
    xfer_detach(c, x);
    if (res != CURLE_OK) {
        rc = http_xfer_error(x, res, &e);
        log_debug("http: %s", e.msg);
        x->cb(x->arg, rc, NULL, &e);
        goto out;
    }
    memset(&resp, 0, sizeof resp);
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
    resp.effective_url = url ? url : x->url;
    resp.body = x->body.data ? x->body.data : empty_body;
    resp.body_len = x->body.len;
    resp.headers = x->headers;
    resp.nheaders = x->nheaders;
    log_debug("http: %s %s: %ld", x->method, x->url, resp.status);
    x->cb(x->arg, 0, &resp, NULL);
out:
    http_xfer_free(x);
}

/* Delivers every finished transfer. Stops as soon as a callback closed the client: the multi
 * handle is gone then (the client itself stays until its close callbacks have run). */
static void check_done(struct http_client *c)
{
    CURLMsg *m;
    CURL *easy;
    CURLcode res;
    char *priv;
    int left;

    while (!c->closing && (m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        easy = m->easy_handle;
        res = m->data.result;
        priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        if (priv)
            xfer_finish((struct http_xfer *)(void *)priv, res);
    }
}

/* ---- global init, default trust ------------------------------------------------------------ */

/* The CA file a client with no ca_bundle trusts: http_dir_bundle of libcurl's default CA
 * directory when libcurl has no default CA file (CURLINFO_CAINFO and CURLINFO_CAPATH report
 * the defaults since 7.84.0), else NULL: libcurl's default stays. With Debian 12's
 * libcurl-gnutls, each new connection then parses 144 certificates instead of 432 (9 ms instead
 * of 54) and holds 3.5 MiB of them instead of 7.2 (bench/README.md). The bundle is one of the
 * directory's files, so this never trusts a CA the directory would not. */
static char *default_bundle(void)
{
#if LIBCURL_VERSION_NUM >= 0x075400
    CURL *h = curl_easy_init();
    char *file = NULL, *dir = NULL, *bundle = NULL;

    if (!h)
        return NULL;
    if (curl_easy_getinfo(h, CURLINFO_CAINFO, &file) == CURLE_OK && !file &&
        curl_easy_getinfo(h, CURLINFO_CAPATH, &dir) == CURLE_OK && dir)
        bundle = http_dir_bundle(dir);
    curl_easy_cleanup(h);
    return bundle;
#else
    return NULL;
#endif
}

/* ---- public -------------------------------------------------------------------------------- */

int http_client_new(uv_loop_t *loop, const struct http_client_opts *opts, struct http_client **out,
                    struct err *e)
{
    struct http_client *c = NULL;
    int global = 0;
    int rc;

    if (!loop || !out)
        return err_set(e, -EINVAL, "http: missing loop or result pointer");
    *out = NULL;
    /* curl counts init/cleanup pairs; each client holds one so that the last close releases
     * the TLS library's globals. */
    if (http_global_init() < 0) {
        rc = err_set(e, -EIO, "http: curl_global_init failed");
        goto out;
    }
    global = 1;
    c = calloc(1, sizeof *c);
    if (!c) {
        rc = err_set(e, -ENOMEM, "http: out of memory");
        goto out;
    }
    c->loop = loop;
    if (opts)
        c->opts = *opts;
    if (c->opts.connect_timeout_ms <= 0)
        c->opts.connect_timeout_ms = DEFAULT_CONNECT_MS;
    if (c->opts.total_timeout_ms <= 0)
        c->opts.total_timeout_ms = DEFAULT_TOTAL_MS;
    if (c->opts.max_body == 0)
        c->opts.max_body = DEFAULT_MAX_BODY;
    if (!c->opts.ca_bundle) {
        c->opts.ca_bundle = default_bundle();
        if (c->opts.ca_bundle)
            log_debug("http: no CA bundle configured: trusting %s", c->opts.ca_bundle);
    } else if (!(c->opts.ca_bundle = strdup(c->opts.ca_bundle))) {
        rc = err_set(e, -ENOMEM, "http: out of memory");
        goto out;
    }
    c->multi = curl_multi_init();
    if (!c->multi || curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) ||
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c)) {
        rc = err_set(e, -ENOMEM, "http: cannot set up the curl multi handle");
        goto out;
    }
    /* Last: once initialised, the timer belongs to the loop and needs uv_close. */
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_init(loop, &c->cancel_timer);
    c->cancel_timer.data = c;
    *out = c;
    c = NULL;
    global = 0;
    rc = 0;
out:
    if (c) {
        if (c->multi)
            curl_multi_cleanup(c->multi);
        free((char *)c->opts.ca_bundle);
        free(c);
    }
    if (global)
        http_global_cleanup();
    return rc;
}

int http_request_start(struct http_client *c, const struct http_request *req, http_cb cb, void *arg,
                       struct err *e)
{
    return http_request_start_id(c, req, cb, arg, NULL, e);
}

int http_request_start_id(struct http_client *c, const struct http_request *req, http_cb cb,
                          void *arg, unsigned long *id, struct err *e)
{
    struct http_xfer *x = NULL;
    int rc;

    if (!c || !req || !req->url || !cb)
        return err_set(e, -EINVAL, "http: missing client, request, URL or callback");
    if (c->closing)
        return err_set(e, -ESHUTDOWN, "http: %s: the client is closing", req->url);
    if (c->aborted)
        return err_set(e, -ECANCELED, "http: %s: cancelled: acmed is stopping", req->url);
    if (!req->plain_http &&
        (rc = url_policy_check(req->url, c->opts.allow_insecure_http, "URL", e)) < 0)
        return rc;
    rc = http_xfer_new(req, &c->opts, &x, e);
    if (rc < 0)
        goto out;
    x->c = c;
    x->cb = cb;
    x->arg = arg;
    /* This arms the uv timer with 0 at most; the transfer starts on the next loop turn. */
    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
        rc = err_set(e, -ENOMEM, "http: %s %s: cannot add the request", x->method, x->url);
        goto out;
    }
    xfer_link(&c->xfers, x);
    c->stats.requests++;
    x->id = ++c->last_id;
    if (id)
        *id = x->id;
    x = NULL;
    rc = 0;
out:
    http_xfer_free(x);
    return rc;
}

void http_client_stats(const struct http_client *c, struct http_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (c)
        *out = c->stats;
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

/* Runs after the last uv handle of a closing client has closed: the cancelled callbacks, then
 * done(), then the memory. */
static void client_finalize(struct http_client *c)
{
    struct http_xfer *x;
    struct err e;

    while ((x = c->cancelled)) {
        c->cancelled = x->next;
        err_set(&e, -ECANCELED, "%s %s: cancelled: the HTTP client was closed", x->method, x->url);
        x->cb(x->arg, -ECANCELED, NULL, &e);
        http_xfer_free(x);
    }
    if (c->done)
        c->done(c->done_arg);
    free((char *)c->opts.ca_bundle);
    free(c);
    http_global_cleanup();
}

void http_client_close(struct http_client *c, void (*done)(void *arg), void *arg)
{
    struct http_xfer *x;

    if (!c || c->closing)
        return;
    c->closing = 1;
    c->done = done;
    c->done_arg = arg;
    /* xfers is newest first; pushing onto cancelled reverses it to oldest first. */
    while ((x = c->xfers)) {
        xfer_detach(c, x);
        xfer_link(&c->cancelled, x);
    }
    while (c->socks)
        sock_close(c->socks);
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    c->closing_handles += 2;
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    uv_close((uv_handle_t *)&c->cancel_timer, on_timer_closed);
}

void http_client_watch(struct http_client *c, struct http_watch *w)
{
    w->next = c->watches;
    c->watches = w;
}

void http_client_unwatch(struct http_client *c, struct http_watch *w)
{
    for (struct http_watch **p = c ? &c->watches : NULL; p && *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            w->next = NULL;
            return;
        }
    }
}

/* Delivers the transfers http_client_cancel parked, oldest first. A callback may close the
 * client: the rest are then delivered by client_finalize. */
static void on_cancel_timer(uv_timer_t *t)
{
    struct http_client *c = t->data;
    struct http_xfer *x;
    struct err e;

    while (!c->closing && (x = c->cancelled)) {
        c->cancelled = x->next;
        err_set(&e, -ECANCELED, "%s %s: cancelled: %s", x->method, x->url,
                x->aborted ? "aborted by its caller" : "acmed is stopping");
        x->cb(x->arg, -ECANCELED, NULL, &e);
        http_xfer_free(x);
    }
}

void http_request_abort(struct http_client *c, unsigned long id)
{
    struct http_xfer *x, **p;

    for (x = c && !c->closing ? c->xfers : NULL; x; x = x->next) {
        if (x->id == id) {
            xfer_detach(c, x);
            x->aborted = 1;
            /* Last in the list, so delivered after what a cancel parked before it. */
            for (p = &c->cancelled; *p; p = &(*p)->next)
                ;
            *p = x;
            uv_timer_start(&c->cancel_timer, on_cancel_timer, 0, 0);
            return;
        }
    }
}

void http_client_cancel(struct http_client *c)
{
    struct http_xfer *x;
    struct http_watch *w;

    if (!c || c->closing || c->aborted)
        return;
    c->aborted = 1;
    /* Pushed in front of what may already wait, newest first: oldest first once reversed. */
    while ((x = c->xfers)) {
        xfer_detach(c, x);
        xfer_link(&c->cancelled, x);
    }
    uv_timer_start(&c->cancel_timer, on_cancel_timer, 0, 0);
    while ((w = c->watches)) {
        c->watches = w->next;
        w->next = NULL;
        w->cb(w);
    }
}

char *http_dir_bundle(const char *dir)
{
    struct stat st;
    char *path = NULL;

    if (!dir || !*dir ||
        asprintf(&path, "%s%sca-certificates.crt", dir, dir[strlen(dir) - 1] == '/' ? "" : "/") < 0)
        return NULL;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        free(path);
        return NULL;
    }
    return path;
}
