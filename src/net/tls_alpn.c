/* tls_alpn: the tls-alpn-01 responder's listener: the listening sockets (plain non-blocking
 * sockets watched by uv_poll), accepting (net/conn_guard.h decides which older connection
 * makes room for a new one), the served names and the teardown. Connections are handled in
 * tls_alpn_conn.c. */
#include "net/tls_alpn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/keyauth.h"
#include "net/tls_alpn_internal.h"
#include "net/listen_sock.h"
#include "util/log.h"

#define ACCEPT_BATCH 16
/* When accept fails for lack of resources (EMFILE ...) the listeners rest this long, since
 * a level-triggered poll on a pending connection would otherwise spin. */
#define ACCEPT_PAUSE_MS 100

/* Formats an IPv4 or IPv6 socket address as "1.2.3.4:443" or "[::1]:443" into out. */
static void addr_text(const struct sockaddr *sa, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(out, n, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(out, n, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(out, n, "(family %d)", (int)sa->sa_family);
    }
}

/* Frees t's key, priorities, listener table and t itself (descriptors already closed). */
static void free_listeners(struct tls_alpn *t)
{
    if (t->key)
        gnutls_x509_privkey_deinit(t->key);
    if (t->prio)
        gnutls_priority_deinit(t->prio);
    free(t->ls);
    free(t);
}

/* ---- teardown ------------------------------------------------------------------------- */

/* Accounts for one closed handle or freed connection (t->pending; also t->conn_freed, for
 * tls_alpn_conn.c). Frees t once everything it put on the loop is closed, then reports to the
 * closer. */
static void release(struct tls_alpn *t)
{
    void (*done)(void *) = t->done;
    void *arg = t->done_arg;

    if (--t->pending > 0 || !t->closing)
        return;
    free_listeners(t);
    if (done)
        done(arg);
}

static void listener_closed(uv_handle_t *h)
{
    struct tls_alpn_listener *l = h->data;

    close(l->fd);
    l->fd = -1;
    release(l->t);
}

static void timer_closed(uv_handle_t *h)
{
    release(h->data);
}

void tls_alpn_close(struct tls_alpn *t, void (*done)(void *arg), void *arg)
{
    struct alpn_entry *en;

    if (!t || t->closing)
        return;
    t->closing = true;
    t->done = done;
    t->done_arg = arg;
    for (size_t i = 0; i < t->nls; i++) {
        struct tls_alpn_listener *l = &t->ls[i];

        if (l->polling) {
            uv_poll_stop(&l->poll);
            uv_close((uv_handle_t *)&l->poll, listener_closed);
        } else if (l->fd >= 0) {
            close(l->fd);
            l->fd = -1;
        }
    }
    uv_close((uv_handle_t *)&t->pause, timer_closed);
    uv_close((uv_handle_t *)&t->sweep, timer_closed);
    while (t->conns)
        tls_alpn_conn_close(t->conns);
    /* Connections still being closed hold their own references. */
    while ((en = t->entries)) {
        t->entries = en->next;
        tls_alpn_entry_unref(en);
    }
    t->nentries = 0;
}

/* ---- listening ------------------------------------------------------------------------ */

static void on_listen(uv_poll_t *p, int status, int events);

static void listeners_poll(struct tls_alpn *t, bool on)
{
    for (size_t i = 0; i < t->nls; i++) {
        struct tls_alpn_listener *l = &t->ls[i];

        if (!l->polling)
            continue;
        if (!on)
            uv_poll_stop(&l->poll);
        else if (uv_poll_start(&l->poll, UV_READABLE, on_listen) < 0)
            log_err("tls-alpn-01: cannot watch listening socket (port %d)", l->port);
    }
}

static void on_pause_over(uv_timer_t *tm)
{
    listeners_poll(tm->data, true);
}

/* Errors of one pending connection (it was aborted, or Linux passed on a network error as
 * accept(2) documents): the next one may be fine. */
static bool accept_error_transient(int err)
{
    switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

static void evict(void *owner)
{
    tls_alpn_conn_close(owner);
}

static void on_sweep(uv_timer_t *tm)
{
    struct tls_alpn *t = tm->data;
    uint64_t next = conn_guard_sweep(&t->guard, uv_now(t->loop), "tls-alpn-01", evict);

    if (next)
        uv_timer_start(tm, on_sweep, next, 0);
}

/* Makes sure conn_guard_sweep runs within the grace period (conn_guard_add asked for it). */
static void sweep_soon(struct tls_alpn *t)
{
    if (!uv_is_active((uv_handle_t *)&t->sweep))
        uv_timer_start(&t->sweep, on_sweep, t->guard.lim.grace_ms, 0);
}

static void on_listen(uv_poll_t *p, int status, int events)
{
    struct tls_alpn_listener *l = p->data;
    struct tls_alpn *t = l->t;

    if (status < 0) {
        /* libuv has stopped watching the socket: this address is lost until the next start. */
        log_err("tls-alpn-01: listening socket (port %d) failed, no longer accepting: %s", l->port,
                uv_strerror(status));
        return;
    }
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        char text[TLS_ALPN_ADDR_TEXT_MAX];
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (accept_error_transient(errno))
                continue;
            /* Out of descriptors or memory (or worse): rest rather than spin. */
            log_warn("tls-alpn-01: accept: %s; pausing", strerror(errno));
            listeners_poll(t, false);
            uv_timer_start(&t->pause, on_pause_over, ACCEPT_PAUSE_MS, 0);
            return;
        }
        if (!conn_guard_make_room(&t->guard, "tls-alpn-01", evict)) {
            close(fd);
            continue;
        }
        addr_text((struct sockaddr *)&ss, text, sizeof text);
        if (tls_alpn_conn_start(t, fd, (struct sockaddr *)&ss, text))
            sweep_soon(t);
    }
}

