/* The ACME client's nonce pool (RFC 8555 §6.5): well-formed Replay-Nonce values are kept,
 * malformed ones ignored, the pool is bounded and hands out the newest first; the retry
 * policy defaults satisfy the robustness contract; and cancellation (a forced stop) ends
 * every kind of wait at once, against a loopback server with canned answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "acme/client.h"
#include "acme/ops.h"
#include "common/testutil.h"
#include "util/clock.h"

static void test_nonce_pool(void **state)
{
    struct acme_client *c = NULL;
    uv_loop_t loop;
    char big[300], nonce[32];
    struct err e;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(acme_client_new(&loop, NULL, "https://127.0.0.1:1/dir", NULL, &c, &e), 0);
    assert_int_equal(acme_client_nonce_count(c), 0);
    assert_true(acme_client_offer_nonce(c, "oFvnlFP1wIhRlYS2jTaXbA"));
    assert_int_equal(acme_client_nonce_count(c), 1);
    /* Not base64url, empty, missing or oversized: ignored. */
    assert_false(acme_client_offer_nonce(c, "abc=def"));
    assert_false(acme_client_offer_nonce(c, "a/b+c"));
    assert_false(acme_client_offer_nonce(c, "nonce with spaces"));
    assert_false(acme_client_offer_nonce(c, ""));
    assert_false(acme_client_offer_nonce(c, NULL));
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(acme_client_offer_nonce(c, big));
    assert_int_equal(acme_client_nonce_count(c), 1);
    /* Bounded: a flood of nonces keeps at most 32. */
    for (int i = 0; i < 100; i++) {
        snprintf(nonce, sizeof nonce, "n%d", i);
        assert_true(acme_client_offer_nonce(c, nonce));
    }
    assert_int_equal(acme_client_nonce_count(c), 32);
    acme_client_free(c);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_policy_defaults(void **state)
{
    struct acme_retry_policy p;

    acme_retry_policy_default(&p);
    assert_true(p.max_nonce_retries >= 10);
    assert_true(p.max_attempts >= 3);
    assert_true(p.max_total_ms > 0 && p.max_total_ms <= 600000);
    assert_true(p.base_backoff_ms > 0 && p.base_backoff_ms <= p.max_backoff_ms);
}

/* ---- cancellation, against a loopback server ---- */

#define SRV_CONNS 16

struct srv_conn {
    uv_tcp_t tcp;
    uv_write_t wr;
    struct srv *s;
    char data[4096];
    size_t len;
    char *out;
    bool answered;
};

/* Answers by path, one request per connection (Connection: close): /dir the directory, HEAD
 * /nonce a nonce, POST /authz a pending authorization with Retry-After: 60, /busy 503 with
 * Retry-After: 60, /slow never. Counts the requests to each. */
struct srv {
    uv_tcp_t tcp;
    int port;
    struct srv_conn conn[SRV_CONNS];
    int nconn;
    int busy, authz, slow;
};

static void srv_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    struct srv_conn *c = h->data;

    *b = uv_buf_init(c->data + c->len, (unsigned)(sizeof c->data - 1 - c->len));
}

static void srv_written(uv_write_t *wr, int status)
{
    if (!uv_is_closing((uv_handle_t *)wr->handle))
        uv_close((uv_handle_t *)wr->handle, NULL);
}

