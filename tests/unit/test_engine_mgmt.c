/* Unit tests for reconcile/engine_mgmt: a CSR posted to a real HTTP server on loopback (a
 * thread of this test answering as acme-mgmtserver does, signing with openssl over a test CA),
 * through acmed's own HTTP client. Checks what the server receives (PEM body, Content-Length,
 * the Authentication HMAC), what the client makes of 200, 403, 421 and 429 with Retry-After,
 * and that a chain for our key that does not end at the trust anchor is refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/pem.h"
#include "net/http.h"
#include "reconcile/engine.h"
#include "reconcile/mgmt.h"

enum mode { SIGN, SIGN_ROGUE, SIGN_OTHER_NAME, DENY, RATE, VALIDATION };

struct fx {
    char *dir;
    int lfd, port;
    pthread_t th;
    enum mode mode;
    /* what the server saw */
    char auth[160], ctype[128];
    long clen;
    char *body;
    size_t body_len;
    /* the client */
    uv_loop_t loop;
    struct http_client *http;
    struct engine *eng;
    struct ckey *key;
    char *anchors;
    size_t anchors_len;
    int done, rc;
    long status;
    time_t retry;
    char *cert, *reason;
    char err[1024];
};

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

/* A CA (dir/NAME.key, dir/NAME.pem) made with openssl. */
static void make_ca(const char *dir, const char *name)
{
    run("cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout %s.key -out %s.pem -days 30 -subj '/CN=%s' "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign "
        ">/dev/null 2>&1",
        dir, name, name, name);
}

/* The chain for the CSR in dir/req.csr, signed by CA `ca`: leaf then the CA. */
static char *sign(struct fx *f, const char *ca, const char *names)
{
    char path[600], *chain;
    size_t len;

    if (names)
        run("cd '%s' && printf 'subjectAltName=%s\\n' > ext && openssl x509 -req -in req.csr "
            "-CA %s.pem -CAkey %s.key -CAcreateserial -days 10 -extfile ext -out leaf.pem "
            ">/dev/null 2>&1 && cat leaf.pem %s.pem > chain.pem",
            f->dir, names, ca, ca, ca);
    else
        run("cd '%s' && openssl x509 -req -in req.csr -CA %s.pem -CAkey %s.key -CAcreateserial "
            "-days 10 -copy_extensions copy -out leaf.pem >/dev/null 2>&1 && "
            "cat leaf.pem %s.pem > chain.pem",
            f->dir, ca, ca, ca);
    snprintf(path, sizeof path, "%s/chain.pem", f->dir);
    chain = tu_read_file(path, &len);
    assert_non_null(chain);
    return chain;
}

/* The value of header `name` in the request head (text up to the blank line), into out. */
static void header(const char *head, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);

    out[0] = '\0';
    for (const char *l = strstr(head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n"))
        if (!strncasecmp(l + 2, name, n) && l[2 + n] == ':') {
            const char *v = l + 3 + n, *end = strstr(v, "\r\n");

            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(end - v), v);
            return;
        }
}

static void answer(int fd, const char *status_line, const char *extra, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain\r\n%sContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status_line, extra, strlen(body));

    assert_true(write(fd, head, (size_t)n) == n);
    assert_true(write(fd, body, strlen(body)) == (ssize_t)strlen(body));
}

