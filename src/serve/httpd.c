/* httpd: libmicrohttpd on the caller's libuv loop (see httpd.h). */
#include "serve/httpd.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEF_PER_IP 64
#define DEF_TOTAL 256
#define DEF_MEMORY (16 * 1024)
#define DEF_IDLE 30
#define DEF_BODY 4096

/* Where a request is: its body arriving, held by the handler (the connection suspended once the
 * handler returned without answering), answered (resp waiting to be queued), or cancelled. */
enum req_state { REQ_BODY, REQ_HELD, REQ_ANSWERED, REQ_GONE };

struct lsn {
    struct httpd *s;
    struct MHD_Daemon *d;
    uv_poll_t poll;   /* MHD's epoll descriptor */
    uv_timer_t timer; /* MHD_get_timeout */
    int uv;           /* poll and timer initialised */
    int kick;         /* a connection was resumed: run again at once */
};

struct httpd {
    uv_loop_t *loop;
    struct httpd_handler h;
    struct httpd_limits lim;
    const struct httpd_tls *tls; /* during httpd_new only */
    struct lsn *lsn;
    size_t nlsn;
    struct httpd_req *held; /* suspended requests, for httpd_close */
    unsigned handles;       /* uv handles not yet closed */
    int in_run;             /* inside MHD_run: httpd_close waits */
    int closing, close_deferred;
    void (*done)(void *arg);
    void *done_arg;
};

struct httpd_req {
    struct lsn *l;
    struct MHD_Connection *c;
    enum req_state state;
    int suspended;
    const char *method, *path; /* MHD's, valid as long as the request */
    char *body;
    size_t len, cap;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    unsigned status;
    unsigned retry_after; /* seconds for a Retry-After header, 0: none */
    struct MHD_Response *resp;
    void *data;
    uv_poll_t *watch; /* the client's socket while suspended (EPOLLRDHUP) */
    struct httpd_req *prev, *next;
};

static void maybe_free(struct httpd *s);
static void on_timer(uv_timer_t *t);

static void on_handle_closed(uv_handle_t *h)
{
    struct httpd *s = ((struct lsn *)h->data)->s;

    s->handles--;
    maybe_free(s);
}

static void on_watch_closed(uv_handle_t *h)
{
    struct httpd *s = h->data;

    free(h);
    s->handles--;
    maybe_free(s);
}

/* Once closing and every handle is closed: the server goes, then done runs. */
static void maybe_free(struct httpd *s)
{
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;

    if (!s->closing || s->close_deferred || s->handles > 0)
        return;
    free(s->lsn);
    free(s);
    if (done)
        done(arg);
}

/* Takes r off the held list and stops watching its socket (before MHD may close it). */
static void unhold(struct httpd_req *r)
{
    struct httpd *s = r->l->s;

    if (!r->suspended)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        s->held = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    if (r->watch) {
        r->watch->data = s; /* for on_watch_closed */
        uv_close((uv_handle_t *)r->watch, on_watch_closed);
        r->watch = NULL;
    }
    r->suspended = 0;
    MHD_resume_connection(r->c);
    /* With an external loop MHD must be run after a resume: nothing on the epoll descriptor we
     * poll tells of it (without this, test_answer_later's answer never left). */
    r->l->kick = 1;
    if (r->l->uv)
        uv_timer_start(&r->l->timer, on_timer, 0, 0);
}

/* The request is gone before its answer: the handler is told, and the connection will close
 * (the access handler refuses it once resumed). */
static void cancel(struct httpd_req *r)
{
    struct httpd *s = r->l->s;

    if (r->state != REQ_HELD)
        return;
    r->state = REQ_GONE;
    unhold(r);
    if (s->h.cancel)
        s->h.cancel(s->h.arg, r);
}

static void on_gone(uv_poll_t *w, int status, int events)
{
    (void)status;
    (void)events;
    cancel(w->data);
}

/* Watches the suspended connection's socket for the peer's hang-up: MHD itself does not while
 * the connection is suspended. A client that only half-closes looks gone too. */
