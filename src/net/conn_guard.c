/* conn_guard: the admission bookkeeping of conn_guard.h.
 *
 * One doubly linked list per stage, oldest first, so the oldest IDLE or DONE connection is
 * the head and a stage change is O(1). Per-source counts are not kept: counting walks the
 * IDLE list, which holds at most max_conns entries (256). An admission walks it once; a
 * sweep, which runs at most once per grace period, compares each entry with the newer ones
 * (quadratic, but a few ten thousand comparisons at worst). */
#include "net/conn_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

/* Sockets peeked at (one recv with MSG_PEEK each) for one eviction at the global cap: enough
 * to pass over a burst of validation requests, and a bound on the work of one accept. */
#define PEEK_MAX 8

static unsigned or_default(unsigned v, unsigned def)
{
    return v ? v : def;
}

void conn_guard_set_limits(struct conn_guard *g, const struct conn_guard_limits *lim)
{
    struct conn_guard_limits none = {0};

    if (!lim)
        lim = &none;
    g->lim.max_conns = or_default(lim->max_conns, CONN_GUARD_MAX_CONNS);
    g->lim.max_idle_per_source =
        or_default(lim->max_idle_per_source, CONN_GUARD_MAX_IDLE_PER_SOURCE);
    g->lim.grace_ms = or_default(lim->grace_ms, CONN_GUARD_GRACE_MS);
    g->lim.idle_ms = or_default(lim->idle_ms, CONN_GUARD_IDLE_MS);
    g->lim.timeout_ms = or_default(lim->timeout_ms, CONN_GUARD_TIMEOUT_MS);
}

void conn_guard_init(struct conn_guard *g, const struct conn_guard_limits *lim)
{
    memset(g, 0, sizeof *g);
    conn_guard_set_limits(g, lim);
}

/* The source address of peer as 16 bytes: IPv6 as is, IPv4 as ::ffff:a.b.c.d, so that an
 * IPv4 client is one source whichever socket family accepted it. */
static void source_of(const struct sockaddr *peer, uint8_t out[16])
{
    memset(out, 0, 16);
    if (peer && peer->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    } else if (peer && peer->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
    }
}

/* Whether the client's input is waiting unread in the socket: its request may be complete
 * and only not yet read by the loop. End of file or an error is no input. */