/* One request per connection, answered as f->mode says; ends when the listener is shut. */
static void *serve(void *arg)
{
    struct fx *f = arg;
    int fd;

    while ((fd = accept(f->lfd, NULL, NULL)) >= 0) {
        char buf[65536], *end, path[600];
        size_t got = 0;
        ssize_t r;
        char *chain = NULL;

        while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
            got += (size_t)r;
            buf[got] = '\0';
            if ((end = strstr(buf, "\r\n\r\n"))) {
                char cl[32];

                header(buf, "Content-Length", cl, sizeof cl);
                f->clen = cl[0] ? atol(cl) : -1;
                if (f->clen >= 0 && got >= (size_t)(end + 4 - buf) + (size_t)f->clen)
                    break;
            }
        }
        end = strstr(buf, "\r\n\r\n");
        header(buf, "Authentication", f->auth, sizeof f->auth);
        header(buf, "Content-Type", f->ctype, sizeof f->ctype);
        free(f->body);
        f->body_len = got - (size_t)(end + 4 - buf);
        f->body = strndup(end + 4, f->body_len);
        snprintf(path, sizeof path, "%s/req.csr", f->dir);
        tu_write_file(path, f->body);
        switch (f->mode) {
        case SIGN:
            answer(fd, "200 OK", "", chain = sign(f, "ca", NULL));
            break;
        case SIGN_ROGUE:
            answer(fd, "200 OK", "", chain = sign(f, "rogue", NULL));
            break;
        case SIGN_OTHER_NAME:
            answer(fd, "200 OK", "", chain = sign(f, "ca", "DNS:other.example"));
            break;
        case DENY:
            answer(fd, "403 Forbidden", "", "no client rule allows this request\n");
            break;
        case RATE:
            answer(fd, "429 Too Many Requests", "Retry-After: 120\r\n", "over the rate\n");
            break;
        case VALIDATION:
            answer(fd, "421 Misdirected Request", "", "the CA's validation failed\n");
            break;
        }
        free(chain);
        close(fd);
    }
    return NULL;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof sin;
    struct key_spec spec = {KEY_ECDSA, 256};
    struct err e = {0};
    char path[600], url[128];

    f->dir = tu_mkdtemp("engine_mgmt");
    make_ca(f->dir, "ca");
    make_ca(f->dir, "rogue");
    snprintf(path, sizeof path, "%s/ca.pem", f->dir);
    assert_non_null(f->anchors = tu_read_file(path, &f->anchors_len));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true((f->lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sin, &sl), 0);
    f->port = ntohs(sin.sin_port);
    assert_int_equal(pthread_create(&f->th, NULL, serve, f), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(http_client_new(&f->loop, NULL, &f->http, &e), 0);
    snprintf(url, sizeof url, "mgmt+http://127.0.0.1:%d/sign", f->port);
    assert_int_equal(engine_mgmt_new(f->http, url, &f->eng, &e), 0);
    assert_int_equal(key_generate(&spec, &f->key, &e), 0);
    *state = f;
    return 0;
}

