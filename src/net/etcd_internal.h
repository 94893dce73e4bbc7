/* etcd_internal: the client's state, shared by etcd.c (endpoints, authentication, unary calls)
 * and etcd_watch.c (watch streams). Nothing here is for other modules.
 *
 * Lifetime: every call and watch counts in `live` until its uv timer has closed; etcd_free
 * closes the HTTP client first (its transfers end with -ECANCELED), then ends what was not in
 * flight, and the client is freed when both the HTTP client and the last timer are gone. */
#ifndef ACMED_NET_ETCD_INTERNAL_H
#define ACMED_NET_ETCD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "net/etcd.h"
#include "net/http.h"

/* Someone waiting for an authentication token (a call or a watch): ready runs once, from the
 * loop, with rc 0 when c->token may be used (or no authentication is configured), else the
 * error. */
struct etcd_waiter {
    void (*ready)(struct etcd_waiter *w, int rc, const struct err *e);
    struct etcd_waiter *next;
};

/* A watch as the client sees it: told (from the loop) when the client closes. */
struct etcd_stream {
    void (*closing)(struct etcd_stream *s);
    struct etcd_stream *prev, *next;
};

struct etcd_req;

struct etcd {
    uv_loop_t *loop;
    struct http_client *http; /* NULL once closed */
    char **endpoints;         /* without a trailing '/' */
    size_t n;
    size_t cur; /* the endpoint to try first: the last that answered */
    long timeout_ms;
    unsigned tries;
    char *user, *password; /* NULL without authentication; password zeroed on free */
    char *token;           /* the current token, NULL when none is held */
    struct etcd_req *auth; /* the authentication in progress, or NULL */
    struct etcd_waiter *waiters;
    struct etcd_req *reqs;       /* calls not yet ended */
    struct etcd_stream *streams; /* watches not yet ended */
    unsigned live;               /* calls and watches whose memory is not freed yet */
    bool closing;
    void (*done)(void *arg);
    void *done_arg;
};

/* The URL of endpoint i (modulo n) followed by path, or NULL (out of memory). Caller frees. */
char *etcd_url(const struct etcd *c, size_t i, const char *path);

/* Endpoint i failed: the next call starts at the next one. */
void etcd_endpoint_failed(struct etcd *c, size_t i);

/* Returns 1 when a call may go now (a token is held, or none is needed), else queues w (which
 * must not be queued already), starts authenticating if nobody is, and returns 0; negative
 * with e set when authentication cannot start (w is not queued then). */
int etcd_need_token(struct etcd *c, struct etcd_waiter *w, struct err *e);

/* Unqueues w if it waits. */
void etcd_unwait(struct etcd *c, struct etcd_waiter *w);

/* The token `used` was refused: forget it if it is still the current one. */
void etcd_token_refused(struct etcd *c, const char *used);

/* The pause before another try, when `tries` tries failed in a row: none within a round of
 * the endpoints, then 100 ms per round, at most 1 s. */
long etcd_pause_ms(const struct etcd *c, unsigned tries);

/* Counts a watch in (hold) and out (release: the client may be freed inside this call when
 * it is closing and this was the last). */
void etcd_hold(struct etcd *c);
void etcd_release(struct etcd *c);

void etcd_stream_add(struct etcd *c, struct etcd_stream *s);
void etcd_stream_remove(struct etcd *c, struct etcd_stream *s);

#endif