static bool has_input(const struct conn_guard_entry *e)
{
    char c;

    return e->fd >= 0 && recv(e->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* The connection to close at the global cap: the oldest IDLE one without unread input among
 * the first PEEK_MAX, else the oldest IDLE one, else the oldest DONE one; NULL if none. */
static struct conn_guard_entry *global_victim(const struct conn_guard *g)
{
    struct conn_guard_entry *e = g->stage[CONN_GUARD_IDLE].head;

    for (unsigned i = 0; e && i < PEEK_MAX; e = e->next, i++) {
        if (!has_input(e))
            return e;
    }
    if (g->stage[CONN_GUARD_IDLE].head)
        return g->stage[CONN_GUARD_IDLE].head;
    return g->stage[CONN_GUARD_DONE].head;
}

enum conn_guard_verdict conn_guard_admit(const struct conn_guard *g,
                                         struct conn_guard_entry **victim)
{
    *victim = NULL;
    if (conn_guard_count(g) < g->lim.max_conns)
        return CONN_GUARD_ROOM;
    *victim = global_victim(g);
    return *victim ? CONN_GUARD_EVICT : CONN_GUARD_REFUSE;
}

bool conn_guard_make_room(struct conn_guard *g, const char *who, conn_guard_close_fn close_owner)
{
    struct conn_guard_entry *victim;
    enum conn_guard_verdict v = conn_guard_admit(g, &victim);
    char src[64];

    if (v == CONN_GUARD_ROOM)
        return true;
    if (v == CONN_GUARD_REFUSE) {
        log_debug("%s: %zu connections being answered, refusing another", who, conn_guard_count(g));
        return false;
    }
    conn_guard_source_text(victim, src, sizeof src);
    log_debug("%s: %zu connections open, closing an older one from %s for a new one", who,
              conn_guard_count(g), src);
    close_owner(victim->owner);
    return true;
}

/* The number of IDLE connections from e's source newer than e, up to limit. */
static unsigned newer_from_source(const struct conn_guard_entry *e, unsigned limit)
{
    unsigned n = 0;

    for (const struct conn_guard_entry *o = e->next; o && n < limit; o = o->next)
        n += memcmp(o->src, e->src, 16) == 0;
    return n;
}

uint64_t conn_guard_sweep(struct conn_guard *g, uint64_t now, const char *who,
                          conn_guard_close_fn close_owner)
{
    const unsigned keep = g->lim.max_idle_per_source, grace = g->lim.grace_ms;
    struct conn_guard_entry *e, *older;
    uint64_t next = 0;
    char src[64];

    /* From the newest to the oldest, so that each source keeps its newest ones. */
    for (e = g->stage[CONN_GUARD_IDLE].tail; e; e = older) {
        uint64_t age = now > e->since ? now - e->since : 0;
        uint64_t wait = 0;

        older = e->prev;
        if (newer_from_source(e, keep) < keep)
            continue;
        if (age < grace)
            wait = grace - age;
        else if (has_input(e))
            wait = grace; /* its request is about to be read */
        if (wait) {
            next = next && next < wait ? next : wait;
            continue;
        }
        conn_guard_source_text(e, src, sizeof src);
        log_debug("%s: closing an idle connection from %s: its %u newer idle ones are kept", who,
                  src, keep);
        close_owner(e->owner);
    }
    return next;
}

static void list_append(struct conn_guard_list *l, struct conn_guard_entry *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    l->n++;
}

static void list_unlink(struct conn_guard_list *l, struct conn_guard_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
    l->n--;
}

bool conn_guard_add(struct conn_guard *g, struct conn_guard_entry *e, void *owner, int fd,
                    const struct sockaddr *peer, uint64_t now)
{
    unsigned n = 0;

    e->owner = owner;
    e->fd = fd;
    e->since = now;
    e->stage = CONN_GUARD_IDLE;
    source_of(peer, e->src);
    list_append(&g->stage[CONN_GUARD_IDLE], e);
    e->linked = true;
    for (const struct conn_guard_entry *o = g->stage[CONN_GUARD_IDLE].head; o; o = o->next)
        n += memcmp(o->src, e->src, 16) == 0;
    return n > g->lim.max_idle_per_source;
}

void conn_guard_set_stage(struct conn_guard *g, struct conn_guard_entry *e,
                          enum conn_guard_stage stage)
{
    if (!e->linked || e->stage == stage)
        return;
    list_unlink(&g->stage[e->stage], e);
    e->stage = stage;
    list_append(&g->stage[stage], e);
}

void conn_guard_remove(struct conn_guard *g, struct conn_guard_entry *e)
{
    if (!e->linked)
        return;
    list_unlink(&g->stage[e->stage], e);
    e->linked = false;
}

struct conn_guard_entry *conn_guard_first(const struct conn_guard *g)
{
    for (int i = 0; i < CONN_GUARD_NSTAGES; i++) {
        if (g->stage[i].head)
            return g->stage[i].head;
    }
    return NULL;
}

size_t conn_guard_count(const struct conn_guard *g)
{
    size_t n = 0;

    for (int i = 0; i < CONN_GUARD_NSTAGES; i++)
        n += g->stage[i].n;
    return n;
}

void conn_guard_source_text(const struct conn_guard_entry *e, char *out, size_t n)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char ip[INET6_ADDRSTRLEN] = "?";

    if (memcmp(e->src, mapped, sizeof mapped) == 0)
        inet_ntop(AF_INET, e->src + 12, ip, sizeof ip);
    else
        inet_ntop(AF_INET6, e->src, ip, sizeof ip);
    snprintf(out, n, "%s", ip);
}
