/* http: an asynchronous HTTPS client, the curl multi interface driven by libuv.
 *
 * One uv_poll_t per socket curl opens and one uv_timer_t for curl's timeouts; nothing
 * blocks the loop. Connections are kept alive and reused between requests to the same host.
 * Every response body is capped (a larger one aborts that request with an error). */
#ifndef ACMED_NET_HTTP_H
#define ACMED_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http_msg.h" /* the request, response and callback types */
#include "util/err.h"

struct http_client;

struct http_stats {
    uint64_t requests;    /* requests started */
    uint64_t connections; /* new connections curl opened */
};

/* Creates a client on `loop`. opts may be NULL. *out is owned by the caller and released with
 * http_client_close(). Returns 0 or negative. */
int http_client_new(uv_loop_t *loop, const struct http_client_opts *opts, struct http_client **out,
                    struct err *e);

/* Starts a request. Returns 0 when started (cb will be called exactly once, never from inside
 * this call) or negative (cb is never called): -EINVAL for a bad method or a line break in the
 * URL or a header, -EPERM for a plain-http URL the rule of net/url_policy.h refuses (no
 * connection is made), -ESHUTDOWN once http_client_close was called, -ECANCELED once
 * http_client_cancel was, -ENOMEM. */
int http_request_start(struct http_client *c, const struct http_request *req, http_cb cb, void *arg,
                       struct err *e);

/* Like http_request_start; when it returns 0, *id (if id is not NULL) names the request for
 * http_request_abort. Ids are never reused by a client. */
int http_request_start_id(struct http_client *c, const struct http_request *req, http_cb cb,
                          void *arg, unsigned long *id, struct err *e);

/* Ends request `id` if it is still in flight (a finished or unknown id is ignored): its
 * callback runs later from the loop with rc -ECANCELED, never from inside this call. For
 * streaming requests (http_msg.h on_data), which have no total timeout. c may be NULL. */
void http_request_abort(struct http_client *c, unsigned long id);

/* Someone to tell when the client is cancelled (http_client_cancel), e.g. a user whose own
 * timers wait to send requests. Embedded in the user's memory; cb(w) runs once, from inside
 * http_client_cancel. Linked by http_client_watch; the user unlinks it (http_client_unwatch)
 * before its memory goes, while the client exists. */
struct http_watch {
    void (*cb)(struct http_watch *w);
    struct http_watch *next; /* the client's */
};

/* Adds w to the client's watchers (c and w non-NULL; w not already watching). */
void http_client_watch(struct http_client *c, struct http_watch *w);
/* Removes w if it is among the watchers (after a cancel it no longer is). c may be NULL. */
void http_client_unwatch(struct http_client *c, struct http_watch *w);

/* Cancels everything, for a stop that cannot wait: each request in flight ends with rc
 * -ECANCELED (its callback runs later from the loop, never from inside this call), every
 * watcher is told (inside this call, then forgotten), and http_request_start fails with
 * -ECANCELED from now on. The client stays valid and must still be closed. A second call does
 * nothing. c may be NULL. */
void http_client_cancel(struct http_client *c);

/* Counters since creation. */
void http_client_stats(const struct http_client *c, struct http_stats *out);

/* Aborts pending requests (their callbacks run with rc -ECANCELED, later from the loop, never
 * from inside this call), closes the handles and frees the client once libuv has closed them;
 * then calls done(arg) if done is not NULL. Safe inside a completion callback; a second call
 * before done() runs is ignored. c may be NULL. */
void http_client_close(struct http_client *c, void (*done)(void *arg), void *arg);

/* The system's CA bundle inside CA directory `dir`: "`dir`/ca-certificates.crt" when that is a
 * regular file (or a link to one), else NULL. A client with no ca_bundle trusts this file
 * instead of libcurl's default when that default is a CA directory and no CA file (Debian's
 * libcurl: /etc/ssl/certs): GnuTLS parses every file of the directory for each connection, so
 * each CA three times (its .pem link, its hash link and this bundle, which
 * update-ca-certificates writes from the same certificates). Returns a string the caller
 * frees, or NULL (also when out of memory: libcurl's default then stays). */
char *http_dir_bundle(const char *dir);

#endif
