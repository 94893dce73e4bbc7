/* http_msg: what one HTTP exchange of the client (net/http.h) carries: the request, the
 * response and its headers, the completion callback and the options every transfer applies.
 * Below both the client (http.c) and its transfers (http_xfer.c), which share these types. */
#ifndef ACMED_NET_HTTP_MSG_H
#define ACMED_NET_HTTP_MSG_H

#include <stdbool.h>
#include <stddef.h>

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
    const char *client_cert;  /* PEM client certificate for TLS client authentication (etcd),
                               * with client_key; NULL: none. Borrowed for the client's life. */
    const char *client_key;
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
 *   -ENOMEM, -EIO anything else; -ENOTCONN nothing was sent (only with report_unsent);
 *   an on_data callback's own negative code.
 * resp and e are valid only during the callback. */
typedef void (*http_cb)(void *arg, int rc, const struct http_response *resp, const struct err *e);

struct http_request {
    const char *method; /* "GET", "HEAD" or "POST" */
    const char *url;
    const char *content_type;   /* POST only, e.g. "application/jose+json" */
    const char *accept;         /* optional Accept header */
    const char *authentication; /* optional Authentication header (a central certificate
                                 * server's HMAC: net/mgmt_url.h) */
    const char *body;           /* POST body, copied by http_request_start */
    size_t body_len;
    const char *connect_to;    /* optional "HOST:PORT" to connect to instead of the URL's host
                                  (the URL, Host header and TLS name stay as they are) */
    long timeout_ms;           /* this request's total timeout; 0: the client's total_timeout_ms */
    bool plain_http;           /* plain http by nature (the http-01 self-test): exempt from
                                  the plain-http rule */
    const char *authorization; /* optional Authorization header (an etcd auth token) */
    const char *extra_header;  /* optional header line "Name: value" (etcd's gateway metadata) */
    /* Streaming (an etcd watch): when set, the body (of any status) is not collected but
     * handed over piece by piece as it arrives; on_data returns 0 to go on or a negative code
     * to end the transfer, whose callback then gets that code. It runs inside curl's write
     * callback, so it must not call this client (start, abort, cancel, close): it stores and
     * defers. The total timeout does not apply (timeout_ms still does when set);
     * http_request_abort ends such a request. The response given to the callback then has an
     * empty body. */
    int (*on_data)(void *arg, const char *data, size_t len);
    /* When set, a transfer that failed before any of the request was sent (cannot connect,
     * connect timeout, TLS handshake) ends with -ENOTCONN (the cause stays in the message):
     * retrying it elsewhere cannot repeat its effect. */
    bool report_unsent;
};

/* First header named `name` (case-insensitive), or NULL. Borrowed from resp. */
const char *http_header_get(const struct http_response *resp, const char *name);

/* The User-Agent acmed sends: "acmed/<version>". */
const char *http_user_agent(void);

#endif
