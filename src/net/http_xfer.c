/* http_xfer: one transfer of the HTTP client (see http_xfer.h): the easy handle's options,
 * the header and body callbacks, and the mapping of curl's failures to error codes. */
#include "net/http_xfer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER_BYTES ((size_t)64 << 10) /* all header lines of one transfer */
/* curl's smallest upload buffer (CURLOPT_UPLOAD_BUFFERSIZE). curl allocates one for each
 * transfer that sends a body, 64 KiB by default; a JWS body is a few KB. */
#define UPLOAD_BUFFER 16384L

static void headers_clear(struct http_xfer *x)
{
    size_t i;

    for (i = 0; i < x->nheaders; i++) {
        free(x->headers[i].name);
        free(x->headers[i].value);
    }
    x->nheaders = 0;
}

void http_xfer_free(struct http_xfer *x)
{
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    curl_slist_free_all(x->connect_to);
    headers_clear(x);
    free(x->headers);
    buf_clear(&x->body);
    free(x->url);
    free(x);
}

/* CURLOPT_WRITEFUNCTION: appends to the body; returning less than given makes curl fail the
 * transfer, which is how a body above max_body is stopped even without a Content-Length. */
static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct http_xfer *x = ud;
    size_t len = size * n;
    int rc;

    if (x->on_data) {
        if ((rc = x->on_data(x->arg, data, len)) < 0) {
            x->data_rc = rc;
            return 0;
        }
        return len;
    }
    if (len > x->max_body - x->body.len) {
        x->body_too_big = 1;
        return 0;
    }
    if (buf_append(&x->body, data, len) < 0) {
        x->oom = 1;
        return 0;
    }
    return len;
}

/* Appends a continuation line (obs-fold) to the last header's value, joined by one space. */
static int header_continue(struct http_xfer *x, const char *p, const char *end)
{
    struct http_header *h;
    size_t old, add;
    char *nv;

    if (x->nheaders == 0)
        return 0;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    h = &x->headers[x->nheaders - 1];
    old = strlen(h->value);
    add = (size_t)(end - p);
    nv = realloc(h->value, old + add + 2);
    if (!nv)
        return -ENOMEM;
    nv[old] = ' ';
    memcpy(nv + old + 1, p, add);
    nv[old + 1 + add] = '\0';
    h->value = nv;
    return 0;
}

/* Adds the header line p[0..len) (CRLF already stripped); lines without a name are ignored. */
static int header_add(struct http_xfer *x, const char *p, size_t len)
{
    const char *end = p + len;
    const char *colon = memchr(p, ':', len);
    const char *v;
    struct http_header *h;

    if (p[0] == ' ' || p[0] == '\t')
        return header_continue(x, p, end);
    if (!colon || colon == p)
        return 0;
    if (x->nheaders == x->cap_headers) {
        size_t cap = x->cap_headers ? x->cap_headers * 2 : 16;

        h = realloc(x->headers, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        x->headers = h;
        x->cap_headers = cap;
    }
    v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    h = &x->headers[x->nheaders];
    h->name = strndup(p, (size_t)(colon - p));
    h->value = strndup(v, (size_t)(end - v));
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        return -ENOMEM;
    }
    x->nheaders++;
    return 0;
}

/* CURLOPT_HEADERFUNCTION: collects the header lines of the final response. A status line
 * starts a new response (after a 1xx, or a proxy's CONNECT reply), so it drops what came
 * before. */
static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    struct http_xfer *x = ud;
    size_t total = size * n;
    size_t len = total;

    x->header_bytes += total;
    if (x->header_bytes > MAX_HEADER_BYTES) {
        x->headers_too_big = 1;
        return 0;
    }
    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
        len--;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        headers_clear(x);
        return total;
    }
    if (len > 0 && header_add(x, data, len) < 0) {
        x->oom = 1;
        return 0;
    }
    return total;
}

