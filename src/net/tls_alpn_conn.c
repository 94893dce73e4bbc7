/* tls_alpn_conn: one connection of the tls-alpn-01 responder. The accepted socket is watched
 * by uv_poll; GnuTLS reads and writes it directly (gnutls_transport_set_int) and each readiness
 * event resumes the handshake where GnuTLS left it with GNUTLS_E_AGAIN, in the direction
 * gnutls_record_get_direction() asks for. The certificate is chosen once the ClientHello is
 * parsed, from the SNI name, by installing that name's credentials in the session.
 *
 * Each connection's one timer first holds the deadline of the idle stage (no ClientHello
 * accepted yet), then the rest of the deadline of the whole exchange, then the drain. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/tls_alpn_internal.h"
#include "util/log.h"

/* After our close_notify we wait this long (at most) for the peer to close its side, so the
 * connection ends with FIN rather than a reset caused by unread data. */
#define DRAIN_MS 1000
#define HANDSHAKE_SPINS 8

static const char alpn_proto[] = TLS_ALPN_PROTOCOL;

static void conn_handle_closed(uv_handle_t *h)
{
    struct tls_alpn_conn *c = h->data;
    struct tls_alpn *t = c->t;

    if (--c->handles > 0)
        return;
    gnutls_deinit(c->session);
    close(c->fd);
    tls_alpn_entry_unref(c->entry);
    free(c);
    t->conn_freed(t);
}

void tls_alpn_conn_close(struct tls_alpn_conn *c)
{
    struct tls_alpn *t = c->t;

    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    conn_guard_remove(&t->guard, &c->ge);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static struct alpn_entry *entry_find(const struct tls_alpn *t, const char *name)
{
    for (struct alpn_entry *en = t->entries; en; en = en->next) {
        if (strcmp(en->name, name) == 0)
            return en;
    }
    return NULL;
}

static void on_conn_timeout(uv_timer_t *tm);

/* The client has said what it wants: the connection leaves the idle stage, so it is no longer
 * evicted for a newer one, and from now on only the deadline of the whole exchange, counted
 * from the accept, bounds it. */
static void conn_busy(struct tls_alpn_conn *c)
{
    const struct conn_guard_limits *lim = &c->t->guard.lim;
    uint64_t spent = uv_now(c->t->loop) - c->t0;

    if (c->ge.stage != CONN_GUARD_IDLE)
        return;
    conn_guard_set_stage(&c->t->guard, &c->ge, CONN_GUARD_BUSY);
    uv_timer_start(&c->timer, on_conn_timeout,
                   spent < lim->timeout_ms ? lim->timeout_ms - spent : 1,
                   uv_timer_get_repeat(&c->timer));
}

/* GnuTLS calls this once the ClientHello is parsed (ALPN included) and before it picks a
 * cipher suite, so installing the name's credentials here decides the certificate. A
 * negative return fails the handshake with the matching alert. */
static int on_client_hello(gnutls_session_t s)
{
    struct tls_alpn_conn *c = gnutls_session_get_ptr(s);
    char name[TLS_ALPN_NAME_MAX + 2];
    size_t len = sizeof name;
    unsigned type = 0;
    gnutls_datum_t proto = {NULL, 0};
    struct alpn_entry *en;

    if (gnutls_alpn_get_selected_protocol(s, &proto) < 0 || proto.size != sizeof alpn_proto - 1 ||
        memcmp(proto.data, alpn_proto, proto.size) != 0)
        return GNUTLS_E_NO_APPLICATION_PROTOCOL;
    if (gnutls_server_name_get(s, name, &len, &type, 0) < 0 || type != GNUTLS_NAME_DNS ||
        len == 0 || len >= sizeof name) {
        log_debug("tls-alpn-01: %s sent no usable server name", c->peer);
        return GNUTLS_E_UNRECOGNIZED_NAME;
    }
    name[len] = '\0';
    if (name[len - 1] == '.')
        name[len - 1] = '\0';
    for (char *p = name; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    en = entry_find(c->t, name);
    if (!en) {
        log_debug("tls-alpn-01: %s asked for %.*s, which is not being validated", c->peer,
                  TLS_ALPN_NAME_MAX, name);
        return GNUTLS_E_UNRECOGNIZED_NAME;
    }
    if (gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, en->cred) < 0)
        return GNUTLS_E_INTERNAL_ERROR;
    /* A HelloRetryRequest brings a second ClientHello: keep only the latest choice. */
    tls_alpn_entry_unref(c->entry);
    c->entry = tls_alpn_entry_ref(en);
    conn_busy(c);
    return 0;
}

static void on_conn_io(uv_poll_t *p, int status, int events);

/* Waits for the socket to become ready in the direction GnuTLS (or the drain) needs. */
static void conn_wait(struct tls_alpn_conn *c, bool write)
{
    int rc = uv_poll_start(&c->poll, write ? UV_WRITABLE : UV_READABLE, on_conn_io);

    if (rc < 0) {
        log_debug("tls-alpn-01: %s: poll: %s", c->peer, uv_strerror(rc));
        tls_alpn_conn_close(c);
    }
}

/* Reads and discards what the peer still sends until it closes or errs. */
static void conn_drain(struct tls_alpn_conn *c)
{
    char buf[4096];

    /* A bounded number of reads per wake-up, so a peer that keeps sending cannot hold the
     * loop; the drain deadline ends it anyway. */
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);

        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        tls_alpn_conn_close(c);
        return;
    }
}

