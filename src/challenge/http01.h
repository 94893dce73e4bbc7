/* http01: the built-in http-01 responder (DESIGN.md §6, RFC 8555 §8.3) on the libuv loop.
 *
 * Answers GET and HEAD /.well-known/acme-challenge/<token> with 200 text/plain and the key
 * authorization for tokens published with http01_add, 404 for anything else (never a
 * listing). Every response carries Content-Length and "Connection: close"; the connection is
 * closed after one response. Nothing blocks the loop, and everything is bounded: a request
 * head of at most 8 KiB, at most 256 connections (net/conn_guard.h), and deadlines.
 *
 * One client holding connections open must not keep the CA's validator out, even from the
 * same address (a NAT, a proxy in front of the listener). A connection is idle until its
 * request head (request line and headers up to the empty line) is complete. An idle one is
 * closed 3 s after the accept; of the idle connections of one address only the newest 4 are
 * kept, older ones being closed once they have been open 250 ms; and a new connection is
 * never turned away for an idle one: at 256 connections it closes the oldest idle
 * connection of any address (else the oldest one lingering after its answer) at once. A
 * connection whose request has arrived is answered and not closed for another; the whole
 * exchange is bounded by 10 s from the accept. The numbers are the defaults of struct
 * conn_guard_limits, where the reasons are. */
#ifndef ACMED_CHALLENGE_HTTP01_H
#define ACMED_CHALLENGE_HTTP01_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "challenge/listen_addr.h"
#include "challenge/lookup.h"
#include "net/conn_guard.h"
#include "util/err.h"

struct http01;

/* Listens on each of the n addresses (borrowed; IPV6_V6ONLY on IPv6 sockets so that ":80" can
 * bind both families). required may be NULL (all required); where required[i] is false a bind
 * failure is only logged, and http01_bound_port(h, i) reports it. Returns 0 with *out (free
 * with http01_close), or negative with *out NULL and e naming the address that failed; no
 * callback fires then, and memory of handles already set up is released by the loop. */
int http01_start(uv_loop_t *loop, const struct listen_addr *addrs, const bool *required, size_t n,
                 struct http01 **out, struct err *e);

/* Like http01_start, over n sockets already listening (privilege separation: the keeper
 * binds, the worker serves). Takes the descriptors (closed on failure too); each must be a
 * listening IPv4 or IPv6 TCP socket (-EINVAL otherwise). */
int http01_adopt(uv_loop_t *loop, const int *fds, size_t n, struct http01 **out, struct err *e);

/* Publishes the answer for token (a copy of token and keyauth is kept; publishing a token
 * again replaces its answer). Returns 0, -EINVAL when token is not base64url or longer than
 * HTTP01_TOKEN_MAX or keyauth is NULL or h is closing, or -ENOMEM. */
int http01_add(struct http01 *h, const char *token, const char *keyauth, struct err *e);

/* Withdraws the answer for token; an unknown token is ignored. Later requests get 404. */
void http01_remove(struct http01 *h, const char *token);

/* Sets who to ask about a token with no answer published here (lk borrowed until replaced,
 * removed or h closed; NULL removes it). A GET or HEAD for such a token (checked as always
 * first) then waits for lk's answer: 200 with it when it is a valid key authorization for the
 * token (challenge/http01_lookup.h), else 404; 404 as well after CHAL_LOOKUP_TIMEOUT_MS
 * without one, and at once when CHAL_LOOKUP_MAX_INFLIGHT asks are in flight. A connection
 * or h closed while an ask is pending is fine: the answer then goes to no one. */
void http01_set_lookup(struct http01 *h, const struct chal_lookup *lk);

/* Number of answers published. */
size_t http01_count(const struct http01 *h);

/* Replaces the connection caps and deadlines (lim borrowed; NULL or a 0 field: the default);
 * for tests. The caps apply at once, the deadlines to connections accepted from now on. */
void http01_set_limits(struct http01 *h, const struct conn_guard_limits *lim);

/* The port listener i (index into the addresses given to http01_start) is bound to, the real
 * one when port 0 was asked for; or the negative error that kept it from listening; -ENOENT
 * when i is out of range. */
int http01_bound_port(const struct http01 *h, size_t i);

/* The address listener i is bound to as text ("127.0.0.1:12345"), or NULL when it is not
 * listening. Borrowed from h. */
const char *http01_bound_addr(const struct http01 *h, size_t i);

/* Closes the listeners and every connection and forgets all answers. done(arg) (may be
 * NULL) is called from the loop once every handle is closed, after h is freed; never from
 * inside this call. h may be NULL (nothing happens); a second call is ignored. */
void http01_close(struct http01 *h, void (*done)(void *), void *arg);

#endif