static void watch(struct httpd_req *r)
{
    struct httpd *s = r->l->s;
    const union MHD_ConnectionInfo *ci;
    uv_poll_t *w;

    ci = MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || !(w = malloc(sizeof *w)))
        return;
    if (uv_poll_init(s->loop, w, ci->connect_fd) != 0) {
        free(w);
        return;
    }
    w->data = s;
    s->handles++;
    if (uv_poll_start(w, UV_DISCONNECT, on_gone) != 0) {
        uv_close((uv_handle_t *)w, on_watch_closed);
        return;
    }
    w->data = r;
    r->watch = w;
}

static enum MHD_Result queue_text(struct MHD_Connection *c, unsigned status, const char *text,
                                  const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A Content-Length of digits only, at most max; else -1. */
static long long content_length(const char *v, size_t max)
{
    unsigned long long n = 0;

    if (!v || !*v)
        return -1;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > max)
            return -1;
        n = n * 10 + (unsigned)(*v - '0');
    }
    return n > max ? -1 : (long long)n;
}

/* The headers are in: refuse what the handler never sees, before any body is read. */
static enum MHD_Result on_headers(struct lsn *l, struct MHD_Connection *c, const char *url,
                                  const char *method, void **req_cls)
{
    struct httpd *s = l->s;
    const union MHD_ConnectionInfo *ci;
    const char *cl;
    long long n;
    struct httpd_req *r;

    if (s->closing)
        return MHD_NO;
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only POST is served here\n", "POST");
    cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return queue_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "a POST needs a Content-Length\n", NULL);
    n = content_length(cl, s->lim.max_body);
    if (n < 0)
        return queue_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "the body is over the size limit\n", NULL);
    r = calloc(1, sizeof *r);
    if (!r || !(r->body = malloc((size_t)n + 1))) {
        free(r);
        return MHD_NO;
    }
    r->l = l;
    r->c = c;
    r->method = method;
    r->path = url;
    r->cap = (size_t)n;
    r->state = REQ_BODY;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        r->peer_len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                             : sizeof(struct sockaddr_in);
        memcpy(&r->peer, ci->client_addr, r->peer_len);
    }
    *req_cls = r;
    return MHD_YES;
}

static enum MHD_Result queue_answer(struct httpd_req *r)
{
    enum MHD_Result ret;

    if (!r->resp)
        return MHD_NO;
    ret = MHD_queue_response(r->c, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ret;
}

/* The whole body is in: the handler has it, and answers now or the connection waits. */
static enum MHD_Result dispatch(struct httpd_req *r)
{
    struct httpd *s = r->l->s;

    r->body[r->len] = '\0';
    r->state = REQ_HELD;
    s->h.request(s->h.arg, r);
    if (r->state != REQ_HELD)
        return queue_answer(r);
    MHD_suspend_connection(r->c);
    r->suspended = 1;
    r->next = s->held;
    if (s->held)
        s->held->prev = r;
    s->held = r;
    watch(r);
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **req_cls)
{
    struct httpd_req *r = *req_cls;

    (void)version;
    if (!r)
        return on_headers(cls, c, url, method, req_cls);
    switch (r->state) {
    case REQ_BODY:
        if (*upload_size == 0)
            return dispatch(r);
        if (*upload_size > r->cap - r->len)
            return MHD_NO; /* more than its Content-Length: MHD should not let it through */
        memcpy(r->body + r->len, upload, *upload_size);
        r->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    case REQ_ANSWERED:
        return queue_answer(r);
    case REQ_HELD:
        return MHD_YES;
    case REQ_GONE:
        break;
    }
    return MHD_NO;
}

/* The connection's request is over (answered, broken or shut down): its memory goes. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct httpd_req *r = *req_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (!r)
        return;
    cancel(r); /* a request still held (not expected: it is suspended) */
    if (r->resp)
        MHD_destroy_response(r->resp);
    free(r->body);
    free(r);
    *req_cls = NULL;
}

