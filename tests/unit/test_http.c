/* Unit tests for net/http: the pure helpers, argument checks, closing an idle client, and
 * response handling against a loopback server that sends canned responses (1xx responses,
 * header trimming, redirects, the body cap without Content-Length), cancelling, streaming
 * (on_data, http_request_abort) and report_unsent. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "common/testutil.h"
#include "net/http.h"

struct result {
    int calls;
    int rc;
    long status;
    char body[256];
    char location[128];
    char nonce[128];
    char fold[128];
    int has_early; /* a header of the 1xx response leaked into the final one */
    size_t nheaders;
    char msg[ERR_MSG_MAX];
};

static void copy_header(char *dst, size_t n, const struct http_response *resp, const char *h)
{
    const char *v = http_header_get(resp, h);

    snprintf(dst, n, "%s", v ? v : "(none)");
}

static void on_resp(void *arg, int rc, const struct http_response *resp, const struct err *e)
{
    struct result *r = arg;

    r->calls++;
    r->rc = rc;
    if (resp) {
        r->status = resp->status;
        snprintf(r->body, sizeof r->body, "%s", resp->body);
        copy_header(r->location, sizeof r->location, resp, "Location");
        copy_header(r->nonce, sizeof r->nonce, resp, "replay-nonce");
        copy_header(r->fold, sizeof r->fold, resp, "X-Fold");
        r->has_early = http_header_get(resp, "X-Early") != NULL;
        r->nheaders = resp->nheaders;
    }
    if (e)
        snprintf(r->msg, sizeof r->msg, "%s", e->msg);
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* Runs `loop` until *flag is set, failing the test after `ms` milliseconds. */
static void run_until(uv_loop_t *loop, const int *flag, uint64_t ms)
{
    if (!tu_run_until(loop, flag, ms))
        fail_msg("nothing happened within %llu ms", (unsigned long long)ms);
}

/* Closes the client, waits for done, and checks that nothing is left on the loop. */
static void close_and_finish(uv_loop_t *loop, struct http_client *c)
{
    int closed = 0;

    http_client_close(c, on_closed, &closed);
    assert_int_equal(closed, 0);
    run_until(loop, &closed, 5000);
    assert_int_equal(closed, 1);
}

/* ---- a loopback server answering each connection's first request with a canned text ------- */

#define CANNED_CONNS 4

struct canned_conn {
    uv_tcp_t tcp;
    uv_write_t wr;
    int answered;
};

struct canned {
    uv_tcp_t srv;
    struct canned_conn conn[CANNED_CONNS];
    int nconn;
    int port;
    const char *response;
    int close_after; /* close the connection once the response is written */
    char data[8192];
    size_t len;
    char rbuf[4096];
};

static void canned_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    struct canned *s = h->data;

    *b = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

static void canned_written(uv_write_t *wr, int status)
{
    struct canned *s = wr->handle->data;

    if (s->close_after && !uv_is_closing((uv_handle_t *)wr->handle))
        uv_close((uv_handle_t *)wr->handle, NULL);
}

static void canned_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct canned *s = st->data;
    struct canned_conn *c = (struct canned_conn *)st;
    size_t room = sizeof s->data - 1 - s->len;
    size_t k;
    uv_buf_t out;

    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)st))
            uv_close((uv_handle_t *)st, NULL);
        return;
    }
    k = (size_t)n < room ? (size_t)n : room;
    memcpy(s->data + s->len, b->base, k);
    s->len += k;
    s->data[s->len] = '\0';
    if (!c->answered && strstr(s->data, "\r\n\r\n")) {
        c->answered = 1;
        out = uv_buf_init((char *)s->response, (unsigned)strlen(s->response));
        uv_write(&c->wr, st, &out, 1, canned_written);
    }
}

static void canned_conn_cb(uv_stream_t *srv, int status)
{
    struct canned *s = srv->data;
    struct canned_conn *c;

    if (status < 0 || s->nconn == CANNED_CONNS)
        return;
    c = &s->conn[s->nconn++];
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = s;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, canned_alloc, canned_read);
}

