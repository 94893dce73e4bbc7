/* Unit tests for serve/httpd: libmicrohttpd on a libuv loop, driven on loopback by acmed's own
 * HTTP client (net/http.h) and by raw TCP sockets for what a client library will not send. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <time.h>

#include "net/http.h"
#include "net/listen_sock.h"
#include "serve/httpd.h"

enum mode { ANSWER_NOW, ANSWER_LATER, HOLD, CLOSE };

struct fx {
    uv_loop_t loop;
    int lfd, port;
    struct httpd *s;
    struct http_client *c;
    enum mode mode;
    uv_timer_t later;
    int nreq, ncancel, closed, client_closed;
    struct httpd_req *held, *cancelled;
    char method[16], path[64], body[256], hdr[64], ctype[64];
    struct sockaddr_storage peer;
    /* the client's answer */
    int done, rc;
    long status;
    char rbody[256], rctype[64];
};

static void on_later(uv_timer_t *t);
static void on_closed(void *arg);

static void on_request(void *arg, struct httpd_req *r)
{
    struct fx *f = arg;
    size_t len;
    const char *b = httpd_req_body(r, &len), *h;
    socklen_t pl;
    const struct sockaddr *sa = httpd_req_peer(r, &pl);

    f->nreq++;
    snprintf(f->method, sizeof f->method, "%s", httpd_req_method(r));
    snprintf(f->path, sizeof f->path, "%s", httpd_req_path(r));
    snprintf(f->body, sizeof f->body, "%.*s", (int)len, b);
    h = httpd_req_header(r, "x-fleet-host");
    snprintf(f->hdr, sizeof f->hdr, "%s", h ? h : "");
    h = httpd_req_header(r, "content-type");
    snprintf(f->ctype, sizeof f->ctype, "%s", h ? h : "");
    memcpy(&f->peer, sa, pl);
    f->held = r;
    if (f->mode == ANSWER_NOW)
        assert_int_equal(httpd_req_reply(r, 200, "text/plain", "now\n", 4), 0);
    else if (f->mode == CLOSE)
        httpd_close(f->s, on_closed, &f->closed);
    else if (f->mode == ANSWER_LATER)
        uv_timer_start(&f->later, on_later, 100, 0);
}

static void on_later(uv_timer_t *t)
{
    struct fx *f = (struct fx *)((char *)t - offsetof(struct fx, later));

    assert_int_equal(
        httpd_req_reply(f->held, 200, "application/pem-certificate-chain", "CHAIN\n", 6), 0);
    f->held = NULL;
}