static void do_close(struct httpd *s);
static void on_timer(uv_timer_t *t);

/* Runs one daemon and sets the timer to its next deadline. */
static void run(struct lsn *l)
{
    struct httpd *s = l->s;
    MHD_UNSIGNED_LONG_LONG ms;

    l->kick = 0;
    s->in_run++;
    MHD_run(l->d);
    s->in_run--;
    if (s->close_deferred && !s->in_run) {
        s->close_deferred = 0;
        do_close(s);
        return;
    }
    if (l->kick)
        uv_timer_start(&l->timer, on_timer, 0, 0);
    else if (MHD_get_timeout(l->d, &ms) == MHD_YES)
        /* Not 0: a timer started at 0 from a timer callback runs again in the same pass of
         * libuv's timers, before any I/O, and MHD says 0 while a TLS handshake waits for it. */
        uv_timer_start(&l->timer, on_timer,
                       ms > UINT32_MAX ? UINT32_MAX
                       : ms            ? (uint64_t)ms
                                       : 1,
                       0);
    else
        uv_timer_stop(&l->timer);
}

static void on_timer(uv_timer_t *t)
{
    run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    run(p->data);
}

static void close_lsn(struct lsn *l)
{
    struct httpd *s = l->s;

    /* The poll goes before MHD closes the descriptor it watches. */
    if (l->uv) {
        uv_close((uv_handle_t *)&l->poll, on_handle_closed);
        uv_close((uv_handle_t *)&l->timer, on_handle_closed);
        l->uv = 0;
    }
    if (l->d) {
        /* Let the resumed connections be refused and closed: MHD_stop_daemon must find none
         * suspended. */
        s->in_run++;
        MHD_run(l->d);
        MHD_run(l->d);
        s->in_run--;
        MHD_stop_daemon(l->d);
        l->d = NULL;
    }
}

static void do_close(struct httpd *s)
{
    while (s->held)
        cancel(s->held);
    for (size_t i = 0; i < s->nlsn; i++)
        close_lsn(&s->lsn[i]);
    maybe_free(s);
}

void httpd_close(struct httpd *s, void (*done)(void *arg), void *arg)
{
    if (!s || s->closing)
        return;
    s->closing = 1;
    s->done = done;
    s->done_arg = arg;
    if (s->in_run) {
        s->close_deferred = 1;
        return;
    }
    do_close(s);
}

static int start_lsn(struct httpd *s, struct lsn *l, int fd, struct err *e)
{
    const union MHD_DaemonInfo *di;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    struct MHD_OptionItem opts[8] = {
        {MHD_OPTION_CONNECTION_LIMIT, s->lim.total, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->lim.per_ip, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)s->lim.conn_memory, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, s->lim.idle_timeout, NULL},
        {MHD_OPTION_END, 0, NULL}, /* the socket */
        {MHD_OPTION_END, 0, NULL}, /* TLS: the certificate */
        {MHD_OPTION_END, 0, NULL}, /* and the key */
        {MHD_OPTION_END, 0, NULL},
    };
    int dfd, rc;

    l->s = s;
    dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0)
        return err_sys(e, -errno, "httpd: dup of listening socket %d", fd);
    opts[4] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, dfd, NULL};
    if (s->tls) {
        flags |= MHD_USE_TLS;
        opts[5] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)s->tls->cert_pem};
        opts[6] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)s->tls->key_pem};
    }
    /* On failure MHD closes the socket it was given (or not: a leak, never a double close). */
    l->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, l, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, l, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!l->d)
        return err_set(e, -EIO, "httpd: libmicrohttpd refused to serve on socket %d", fd);
    di = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di)
        return err_set(e, -EIO, "httpd: libmicrohttpd has no epoll descriptor");
    if ((rc = uv_poll_init(s->loop, &l->poll, di->epoll_fd)) != 0)
        return err_set(e, -EIO, "httpd: uv_poll_init: %s", uv_strerror(rc));
    l->poll.data = l;
    uv_timer_init(s->loop, &l->timer);
    l->timer.data = l;
    l->uv = 1;
    s->handles += 2;
    if ((rc = uv_poll_start(&l->poll, UV_READABLE, on_poll)) != 0)
        return err_set(e, -EIO, "httpd: uv_poll_start: %s", uv_strerror(rc));
    run(l); /* the first deadline */
    return 0;
}