/* Binds and listens on one address. Returns 0 or a negative errno with e set. */
/* Makes fd (listening, bound to ss) listener l's. Returns 0. */
static int listener_take(struct tls_alpn_listener *l, int fd, const struct sockaddr_storage *ss)
{
    char text[TLS_ALPN_ADDR_TEXT_MAX];

    l->port = ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                             : ((const struct sockaddr_in6 *)ss)->sin6_port);
    l->fd = fd;
    addr_text((const struct sockaddr *)ss, text, sizeof text);
    log_debug("tls-alpn-01: listening on %s (port %d)", text, l->port);
    return 0;
}

static int listener_bind(struct tls_alpn_listener *l, const struct sockaddr *sa, socklen_t len,
                         struct err *e)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char text[TLS_ALPN_ADDR_TEXT_MAX];
    int fd;

    addr_text(sa, text, sizeof text);
    fd = listen_sock_open(sa, len, text, e);
    if (fd < 0)
        return err_wrap(e, "tls-alpn-01");
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        int rc = err_sys(e, -errno, "tls-alpn-01: getsockname for %s", text);

        close(fd);
        return rc;
    }
    return listener_take(l, fd, &ss);
}

/* Binds every address; only a required one (or having none at all) is fatal. */
static int bind_all(struct tls_alpn *t, const struct sockaddr *const *addrs, const socklen_t *lens,
                    const bool *required, struct err *e)
{
    struct err one;
    size_t bound = 0;
    int last = -EADDRNOTAVAIL;

    for (size_t i = 0; i < t->nls; i++) {
        int rc;

        err_clear(&one);
        rc = listener_bind(&t->ls[i], addrs[i], lens[i], &one);
        if (rc == 0) {
            bound++;
            continue;
        }
        if (required[i])
            return err_set(e, rc, "%s", err_msg(&one));
        log_notice("%s (skipped)", err_msg(&one));
        last = rc;
    }
    if (bound == 0)
        return err_set(e, last, "tls-alpn-01: none of the %zu addresses could be bound", t->nls);
    return 0;
}

/* Frees a listener set that never reached the loop. */
static void discard(struct tls_alpn *t)
{
    for (size_t i = 0; t->ls && i < t->nls; i++) {
        if (t->ls[i].fd >= 0)
            close(t->ls[i].fd);
    }
    free_listeners(t);
}

/* A listener set for n addresses, with its key and priorities, nothing bound. NULL with e. */
static struct tls_alpn *alloc_listeners(uv_loop_t *loop, size_t n, struct err *e)
{
    struct tls_alpn *t = calloc(1, sizeof *t);
    int rc;

    if (!t || !(t->ls = calloc(n, sizeof *t->ls))) {
        free(t);
        err_set(e, -ENOMEM, "tls-alpn-01: out of memory");
        return NULL;
    }
    t->loop = loop;
    t->conn_freed = release;
    t->nls = n;
    conn_guard_init(&t->guard, NULL);
    for (size_t i = 0; i < n; i++) {
        t->ls[i].t = t;
        t->ls[i].fd = -1;
        t->ls[i].port = -1;
    }
    if (tls_alpn_key_new(&t->key, e) < 0)
        goto fail;
    rc = gnutls_priority_init(&t->prio, TLS_ALPN_PRIORITY, NULL);
    if (rc < 0) {
        t->prio = NULL;
        err_set(e, -EIO, "tls-alpn-01: TLS priorities: %s", gnutls_strerror(rc));
        goto fail;
    }
    return t;
fail:
    discard(t);
    return NULL;
}

/* Puts t's bound sockets on the loop (rc: how binding went). On failure t is released,
 * through the loop once a handle was set up. */
