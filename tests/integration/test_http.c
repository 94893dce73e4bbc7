/* Integration tests for net/http: against the Pebble fixture (keep-alive, TLS trust, body cap)
 * and against a loopback server that never answers (timeout, User-Agent, cancellation). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "common/pebble_env.h"
#include "common/testutil.h"
#include "net/http.h"

/* What one request's callback saw. */
struct result {
    int calls;
    int rc;
    int contract_ok; /* resp set iff rc == 0, e set iff rc < 0 */
    int seq;         /* order of the call among all callbacks of the test */
    long status;
    char *body;
    size_t body_len;
    char *nonce;
    char msg[ERR_MSG_MAX];
};

struct closed {
    int calls;
    int seq;
};

struct tctx {
    uv_loop_t loop;
    uv_timer_t watchdog;
    int expired;
};

static int seq;

static void on_resp(void *arg, int rc, const struct http_response *resp, const struct err *e)
{
    struct result *r = arg;
    const char *nonce;

    r->calls++;
    r->rc = rc;
    r->seq = ++seq;
    r->contract_ok = rc == 0 ? resp != NULL && e == NULL : resp == NULL && e != NULL;
    if (resp) {
        r->status = resp->status;
        free(r->body);
        r->body = strndup(resp->body, resp->body_len);
        r->body_len = resp->body_len;
        nonce = http_header_get(resp, "replay-nonce");
        free(r->nonce);
        r->nonce = nonce ? strdup(nonce) : NULL;
    }
    if (e)
        snprintf(r->msg, sizeof r->msg, "%s", e->msg);
}

static void result_free(struct result *r)
{
    free(r->body);
    free(r->nonce);
}

static void on_closed(void *arg)
{
    struct closed *cl = arg;

    cl->calls++;
    cl->seq = ++seq;
}

static void on_watchdog(uv_timer_t *t)
{
    struct tctx *tc = t->data;

    tc->expired = 1;
}

/* Runs the loop until *flag is non-zero; fails the test after `ms` milliseconds. */
static void run_until(struct tctx *t, const int *flag, uint64_t ms)
{
    t->expired = 0;
    uv_timer_start(&t->watchdog, on_watchdog, ms, 0);
    while (!*flag && !t->expired)
        uv_run(&t->loop, UV_RUN_ONCE);
    uv_timer_stop(&t->watchdog);
    if (!*flag)
        fail_msg("nothing happened within %llu ms", (unsigned long long)ms);
}

static void close_client(struct tctx *t, struct http_client *c)
{
    struct closed cl = {0};

    http_client_close(c, on_closed, &cl);
    assert_int_equal(cl.calls, 0);
    run_until(t, &cl.calls, 5000);
    assert_int_equal(cl.calls, 1);
}

static int setup(void **state)
{
    struct tctx *t = calloc(1, sizeof *t);

    if (!t || uv_loop_init(&t->loop) != 0)
        return -1;
    uv_timer_init(&t->loop, &t->watchdog);
    t->watchdog.data = t;
    seq = 0;
    *state = t;
    return 0;
}

static void close_leftover(uv_handle_t *h, void *arg)
{
    int *n = arg;

    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
        (*n)++;
    }
}

/* A passing test has closed all its handles (the watchdog aside). After a failure some may
 * be left: close them so that the loop ends, and report it. */
static int teardown(void **state)
{
    struct tctx *t = *state;
    int left = 0;
    int rc;

    uv_close((uv_handle_t *)&t->watchdog, NULL);
    uv_walk(&t->loop, close_leftover, &left);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&t->loop);
    free(t);
    if (left || rc != 0)
        fprintf(stderr, "test_http: %d handle(s) left open; uv_loop_close: %s\n", left,
                rc ? uv_strerror(rc) : "ok");
    return left || rc != 0 ? -1 : 0;
}

/* ---- a loopback server that reads requests and never answers ------------------------------- */

#define SILENT_CONNS 4

struct silent {
    uv_tcp_t srv;
    uv_tcp_t conn[SILENT_CONNS];
    int nconn;
    int port;
    int got_request; /* the end of a request's headers arrived */
    char data[8192];
    size_t len;
    char rbuf[4096];
};

static void silent_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    struct silent *s = h->data;

    *b = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