/* Sends our close_notify, then half-closes the socket and starts draining. */
static void conn_bye(struct tls_alpn_conn *c)
{
    int r = gnutls_bye(c->session, GNUTLS_SHUT_WR);

    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
        conn_wait(c, gnutls_record_get_direction(c->session) == 1);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_DRAIN;
    conn_guard_set_stage(&c->t->guard, &c->ge, CONN_GUARD_DONE);
    uv_timer_again(&c->timer); /* repeat was set to the drain limit at the start */
    conn_wait(c, false);
}

static void conn_handshake(struct tls_alpn_conn *c)
{
    int r = GNUTLS_E_AGAIN;

    /* Non-fatal results other than AGAIN (a warning alert, an interrupted call) mean GnuTLS
     * can make progress at once; the bound keeps a chatty peer from holding the loop. */
    for (int i = 0; i < HANDSHAKE_SPINS; i++) {
        r = gnutls_handshake(c->session);
        if (r == 0 || r == GNUTLS_E_AGAIN || gnutls_error_is_fatal(r))
            break;
    }
    if (r == 0) {
        /* At debug level: anyone can make us answer, and a log must not be theirs to fill. */
        log_debug("tls-alpn-01: answered %s for %s", c->peer, c->entry ? c->entry->name : "?");
        c->state = CONN_BYE;
        conn_bye(c);
    } else if (gnutls_error_is_fatal(r)) {
        log_debug("tls-alpn-01: handshake with %s failed: %s", c->peer, gnutls_strerror(r));
        /* Best effort: tell the peer why (no_application_protocol, unrecognized_name ...). */
        gnutls_alert_send_appropriate(c->session, r);
        tls_alpn_conn_close(c);
    } else {
        conn_wait(c, gnutls_record_get_direction(c->session) == 1);
    }
}

static void on_conn_io(uv_poll_t *p, int status, int events)
{
    struct tls_alpn_conn *c = p->data;

    if (status < 0) {
        log_debug("tls-alpn-01: %s: %s", c->peer, uv_strerror(status));
        tls_alpn_conn_close(c);
        return;
    }
    switch (c->state) {
    case CONN_HANDSHAKE:
        conn_handshake(c);
        break;
    case CONN_BYE:
        conn_bye(c);
        break;
    case CONN_DRAIN:
        conn_drain(c);
        break;
    case CONN_CLOSING:
        break;
    }
}

static void on_conn_timeout(uv_timer_t *tm)
{
    struct tls_alpn_conn *c = tm->data;

    if (c->ge.stage == CONN_GUARD_IDLE)
        log_debug("tls-alpn-01: %s sent no acceptable ClientHello in time", c->peer);
    else if (c->state == CONN_HANDSHAKE)
        log_debug("tls-alpn-01: %s did not finish its handshake in time", c->peer);
    tls_alpn_conn_close(c);
}

/* Sets up the GnuTLS server session of a new connection, restricted to TLS_ALPN_PRIORITY.
 * Returns 0 or a GnuTLS error. */
static int conn_session(struct tls_alpn_conn *c)
{
    gnutls_datum_t proto = {(unsigned char *)alpn_proto, sizeof alpn_proto - 1};
    int gret;

    /* No tickets: a validator never resumes, and none should linger after the handshake. No
     * SIGPIPE from a send to a validator that has gone (MSG_NOSIGNAL), whatever the process's
     * disposition (util/proc ignores it too). */
    gret = gnutls_init(&c->session,
                       GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS | GNUTLS_NO_SIGNAL);
    if (gret < 0)
        return gret;
    if ((gret = gnutls_priority_set(c->session, c->t->prio)) < 0 ||
        (gret = gnutls_alpn_set_protocols(c->session, &proto, 1, GNUTLS_ALPN_MANDATORY)) < 0)
        return gret;
    gnutls_handshake_set_post_client_hello_function(c->session, on_client_hello);
    gnutls_session_set_ptr(c->session, c);
    gnutls_transport_set_int(c->session, c->fd);
    /* Our own timer bounds the handshake; GnuTLS's clock would only count its calls. */
    gnutls_handshake_set_timeout(c->session, 0);
    return 0;
}

bool tls_alpn_conn_start(struct tls_alpn *t, int fd, const struct sockaddr *peer,
                         const char *peer_text)
{
    bool sweep;
    struct tls_alpn_conn *c = calloc(1, sizeof *c);
    int rc;

    if (!c) {
        log_err("tls-alpn-01: out of memory for a connection");
        close(fd);
        return false;
    }
    c->t = t;
    c->fd = fd;
    snprintf(c->peer, sizeof c->peer, "%s", peer_text);
    rc = conn_session(c);
    if (rc < 0) {
        log_err("tls-alpn-01: TLS session for %s: %s", c->peer, gnutls_strerror(rc));
        goto fail;
    }
    rc = uv_poll_init_socket(t->loop, &c->poll, fd);
    if (rc < 0) {
        log_err("tls-alpn-01: poll for %s: %s", c->peer, uv_strerror(rc));
        goto fail;
    }
    /* From here on the connection is on the loop and leaves only through tls_alpn_conn_close. */
    uv_timer_init(t->loop, &c->timer);
    c->poll.data = c;
    c->timer.data = c;
    c->handles = 2;
    c->state = CONN_HANDSHAKE;
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    c->t0 = uv_now(t->loop);
    sweep = conn_guard_add(&t->guard, &c->ge, c, fd, peer, c->t0);
    t->pending++;
    /* The repeat is the drain's deadline, which conn_bye starts with uv_timer_again. */
    uv_timer_start(&c->timer, on_conn_timeout, t->guard.lim.idle_ms,
                   t->guard.lim.timeout_ms < DRAIN_MS ? t->guard.lim.timeout_ms : DRAIN_MS);
    conn_wait(c, false);
    return sweep;
fail:
    if (c->session)
        gnutls_deinit(c->session);
    close(fd);
    free(c);
    return false;
}