static char *srv_answer(struct srv_conn *c)
{
    struct srv *s = c->s;
    const char *nonce = "Replay-Nonce: bm9uY2Vub25jZQ\r\n";
    char *out = NULL, body[512] = "";
    const char *status = "200 OK", *extra = "";

    if (!strncmp(c->data, "GET /dir ", 9)) {
        snprintf(body, sizeof body,
                 "{\"newNonce\":\"http://127.0.0.1:%d/nonce\","
                 "\"newAccount\":\"http://127.0.0.1:%d/acct\","
                 "\"newOrder\":\"http://127.0.0.1:%d/order\","
                 "\"revokeCert\":\"http://127.0.0.1:%d/revoke\","
                 "\"keyChange\":\"http://127.0.0.1:%d/kc\"}",
                 s->port, s->port, s->port, s->port, s->port);
    } else if (!strncmp(c->data, "HEAD /nonce ", 12)) {
        extra = nonce;
    } else if (!strncmp(c->data, "POST /authz ", 12)) {
        s->authz++;
        extra = "Replay-Nonce: bm9uY2Vub25jZQ\r\nRetry-After: 60\r\n";
        snprintf(body, sizeof body,
                 "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"},"
                 "\"challenges\":[]}");
    } else if (!strncmp(c->data, "GET /busy ", 10)) {
        s->busy++;
        status = "503 Service Unavailable";
        extra = "Retry-After: 60\r\n";
    } else if (!strncmp(c->data, "GET /slow ", 10)) {
        s->slow++;
        return NULL;
    } else {
        status = "404 Not Found";
    }
    assert_true(asprintf(&out,
                         "HTTP/1.1 %s\r\n%sContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         status, extra, strlen(body), body) > 0);
    return out;
}

static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct srv_conn *c = st->data;
    const char *end, *cl;
    uv_buf_t out;

    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)st))
            uv_close((uv_handle_t *)st, NULL);
        return;
    }
    c->len += (size_t)n;
    c->data[c->len] = '\0';
    if (c->answered || !(end = strstr(c->data, "\r\n\r\n")))
        return;
    cl = strcasestr(c->data, "Content-Length:");
    if (cl && cl < end && c->len < (size_t)(end + 4 - c->data) + strtoul(cl + 15, NULL, 10))
        return; /* the body is not all here yet */
    c->answered = true;
    if (!(c->out = srv_answer(c)))
        return;
    out = uv_buf_init(c->out, (unsigned)strlen(c->out));
    uv_write(&c->wr, st, &out, 1, srv_written);
}

static void srv_conn_cb(uv_stream_t *l, int status)
{
    struct srv *s = l->data;
    struct srv_conn *c;

    if (status < 0 || s->nconn == SRV_CONNS)
        return;
    c = &s->conn[s->nconn++];
    c->s = s;
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
}