static void on_cancel(void *arg, struct httpd_req *r)
{
    struct fx *f = arg;

    f->ncancel++;
    f->cancelled = r;
    assert_int_equal(httpd_req_reply(r, 200, NULL, "x", 1), -EINVAL);
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until *flag is non-zero or ms pass; returns *flag. */
static int run_until(struct fx *f, const int *flag, uint64_t ms)
{
    uv_timer_t tick;
    uint64_t end;

    uv_update_time(&f->loop);
    end = uv_now(&f->loop) + ms;
    uv_timer_init(&f->loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    while (!*flag && uv_now(&f->loop) < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return *flag;
}

static void start_tls(struct fx *f, enum mode mode, const struct httpd_limits *lim,
                      const struct httpd_tls *tls, const char *ca)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_storage ss;
    socklen_t sl;
    struct err e = {0};
    struct httpd_handler h = {on_request, on_cancel, f};
    struct http_client_opts copts = {.ca_bundle = ca};

    memset(f, 0, sizeof *f);
    f->mode = mode;
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->later);
    f->lfd = listen_sock_open((struct sockaddr *)&sin, sizeof sin, "127.0.0.1:0", &e);
    assert_true(f->lfd >= 0);
    assert_int_equal(listen_sock_check(f->lfd, &ss, &sl, &e), 0);
    f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    assert_int_equal(httpd_new(&f->loop, &f->lfd, 1, lim, tls, &h, &f->s, &e), 0);
    close(f->lfd); /* borrowed: the server has its own */
    assert_int_equal(http_client_new(&f->loop, &copts, &f->c, &e), 0);
}

static void start(struct fx *f, enum mode mode, const struct httpd_limits *lim)
{
    start_tls(f, mode, lim, NULL, NULL);
}

static void finish(struct fx *f)
{
    if (f->s)
        httpd_close(f->s, on_closed, &f->closed);
    http_client_close(f->c, on_closed, &f->client_closed);
    uv_close((uv_handle_t *)&f->later, NULL);
    assert_true(run_until(f, &f->client_closed, 5000));
    if (f->s)
        assert_true(run_until(f, &f->closed, 5000));
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void on_response(void *arg, int rc, const struct http_response *resp, const struct err *e)
{
    struct fx *f = arg;
    const char *ct;

    if (rc < 0)
        fprintf(stderr, "client: %s\n", err_msg(e));
    f->done = 1;
    f->rc = rc;
    if (rc == 0) {
        f->status = resp->status;
        snprintf(f->rbody, sizeof f->rbody, "%s", resp->body);
        ct = http_header_get(resp, "Content-Type");
        snprintf(f->rctype, sizeof f->rctype, "%s", ct ? ct : "");
    }
}

static void request_to(struct fx *f, const char *scheme, const char *method, const char *body,
                       size_t len)
{
    char url[64];
    struct http_request req = {.method = method,
                               .url = url,
                               .content_type = "application/pkcs10",
                               .body = body,
                               .body_len = len};
    struct err e = {0};

    snprintf(url, sizeof url, "%s://127.0.0.1:%d/sign", scheme, f->port);
    assert_int_equal(http_request_start(f->c, &req, on_response, f, &e), 0);
}

static void request(struct fx *f, const char *method, const char *body, size_t len)
{
    request_to(f, "http", method, body, len);
}

static int raw_connect(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sin.sin_port = htons((uint16_t)port);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

/* A raw connection's reading side: what arrived, and whether it ended (EOF or reset). */
struct raw {
    int fd, ended;
    char buf[2048];
    size_t len;
};

static void raw_poll(struct raw *r)
{
    ssize_t n;

    while (!r->ended && r->len < sizeof r->buf - 1) {
        n = recv(r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len, MSG_DONTWAIT);
        if (n > 0) {
            r->len += (size_t)n;
            r->buf[r->len] = '\0';
        } else if (n == 0 || errno != EAGAIN) {
            r->ended = 1;
        } else {
            break;
        }
    }
}

static void on_raw_tick(uv_timer_t *t)
{
    raw_poll(t->data);
}

/* Runs the loop until the raw connection ended or ms pass; returns whether it ended. */
static int raw_wait_end(struct fx *f, struct raw *r, uint64_t ms)
{
    uv_timer_t t;

    uv_timer_init(&f->loop, &t);
    t.data = r;
    uv_timer_start(&t, on_raw_tick, 5, 5);
    run_until(f, &r->ended, ms);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return r->ended;
}

static void raw_send(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* A POST answered later, from a uv timer (its connection suspended meanwhile). */
static void test_answer_later(void **state)
{
    struct fx f;
    char addr[INET_ADDRSTRLEN];

    (void)state;
    start(&f, ANSWER_LATER, NULL);
    request(&f, "POST", "csr-bytes", 9);
    assert_true(run_until(&f, &f.done, 5000));
    assert_int_equal(f.rc, 0);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.rbody, "CHAIN\n");
    assert_string_equal(f.rctype, "application/pem-certificate-chain");
    assert_int_equal(f.nreq, 1);
    assert_int_equal(f.ncancel, 0);
    assert_string_equal(f.method, "POST");
    assert_string_equal(f.path, "/sign");
    assert_string_equal(f.body, "csr-bytes");
    assert_string_equal(f.ctype, "application/pkcs10");
    assert_int_equal(f.peer.ss_family, AF_INET);
    inet_ntop(AF_INET, &((struct sockaddr_in *)&f.peer)->sin_addr, addr, sizeof addr);
    assert_string_equal(addr, "127.0.0.1");
    finish(&f);
}

/* A header of the client's own reaches the handler, looked up in another case. */
static void test_custom_header(void **state)
{
    struct fx f;
    struct raw r = {0};

    (void)state;
    start(&f, ANSWER_NOW, NULL);
    r.fd = raw_connect(f.port);
    raw_send(r.fd, "POST /sign HTTP/1.1\r\nHost: x\r\nX-Fleet-Host: web1\r\nContent-Length: 3\r\n"
                   "Connection: close\r\n\r\nabc");
    assert_true(raw_wait_end(&f, &r, 5000));
    assert_non_null(strstr(r.buf, "HTTP/1.1 200"));
    assert_non_null(strstr(r.buf, "now\n"));
    assert_int_equal(f.nreq, 1);
    assert_string_equal(f.hdr, "web1");
    assert_string_equal(f.body, "abc");
    close(r.fd);
    finish(&f);
}

static void raw_expect(struct fx *f, const char *req, const char *status_line)
{
    struct raw r = {0};

    r.fd = raw_connect(f->port);
    raw_send(r.fd, req);
    assert_true(raw_wait_end(f, &r, 5000));
    assert_true(strncmp(r.buf, status_line, strlen(status_line)) == 0);
    close(r.fd);
}

/* 413 before the body is read: no Content-Length, or one over the limit; the handler never
 * hears of it. */
static void test_too_large(void **state)
{
    struct fx f;
    struct httpd_limits lim = {.max_body = 100};
    char big[101];

    (void)state;
    start(&f, ANSWER_NOW, &lim);
    raw_expect(&f, "POST /sign HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 413");
    raw_expect(&f, "POST /sign HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
               "HTTP/1.1 413");
    /* the body is never sent: the answer cannot have waited for it */
    raw_expect(&f, "POST /sign HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", "HTTP/1.1 413");
    memset(big, 'a', sizeof big);
    request(&f, "POST", big, sizeof big);
    assert_true(run_until(&f, &f.done, 5000));
    assert_int_equal(f.rc, 0);
    assert_int_equal(f.status, 413);
    assert_int_equal(f.nreq, 0);
    f.done = 0;
    request(&f, "POST", big, 100); /* at the limit */
    assert_true(run_until(&f, &f.done, 5000));
    assert_int_equal(f.status, 200);
    assert_int_equal(f.nreq, 1);
    finish(&f);
}

static void test_get_405(void **state)
{
    struct fx f;

    (void)state;
    start(&f, ANSWER_NOW, NULL);
    request(&f, "GET", NULL, 0);
    assert_true(run_until(&f, &f.done, 5000));
    assert_int_equal(f.rc, 0);
    assert_int_equal(f.status, 405);
    assert_int_equal(f.nreq, 0);
    finish(&f);
}

/* The connection beyond the per-source limit is closed; those within it stay open. */
static void test_per_ip(void **state)
{
    struct fx f;
    struct httpd_limits lim = {.per_ip = 2};
    struct raw r[3] = {{0}};

    (void)state;
    start(&f, ANSWER_NOW, &lim);
    for (int i = 0; i < 3; i++)
        r[i].fd = raw_connect(f.port);
    assert_true(raw_wait_end(&f, &r[2], 5000));
    raw_poll(&r[0]);
    raw_poll(&r[1]);
    assert_false(r[0].ended);
    assert_false(r[1].ended);
    for (int i = 0; i < 3; i++)
        close(r[i].fd);
    finish(&f);
}

/* A silent connection is closed after the idle timeout. */
static void test_idle_timeout(void **state)
{
    struct fx f;
    struct httpd_limits lim = {.idle_timeout = 1};
    struct raw r = {0};
    uint64_t t0;

    (void)state;
    start(&f, ANSWER_NOW, &lim);
    r.fd = raw_connect(f.port);
    uv_update_time(&f.loop);
    t0 = uv_now(&f.loop);
    assert_true(raw_wait_end(&f, &r, 5000));
    uv_update_time(&f.loop);
    assert_true(uv_now(&f.loop) - t0 >= 500);
    assert_int_equal(r.len, 0);
    close(r.fd);
    finish(&f);
}

/* A client that goes away while the handler holds its request: the handler is told (the
 * request it held), and nothing is answered. */
static void test_client_gone(void **state)
{
    struct fx f;
    int fd;

    (void)state;
    start(&f, HOLD, NULL);
    fd = raw_connect(f.port);
    raw_send(fd, "POST /sign HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    assert_true(run_until(&f, &f.nreq, 5000));
    assert_int_equal(f.ncancel, 0);
    close(fd);
    assert_true(run_until(&f, &f.ncancel, 5000));
    assert_ptr_equal(f.cancelled, f.held);
    assert_int_equal(f.nreq, 1);
    finish(&f);
    assert_int_equal(f.ncancel, 1);
}

/* httpd_close with a request held: the handler is told, the client gets no answer, and
 * everything is freed (the loop closes). */
static void test_close_pending(void **state)
{
    struct fx f;

    (void)state;
    start(&f, HOLD, NULL);
    request(&f, "POST", "csr", 3);
    assert_true(run_until(&f, &f.nreq, 5000));
    httpd_close(f.s, on_closed, &f.closed);
    assert_int_equal(f.ncancel, 1);
    assert_int_equal(f.closed, 0); /* never from inside httpd_close */
    assert_true(run_until(&f, &f.done, 5000));
    assert_true(f.rc < 0);
    assert_true(run_until(&f, &f.closed, 5000));
    f.s = NULL;
    finish(&f);
}

/* httpd_close from inside the handler waits for MHD_run to return, then cancels the request
 * the handler did not answer. */
static void test_close_in_handler(void **state)
{
    struct fx f;

    (void)state;
    start(&f, CLOSE, NULL);
    request(&f, "POST", "csr", 3);
    assert_true(run_until(&f, &f.closed, 5000));
    assert_int_equal(f.nreq, 1);
    assert_int_equal(f.ncancel, 1);
    assert_true(run_until(&f, &f.done, 5000));
    assert_true(f.rc < 0);
    f.s = NULL;
    finish(&f);
}

/* A request the handler holds is not cut by the idle timeout; its late answer arrives. */
static void test_held_past_idle(void **state)
{
    struct fx f;
    struct httpd_limits lim = {.idle_timeout = 1};
    struct raw r = {0};

    (void)state;
    start(&f, HOLD, &lim);
    r.fd = raw_connect(f.port);
    raw_send(r.fd, "POST /sign HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                   "Connection: close\r\n\r\nhi");
    assert_true(run_until(&f, &f.nreq, 5000));
    assert_false(raw_wait_end(&f, &r, 2500));
    assert_int_equal(httpd_req_reply(f.held, 201, "text/plain", "late\n", 5), 0);
    assert_true(raw_wait_end(&f, &r, 5000));
    assert_non_null(strstr(r.buf, "HTTP/1.1 201"));
    assert_non_null(strstr(r.buf, "late\n"));
    assert_int_equal(f.ncancel, 0);
    close(r.fd);
    finish(&f);
}

static char *pem_dup(const gnutls_datum_t *d)
{
    char *s = malloc(d->size + 1);

    assert_non_null(s);
    memcpy(s, d->data, d->size);
    s[d->size] = '\0';
    return s;
}

/* A self-signed certificate for 127.0.0.1 and its key, both PEM. */
static void make_cert(char **cert, char **key)
{
    gnutls_x509_privkey_t k;
    gnutls_x509_crt_t c;
    gnutls_datum_t d;
    unsigned char ip[4] = {127, 0, 0, 1}, serial[1] = {1};
    time_t now = time(NULL);

    assert_int_equal(gnutls_x509_privkey_init(&k), 0);
    assert_int_equal(gnutls_x509_privkey_generate(
                         k, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                     0);
    assert_int_equal(gnutls_x509_crt_init(&c), 0);
    assert_int_equal(gnutls_x509_crt_set_version(c, 3), 0);
    assert_int_equal(gnutls_x509_crt_set_serial(c, serial, sizeof serial), 0);
    assert_int_equal(gnutls_x509_crt_set_activation_time(c, now - 60), 0);
    assert_int_equal(gnutls_x509_crt_set_expiration_time(c, now + 3600), 0);
    assert_int_equal(gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, "httpd", 5),
                     0);
    assert_int_equal(
        gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_IPADDRESS, ip, 4, GNUTLS_FSAN_SET), 0);
    assert_int_equal(gnutls_x509_crt_set_basic_constraints(c, 1, -1), 0);
    assert_int_equal(gnutls_x509_crt_set_key(c, k), 0);
    assert_int_equal(gnutls_x509_crt_sign2(c, c, k, GNUTLS_DIG_SHA256, 0), 0);
    assert_int_equal(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &d), 0);
    *cert = pem_dup(&d);
    gnutls_free(d.data);
    assert_int_equal(gnutls_x509_privkey_export2(k, GNUTLS_X509_FMT_PEM, &d), 0);
    *key = pem_dup(&d);
    gnutls_free(d.data);
    gnutls_x509_crt_deinit(c);
    gnutls_x509_privkey_deinit(k);
}

/* Over TLS: the client, trusting the server's certificate, gets its answer. */
static void test_tls(void **state)
{
    struct fx f;
    struct httpd_tls tls;
    char *cert, *key, path[] = "/tmp/test_httpd_ca_XXXXXX";
    int fd;

    (void)state;
    make_cert(&cert, &key);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, cert, strlen(cert)), (ssize_t)strlen(cert));
    close(fd);
    tls.cert_pem = cert;
    tls.key_pem = key;
    start_tls(&f, ANSWER_NOW, NULL, &tls, path);
    free(cert);
    free(key); /* read as the server started */
    request_to(&f, "https", "POST", "csr", 3);
    assert_true(run_until(&f, &f.done, 5000));
    assert_int_equal(f.rc, 0);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.rbody, "now\n");
    assert_string_equal(f.body, "csr");
    finish(&f);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_later),
        cmocka_unit_test(test_custom_header),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_get_405),
        cmocka_unit_test(test_per_ip),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_client_gone),
        cmocka_unit_test(test_close_pending),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_close_in_handler),
        cmocka_unit_test(test_held_past_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
