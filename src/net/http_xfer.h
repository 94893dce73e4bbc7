/* http_xfer: one HTTP transfer of the client in http.c, shared only by src/net/http*.c.
 *
 * A transfer owns its curl easy handle, configured from the request and the client's options,
 * and collects the final response's headers and body (capped at max_body). http.c drives it
 * through the multi interface and keeps it on its lists through prev/next. */
#ifndef ACMED_NET_HTTP_XFER_H
#define ACMED_NET_HTTP_XFER_H

#include <curl/curl.h>
#include <stddef.h>

#include "net/http_msg.h"
#include "util/buf.h"
#include "util/err.h"

struct http_client;

struct http_xfer {
    struct http_client *c; /* the owner; not used by http_xfer.c */
    CURL *easy;            /* CURLOPT_PRIVATE points back at the transfer */
    struct curl_slist *hdrs;
    struct curl_slist *connect_to;
    http_cb cb;
    void *arg;
    const char *method; /* static string: "GET", "HEAD" or "POST" */
    char *url;
    size_t max_body;
    struct buf body;
    struct http_header *headers; /* of the latest response so far */
    size_t nheaders, cap_headers, header_bytes;
    int body_too_big;
    int headers_too_big;
    int oom;
    int (*on_data)(void *arg, const char *data, size_t len); /* streaming: see http_msg.h */
    int data_rc;                                             /* on_data's refusal */
    int report_unsent;
    unsigned long id; /* names the request for http_request_abort */
    int aborted;      /* by http_request_abort */
    char errbuf[CURL_ERROR_SIZE];
    struct http_xfer *prev, *next;
};

/* Validates req (method, no line break in the URL or a header) and creates a transfer whose
 * easy handle is ready for curl_multi_add_handle. opts must have its defaults filled in.
 * *out belongs to the caller (http_xfer_free). Returns 0, -EINVAL or -ENOMEM. */
int http_xfer_new(const struct http_request *req, const struct http_client_opts *opts,
                  struct http_xfer **out, struct err *e);

/* Releases the transfer and its easy handle (which must no longer be in a multi). x may be
 * NULL. */
void http_xfer_free(struct http_xfer *x);

/* Describes the failure `res` of x in e (method, URL, curl's words) and returns its negative
 * code, as listed in http.h. */
int http_xfer_error(struct http_xfer *x, CURLcode res, struct err *e);

#endif
