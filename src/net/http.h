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

#include "util/err.h"

struct http_client_opts {
    const char *ca_bundle;    /* PEM file of trusted CAs (replaces the system store); NULL =
                               * system default (see http_dir_bundle). The CLI maps
                               * $ACMED_CA_BUNDLE here. */
    long connect_timeout_ms;  /* 0 = 10 s */
    long total_timeout_ms;    /* per request, 0 = 60 s */
    size_t max_body;          /* 0 = 4 MiB */
    bool allow_insecure_http; /* plain http to any host (conf/acmed.yaml allow-insecure-http);
                               * otherwise only to loopback literals (net/url_policy.h) */
};

struct http_header {
    char *name;  /* as received */
    char *value; /* trimmed */
};

struct http_response {
    long status; /* HTTP status code */
    char *body;  /* NUL-terminated; owned by the response */
    size_t body_len;
    struct http_header *headers; /* headers of the final response, in order */
    size_t nheaders;
    const char *effective_url; /* borrowed from curl */
};

/* Called exactly once per request on the loop thread. rc == 0: resp is the response (any
 * status; redirects are not followed); rc < 0: a transport failure described by e (the message
 * names the method, the URL and curl's explanation), and resp is NULL:
 *   -ETIMEDOUT connect or total timeout      -ECONNREFUSED (or the OS errno) cannot connect
 *   -EKEYREJECTED TLS certificate not trusted -EPROTO other TLS failure
 *   -EFBIG body (or headers) above the cap    -ENOENT CA bundle unreadable
 *   -ECONNRESET connection broke             -ECANCELED http_client_close was called
 *   -EINVAL malformed URL, -EPROTONOSUPPORT not http/https, -EHOSTUNREACH unresolvable,
 *   -ENOMEM, -EIO anything else.
 * resp and e are valid only during the callback. */
typedef void (*http_cb)(void *arg, int rc, const struct http_response *resp, const struct err *e);

struct http_request {
    const char *method; /* "GET", "HEAD" or "POST" */
    const char *url;
    const char *content_type; /* POST only, e.g. "application/jose+json" */
    const char *accept;       /* optional Accept header */
    const char *body;         /* POST body, copied by http_request_start */
    size_t body_len;
    const char *connect_to; /* optional "HOST:PORT" to connect to instead of the URL's host
                               (the URL, Host header and TLS name stay as they are) */
    bool plain_http;        /* plain http by nature (the http-01 self-test): exempt from
                               the plain-http rule */
};

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
 * connection is made), -ESHUTDOWN once http_client_close was called, -ENOMEM. */
int http_request_start(struct http_client *c, const struct http_request *req, http_cb cb, void *arg,
                       struct err *e);

/* Counters since creation. */
void http_client_stats(const struct http_client *c, struct http_stats *out);

/* Aborts pending requests (their callbacks run with rc -ECANCELED, later from the loop, never
 * from inside this call), closes the handles and frees the client once libuv has closed them;
 * then calls done(arg) if done is not NULL. Safe inside a completion callback; a second call
 * before done() runs is ignored. c may be NULL. */
void http_client_close(struct http_client *c, void (*done)(void *arg), void *arg);

/* First header named `name` (case-insensitive), or NULL. Borrowed from resp. */
const char *http_header_get(const struct http_response *resp, const char *name);

/* The system's CA bundle inside CA directory `dir`: "`dir`/ca-certificates.crt" when that is a
 * regular file (or a link to one), else NULL. A client with no ca_bundle trusts this file
 * instead of libcurl's default when that default is a CA directory and no CA file (Debian's
 * libcurl: /etc/ssl/certs): GnuTLS parses every file of the directory for each connection, so
 * each CA three times (its .pem link, its hash link and this bundle, which
 * update-ca-certificates writes from the same certificates). Returns a string the caller
 * frees, or NULL (also when out of memory: libcurl's default then stays). */
char *http_dir_bundle(const char *dir);

/* The User-Agent acmed sends: "acmed/<version>". */
const char *http_user_agent(void);

#endif