static void stop_server(struct fx *f)
{
    if (f->lfd < 0)
        return;
    shutdown(f->lfd, SHUT_RDWR);
    pthread_join(f->th, NULL);
    close(f->lfd);
    f->lfd = -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    stop_server(f);
    engine_free(f->eng);
    http_client_close(f->http, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    key_free(f->key);
    free(f->anchors);
    free(f->body);
    free(f->cert);
    free(f->reason);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void on_posted(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct fx *f = arg;

    f->done = 1;
    f->rc = rc;
    f->status = r->status;
    f->retry = r->retry_after;
    f->cert = r->cert_pem;
    r->cert_pem = NULL;
    f->reason = r->body;
    r->body = NULL;
    snprintf(f->err, sizeof f->err, "%s", rc < 0 ? err_msg(e) : "");
}

/* Posts a CSR for www.example.test (with the HMAC of `key` when not NULL) and waits. */
static void post(struct fx *f, const char *key, bool anchors)
{
    static const char *const names[] = {"www.example.test"};
    char url[128], auth[MGMT_AUTH_MAX], *pem;
    uint8_t *der = NULL;
    size_t len = 0;
    struct err e = {0};
    struct engine_csr_post req = {.key = f->key, .names = names, .nnames = 1};

    free(f->cert);
    free(f->reason);
    f->cert = f->reason = NULL;
    f->done = 0;
    assert_int_equal(csr_create(f->key, names, 1, false, &der, &len, &e), 0);
    assert_non_null(pem = pem_encode("CERTIFICATE REQUEST", der, len));
    free(der);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/sign", f->port);
    req.url = url;
    req.body = pem;
    req.len = strlen(pem);
    if (key) {
        mgmt_auth_value((const uint8_t *)key, strlen(key), pem, strlen(pem), auth);
        req.auth = auth;
    }
    if (anchors) {
        req.trust_anchors = f->anchors;
        req.trust_anchors_len = f->anchors_len;
    }
    assert_int_equal(engine_csr_post(f->eng, &req, on_posted, f, &e), 0);
    free(pem);
    assert_true(tu_run_until(&f->loop, &f->done, 30000));
}

static void test_signed(void **state)
{
    struct fx *f = *state;
    char want[MGMT_AUTH_MAX];

    f->mode = SIGN;
    post(f, "the shared key", true);
    assert_int_equal(f->rc, 0);
    assert_int_equal(f->status, 200);
    assert_non_null(f->cert);
    assert_non_null(strstr(f->cert, "-----BEGIN CERTIFICATE-----"));
    /* What the server got: the CSR as PEM, its length, and the HMAC of exactly that body. */
    assert_non_null(strstr(f->body, "-----BEGIN CERTIFICATE REQUEST-----"));
    assert_int_equal(f->clen, (long)f->body_len);
    mgmt_auth_value((const uint8_t *)"the shared key", 14, f->body, f->body_len, want);
    assert_string_equal(f->auth, want);
    assert_non_null(strstr(f->auth, "hmac name=sha256, hash="));
    /* No key file: no header. */
    post(f, NULL, true);
    assert_int_equal(f->rc, 0);
    assert_string_equal(f->auth, "");
}

static void test_not_our_anchor(void **state)
{
    struct fx *f = *state;

    /* Self-consistent, for our key and name, but from a CA nobody trusts here. */
    f->mode = SIGN_ROGUE;
    post(f, NULL, true);
    assert_true(f->rc < 0);
    assert_null(f->cert);
    assert_non_null(strstr(f->err, "chain does not verify"));
    assert_non_null(strstr(f->err, "trust anchor"));
    /* A leaf without the name asked for. */
    f->mode = SIGN_OTHER_NAME;
    post(f, NULL, true);
    assert_true(f->rc < 0);
    assert_non_null(strstr(f->err, "www.example.test"));
}

static void test_errors(void **state)
{
    struct fx *f = *state;

    f->mode = DENY;
    post(f, NULL, true);
    assert_int_equal(f->rc, 0);
    assert_int_equal(f->status, 403);
    assert_null(f->cert);
    assert_string_equal(f->reason, "no client rule allows this request\n");
    assert_int_equal(f->retry, -1);
    f->mode = RATE;
    post(f, NULL, true);
    assert_int_equal(f->status, 429);
    assert_int_equal(f->retry, 120);
    f->mode = VALIDATION;
    post(f, NULL, true);
    assert_int_equal(f->status, 421);
    assert_string_equal(f->reason, "the CA's validation failed\n");
    /* Nobody listening: no answer at all. */
    stop_server(f);
    post(f, NULL, true);
    assert_true(f->rc < 0);
    assert_int_equal(f->status, 0);
}

static void test_no_acme(void **state)
{
    struct fx *f = *state;
    struct engine_csr_post req = {.url = "http://127.0.0.2:1/sign", .body = "x", .len = 1};
    struct err e = {0};

    /* Nothing of ACME, and only to its own URL. */
    assert_int_equal(engine_start(f->eng, on_posted, f, &e), -ENOTSUP);
    assert_non_null(strstr(err_msg(&e), "central certificate server"));
    assert_null(engine_directory(f->eng));
    assert_int_equal(engine_csr_post(f->eng, &req, on_posted, f, &e), -EINVAL);
    assert_int_equal(
        engine_mgmt_new(f->http, "https://acme.example/dir", &(struct engine *){0}, &e), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_our_anchor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_acme, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