static void silent_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct silent *s = st->data;
    size_t room = sizeof s->data - 1 - s->len;
    size_t k;

    if (n > 0) {
        k = (size_t)n < room ? (size_t)n : room;
        memcpy(s->data + s->len, b->base, k);
        s->len += k;
        s->data[s->len] = '\0';
        if (strstr(s->data, "\r\n\r\n"))
            s->got_request = 1;
    } else if (n < 0 && !uv_is_closing((uv_handle_t *)st)) {
        uv_close((uv_handle_t *)st, NULL);
    }
}

static void silent_conn(uv_stream_t *srv, int status)
{
    struct silent *s = srv->data;
    uv_tcp_t *c;

    if (status < 0 || s->nconn == SILENT_CONNS)
        return;
    c = &s->conn[s->nconn++];
    uv_tcp_init(srv->loop, c);
    c->data = s;
    if (uv_accept(srv, (uv_stream_t *)c) == 0)
        uv_read_start((uv_stream_t *)c, silent_alloc, silent_read);
}

static void silent_start(uv_loop_t *loop, struct silent *s)
{
    struct sockaddr_in sa;
    struct sockaddr_storage ss;
    int len = sizeof ss;

    memset(s, 0, sizeof *s);
    assert_int_equal(uv_tcp_init(loop, &s->srv), 0);
    s->srv.data = s;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
    assert_int_equal(uv_tcp_bind(&s->srv, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->srv, 8, silent_conn), 0);
    assert_int_equal(uv_tcp_getsockname(&s->srv, (struct sockaddr *)&ss, &len), 0);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void silent_stop(struct silent *s)
{
    int i;

    uv_close((uv_handle_t *)&s->srv, NULL);
    for (i = 0; i < s->nconn; i++) {
        if (!uv_is_closing((uv_handle_t *)&s->conn[i]))
            uv_close((uv_handle_t *)&s->conn[i], NULL);
    }
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* GET the directory, HEAD newNonce twice: three requests over one kept-alive connection. */
static void test_keepalive(void **state)
{
    struct tctx *t = *state;
    struct http_client_opts o = {0};
    struct http_request req = {0};
    struct result r1 = {0}, r2 = {0}, r3 = {0};
    struct http_client *c = NULL;
    struct http_stats st;
    struct err e;
    json_t *dir;
    char *nonce_url;

    o.ca_bundle = pe_get("PEBBLE_CA");
    assert_int_equal(http_client_new(&t->loop, &o, &c, &e), 0);
    req.method = "GET";
    req.url = pe_get("PEBBLE_DIRECTORY");
    assert_int_equal(http_request_start(c, &req, on_resp, &r1, &e), 0);
    assert_int_equal(r1.calls, 0); /* never from inside http_request_start */
    run_until(t, &r1.calls, 10000);
    if (r1.rc != 0)
        fail_msg("GET directory: %d %s", r1.rc, r1.msg);
    assert_true(r1.contract_ok);
    assert_int_equal(r1.status, 200);
    assert_non_null(strstr(r1.body, "\"newNonce\""));
    dir = json_loads(r1.body, 0, NULL);
    assert_non_null(dir);
    assert_non_null(json_string_value(json_object_get(dir, "newNonce")));
    nonce_url = strdup(json_string_value(json_object_get(dir, "newNonce")));
    json_decref(dir);

    req.method = "HEAD";
    req.url = nonce_url;
    assert_int_equal(http_request_start(c, &req, on_resp, &r2, &e), 0);
    run_until(t, &r2.calls, 10000);
    assert_int_equal(r2.rc, 0);
    assert_int_equal(r2.status, 200);
    assert_int_equal(r2.body_len, 0);
    assert_non_null(r2.nonce);
    assert_true(r2.nonce[0] != '\0');

    assert_int_equal(http_request_start(c, &req, on_resp, &r3, &e), 0);
    run_until(t, &r3.calls, 10000);
    assert_int_equal(r3.rc, 0);
    assert_non_null(r3.nonce);
    assert_string_not_equal(r2.nonce, r3.nonce);

    http_client_stats(c, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.connections, 1);
    assert_int_equal(r1.calls + r2.calls + r3.calls, 3);
    close_client(t, c);
    free(nonce_url);
    result_free(&r1);
    result_free(&r2);
    result_free(&r3);
}

/* Writes a fresh self-signed CA unrelated to Pebble's into dir/ca.pem. */
static void make_other_ca(const char *dir)
{
    char tmpl[4096], cmd[16384];

    snprintf(tmpl, sizeof tmpl, "%s/ca.tmpl", dir);
    tu_write_file(tmpl, "cn = \"acmed unrelated test CA\"\nca\ncert_signing_key\n"
                        "expiration_days = 2\n");
    snprintf(cmd, sizeof cmd,
             "certtool --generate-privkey --key-type ecdsa --curve secp256r1 "
             "--outfile '%s/key.pem' >'%s/certtool.log' 2>&1 && "
             "certtool --generate-self-signed --load-privkey '%s/key.pem' --template '%s' "
             "--outfile '%s/ca.pem' >>'%s/certtool.log' 2>&1",
             dir, dir, dir, tmpl, dir, dir);
    assert_int_equal(system(cmd), 0);
}

/* A CA bundle that does not hold Pebble's CA: the TLS handshake is rejected. A bundle that
 * does not exist fails too, differently. */
static void test_unknown_ca(void **state)
{
    struct tctx *t = *state;
    struct http_client_opts o = {0};
    struct http_request req = {0};
    struct result r = {0}, r2 = {0};
    struct http_client *c = NULL;
    struct err e;
    char *dir = tu_mkdtemp("http");
    char ca[4096];

    make_other_ca(dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    o.ca_bundle = ca;
    assert_int_equal(http_client_new(&t->loop, &o, &c, &e), 0);
    req.method = "GET";
    req.url = pe_get("PEBBLE_DIRECTORY");
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), 0);
    run_until(t, &r.calls, 10000);
    assert_true(r.contract_ok);
    if (r.rc != -EKEYREJECTED)
        fail_msg("expected -EKEYREJECTED, got %d: %s", r.rc, r.msg);
    assert_non_null(strstr(r.msg, req.url));
    assert_non_null(strcasestr(r.msg, "certificate"));
    assert_non_null(strcasestr(r.msg, "verif"));
    close_client(t, c);
    assert_int_equal(r.calls, 1);

    snprintf(ca, sizeof ca, "%s/missing.pem", dir);
    assert_int_equal(http_client_new(&t->loop, &o, &c, &e), 0);
    assert_int_equal(http_request_start(c, &req, on_resp, &r2, &e), 0);
    run_until(t, &r2.calls, 10000);
    if (r2.rc != -ENOENT)
        fail_msg("expected -ENOENT, got %d: %s", r2.rc, r2.msg);
    close_client(t, c);
    assert_int_equal(r2.calls, 1);
    tu_rmtree(dir);
    free(dir);
}

/* The directory is larger than 100 bytes. */
static void test_body_cap(void **state)
{
    struct tctx *t = *state;
    struct http_client_opts o = {0};
    struct http_request req = {0};
    struct result r = {0};
    struct http_client *c = NULL;
    struct err e;

    o.ca_bundle = pe_get("PEBBLE_CA");
    o.max_body = 100;
    assert_int_equal(http_client_new(&t->loop, &o, &c, &e), 0);
    req.method = "GET";
    req.url = pe_get("PEBBLE_DIRECTORY");
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), 0);
    run_until(t, &r.calls, 10000);
    assert_true(r.contract_ok);
    if (r.rc != -EFBIG)
        fail_msg("expected -EFBIG, got %d: %s", r.rc, r.msg);
    assert_non_null(strstr(r.msg, req.url));
    assert_non_null(strstr(r.msg, "100 bytes"));
    close_client(t, c);
    assert_int_equal(r.calls, 1);
}

