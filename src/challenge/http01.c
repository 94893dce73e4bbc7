/* http01: the http-01 listener of http01.h.
 *
 * Sockets are created, bound and put to listen with plain syscalls (none of them blocks)
 * before any uv handle exists, so the common failure, an address in use, needs no
 * asynchronous clean-up; the bound descriptors are then handed to uv_tcp_open.
 *
 * A connection reads into a fixed 8 KiB buffer and re-parses it (http01_req_parse is pure)
 * whenever a line ending arrives. Once the response is queued, the write side is shut down
 * and the connection lingers, reading and discarding, until the client closes or a short
 * timer fires: closing a socket with unread input makes the kernel send a reset, which can
 * destroy the response before the client has read it.
 *
 * Admission (net/conn_guard.h): a connection is IDLE until its request head is complete, BUSY
 * while the answer is written, DONE while it lingers. Its one timer first holds the idle
 * deadline, then the rest of the deadline of the whole exchange, then the linger. The
 * listener's `sweep` timer runs conn_guard_sweep when an address has too many idle ones.
 *
 * Memory of a connection is freed when the close callbacks of both its handles have run;
 * the listener itself when every handle is closed after http01_close. The `sweep` timer
 * exists from the start, so there is always a close callback and done() is always deferred. */
#include "challenge/http01.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "challenge/http01_answers.h"
#include "challenge/http01_lookup.h"
#include "challenge/http01_req.h"
#include "net/listen_sock.h"
#include "util/log.h"

#define BACKLOG 128
#define LINGER_MS 2000

struct listener {
    uv_tcp_t tcp;
    struct http01 *h;
    struct listen_addr addr; /* as given, then as bound */
    int status;              /* 0 listening, or the negative error that prevented it */
    int fd;                  /* bound socket not yet handed to uv, or -1 */
    bool open;               /* tcp initialised: needs uv_close */
};

/* READING until the head is complete; ASKING while the lookup is asked for a token with no
 * answer here; ANSWERED once the response and the shutdown of the write side are queued;
 * LINGERING once the shutdown is done, draining input. */
enum conn_state { CONN_READING, CONN_ASKING, CONN_ANSWERED, CONN_LINGERING };

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    struct http01 *h;
    struct conn_guard_entry ge; /* every open connection is in h->guard */
    uint64_t t0;                /* uv_now at the accept */
    unsigned handles;           /* initialised handles whose close callback has not run */
    bool linked;                /* in h->guard */
    bool closing;
    bool seen_lf;
    bool peer_eof; /* the client closed its side while the response was being written */
    enum conn_state state;
    size_t len;
    char *resp;
    struct http01_ask *ask; /* ASKING: the lookup's record, orphaned when we close */
    struct http01_req req;  /* ASKING: what was asked */
    char buf[HTTP01_REQ_MAX_HEAD];
};

struct http01 {
    uv_loop_t *loop;
    uv_timer_t sweep;
    struct listener *lis;
    size_t nlis;
    struct conn_guard guard;
    struct http01_answers answers;
    struct http01_lookup lookup; /* asks on a miss (http01_set_lookup) */
    unsigned handles;            /* uv handles initialised and not yet closed */
    bool closing;
    void (*done)(void *);
    void *done_arg;
};

/* ---- closing ------------------------------------------------------------------------------ */

static void finalize(struct http01 *h)
{
    void (*done)(void *) = h->done;
    void *arg = h->done_arg;

    http01_answers_clear(&h->answers);
    free(h->lis);
    free(h);
    if (done)
        done(arg);
}

static void handle_closed(struct http01 *h)
{
    h->handles--;
    if (h->closing && h->handles == 0)
        finalize(h);
}

static void on_handle_closed(uv_handle_t *hd)
{
    handle_closed(hd->data);
}

static void on_listener_closed(uv_handle_t *hd)
{
    struct listener *l = hd->data;

    handle_closed(l->h);
}

static void on_conn_closed(uv_handle_t *hd)
{
    struct conn *c = hd->data;
    struct http01 *h = c->h;

    if (--c->handles == 0) {
        free(c->resp);
        free(c);
    }
    handle_closed(h);
}

/* Closes a connection (idempotent). Pending write and shutdown requests are cancelled by
 * libuv before the close callbacks run, so c stays valid for their callbacks. */