static void canned_start(uv_loop_t *loop, struct canned *s, const char *response, int close_after)
{
    struct sockaddr_in sa;
    struct sockaddr_storage ss;
    int len = sizeof ss;

    memset(s, 0, sizeof *s);
    s->response = response;
    s->close_after = close_after;
    assert_int_equal(uv_tcp_init(loop, &s->srv), 0);
    s->srv.data = s;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
    assert_int_equal(uv_tcp_bind(&s->srv, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->srv, 8, canned_conn_cb), 0);
    assert_int_equal(uv_tcp_getsockname(&s->srv, (struct sockaddr *)&ss, &len), 0);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void canned_stop(uv_loop_t *loop, struct canned *s)
{
    int i;

    uv_close((uv_handle_t *)&s->srv, NULL);
    for (i = 0; i < s->nconn; i++) {
        if (!uv_is_closing((uv_handle_t *)&s->conn[i].tcp))
            uv_close((uv_handle_t *)&s->conn[i].tcp, NULL);
    }
    uv_run(loop, UV_RUN_DEFAULT);
}

/* Runs one request against a canned server; fills r and a copy of what the server read. */
static void fetch(const char *response, int close_after, const struct http_client_opts *o,
                  struct http_request *req, struct result *r, char *seen, size_t seen_len)
{
    uv_loop_t loop;
    struct canned s;
    struct http_client *c = NULL;
    struct err e;
    char url[128];

    assert_int_equal(uv_loop_init(&loop), 0);
    canned_start(&loop, &s, response, close_after);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", s.port);
    req->url = url;
    assert_int_equal(http_client_new(&loop, o, &c, &e), 0);
    assert_int_equal(http_request_start(c, req, on_resp, r, &e), 0);
    run_until(&loop, &r->calls, 5000);
    close_and_finish(&loop, c);
    assert_int_equal(r->calls, 1);
    snprintf(seen, seen_len, "%s", s.data);
    canned_stop(&loop, &s);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_user_agent(void **state)
{
    assert_string_equal(http_user_agent(), "acmed/" ACMED_VERSION);
}

static void test_header_get(void **state)
{
    struct http_header h[] = {
        {"Content-Type", "application/json"},
        {"replay-nonce", "first"},
        {"Replay-Nonce", "second"},
    };
    struct http_response resp = {0};

    resp.headers = h;
    resp.nheaders = 3;
    assert_string_equal(http_header_get(&resp, "content-type"), "application/json");
    assert_string_equal(http_header_get(&resp, "CONTENT-TYPE"), "application/json");
    assert_string_equal(http_header_get(&resp, "Replay-Nonce"), "first");
    assert_null(http_header_get(&resp, "Location"));
    assert_null(http_header_get(&resp, "Content-Typ"));
    assert_null(http_header_get(&resp, NULL));
    assert_null(http_header_get(NULL, "Location"));
    resp.nheaders = 0;
    assert_null(http_header_get(&resp, "content-type"));
}

/* Rejected requests return an error and never call back; an idle client closes cleanly and
 * calls done from the loop, not from inside http_client_close. */
static void test_bad_requests(void **state)
{
    uv_loop_t loop;
    struct http_client *c = NULL;
    struct http_request req = {.method = "GET", .url = "http://127.0.0.1:1/"};
    struct result r = {0};
    struct http_stats st;
    struct err e;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(http_client_new(&loop, NULL, &c, &e), 0);
    req.method = "DELETE";
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "DELETE"));
    req.method = NULL;
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), -EINVAL);
    req.method = "POST";
    req.content_type = "text/plain\r\nX-Injected: 1";
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), -EINVAL);
    req.content_type = NULL;
    req.url = NULL;
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), -EINVAL);
    req.url = "http://127.0.0.1:1/";
    assert_int_equal(http_request_start(c, &req, NULL, &r, &e), -EINVAL);
    uv_run(&loop, UV_RUN_NOWAIT);
    http_client_stats(c, &st);
    assert_int_equal(st.requests, 0);
    assert_int_equal(st.connections, 0);
    close_and_finish(&loop, c);
    assert_int_equal(r.calls, 0);
    http_client_close(NULL, NULL, NULL);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* libcurl initialises libssh2, and libssh2 would have OpenSSL load and register its built-in
 * engines, 1.5 MiB of libcrypto pages for SCP and SFTP: http_client_new keeps that from
 * happening (global_init in http.c), for the first client, for a second one, and again after
 * the last one closed. OpenSSL's engine list stays empty unless the engines were loaded. Skipped
 * when this libcurl loads no libssh2 or no OpenSSL. */
