/* serve_back: what acmed serve decides and does for one `POST /sign` (DESIGN.md §11), apart
 * from HTTP itself: the client rules and their HMAC keys, the CSR, the rate, the cache of
 * served chains, and the orders, coalesced by CSR and run as passes of the reconciler on the
 * caller's loop. Under privilege separation this runs in the keeper (the HMAC keys never leave
 * it) and the HTTP side in the worker; in one process, the HTTP side calls it directly.
 *
 * The answer to every request: 200 and the chain (PEM, leaf first); 403 no client rule
 * allows it; 415 the body is not a CSR acmed orders for; 421 the CA's validation failed; 429
 * the client is over its rate (with a Retry-After); 500 anything else. Every error body is one
 * line of text. (413 is the HTTP side's: a body over max-size never gets here.) */
#ifndef ACMED_SERVE_SERVE_BACK_H
#define ACMED_SERVE_SERVE_BACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "reconcile/reconcile.h"
#include "serve/rules.h"
#include "serve/serve_conf.h"
#include "util/err.h"

struct serve_back;
struct serve_wait;

/* One request as the HTTP side saw it; everything borrowed for the call. */
struct serve_ask {
    const struct sockaddr *peer;
    socklen_t peer_len;
    const struct rules_header *headers; /* those rules.h reads (HMAC-SHA256, HMAC-SHA2-256,
                                           Authentication); others are never needed */
    size_t nheaders;
    const uint8_t *body;
    size_t len;
};

/* The answer: status, body[0..len) (borrowed for the call), Retry-After seconds (0: none). */
typedef void (*serve_answer_cb)(void *arg, unsigned status, const char *body, size_t len,
                                unsigned retry_after);

struct serve_back_opts {
    uv_loop_t *loop;
    const struct serve_conf *conf; /* borrowed for the server's life */
    const char *state_dir;
    /* What each order's pass starts from (listeners, engines, hooks, CA bundle...): copied;
     * the pass's own fields (extra, locked) are set here. */
    const struct rec_opts *rec;
    unsigned max_orders; /* orders in flight at once (conf/acmed.yaml max-orders) */
};

/* Reads every client's hmac-key-file (a file that is missing, empty, a symbolic link or
 * readable by others is an error naming it) and sets the server up. Returns 0 with *out, or
 * negative with e set. */
int serve_back_new(const struct serve_back_opts *o, struct serve_back **out, struct err *e);

/* Decides on one request. Answers through cb, either inside this call (then *w is NULL) or
 * later from the loop, once its order is over or request-timeout has passed (then *w is the
 * waiting request, for serve_back_forget). Returns 0, or -ENOMEM without calling cb. */
int serve_back_ask(struct serve_back *b, const struct serve_ask *a, serve_answer_cb cb, void *arg,
                   struct serve_wait **w);

/* The client went away: w is never answered (its order goes on, and its chain is cached). */
void serve_back_forget(struct serve_back *b, struct serve_wait *w);

/* Orders in flight and waiting (for tests and status). */
size_t serve_back_inflight(const struct serve_back *b);
/* Orders started since the server began (each CSR once, whatever the requests for it). */
unsigned long serve_back_orders(const struct serve_back *b);

/* Stops: no new order; the passes running end at their next checkpoint (force: at once);
 * waiting requests are answered 500 ("the server is stopping"). done(arg) is called from the
 * loop once every pass has ended, then b is freed. */
void serve_back_stop(struct serve_back *b, bool force, void (*done)(void *arg), void *arg);

#endif