/* A server that accepts and reads but never answers: the total timeout ends the request. */
static void test_timeout(void **state)
{
    struct tctx *t = *state;
    struct http_client_opts o = {0};
    struct http_request req = {0};
    struct result r = {0};
    struct http_client *c = NULL;
    struct silent s;
    struct err e;
    char url[128];
    uint64_t t0, ms;

    silent_start(&t->loop, &s);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/never", s.port);
    o.total_timeout_ms = 300;
    assert_int_equal(http_client_new(&t->loop, &o, &c, &e), 0);
    req.method = "GET";
    req.url = url;
    t0 = uv_hrtime();
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), 0);
    run_until(t, &r.calls, 5000);
    ms = (uv_hrtime() - t0) / 1000000;
    assert_true(r.contract_ok);
    if (r.rc != -ETIMEDOUT)
        fail_msg("expected -ETIMEDOUT, got %d: %s", r.rc, r.msg);
    assert_true(ms >= 250 && ms < 2000);
    assert_non_null(strstr(r.msg, url));
    assert_true(s.got_request);
    assert_non_null(strstr(s.data, "GET /never HTTP/1.1\r\n"));
    assert_non_null(strstr(s.data, "\r\nUser-Agent: acmed/"));
    close_client(t, c);
    assert_int_equal(r.calls, 1);
    silent_stop(&s);
}