static void conn_close(struct conn *c)
{
    struct http01 *h = c->h;

    if (c->closing)
        return;
    c->closing = true;
    http01_lookup_cancel(c->ask);
    if (c->linked) {
        conn_guard_remove(&h->guard, &c->ge);
        c->linked = false;
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    if (c->handles == 2)
        uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

/* Starts closing every handle; h is freed once the last close callback has run. */
static void close_all(struct http01 *h)
{
    struct conn_guard_entry *e;

    h->closing = true;
    http01_lookup_detach(&h->lookup);
    for (size_t i = 0; i < h->nlis; i++) {
        if (h->lis[i].open) {
            h->lis[i].open = false;
            uv_close((uv_handle_t *)&h->lis[i].tcp, on_listener_closed);
        }
        if (h->lis[i].fd >= 0) {
            close(h->lis[i].fd);
            h->lis[i].fd = -1;
        }
    }
    while ((e = conn_guard_first(&h->guard)))
        conn_close(e->owner);
    uv_close((uv_handle_t *)&h->sweep, on_handle_closed);
}

void http01_close(struct http01 *h, void (*done)(void *), void *arg)
{
    if (!h || h->closing)
        return;
    h->done = done;
    h->done_arg = arg;
    close_all(h);
}

/* ---- answers ------------------------------------------------------------------------------ */

int http01_add(struct http01 *h, const char *token, const char *keyauth, struct err *e)
{
    if (!h || h->closing || !keyauth)
        return err_set(e, -EINVAL, "http-01: no listener or no key authorization");
    return http01_answers_put(&h->answers, token, keyauth, e);
}

void http01_remove(struct http01 *h, const char *token)
{
    if (h)
        http01_answers_remove(&h->answers, token);
}

void http01_set_lookup(struct http01 *h, const struct chal_lookup *lk)
{
    if (h && !h->closing)
        h->lookup.lk = lk;
}

size_t http01_count(const struct http01 *h)
{
    return h ? h->answers.n : 0;
}

/* ---- connections -------------------------------------------------------------------------- */

static void respond(struct conn *c, int rc, const struct http01_req *req, const char *found);

static void on_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;

    if (c->state == CONN_READING)
        log_debug("http-01: closing a connection without a complete request after %llu ms",
                  (unsigned long long)(uv_now(c->h->loop) - c->t0));
    else if (c->state == CONN_ANSWERED)
        log_debug("http-01: closing a connection whose answer was not taken in time");
    if (c->state == CONN_ASKING) {
        log_debug("http-01: no answer came in time for token %s", c->req.token);
        http01_lookup_cancel(c->ask);
        respond(c, HTTP01_REQ_OK, &c->req, NULL);
        return;
    }
    conn_close(c);
}

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = req->data;

    if (status < 0 && !c->closing)
        conn_close(c);
}

/* The write side is closed: wait a little for the client to close its side. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    unsigned ms = c->h->guard.lim.timeout_ms < LINGER_MS ? c->h->guard.lim.timeout_ms : LINGER_MS;

    if (c->closing)
        return;
    c->state = CONN_LINGERING;
    conn_guard_set_stage(&c->h->guard, &c->ge, CONN_GUARD_DONE);
    if (status < 0 || c->peer_eof || uv_timer_start(&c->timer, on_timeout, ms, 0) < 0)
        conn_close(c);
}

/* Formats the whole response for a parse result into c->resp: for a token, found (what the
 * lookup answered) or the answer published here. Returns its length or 0. */
static size_t format_response(struct conn *c, int rc, const struct http01_req *req,
                              const char *found)
{
    int status = http01_req_status(rc);
    const struct http01_answer *a =
        rc == HTTP01_REQ_OK ? http01_answers_find(&c->h->answers, req->token) : NULL;
    const char *body = a ? a->keyauth : found;

    if (rc == HTTP01_REQ_OK && !body)
        status = 404;
    if (body)
        log_debug("http-01: served the key authorization for token %s%s", req->token,
                  a ? "" : " (looked up)");
    else if (rc == HTTP01_REQ_OK)
        log_debug("http-01: no answer published for token %s", req->token);
    return http01_response_format(status, body, req->head, &c->resp);
}

/* Queues the response, then the shutdown of the write side (libuv runs it after the write).
 * The connection is no longer idle: from now on only the deadline of the whole exchange, which
 * started at the accept, bounds it. */