int httpd_new(uv_loop_t *loop, const int *fds, size_t nfds, const struct httpd_limits *limits,
              const struct httpd_tls *tls, const struct httpd_handler *h, struct httpd **out,
              struct err *e)
{
    struct httpd *s;
    int rc;

    *out = NULL;
    if (nfds == 0 || !h || !h->request || (tls && (!tls->cert_pem || !tls->key_pem)))
        return err_set(e, -EINVAL, "httpd: no listening socket, handler or TLS key");
    s = calloc(1, sizeof *s);
    if (!s || !(s->lsn = calloc(nfds, sizeof *s->lsn))) {
        free(s);
        return err_set(e, -ENOMEM, "httpd: out of memory");
    }
    s->loop = loop;
    s->h = *h;
    if (limits)
        s->lim = *limits;
    s->lim.per_ip = s->lim.per_ip ? s->lim.per_ip : DEF_PER_IP;
    s->lim.total = s->lim.total ? s->lim.total : DEF_TOTAL;
    s->lim.conn_memory = s->lim.conn_memory ? s->lim.conn_memory : DEF_MEMORY;
    s->lim.idle_timeout = s->lim.idle_timeout ? s->lim.idle_timeout : DEF_IDLE;
    s->lim.max_body = s->lim.max_body ? s->lim.max_body : DEF_BODY;
    s->nlsn = nfds;
    s->tls = tls; /* MHD loads the certificate and key as it starts */
    for (size_t i = 0; i < nfds; i++) {
        if ((rc = start_lsn(s, &s->lsn[i], fds[i], e)) < 0) {
            httpd_close(s, NULL, NULL); /* frees s once libuv closed what was opened */
            return rc;
        }
    }
    s->tls = NULL;
    *out = s;
    return 0;
}

const char *httpd_req_method(const struct httpd_req *r)
{
    return r->method;
}

const char *httpd_req_path(const struct httpd_req *r)
{
    return r->path;
}

const char *httpd_req_header(const struct httpd_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

const char *httpd_req_body(const struct httpd_req *r, size_t *len)
{
    if (len)
        *len = r->len;
    return r->body;
}

const struct sockaddr *httpd_req_peer(const struct httpd_req *r, socklen_t *len)
{
    if (len)
        *len = r->peer_len;
    return (const struct sockaddr *)&r->peer;
}

void httpd_req_set_data(struct httpd_req *r, void *data)
{
    r->data = data;
}

void *httpd_req_data(const struct httpd_req *r)
{
    return r->data;
}

void httpd_req_set_retry_after(struct httpd_req *r, unsigned seconds)
{
    r->retry_after = seconds;
}

int httpd_req_reply(struct httpd_req *r, unsigned status, const char *content_type,
                    const char *body, size_t len)
{
    int rc = 0;

    if (r->state != REQ_HELD)
        return -EINVAL;
    r->state = REQ_ANSWERED;
    r->status = status;
    r->resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r->resp)
        rc = -ENOMEM;
    else if (content_type && MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                                     content_type) != MHD_YES)
        rc = -ENOMEM;
    if (rc == 0 && r->retry_after) {
        char ra[16];

        snprintf(ra, sizeof ra, "%u", r->retry_after);
        if (MHD_add_response_header(r->resp, MHD_HTTP_HEADER_RETRY_AFTER, ra) != MHD_YES)
            rc = -ENOMEM;
    }
    if (rc < 0 && r->resp) {
        MHD_destroy_response(r->resp);
        r->resp = NULL;
    }
    unhold(r); /* resumes a suspended connection: MHD then queues resp (or closes) */
    return rc;
}