/* Closing the client with a request in flight: its callback runs once with -ECANCELED, from
 * the loop (not inside http_client_close), before done. */
static void test_close_pending(void **state)
{
    struct tctx *t = *state;
    struct http_request req = {0};
    struct result r = {0};
    struct closed cl = {0};
    struct http_client *c = NULL;
    struct silent s;
    struct err e;
    char url[128];

    silent_start(&t->loop, &s);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/pending", s.port);
    assert_int_equal(http_client_new(&t->loop, NULL, &c, &e), 0);
    req.method = "POST";
    req.url = url;
    req.content_type = "application/jose+json";
    req.body = "{}";
    req.body_len = 2;
    assert_int_equal(http_request_start(c, &req, on_resp, &r, &e), 0);
    run_until(t, &s.got_request, 5000);
    assert_int_equal(r.calls, 0);
    assert_non_null(strstr(s.data, "\r\nContent-Type: application/jose+json\r\n"));

    http_client_close(c, on_closed, &cl);
    assert_int_equal(r.calls, 0);
    assert_int_equal(cl.calls, 0);
    run_until(t, &cl.calls, 5000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(cl.calls, 1);
    assert_true(r.contract_ok);
    assert_int_equal(r.rc, -ECANCELED);
    assert_non_null(strstr(r.msg, url));
    assert_true(r.seq < cl.seq);
    silent_stop(&s);
}

/* State for test_close_in_callback: the first callback closes the client. */
struct closer {
    struct http_client *c;
    struct result r;
    struct closed cl;
    struct err e;
    int start_rc; /* http_request_start from inside the callback, after the close */
};

static void on_resp_close(void *arg, int rc, const struct http_response *resp, const struct err *e)
{
    struct closer *k = arg;
    struct http_request req = {.method = "GET", .url = "http://127.0.0.1:1/"};

    on_resp(&k->r, rc, resp, e);
    http_client_close(k->c, on_closed, &k->cl);
    http_client_close(k->c, on_closed, &k->cl); /* ignored */
    k->start_rc = http_request_start(k->c, &req, on_resp, &k->r, &k->e);
}

/* A port nobody listens on (bound, then released). */
static int closed_port(uv_loop_t *loop)
{
    struct silent s;
    int port;

    silent_start(loop, &s);
    port = s.port;
    uv_close((uv_handle_t *)&s.srv, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return port;
}

/* Closing from inside a completion callback (here a refused connection) cancels the other
 * request and frees nothing under the caller's feet. */
static void test_close_in_callback(void **state)
{
    struct tctx *t = *state;
    struct http_request req = {0};
    struct closer k;
    struct result other = {0};
    struct silent s;
    struct err e;
    char refused[128], silent_url[128];

    memset(&k, 0, sizeof k);
    snprintf(refused, sizeof refused, "http://127.0.0.1:%d/", closed_port(&t->loop));
    silent_start(&t->loop, &s);
    snprintf(silent_url, sizeof silent_url, "http://127.0.0.1:%d/", s.port);
    assert_int_equal(http_client_new(&t->loop, NULL, &k.c, &e), 0);
    req.method = "GET";
    req.url = silent_url;
    assert_int_equal(http_request_start(k.c, &req, on_resp, &other, &e), 0);
    run_until(t, &s.got_request, 5000);
    req.url = refused;
    assert_int_equal(http_request_start(k.c, &req, on_resp_close, &k, &e), 0);
    run_until(t, &k.cl.calls, 5000);

    assert_int_equal(k.r.calls, 1);
    if (k.r.rc != -ECONNREFUSED)
        fail_msg("expected -ECONNREFUSED, got %d: %s", k.r.rc, k.r.msg);
    assert_non_null(strstr(k.r.msg, refused));
    assert_int_equal(k.start_rc, -ESHUTDOWN);
    assert_int_equal(other.calls, 1);
    assert_int_equal(other.rc, -ECANCELED);
    assert_true(other.seq < k.cl.seq);
    assert_int_equal(k.cl.calls, 1);
    silent_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_in_callback, setup, teardown),
    };

    if (pe_load() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
