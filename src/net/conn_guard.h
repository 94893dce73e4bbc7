/* conn_guard: who keeps a connection slot on the built-in challenge listeners (the http-01
 * responder in src/challenge/http01.c and the tls-alpn-01 responder in src/net/tls_alpn.c), so
 * that one client holding connections open cannot starve the validations.
 *
 * Refusing new connections when full is what such a client wants: it may share its address
 * with the CA's validator (a NAT, a reverse proxy in front of the listener, loopback), and a CA
 * sends several validation requests at once and fails the challenge when one of them fails.
 * So a new connection is taken whenever possible, and room is made by closing older ones that
 * have not asked for anything. A connection is in one of three stages:
 *
 *   IDLE  accepted, but the client has not yet said what it wants (the listener defines it:
 *         no complete request head for http-01, no acceptable ClientHello for tls-alpn-01).
 *         Holding one costs a client nothing, so these are the ones closed to make room, and
 *         the listener gives this stage a short deadline (limits.idle_ms).
 *   BUSY  being answered; never closed for another (the deadline of the whole exchange
 *         bounds it).
 *   DONE  answered, waiting for the client to close its side; closed at the global cap.
 *
 * Per source (an IP address, port ignored, IPv4-mapped IPv6 counted as IPv4): a source keeps
 * at most max_idle_per_source IDLE connections, its newest; a new one beyond that makes the
 * source's oldest IDLE one go. Not at once, though: conn_guard_sweep closes them once they
 * have been open for grace_ms (a fraction of a second) without sending a request. A validator
 * sends its request right after connecting, so its connection is BUSY by then, whereas with
 * an immediate eviction a burst of connections from its address accepted just after it would
 * close it before its request had even arrived.
 *
 * Globally: with max_conns connections open, a new one at once closes the oldest IDLE
 * connection of any source, else the oldest DONE one; only when every connection is BUSY is
 * the new one refused. This bounds memory between sweeps.
 *
 * Either way an IDLE connection whose input already waits unread in its socket (its request,
 * not yet read by the loop) is passed over while another candidate has none.
 *
 * Pure bookkeeping: the listener owns its connections, closes the victims itself and runs
 * the sweep from a timer; nothing here blocks or allocates. */
#ifndef ACMED_NET_CONN_GUARD_H
#define ACMED_NET_CONN_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Defaults of struct conn_guard_limits. */
#define CONN_GUARD_MAX_CONNS 256
#define CONN_GUARD_MAX_IDLE_PER_SOURCE 4
#define CONN_GUARD_GRACE_MS 250
#define CONN_GUARD_IDLE_MS 3000
#define CONN_GUARD_TIMEOUT_MS 10000

/* A listener's limits; a field left 0 takes the default above. */
struct conn_guard_limits {
    unsigned max_conns;           /* open connections of the listener, in every stage */
    unsigned max_idle_per_source; /* IDLE connections one source keeps */
    unsigned grace_ms;            /* an IDLE one over that cap is closed when this old */
    unsigned idle_ms;             /* deadline of the IDLE stage, from the accept */
    unsigned timeout_ms;          /* deadline of the whole exchange, from the accept */
};

enum conn_guard_stage { CONN_GUARD_IDLE, CONN_GUARD_BUSY, CONN_GUARD_DONE, CONN_GUARD_NSTAGES };

/* What the guard knows of one connection; embedded in the listener's connection. */
struct conn_guard_entry {
    struct conn_guard_entry *prev, *next; /* in the list of its stage, oldest first */
    void *owner;                          /* the listener's connection */
    uint64_t since;                       /* when it was added, in ms (the loop's clock) */
    int fd;                               /* its socket, peeked at for unread input; or -1 */
    bool linked;
    enum conn_guard_stage stage;
    uint8_t src[16]; /* source address as IPv6 (IPv4 mapped) */
};

struct conn_guard_list {
    struct conn_guard_entry *head, *tail;
    size_t n;
};

struct conn_guard {
    struct conn_guard_limits lim;
    struct conn_guard_list stage[CONN_GUARD_NSTAGES];
};

/* What conn_guard_admit decided. */
enum conn_guard_verdict {
    CONN_GUARD_ROOM,   /* room for one more */
    CONN_GUARD_EVICT,  /* full: close *victim first */
    CONN_GUARD_REFUSE, /* full and every connection is BUSY: close the new one */
};

/* Called with the owner of a connection to close at once; the close must call
 * conn_guard_remove on its entry. */
typedef void (*conn_guard_close_fn)(void *owner);

/* Sets g up empty with limits lim (may be NULL: all defaults). */
void conn_guard_init(struct conn_guard *g, const struct conn_guard_limits *lim);

/* Replaces the limits (NULL or 0 fields: defaults). The caps apply from the next admission
 * or sweep; the listeners apply the deadlines to connections accepted from then on. */
void conn_guard_set_limits(struct conn_guard *g, const struct conn_guard_limits *lim);

/* Decides about a new connection before it is added, by the global cap only. For EVICT
 * *victim is the entry of the connection to close, else NULL. Changes nothing itself. */
enum conn_guard_verdict conn_guard_admit(const struct conn_guard *g,
                                         struct conn_guard_entry **victim);

/* conn_guard_admit, then acting on the verdict: logs it at debug level (`who`, "http-01", is
 * the prefix) and for EVICT calls close_owner(victim->owner) at once. Returns true when the
 * new connection may be added, false when it must be refused. */
bool conn_guard_make_room(struct conn_guard *g, const char *who, conn_guard_close_fn close_owner);

/* Adds e (caller-owned, unlinked) for the connection owner on socket fd (-1: never peeked)
 * from peer (AF_INET or AF_INET6; another family counts as one unknown source), IDLE, as the
 * newest connection, at time now (ms). Returns true when its source now has more IDLE
 * connections than it keeps: the caller must then make sure conn_guard_sweep runs within
 * grace_ms. */
bool conn_guard_add(struct conn_guard *g, struct conn_guard_entry *e, void *owner, int fd,
                    const struct sockaddr *peer, uint64_t now);

/* Closes, through close_owner, each IDLE connection that has max_idle_per_source newer IDLE
 * ones from its source, has been open grace_ms or longer and has no unread input; logs each
 * at debug level. Returns 0, or the ms after which it must run again because a source is
 * still over its cap. */
uint64_t conn_guard_sweep(struct conn_guard *g, uint64_t now, const char *who,
                          conn_guard_close_fn close_owner);

/* Moves e (linked) to stage, as the newest connection of that stage. */
void conn_guard_set_stage(struct conn_guard *g, struct conn_guard_entry *e,
                          enum conn_guard_stage stage);

/* Unlinks e; an unlinked e is ignored, so closing twice is harmless. */
void conn_guard_remove(struct conn_guard *g, struct conn_guard_entry *e);

/* Some linked entry (the oldest IDLE one if any), or NULL when none is: for closing all. */
struct conn_guard_entry *conn_guard_first(const struct conn_guard *g);

/* Number of connections linked, in every stage. */
size_t conn_guard_count(const struct conn_guard *g);

/* Formats e's source address ("192.0.2.1", "2001:db8::1") into out. */
void conn_guard_source_text(const struct conn_guard_entry *e, char *out, size_t n);

#endif