static void test_no_ssh_crypto_init(void **state)
{
    void *(*engine_first)(void) = (void *(*)(void))dlsym(RTLD_DEFAULT, "ENGINE_get_first");
    int (*engine_free)(void *) = (int (*)(void *))dlsym(RTLD_DEFAULT, "ENGINE_free");
    uv_loop_t loop;
    struct http_client *c[2] = {NULL, NULL};
    struct err e;
    void *engine;

    if (!dlsym(RTLD_DEFAULT, "libssh2_init") || !engine_first || !engine_free)
        skip();
    assert_int_equal(uv_loop_init(&loop), 0);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(http_client_new(&loop, NULL, &c[0], &e), 0);
        assert_int_equal(http_client_new(&loop, NULL, &c[1], &e), 0);
        close_and_finish(&loop, c[1]);
        close_and_finish(&loop, c[0]);
        engine = engine_first();
        if (engine)
            engine_free(engine);
        assert_null(engine);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* The bundle inside a CA directory: only a regular file (or a link to one) named
 * ca-certificates.crt, with or without a trailing slash on the directory. */
static void test_dir_bundle(void **state)
{
    char *dir = tu_mkdtemp("http-cadir");
    char path[512], link[512], *got;

    assert_non_null(dir);
    assert_null(http_dir_bundle(NULL));
    assert_null(http_dir_bundle(""));
    assert_null(http_dir_bundle(dir));
    snprintf(path, sizeof path, "%s/ca-certificates.crt", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(http_dir_bundle(dir));
    assert_int_equal(rmdir(path), 0);
    tu_write_file(path, "-----BEGIN CERTIFICATE-----\n");
    got = http_dir_bundle(dir);
    assert_string_equal(got, path);
    free(got);
    snprintf(link, sizeof link, "%s/", dir);
    got = http_dir_bundle(link);
    assert_string_equal(got, path);
    free(got);
    /* Debian's /etc/ssl/certs holds links; a dangling one is no bundle. */
    snprintf(link, sizeof link, "%s/real.crt", dir);
    assert_int_equal(rename(path, link), 0);
    assert_int_equal(symlink("real.crt", path), 0);
    got = http_dir_bundle(dir);
    assert_string_equal(got, path);
    free(got);
    assert_int_equal(unlink(link), 0);
    assert_null(http_dir_bundle(dir));
    assert_int_equal(tu_rmtree(dir), 0);
    free(dir);
}

/* Only the final response's headers are kept; values are trimmed, folded lines joined. The
 * request carries the POST body, its type, and no Expect header. */
static void test_final_headers(void **state)
{
    static const char response[] = "HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\n"
                                   "HTTP/1.1 201 Created\r\n"
                                   "Location:   /acct/1 \t\r\n"
                                   "replay-NONCE: abc\r\n"
                                   "X-Fold: a\r\n"
                                   "  b\r\n"
                                   "Content-Length: 5\r\n"
                                   "\r\n"
                                   "hello";
    struct http_request req = {.method = "POST",
                               .content_type = "application/jose+json",
                               .accept = "application/pem-certificate-chain",
                               .body = "{\"a\":1}",
                               .body_len = 7};
    struct result r = {0};
    char seen[8192];

    fetch(response, 0, NULL, &req, &r, seen, sizeof seen);
    if (r.rc != 0)
        fail_msg("request failed: %d %s", r.rc, r.msg);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "hello");
    assert_string_equal(r.location, "/acct/1");
    assert_string_equal(r.nonce, "abc");
    assert_string_equal(r.fold, "a b");
    assert_false(r.has_early);
    assert_int_equal(r.nheaders, 4);
    assert_non_null(strstr(seen, "POST /x HTTP/1.1\r\n"));
    assert_non_null(strstr(seen, "\r\nContent-Type: application/jose+json\r\n"));
    assert_non_null(strstr(seen, "\r\nAccept: application/pem-certificate-chain\r\n"));
    assert_non_null(strstr(seen, "\r\nUser-Agent: acmed/" ACMED_VERSION "\r\n"));
    assert_null(strcasestr(seen, "\r\nExpect:"));
    assert_non_null(strstr(seen, "\r\n\r\n{\"a\":1}"));
}

/* A redirect is returned to the caller, not followed. */
static void test_no_redirect(void **state)
{
    static const char response[] = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/y\r\n"
                                   "Content-Length: 0\r\n\r\n";
    struct http_request req = {.method = "GET"};
    struct result r = {0};
    char seen[8192];

    fetch(response, 0, NULL, &req, &r, seen, sizeof seen);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.status, 302);
    assert_string_equal(r.location, "http://127.0.0.1:1/y");
    assert_string_equal(r.body, "");
}

