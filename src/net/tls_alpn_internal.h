/* tls_alpn_internal: what src/net/tls_alpn.c (the listener: sockets, accepting, names,
 * teardown) and src/net/tls_alpn_conn.c (one connection's TLS handshake) share. */
#ifndef ACMED_NET_TLS_ALPN_INTERNAL_H
#define ACMED_NET_TLS_ALPN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "net/conn_guard.h"
#include "net/tls_alpn.h"
#include "net/tls_alpn_cert.h"

#define TLS_ALPN_ADDR_TEXT_MAX 64

/* TLS 1.2 and 1.3 with AEAD ciphers only, as RFC 8737 validators speak them: no TLS 1.0 or
 * 1.1, no CBC with SHA-1. Our certificates are ECDSA, so TLS 1.2 ends up with ECDHE-ECDSA. */
#define TLS_ALPN_PRIORITY                                                                          \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"            \
    "+CHACHA20-POLY1305:+AES-128-CCM:-MAC-ALL:+AEAD"

struct tls_alpn_listener {
    struct tls_alpn *t;
    int fd; /* -1 when this address is not bound */
    int port;
    bool polling; /* poll initialised (closed through libuv) */
    uv_poll_t poll;
};

/* A connection's life: the TLS handshake, our close_notify, waiting for the peer's FIN. For
 * admission (net/conn_guard.h) it is IDLE until a ClientHello has been accepted (ALPN
 * acme-tls/1 and a served name: the certificate is chosen), BUSY through the rest of the
 * handshake and the close_notify, DONE while draining. */
enum tls_alpn_conn_state { CONN_HANDSHAKE, CONN_BYE, CONN_DRAIN, CONN_CLOSING };

struct tls_alpn_conn {
    struct tls_alpn_conn *prev, *next;
    struct tls_alpn *t;
    struct conn_guard_entry ge;
    uint64_t t0; /* uv_now at the accept */
    int fd;
    int handles; /* poll and timer still open */
    enum tls_alpn_conn_state state;
    gnutls_session_t session;
    struct alpn_entry *entry; /* the certificate chosen from SNI, a reference */
    uv_poll_t poll;
    uv_timer_t timer;
    char peer[TLS_ALPN_ADDR_TEXT_MAX];
};

struct tls_alpn {
    uv_loop_t *loop;
    struct tls_alpn_listener *ls;
    size_t nls;
    uv_timer_t pause;
    uv_timer_t sweep; /* runs conn_guard_sweep */
    gnutls_x509_privkey_t key;
    gnutls_priority_t prio; /* TLS_ALPN_PRIORITY */
    struct alpn_entry *entries;
    size_t nentries;
    struct tls_alpn_conn *conns; /* not closing; each also in guard */
    struct conn_guard guard;
    size_t pending; /* listener polls, the two timers and connections not yet closed */
    bool closing;
    void (*done)(void *arg);
    void *done_arg;
    /* Set by the listener (tls_alpn.c): called by tls_alpn_conn.c once a connection is freed,
     * to account for it in pending (t may be freed by the call). */
    void (*conn_freed)(struct tls_alpn *t);
};

/* Starts serving the accepted non-blocking socket fd (owned from now on, closed whatever
 * happens) from peer (peer_text: its address as the listener prints it), which has been
 * admitted by conn_guard_make_room. On success the connection is linked into t->conns and
 * t->guard (IDLE), counted in t->pending, and leaves only through tls_alpn_conn_close; once
 * freed it calls t->conn_freed. Returns true when conn_guard_add asked for a sweep within the
 * grace period (the listener's timer), false otherwise. */
bool tls_alpn_conn_start(struct tls_alpn *t, int fd, const struct sockaddr *peer,
                         const char *peer_text);

/* Unlinks c (from t->guard too) and closes its handles; it is freed (and released) from the
 * close callbacks, so callers up the stack may still look at it. Closing twice is harmless. */
void tls_alpn_conn_close(struct tls_alpn_conn *c);

#endif