/* How curl's failures map to codes; anything not listed is -EIO. */
static const struct {
    CURLcode res;
    int code;
    const char *what;
} failures[] = {
    {CURLE_OPERATION_TIMEDOUT, -ETIMEDOUT, "timed out"},
    {CURLE_COULDNT_CONNECT, -ECONNREFUSED, "cannot connect"},
    {CURLE_PEER_FAILED_VERIFICATION, -EKEYREJECTED, "TLS certificate verification failed"},
    {CURLE_SSL_CACERT_BADFILE, -ENOENT, "cannot load the CA bundle"},
    {CURLE_SSL_CONNECT_ERROR, -EPROTO, "TLS handshake failed"},
    {CURLE_SSL_CERTPROBLEM, -EPROTO, "TLS handshake failed"},
    {CURLE_SSL_CIPHER, -EPROTO, "TLS handshake failed"},
    {CURLE_SSL_ISSUER_ERROR, -EPROTO, "TLS handshake failed"},
    {CURLE_SSL_INVALIDCERTSTATUS, -EPROTO, "TLS handshake failed"},
    {CURLE_COULDNT_RESOLVE_HOST, -EHOSTUNREACH, "cannot resolve the host"},
    {CURLE_UNSUPPORTED_PROTOCOL, -EPROTONOSUPPORT, "unsupported protocol"},
    {CURLE_URL_MALFORMAT, -EINVAL, "malformed URL"},
    {CURLE_SEND_ERROR, -ECONNRESET, "connection failed"},
    {CURLE_RECV_ERROR, -ECONNRESET, "connection failed"},
    {CURLE_GOT_NOTHING, -ECONNRESET, "connection failed"},
    {CURLE_PARTIAL_FILE, -ECONNRESET, "connection failed"},
    {CURLE_HTTP2, -ECONNRESET, "connection failed"},
    {CURLE_HTTP2_STREAM, -ECONNRESET, "connection failed"},
};

/* True unless the transfer failed before curl started sending the request: curl records the
 * pre-transfer time (connected, TLS done) just before it sends, so a zero there means none of
 * the request left. */
static int request_sent(struct http_xfer *x)
{
    curl_off_t t = 0;

    if (curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &t) != CURLE_OK)
        return 1;
    return t > 0;
}

int http_xfer_error(struct http_xfer *x, CURLcode res, struct err *e)
{
    const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(res);
    const char *what = "transfer failed";
    long oserr = 0;
    int code = -EIO;
    size_t i;

    if (x->body_too_big || res == CURLE_FILESIZE_EXCEEDED)
        return err_set(e, -EFBIG, "%s %s: response body exceeds the limit of %zu bytes", x->method,
                       x->url, x->max_body);
    if (x->headers_too_big)
        return err_set(e, -EFBIG, "%s %s: response headers exceed the limit of %zu bytes",
                       x->method, x->url, MAX_HEADER_BYTES);
    if (x->oom || res == CURLE_OUT_OF_MEMORY)
        return err_set(e, -ENOMEM, "%s %s: out of memory", x->method, x->url);
    if (x->data_rc < 0)
        return err_set(e, x->data_rc, "%s %s: stream ended by its reader", x->method, x->url);
    for (i = 0; i < sizeof failures / sizeof failures[0]; i++) {
        if (failures[i].res == res) {
            code = failures[i].code;
            what = failures[i].what;
            break;
        }
    }
    /* A failed connect says why (refused, unreachable...) in errno. */
    if (res == CURLE_COULDNT_CONNECT &&
        curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr > 0)
        code = (int)-oserr;
    if (x->report_unsent && !request_sent(x))
        code = -ENOTCONN;
    return err_set(e, code, "%s %s: %s: %s", x->method, x->url, what, detail);
}

static const char *method_name(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST"};
    size_t i;

    for (i = 0; m && i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(m, known[i]) == 0)
            return known[i];
    }
    return NULL;
}

static int has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    struct buf b = BUF_INIT;
    struct curl_slist *l;
    int rc = -ENOMEM;

    if (buf_printf(&b, "%s: %s", name, value) < 0)
        goto out;
    l = curl_slist_append(*list, b.data);
    if (!l)
        goto out;
    *list = l;
    rc = 0;
out:
    buf_clear(&b);
    return rc;
}

