/* etcd: an asynchronous client for etcd v3 through its HTTP/JSON gateway (DESIGN.md §12), on
 * the caller's libuv loop.
 *
 * Transport: every call is one POST to /v3/... through net/http (curl's multi interface on the
 * loop); watches (net/etcd_watch.h) use the same client's streaming mode (a callback per piece
 * received, no total timeout, ended by http_request_abort), so one connection cache, one set of
 * uv handles and one close path serve both. etcd 3.4's gateway (Debian 12) is assumed: keys
 * and values are base64 in JSON, int64 are strings (net/etcd_json.h, net/etcd_parse.h).
 *
 * Each try of a call is bounded by timeout_ms. A try that fails is retried on the next
 * endpoint (round robin; the client remembers which endpoint answered last and starts there)
 * up to `tries` times, after a short pause once every endpoint has failed in a row: when it
 * could not connect, when etcd answered 5xx/unavailable, and for reads and lease calls after
 * a timeout too. A put, delete or txn that may have reached etcd (sent, then no answer or an
 * "unavailable" etcd gives after proposing) is never repeated: it ends with
 * ETCD_EUNKNOWN, so that a caller doing fenced writes decides (re-read, then retry or not).
 *
 * With user and password the client authenticates once, keeps the token (sent as the
 * Authorization header) and authenticates again when etcd says the token is invalid. TLS: a
 * CA bundle and a client certificate and key, through curl's options. */
#ifndef ACMED_NET_ETCD_H
#define ACMED_NET_ETCD_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/etcd_json.h" /* etcd_result, etcd_kv, etcd_txn */
#include "util/err.h"

/* A write was sent and its outcome is unknown: it may or may not have been applied. */
#define ETCD_EUNKNOWN (-EINPROGRESS)

struct etcd;

struct etcd_opts {
    const char *const *endpoints; /* "http://HOST:PORT" or "https://HOST:PORT", no path */
    size_t n;
    const char *ca_bundle;       /* PEM trust for https endpoints; NULL: the system's */
    const char *cert, *key;      /* client certificate and key (PEM files), or NULL */
    const char *user, *password; /* etcd authentication, or NULL; copied (password zeroed on
                                    free) */
    long timeout_ms;             /* one try of one call; 0: 3000 */
    unsigned tries;              /* tries per call; 0: one per endpoint plus one, at least 3.
                                  * A call lasts at most tries * timeout_ms plus the pauses
                                  * (100 ms after the first full round, 200 ms after the
                                  * second...): 12.1 s with three endpoints and defaults. */
    bool allow_insecure_http;    /* plain http to hosts other than loopback literals */
};

/* Creates a client on loop. Everything in opts is copied. *out belongs to the caller
 * (etcd_free). Returns 0, -EINVAL (no endpoint, a malformed one) or -ENOMEM. */
int etcd_new(uv_loop_t *loop, const struct etcd_opts *opts, struct etcd **out, struct err *e);

/* Ends every call in flight (their callbacks run later from the loop with -ECANCELED, never
 * from inside this call) and every watch (likewise, unless cancelled), then frees the client
 * once libuv has closed its handles, then calls done(arg) if not NULL. Safe inside a
 * callback. c may be NULL. */
void etcd_free(struct etcd *c, void (*done)(void *arg), void *arg);

/* Completion of a call: exactly once, from the loop, never from inside the call that started
 * it. rc 0: r holds the answer (borrowed for the callback; fields as etcd_json.h says for the
 * call). rc < 0: e says why: ETCD_EUNKNOWN (see above), -EHOSTDOWN (no try succeeded and
 * nothing was applied), -EACCES (authentication or permission), -ENOENT (no such lease),
 * -EBADMSG (a malformed answer), -EINVAL (etcd refused the request), -ECANCELED (etcd_free),
 * -ENOMEM, -EIO. */
typedef void (*etcd_cb)(void *arg, int rc, const struct etcd_result *r, const struct err *e);

/* Each call returns 0 when started (cb will run) or negative with e set (cb will not run):
 * -EINVAL for a bad argument (empty or overlong key, value above ETCD_MAX_VALUE),
 * -ESHUTDOWN after etcd_free, -ENOMEM. Keys are text; values are bytes. */

/* The key (r->kvs has 0 or 1 pair), linearizable. */
int etcd_get(struct etcd *c, const char *key, etcd_cb cb, void *arg, struct err *e);
/* Every key starting with prefix, in key order, at most limit (0: all; r->more says there
 * were more), linearizable. An answer above ETCD_MAX_RESPONSE ends with -EFBIG: page through
 * large prefixes with a limit. */
int etcd_get_prefix(struct etcd *c, const char *prefix, int64_t limit, etcd_cb cb, void *arg,
                    struct err *e);
/* Sets key to value[0..len), bound to lease (0: none). */
int etcd_put(struct etcd *c, const char *key, const void *value, size_t len, int64_t lease,
             etcd_cb cb, void *arg, struct err *e);
/* Deletes key, or every key starting with it when prefix; r->deleted counts them. */
int etcd_delete(struct etcd *c, const char *key, bool prefix, etcd_cb cb, void *arg, struct err *e);
/* Runs t: r->succeeded says whether the compares held (then the "then" branch ran, else the
 * "else" one). t and what it points to are copied. */
int etcd_txn(struct etcd *c, const struct etcd_txn *t, etcd_cb cb, void *arg, struct err *e);
/* Grants a lease of ttl seconds: r->lease_id, r->ttl. */
int etcd_lease_grant(struct etcd *c, int64_t ttl, etcd_cb cb, void *arg, struct err *e);
/* Renews lease id once: r->ttl is the seconds granted, 0 when the lease is gone (expired or
 * revoked). The caller repeats it (about every ttl/3). */
int etcd_lease_keepalive(struct etcd *c, int64_t id, etcd_cb cb, void *arg, struct err *e);
/* Revokes lease id, deleting its keys; -ENOENT when it is gone already. */
int etcd_lease_revoke(struct etcd *c, int64_t id, etcd_cb cb, void *arg, struct err *e);

#endif