/* Without Content-Length the cap is enforced while the body streams in. */
static void test_body_cap_streaming(void **state)
{
    static char response[2048];
    struct http_client_opts o = {.max_body = 100};
    struct http_request req = {.method = "GET"};
    struct result r = {0};
    char seen[8192];
    size_t n;

    n = (size_t)snprintf(response, sizeof response, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    memset(response + n, 'x', 1000);
    response[n + 1000] = '\0';
    fetch(response, 1, &o, &req, &r, seen, sizeof seen);
    if (r.rc != -EFBIG)
        fail_msg("expected -EFBIG, got %d: %s", r.rc, r.msg);
    assert_non_null(strstr(r.msg, "100 bytes"));

    /* Exactly at the cap is fine. */
    memset(&r, 0, sizeof r);
    response[n + 100] = '\0';
    fetch(response, 1, &o, &req, &r, seen, sizeof seen);
    assert_int_equal(r.rc, 0);
    assert_int_equal(strlen(r.body), 100);
}

/* http_client_cancel: a request on the wire (the server never answers) ends with -ECANCELED
 * from the loop, never inside the call; every watcher is told once, inside the call, and one
 * unwatched before is not; a request started afterwards is refused with -ECANCELED; the
 * client still closes normally. */
struct watched {
    struct http_watch w;
    int told;
};

static void on_watch(struct http_watch *w)
{
    ((struct watched *)(void *)((char *)w - offsetof(struct watched, w)))->told++;
}

static void test_cancel(void **state)
{
    uv_loop_t loop;
    struct canned s;
    struct http_client *c = NULL;
    struct http_request req = {.method = "GET"};
    struct result r;
    struct watched a = {.w.cb = on_watch}, b = {.w.cb = on_watch};
    struct err e;
    char url[128];

    memset(&r, 0, sizeof r);
    assert_int_equal(uv_loop_init(&loop), 0);
    canned_start(&loop, &s, "", 0); /* reads the request, never answers */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", s.port);
    req.url = url;
    assert_int_equal(http_client_new(&loop, NULL, &c, &e), 0);
    http_client_watch(c, &a.w);
    http_client_watch(c, &b.w);
    http_client_unwatch(c, &b.w);
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), 0);
    assert_false(tu_run_until(&loop, &r.calls, 500));
    assert_int_equal(s.nconn, 1); /* on the wire */
    http_client_cancel(c);
    assert_int_equal(a.told, 1);
    assert_int_equal(b.told, 0);
    assert_int_equal(r.calls, 0);
    http_client_cancel(c); /* a second call does nothing */
    assert_int_equal(a.told, 1);
    run_until(&loop, &r.calls, 1000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, -ECANCELED);
    assert_non_null(strstr(r.msg, "cancelled"));
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), -ECANCELED);
    assert_int_equal(e.code, -ECANCELED);
    close_and_finish(&loop, c);
    assert_int_equal(r.calls, 1);
    canned_stop(&loop, &s);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Streaming (net/http_msg.h on_data): pieces are handed over as they arrive, the client's total
 * timeout does not end the request, http_request_abort does (from the loop, never inside the
 * call; an unknown id is ignored); the Authorization and extra headers go out, an extra header
 * with a line break is refused. */
struct stream_seen {
    char data[256];
    size_t len;
    int refuse; /* on_data's answer once something arrived */
};

static int on_stream_data(void *arg, const char *data, size_t len)
{
    struct stream_seen *sd = *(struct stream_seen **)arg;
    size_t k = len < sizeof sd->data - 1 - sd->len ? len : sizeof sd->data - 1 - sd->len;

    memcpy(sd->data + sd->len, data, k);
    sd->len += k;
    sd->data[sd->len] = '\0';
    return sd->refuse;
}

struct stream_result {
    struct stream_seen *sd; /* first: on_stream_data's arg is this struct */
    struct result r;
};

static void on_stream_resp(void *arg, int rc, const struct http_response *resp, const struct err *e)
{
    on_resp(&((struct stream_result *)arg)->r, rc, resp, e);
}