/* Sets the easy handle's options for `req`. Returns 0 or -ENOMEM. */
static int xfer_setup(struct http_xfer *x, const struct http_request *req,
                      const struct http_client_opts *o)
{
    CURL *h = x->easy;

    /* "Expect:" stops curl from waiting for a 100-continue that ACME servers never need. */
    if (!(x->hdrs = curl_slist_append(NULL, "Expect:")) ||
        (req->content_type && add_header(&x->hdrs, "Content-Type", req->content_type) < 0) ||
        (req->accept && add_header(&x->hdrs, "Accept", req->accept) < 0) ||
        (req->authentication && add_header(&x->hdrs, "Authentication", req->authentication) < 0) ||
        (req->authorization && add_header(&x->hdrs, "Authorization", req->authorization) < 0))
        return -ENOMEM;
    if (req->extra_header) {
        struct curl_slist *l = curl_slist_append(x->hdrs, req->extra_header);

        if (!l)
            return -ENOMEM;
        x->hdrs = l;
    }
    if (curl_easy_setopt(h, CURLOPT_URL, x->url) || curl_easy_setopt(h, CURLOPT_PRIVATE, x) ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf) ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ||
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) ||
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) ||
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, http_user_agent()) ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms) ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                         req->timeout_ms > 0 ? req->timeout_ms
                         : req->on_data      ? 0L
                                             : o->total_timeout_ms) ||
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)(req->on_data ? 0 : o->max_body)) ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, x) ||
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) ||
        curl_easy_setopt(h, CURLOPT_HEADERDATA, x) ||
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs) ||
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER))
        return -ENOMEM;
    /* A configured bundle replaces the system trust store rather than adding to it. */
    if (o->ca_bundle && (curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_bundle) ||
                         curl_easy_setopt(h, CURLOPT_CAPATH, NULL)))
        return -ENOMEM;
    if (o->client_cert && (curl_easy_setopt(h, CURLOPT_SSLCERT, o->client_cert) ||
                           curl_easy_setopt(h, CURLOPT_SSLKEY, o->client_key)))
        return -ENOMEM;
    if (strcmp(x->method, "HEAD") == 0 && curl_easy_setopt(h, CURLOPT_NOBODY, 1L))
        return -ENOMEM;
    if (req->connect_to) {
        char spec[300];

        /* "::HOST:PORT": any host and port of the URL goes to HOST:PORT. */
        snprintf(spec, sizeof spec, "::%s", req->connect_to);
        if (!(x->connect_to = curl_slist_append(NULL, spec)) ||
            curl_easy_setopt(h, CURLOPT_CONNECT_TO, x->connect_to))
            return -ENOMEM;
    }
    if (strcmp(x->method, "POST") == 0 &&
        (curl_easy_setopt(h, CURLOPT_POST, 1L) ||
         curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                          (curl_off_t)(req->body ? req->body_len : 0)) ||
         curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "")))
        return -ENOMEM;
    return 0;
}

int http_xfer_new(const struct http_request *req, const struct http_client_opts *opts,
                  struct http_xfer **out, struct err *e)
{
    struct http_xfer *x = NULL;
    const char *method = method_name(req->method);
    int rc;

    *out = NULL;
    if (!method)
        return err_set(e, -EINVAL, "http: %s: unsupported method \"%s\"", req->url,
                       req->method ? req->method : "(none)");
    if (has_crlf(req->url) || has_crlf(req->content_type) || has_crlf(req->accept) ||
        has_crlf(req->connect_to) || has_crlf(req->authentication) ||
        has_crlf(req->authorization) || has_crlf(req->extra_header))
        return err_set(e, -EINVAL, "http: %s: line break in the URL or a header", method);
    x = calloc(1, sizeof *x);
    if (!x || !(x->url = strdup(req->url)) || !(x->easy = curl_easy_init())) {
        rc = err_set(e, -ENOMEM, "http: %s %s: out of memory", method, req->url);
        goto out;
    }
    x->method = method;
    x->max_body = opts->max_body;
    x->on_data = req->on_data;
    x->report_unsent = req->report_unsent;
    if (xfer_setup(x, req, opts) < 0) {
        rc = err_set(e, -ENOMEM, "http: %s %s: cannot set up the request", method, req->url);
        goto out;
    }
    *out = x;
    x = NULL;
    rc = 0;
out:
    http_xfer_free(x);
    return rc;
}