static void respond(struct conn *c, int rc, const struct http01_req *req, const char *found)
{
    size_t n = format_response(c, rc, req, found);
    uv_buf_t b = uv_buf_init(c->resp, (unsigned)n);
    uint64_t spent = uv_now(c->h->loop) - c->t0, total = c->h->guard.lim.timeout_ms;

    c->state = CONN_ANSWERED;
    conn_guard_set_stage(&c->h->guard, &c->ge, CONN_GUARD_BUSY);
    c->wreq.data = c;
    c->sreq.data = c;
    if (n == 0 || uv_timer_start(&c->timer, on_timeout, spent < total ? total - spent : 1, 0) < 0 ||
        uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0 ||
        uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        conn_close(c);
}

static void on_looked_up(void *owner, const char *keyauth)
{
    struct conn *c = owner;

    respond(c, HTTP01_REQ_OK, &c->req, keyauth);
}

/* A token with no answer here: asks the lookup, bounded by CHAL_LOOKUP_TIMEOUT_MS within the
 * deadline of the whole exchange. Returns false when there is no lookup to ask. */
static bool ask(struct conn *c, const struct http01_req *req)
{
    struct http01 *h = c->h;
    uint64_t spent = uv_now(h->loop) - c->t0, total = h->guard.lim.timeout_ms;
    uint64_t left = spent < total ? total - spent : 1;

    if (!h->lookup.lk)
        return false;
    c->req = *req;
    c->state = CONN_ASKING;
    conn_guard_set_stage(&h->guard, &c->ge, CONN_GUARD_BUSY);
    if (uv_timer_start(&c->timer, on_timeout,
                       left < CHAL_LOOKUP_TIMEOUT_MS ? left : CHAL_LOOKUP_TIMEOUT_MS, 0) < 0)
        conn_close(c);
    else if (http01_lookup_ask(&h->lookup, req->token, on_looked_up, c, &c->ask) < 0)
        respond(c, HTTP01_REQ_OK, &c->req, NULL);
    return true;
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = hd->data;

    /* After the answer, input is only drained: reuse the whole buffer. */
    if (c->state != CONN_READING)
        *buf = uv_buf_init(c->buf, sizeof c->buf);
    else
        *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct http01_req req;
    bool lf;
    int rc;

    if (c->closing)
        return;
    /* A client may send its request and close its side at once: closing here could cancel
     * the response still queued, so the shutdown callback closes instead. */
    if (nread == UV_EOF && (c->state == CONN_ASKING || c->state == CONN_ANSWERED)) {
        c->peer_eof = true;
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->state != CONN_READING)
        return;
    lf = memchr(c->buf + c->len, '\n', (size_t)nread) != NULL;
    c->len += (size_t)nread;
    /* Only a line ending can complete the head; a long first line or a full buffer can end
     * it with an error. Re-parsing on anything else would let a byte-at-a-time client make
     * us scan the buffer thousands of times. */
    if (!lf && c->len < sizeof c->buf && (c->seen_lf || c->len <= HTTP01_REQ_MAX_LINE + 1))
        return;
    c->seen_lf = c->seen_lf || lf;
    rc = http01_req_parse(c->buf, c->len, &req);
    if (rc == HTTP01_REQ_OK && !http01_answers_find(&c->h->answers, req.token) && ask(c, &req))
        return;
    if (rc != HTTP01_REQ_INCOMPLETE)
        respond(c, rc, &req, NULL);
}

static void evict(void *owner)
{
    conn_close(owner);
}

static void on_sweep(uv_timer_t *t)
{
    struct http01 *h = t->data;
    uint64_t next = conn_guard_sweep(&h->guard, uv_now(h->loop), "http-01", evict);

    if (next)
        uv_timer_start(t, on_sweep, next, 0);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct listener *l = server->data;
    struct http01 *h = l->h;
    struct sockaddr_storage peer;
    int peerlen = sizeof peer;
    uv_os_fd_t fd = -1;
    struct conn *c;

    if (status < 0) {
        log_warn("http-01: cannot accept on %s: %s", l->addr.text, uv_strerror(status));
        return;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        log_err("http-01: out of memory accepting on %s", l->addr.text);
        return;
    }
    c->h = h;
    uv_tcp_init(h->loop, &c->tcp);
    c->tcp.data = c;
    c->handles = 1;
    h->handles++;
    /* Accepted even when refused: an unaccepted connection stalls the listener. */
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 ||
        uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &peerlen) < 0 ||
        uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0 ||
        !conn_guard_make_room(&h->guard, "http-01", evict)) {
        conn_close(c);
        return;
    }
    c->linked = true;
    c->t0 = uv_now(h->loop);
    if (conn_guard_add(&h->guard, &c->ge, c, fd, (struct sockaddr *)&peer, c->t0) &&
        !uv_is_active((uv_handle_t *)&h->sweep))
        uv_timer_start(&h->sweep, on_sweep, h->guard.lim.grace_ms, 0);
    uv_timer_init(h->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    h->handles++;
    if (uv_timer_start(&c->timer, on_timeout, h->guard.lim.idle_ms, 0) < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

/* ---- listeners ---------------------------------------------------------------------------- */

/* Binds every address; fails only for a required one. */
static int bind_all(struct http01 *h, const bool *required, struct err *e)
{
    for (size_t i = 0; i < h->nlis; i++) {
        struct listener *l = &h->lis[i];
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        struct err oe = {0};
        int fd =
            listen_sock_open((const struct sockaddr *)&l->addr.sa, l->addr.len, l->addr.text, &oe);

        if (fd < 0) {
            l->status = fd;
            if (!required || required[i])
                return err_set(e, fd, "http-01: %s", err_msg(&oe));
            log_info("http-01: not listening: %s", err_msg(&oe));
            continue;
        }
        l->fd = fd;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            listen_addr_from_sockaddr(&l->addr, (struct sockaddr *)&ss, sl);
    }
    return 0;
}

/* Hands the bound sockets to libuv. */
static int watch_all(struct http01 *h, struct err *e)
{
    for (size_t i = 0; i < h->nlis; i++) {
        struct listener *l = &h->lis[i];
        int rc;

        if (l->fd < 0)
            continue;
        uv_tcp_init(h->loop, &l->tcp);
        l->tcp.data = l;
        l->open = true;
        h->handles++;
        rc = uv_tcp_open(&l->tcp, l->fd);
        if (rc == 0)
            l->fd = -1; /* owned by the handle now */
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&l->tcp, BACKLOG, on_connection);
        if (rc < 0) {
            l->status = rc;
            return err_set(e, rc, "cannot listen for http-01 on %s: %s", l->addr.text,
                           uv_strerror(rc));
        }
        log_debug("http-01: listening on %s", l->addr.text);
    }
    return 0;
}

/* A responder with n listeners, none bound yet. NULL when out of memory. */
static struct http01 *alloc_responder(uv_loop_t *loop, size_t n)
{
    struct http01 *h = calloc(1, sizeof *h);

    if (h && !(h->lis = calloc(n, sizeof *h->lis))) {
        free(h);
        h = NULL;
    }
    if (!h)
        return NULL;
    h->loop = loop;
    h->nlis = n;
    conn_guard_init(&h->guard, NULL);
    for (size_t i = 0; i < n; i++) {
        h->lis[i].h = h;
        h->lis[i].fd = -1;
    }
    return h;
}

/* Puts the bound sockets of h on the loop (rc: how binding went); on failure h is released,
 * through the loop once a handle was set up. */
static int finish_start(struct http01 *h, int rc, struct http01 **out, struct err *e)
{
    if (rc < 0)
        goto out;
    uv_timer_init(h->loop, &h->sweep);
    h->sweep.data = h;
    h->handles++;
    rc = watch_all(h, e);
    if (rc < 0)
        goto out;
    *out = h;
    h = NULL;
out:
    if (h && h->handles) {
        close_all(h); /* freed by the loop, without a done callback */
    } else if (h) {
        for (size_t i = 0; i < h->nlis; i++)
            if (h->lis[i].fd >= 0)
                close(h->lis[i].fd);
        free(h->lis);
        free(h);
    }
    return rc;
}

int http01_start(uv_loop_t *loop, const struct listen_addr *addrs, const bool *required, size_t n,
                 struct http01 **out, struct err *e)
{
    struct http01 *h = NULL;

    if (out)
        *out = NULL;
    if (!loop || !addrs || !n || !out)
        return err_set(e, -EINVAL, "http-01: no loop or no listen address");
    if (!(h = alloc_responder(loop, n)))
        return err_set(e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        h->lis[i].addr = addrs[i];
    return finish_start(h, bind_all(h, required, e), out, e);
}

int http01_adopt(uv_loop_t *loop, const int *fds, size_t n, struct http01 **out, struct err *e)
{
    struct http01 *h = NULL;
    int rc = 0;

    if (out)
        *out = NULL;
    if (!loop || !fds || !n || !out) {
        for (size_t i = 0; fds && i < n; i++)
            close(fds[i]);
        return err_set(e, -EINVAL, "http-01: no loop or no listening socket");
    }
    if (!(h = alloc_responder(loop, n))) {
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
        return err_set(e, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t sl;

        h->lis[i].fd = fds[i];
        if (rc == 0 && (rc = listen_sock_check(fds[i], &ss, &sl, e)) == 0)
            listen_addr_from_sockaddr(&h->lis[i].addr, (struct sockaddr *)&ss, sl);
    }
    if (rc < 0)
        err_wrap(e, "http-01");
    return finish_start(h, rc, out, e);
}

void http01_set_limits(struct http01 *h, const struct conn_guard_limits *lim)
{
    if (h)
        conn_guard_set_limits(&h->guard, lim);
}

int http01_bound_port(const struct http01 *h, size_t i)
{
    if (!h || i >= h->nlis)
        return -ENOENT;
    if (h->lis[i].status < 0)
        return h->lis[i].status;
    return listen_addr_port(&h->lis[i].addr);
}

const char *http01_bound_addr(const struct http01 *h, size_t i)
{
    if (!h || i >= h->nlis || h->lis[i].status < 0)
        return NULL;
    return h->lis[i].addr.text;
}
