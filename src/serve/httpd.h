/* httpd: the HTTP/1.1 endpoint of `acmed serve`, libmicrohttpd driven by the caller's libuv loop.
 *
 * One MHD daemon per listening socket, started with MHD_USE_EPOLL and no thread of its own: its
 * epoll descriptor is watched by a uv_poll_t and its timeout (MHD_get_timeout) by a uv_timer_t,
 * and MHD_run runs when either fires. Generic: it knows no ACME and no rules. Only POST reaches
 * the handler (other methods: 405), and only with a Content-Length within the limit (else 413
 * before the body is read). The handler answers now or later; while it has not, the connection
 * is suspended (MHD_suspend_connection), so MHD's idle timeout does not apply to it, and a
 * client that goes away meanwhile is noticed (EPOLLRDHUP on its socket) and the handler told.
 * TLS (MHD_USE_TLS, through GnuTLS) when given a certificate and key. */
#ifndef ACMED_SERVE_HTTPD_H
#define ACMED_SERVE_HTTPD_H

#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "util/err.h"

struct httpd;
struct httpd_req;

/* Limits; a field left 0 takes its default. per_ip, total and the memory apply per listening
 * socket (each has its own MHD daemon). */
struct httpd_limits {
    unsigned per_ip;       /* connections per source address (64: a fleet may share one NAT) */
    unsigned total;        /* connections (256) */
    size_t conn_memory;    /* bytes per connection for MHD's buffers, bounding the request line
                            * and the headers (16 KiB) */
    unsigned idle_timeout; /* seconds a connection may sit silent before it is closed (30);
                            * not counted while the handler holds its request */
    size_t max_body;       /* largest request body in bytes (4096) */
};

/* TLS: the certificate (chain) and its private key, NUL-terminated PEM, read at httpd_new. */
struct httpd_tls {
    const char *cert_pem;
    const char *key_pem;
};

/* The handler. request runs once per complete request (inside MHD_run, on the loop): r is the
 * handler's until it answers with httpd_req_reply (inside this call or from any later point on
 * the loop) or until cancel(arg, r) tells it that the request is gone (the client went away,
 * or httpd_close): once cancel returns it must not answer or touch r. cancel never runs for a
 * request already answered. Either may call httpd_close (from request, it takes effect once MHD_run
 * returns, cancelling r if it is still unanswered). */
struct httpd_handler {
    void (*request)(void *arg, struct httpd_req *r);
    void (*cancel)(void *arg, struct httpd_req *r);
    void *arg;
};

/* Starts serving on the listening sockets fds[0..nfds-1] (non-blocking, as from
 * net/listen_sock.h) on loop, over TLS when tls is not NULL. The fds are borrowed: the server
 * serves on duplicates of them and closes those; the caller closes its own whenever it likes.
 * limits may be NULL (all defaults). *out belongs to the caller until httpd_close. Returns 0,
 * or negative with e set (-EINVAL no socket or handler, -ENOMEM, -EIO MHD refused to start,
 * e.g. a bad socket or an unusable certificate or key). */
int httpd_new(uv_loop_t *loop, const int *fds, size_t nfds, const struct httpd_limits *limits,
              const struct httpd_tls *tls, const struct httpd_handler *h, struct httpd **out,
              struct err *e);

/* Stops listening, tells the handler of every request it still holds (cancel, inside this
 * call), closes every connection, and frees the server once libuv has closed its handles; then
 * calls done(arg) if done is not NULL (never from inside this call). A second call does
 * nothing; s may be NULL. */
void httpd_close(struct httpd *s, void (*done)(void *arg), void *arg);

/* What the handler may read while r is its own. All borrowed from r. */
const char *httpd_req_method(const struct httpd_req *r);
const char *httpd_req_path(const struct httpd_req *r);
/* The first header named `name` (case-insensitive), or NULL. */
const char *httpd_req_header(const struct httpd_req *r, const char *name);
/* The body (NUL-terminated after len bytes; may hold NULs itself). */
const char *httpd_req_body(const struct httpd_req *r, size_t *len);
/* The peer's address (AF_INET or AF_INET6) and its length in *len when len is not NULL. */
const struct sockaddr *httpd_req_peer(const struct httpd_req *r, socklen_t *len);

/* A pointer of the handler's own kept with r (NULL until set). */
void httpd_req_set_data(struct httpd_req *r, void *data);
void *httpd_req_data(const struct httpd_req *r);

/* The answer httpd_req_reply gives r will carry "Retry-After: seconds" (0: none). */
void httpd_req_set_retry_after(struct httpd_req *r, unsigned seconds);

/* Answers r with status, content_type (may be NULL: none) and body[0..len-1] (copied). From
 * then on r is no longer the handler's, even when this fails. Returns 0, or -ENOMEM (the
 * connection is then closed without an answer); -EINVAL from inside the cancel callback. */
int httpd_req_reply(struct httpd_req *r, unsigned status, const char *content_type,
                    const char *body, size_t len);

#endif