static void test_stream_abort(void **state)
{
    uv_loop_t loop;
    struct canned s;
    struct http_client *c = NULL;
    struct http_client_opts o = {.total_timeout_ms = 300};
    struct stream_seen sd = {0};
    struct stream_result sr = {.sd = &sd};
    struct http_request req = {.method = "POST",
                               .body = "{}",
                               .body_len = 2,
                               .authorization = "tok.1",
                               .extra_header = "X-Extra: 1",
                               .on_data = on_stream_data};
    unsigned long id = 0;
    struct err e;
    char url[128];

    assert_int_equal(uv_loop_init(&loop), 0);
    canned_start(&loop, &s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nline1\n\r\n",
                 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v3/watch", s.port);
    req.url = url;
    assert_int_equal(http_client_new(&loop, &o, &c, &e), 0);
    assert_int_equal(http_request_start_id(c, &req, on_stream_resp, &sr, &id, &e), 0);
    assert_true(id > 0);
    assert_false(tu_run_until(&loop, &sr.r.calls, 800)); /* beyond the total timeout */
    assert_string_equal(sd.data, "line1\n");
    assert_non_null(strstr(s.data, "Authorization: tok.1\r\n"));
    assert_non_null(strstr(s.data, "\r\nX-Extra: 1\r\n"));
    req.extra_header = "X: 1\r\nY: 2"; /* header injection */
    assert_int_equal(http_request_start(c, &req, on_stream_resp, &sr, &e), -EINVAL);
    req.extra_header = NULL;
    http_request_abort(c, id + 1000); /* unknown: ignored */
    http_request_abort(c, id);
    assert_int_equal(sr.r.calls, 0);
    run_until(&loop, &sr.r.calls, 1000);
    assert_int_equal(sr.r.rc, -ECANCELED);
    assert_non_null(strstr(sr.r.msg, "aborted"));
    http_request_abort(c, id); /* finished: ignored */
    close_and_finish(&loop, c);
    assert_int_equal(sr.r.calls, 1);
    canned_stop(&loop, &s);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* on_data's refusal ends the transfer with its own code. */
static void test_stream_refused(void **state)
{
    static const char response[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc";
    struct stream_seen sd = {.refuse = -EPIPE};
    struct stream_result sr = {.sd = &sd};
    struct http_request req = {.method = "GET", .on_data = on_stream_data};
    uv_loop_t loop;
    struct canned s;
    struct http_client *c = NULL;
    struct err e;
    char url[128];

    assert_int_equal(uv_loop_init(&loop), 0);
    canned_start(&loop, &s, response, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", s.port);
    req.url = url;
    assert_int_equal(http_client_new(&loop, NULL, &c, &e), 0);
    assert_int_equal(http_request_start(c, &req, on_stream_resp, &sr, &e), 0);
    run_until(&loop, &sr.r.calls, 5000);
    assert_int_equal(sr.r.rc, -EPIPE);
    assert_string_equal(sd.data, "abc");
    close_and_finish(&loop, c);
    canned_stop(&loop, &s);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* report_unsent: a connection refused is -ENOTCONN (nothing went out); a request sent and
 * never answered stays -ETIMEDOUT. Without the flag, the refusal keeps its own code. */
static void test_report_unsent(void **state)
{
    uv_loop_t loop;
    struct canned s;
    struct http_client *c = NULL;
    struct http_request req = {.method = "POST", .body = "x", .body_len = 1, .timeout_ms = 300};
    struct result r = {0};
    struct err e;
    char url[128];
    int port;

    assert_int_equal(uv_loop_init(&loop), 0);
    canned_start(&loop, &s, "", 0); /* reads, never answers */
    port = s.port;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
    req.url = url;
    assert_int_equal(http_client_new(&loop, NULL, &c, &e), 0);
    req.report_unsent = true;
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), 0);
    run_until(&loop, &r.calls, 5000);
    assert_int_equal(r.rc, -ETIMEDOUT);
    canned_stop(&loop, &s); /* the port is closed now */
    memset(&r, 0, sizeof r);
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), 0);
    run_until(&loop, &r.calls, 5000);
    assert_int_equal(r.rc, -ENOTCONN);
    assert_non_null(strstr(r.msg, "cannot connect"));
    memset(&r, 0, sizeof r);
    req.report_unsent = false;
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), 0);
    run_until(&loop, &r.calls, 5000);
    assert_int_equal(r.rc, -ECONNREFUSED);
    close_and_finish(&loop, c);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_agent),     cmocka_unit_test(test_header_get),
        cmocka_unit_test(test_bad_requests),   cmocka_unit_test(test_no_ssh_crypto_init),
        cmocka_unit_test(test_dir_bundle),     cmocka_unit_test(test_final_headers),
        cmocka_unit_test(test_no_redirect),    cmocka_unit_test(test_body_cap_streaming),
        cmocka_unit_test(test_cancel),         cmocka_unit_test(test_stream_abort),
        cmocka_unit_test(test_stream_refused), cmocka_unit_test(test_report_unsent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