static void srv_start(uv_loop_t *loop, struct srv *s)
{
    struct sockaddr_in sa;
    struct sockaddr_storage ss;
    int len = sizeof ss;

    memset(s, 0, sizeof *s);
    assert_int_equal(uv_tcp_init(loop, &s->tcp), 0);
    s->tcp.data = s;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
    assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 16, srv_conn_cb), 0);
    assert_int_equal(uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len), 0);
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void srv_stop(uv_loop_t *loop, struct srv *s)
{
    uv_close((uv_handle_t *)&s->tcp, NULL);
    for (int i = 0; i < s->nconn; i++)
        if (!uv_is_closing((uv_handle_t *)&s->conn[i].tcp))
            uv_close((uv_handle_t *)&s->conn[i].tcp, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    for (int i = 0; i < s->nconn; i++)
        free(s->conn[i].out);
}

struct outcome {
    int calls, rc;
    uint64_t at_ms;
    char msg[ERR_MSG_MAX];
};

static void on_outcome(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct outcome *o = arg;

    o->calls++;
    o->rc = rc;
    o->at_ms = clock_mono_ms();
    snprintf(o->msg, sizeof o->msg, "%s", e ? e->msg : "");
}

static void on_http_closed(void *arg)
{
    (*(int *)arg)++;
}

/* Runs the loop for ms milliseconds. */
static void run_for(uv_loop_t *loop, uint64_t ms)
{
    int never = 0;

    assert_false(tu_run_until(loop, &never, ms));
}

/* Three operations wait in three ways: a request in its 60 s Retry-After after a 503, a poll
 * between two looks (Retry-After: 60 on a pending authorization), a request on the wire that
 * the server never answers. http_client_cancel ends each at once with -ECANCELED, its
 * callback once; an operation started afterwards ends the same way. */
static void test_cancel(void **state)
{
    uv_loop_t loop;
    struct srv s;
    struct http_client *http = NULL;
    struct acme_client *c = NULL;
    uint8_t mac[32] = {1, 2, 3};
    struct hmac_key hk = {mac, sizeof mac};
    struct signer sig;
    struct outcome start = {0}, busy = {0}, poll = {0}, slow = {0}, late = {0};
    struct acme_call call = {.method = "GET"};
    char url[128], slow_url[128], authz_url[128];
    uint64_t t0;
    int closed = 0;
    struct err e;

    assert_int_equal(uv_loop_init(&loop), 0);
    srv_start(&loop, &s);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/dir", s.port);
    assert_int_equal(http_client_new(&loop, NULL, &http, &e), 0);
    assert_int_equal(acme_client_new(&loop, http, url, NULL, &c, &e), 0);
    assert_int_equal(acme_client_start(c, on_outcome, &start, &e), 0);
    assert_true(tu_run_until(&loop, &start.calls, 5000));
    assert_int_equal(start.rc, 0);
    jws_signer_hmac(&hk, &sig);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/acct/1", s.port);
    assert_int_equal(acme_client_set_account(c, &sig, url), 0);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/busy", s.port);
    call.url = url;
    assert_int_equal(acme_call(c, &call, on_outcome, &busy, &e), 0);
    snprintf(authz_url, sizeof authz_url, "http://127.0.0.1:%d/authz", s.port);
    assert_int_equal(acme_authz_poll(c, authz_url, clock_mono_ms() + 600000, on_outcome, &poll, &e),
                     0);
    snprintf(slow_url, sizeof slow_url, "http://127.0.0.1:%d/slow", s.port);
    call.url = slow_url;
    assert_int_equal(acme_call(c, &call, on_outcome, &slow, &e), 0);
    run_for(&loop, 700);
    assert_int_equal(s.busy, 1);  /* and waiting 60 s for its retry */
    assert_int_equal(s.authz, 1); /* and waiting 60 s for the next look */
    assert_int_equal(s.slow, 1);
    assert_int_equal(busy.calls + poll.calls + slow.calls, 0);
    assert_false(acme_client_cancelled(c));

    t0 = clock_mono_ms();
    http_client_cancel(http);
    assert_true(acme_client_cancelled(c));
    assert_int_equal(busy.calls + poll.calls + slow.calls, 0); /* never from inside */
    run_for(&loop, 300);
    assert_int_equal(busy.calls, 1);
    assert_int_equal(poll.calls, 1);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(busy.rc, -ECANCELED);
    assert_int_equal(poll.rc, -ECANCELED);
    assert_int_equal(slow.rc, -ECANCELED);
    assert_true(busy.at_ms - t0 < 200 && poll.at_ms - t0 < 200 && slow.at_ms - t0 < 200);
    assert_non_null(strstr(slow.msg, "cancelled"));

    /* Started after the cancel: no request, the same end. */
    call.url = url;
    assert_int_equal(acme_call(c, &call, on_outcome, &late, &e), 0);
    assert_int_equal(late.calls, 0);
    run_for(&loop, 100);
    assert_int_equal(late.calls, 1);
    assert_int_equal(late.rc, -ECANCELED);
    assert_int_equal(s.busy, 1);

    acme_client_free(c);
    http_client_close(http, on_http_closed, &closed);
    assert_true(tu_run_until(&loop, &closed, 5000));
    srv_stop(&loop, &s);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A client freed before any cancel leaves the HTTP client's watchers as they were. */
static void test_free_unwatches(void **state)
{
    uv_loop_t loop;
    struct http_client *http = NULL;
    struct acme_client *a = NULL, *b = NULL;
    int closed = 0;
    struct err e;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(http_client_new(&loop, NULL, &http, &e), 0);
    assert_int_equal(acme_client_new(&loop, http, "http://127.0.0.1:1/dir", NULL, &a, &e), 0);
    assert_int_equal(acme_client_new(&loop, http, "http://127.0.0.1:1/dir", NULL, &b, &e), 0);
    acme_client_free(a); /* ASan: a use after free below if it stayed a watcher */
    http_client_cancel(http);
    assert_true(acme_client_cancelled(b));
    acme_client_free(b);
    http_client_close(http, on_http_closed, &closed);
    assert_true(tu_run_until(&loop, &closed, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonce_pool), cmocka_unit_test(test_policy_defaults),
        cmocka_unit_test(test_cancel), cmocka_unit_test(test_free_unwatches)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