static int finish_start(struct tls_alpn *t, int rc, struct tls_alpn **out, struct err *e)
{
    uv_loop_t *loop = t->loop;
    size_t n = t->nls;

    if (rc < 0)
        goto out;
    /* Nothing has touched the loop so far; from here on a failure closes t through libuv. */
    uv_timer_init(loop, &t->pause);
    t->pause.data = t;
    uv_timer_init(loop, &t->sweep);
    t->sweep.data = t;
    t->pending = 2;
    for (size_t i = 0; i < n; i++) {
        struct tls_alpn_listener *l = &t->ls[i];

        if (l->fd < 0)
            continue;
        rc = uv_poll_init_socket(loop, &l->poll, l->fd);
        if (rc < 0) {
            rc = err_set(e, rc, "tls-alpn-01: poll on port %d: %s", l->port, uv_strerror(rc));
            goto out;
        }
        l->poll.data = l;
        l->polling = true;
        t->pending++;
    }
    listeners_poll(t, true);
    *out = t;
    t = NULL;
out:
    if (t && t->pending > 0)
        tls_alpn_close(t, NULL, NULL);
    else if (t)
        discard(t);
    return rc;
}

int tls_alpn_start(uv_loop_t *loop, const struct sockaddr *const *addrs, const socklen_t *lens,
                   const bool *required, size_t n, struct tls_alpn **out, struct err *e)
{
    struct tls_alpn *t;

    if (out)
        *out = NULL;
    if (!loop || !addrs || !lens || !required || n == 0 || !out)
        return err_set(e, -EINVAL, "tls-alpn-01: no address to listen on");
    if (!(t = alloc_listeners(loop, n, e)))
        return e ? e->code : -ENOMEM;
    return finish_start(t, bind_all(t, addrs, lens, required, e), out, e);
}

int tls_alpn_adopt(uv_loop_t *loop, const int *fds, size_t n, struct tls_alpn **out, struct err *e)
{
    struct tls_alpn *t = NULL;
    int rc = 0;

    if (out)
        *out = NULL;
    if (!loop || !fds || n == 0 || !out) {
        rc = err_set(e, -EINVAL, "tls-alpn-01: no listening socket");
    } else if (!(t = alloc_listeners(loop, n, e))) {
        rc = e ? e->code : -ENOMEM;
    }
    if (rc < 0) {
        for (size_t i = 0; fds && i < n; i++)
            close(fds[i]);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t sl;

        if (rc == 0 && (rc = listen_sock_check(fds[i], &ss, &sl, e)) == 0)
            listener_take(&t->ls[i], fds[i], &ss);
        else
            close(fds[i]);
    }
    if (rc < 0)
        err_wrap(e, "tls-alpn-01");
    return finish_start(t, rc, out, e);
}

/* ---- served names --------------------------------------------------------------------- */

int tls_alpn_add(struct tls_alpn *t, const char *name, const char *keyauth, size_t keyauth_len,
                 struct err *e)
{
    struct alpn_entry *en = NULL;
    uint8_t digest[KEYAUTH_TLS_ALPN_DIGEST_LEN];
    int rc;

    if (!t || t->closing)
        return err_set(e, -EINVAL, "tls-alpn-01: listener is closed");
    if (!tls_alpn_name_valid(name))
        return err_set(e, -EINVAL, "tls-alpn-01: not a lowercase DNS name: \"%.*s\"",
                       TLS_ALPN_NAME_MAX, name ? name : "");
    if (!keyauth || keyauth_len == 0)
        return err_set(e, -EINVAL, "tls-alpn-01: empty key authorization for %s", name);
    keyauth_tls_alpn_digest(keyauth, keyauth_len, digest);
    rc = tls_alpn_entry_new(t->key, name, digest, &en, e);
    if (rc < 0) {
        err_wrap(e, "%s", name);
        return rc;
    }
    tls_alpn_remove(t, name);
    en->next = t->entries;
    t->entries = en;
    t->nentries++;
    return 0;
}

void tls_alpn_remove(struct tls_alpn *t, const char *name)
{
    struct alpn_entry **pp;

    if (!t || !name)
        return;
    for (pp = &t->entries; *pp; pp = &(*pp)->next) {
        struct alpn_entry *en = *pp;

        if (strcmp(en->name, name) == 0) {
            *pp = en->next;
            t->nentries--;
            tls_alpn_entry_unref(en);
            return;
        }
    }
}

size_t tls_alpn_count(const struct tls_alpn *t)
{
    return t ? t->nentries : 0;
}

int tls_alpn_bound_port(const struct tls_alpn *t, size_t i)
{
    if (!t || i >= t->nls)
        return -EINVAL;
    return t->ls[i].fd >= 0 ? t->ls[i].port : -ENOENT;
}

void tls_alpn_set_limits(struct tls_alpn *t, const struct conn_guard_limits *lim)
{
    if (t)
        conn_guard_set_limits(&t->guard, lim);
}
