/* Unit tests for challenge/http01_lookup: an http-01 listener (challenge/http01.c) in this
 * process asking a lookup (challenge/lookup.h) about tokens it has no answer for.
 *
 * The lookup here is the test's: it keeps each ask until the test answers it (or answers at
 * once, from inside ask). Clients are plain sockets on 127.0.0.1 served while the test pumps
 * the loop (common/tu_http.h). Covered: an answer found is served (GET and HEAD), an unknown
 * or invalid one (not base64url, two dots, another token's, too long) gives 404, and so does
 * no answer within CHAL_LOOKUP_TIMEOUT_MS; asks in flight are bounded per listener; a token
 * published here or one the listener refuses is never asked about; a connection closed or the
 * listener freed while an ask is pending leaves a record that the late answer frees (run it
 * under ASan). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "challenge/http01.h"
#include "challenge/http01_lookup.h"
#include "common/tu_http.h"

#define TOK "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOK ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define MAXP 64

/* ---- the test's lookup -------------------------------------------------------------------- */

struct fake {
    const char *sync; /* answer every ask at once with this (when sync_on) */
    bool sync_on;
    int asks;
    int np; /* asks waiting for the test */
    struct {
        chal_lookup_done done;
        void *arg;
        char token[300];
    } p[MAXP];
};

static void fake_ask(void *arg, const char *token, chal_lookup_done done, void *done_arg)
{
    struct fake *f = arg;

    f->asks++;
    if (f->sync_on) {
        done(done_arg, f->sync);
        return;
    }
    assert_true(f->np < MAXP);
    f->p[f->np].done = done;
    f->p[f->np].arg = done_arg;
    snprintf(f->p[f->np].token, sizeof f->p[f->np].token, "%s", token);
    f->np++;
}

/* Answers the i-th waiting ask. */
static void fake_answer(struct fake *f, int i, const char *keyauth)
{
    chal_lookup_done done = f->p[i].done;
    void *arg = f->p[i].arg;

    memmove(&f->p[i], &f->p[i + 1], (size_t)(f->np - i - 1) * sizeof f->p[0]);
    f->np--;
    done(arg, keyauth);
}

static void fake_answer_all(struct fake *f, const char *keyauth)
{
    while (f->np)
        fake_answer(f, 0, keyauth);
}

/* ---- fixture ------------------------------------------------------------------------------ */

struct fx {
    uv_loop_t loop;
    struct http01 *h;
    struct fake f;
    struct chal_lookup lk;
    int port;
};

static void fx_start(struct fx *x)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct listen_addr a;
    struct err e = {0};

    memset(x, 0, sizeof *x);
    assert_int_equal(uv_loop_init(&x->loop), 0);
    assert_int_equal(listen_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(http01_start(&x->loop, &a, NULL, 1, &x->h, &e), 0);
    x->port = http01_bound_port(x->h, 0);
    assert_true(x->port > 0);
    x->lk = (struct chal_lookup){fake_ask, &x->f};
    http01_set_lookup(x->h, &x->lk);
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

static void fx_stop(struct fx *x)
{
    int closed = 0;

    if (x->h) {
        http01_close(x->h, on_closed, &closed);
        for (int i = 0; i < 5000 && !closed; i++) {
            uv_run(&x->loop, UV_RUN_NOWAIT);
            usleep(1000);
        }
        assert_true(closed);
    }
    fake_answer_all(&x->f, NULL); /* records left are freed by their answers */
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
}

/* GET (or HEAD) token while the lookup answers `answer` to its ask. Returns the status. */
static int get_answered(struct fx *x, const char *method, const char *token, const char *answer,
                        char *body, size_t n)
{
    int fd = tu_http_send(x->port, method, token);

    assert_true(fd >= 0);
    assert_true(tu_http_pump_until(&x->loop, &x->f.np, 1, 5000));
    assert_string_equal(x->f.p[0].token, token);
    fake_answer(&x->f, 0, answer);
    return tu_http_wait(&x->loop, fd, 5000, body, n);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_valid(void **state)
{
    char long_ka[400];

    (void)state;
    assert_true(http01_lookup_valid(TOK, KEYAUTH));
    assert_true(http01_lookup_valid("a", "a.b"));
    assert_false(http01_lookup_valid(TOK, NULL));
    assert_false(http01_lookup_valid(TOK, TOK));
    assert_false(http01_lookup_valid(TOK, TOK "."));
    assert_false(http01_lookup_valid(TOK, TOK ".a.b"));
    assert_false(http01_lookup_valid(TOK, TOK ".th!mb"));
    assert_false(http01_lookup_valid(TOK, TOK ".thumb\n"));
    assert_false(http01_lookup_valid("abc", "abcd.thumb"));
    assert_false(http01_lookup_valid("abc", "ab.cthumb"));
    assert_false(http01_lookup_valid(TOK, "other.thumb"));
    /* 256 bytes at most */
    memset(long_ka, 'x', sizeof long_ka);
    memcpy(long_ka, "a.", 2);
    long_ka[256] = '\0';
    assert_true(http01_lookup_valid("a", long_ka));
    long_ka[256] = 'x';
    long_ka[257] = '\0';
    assert_false(http01_lookup_valid("a", long_ka));
}

static void test_found(void **state)
{
    struct fx x;
    char body[512];

    (void)state;
    fx_start(&x);
    assert_int_equal(get_answered(&x, "GET", TOK, KEYAUTH, body, sizeof body), 200);
    assert_string_equal(body, KEYAUTH);
    assert_int_equal(get_answered(&x, "HEAD", TOK, KEYAUTH, body, sizeof body), 200);
    assert_string_equal(body, "");
    /* Answered from inside ask. */
    x.f.sync_on = true;
    x.f.sync = KEYAUTH;
    assert_int_equal(
        tu_http_wait(&x.loop, tu_http_send(x.port, "GET", TOK), 5000, body, sizeof body), 200);
    assert_string_equal(body, KEYAUTH);
    assert_int_equal(x.f.asks, 3);
    x.f.sync = NULL;
    assert_int_equal(
        tu_http_wait(&x.loop, tu_http_send(x.port, "GET", TOK), 5000, body, sizeof body), 404);
    assert_int_equal(x.f.asks, 4);
    fx_stop(&x);
}

static void test_unknown_or_invalid(void **state)
{
    static const char *const bad[] = {TOK ".a.b", TOK ".th!mb", "other.thumbprint", TOK ".", TOK};
    struct fx x;
    char body[512], long_ka[400];

    (void)state;
    fx_start(&x);
    assert_int_equal(get_answered(&x, "GET", TOK, NULL, body, sizeof body), 404);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(get_answered(&x, "GET", TOK, bad[i], body, sizeof body), 404);
        assert_null(strstr(body, bad[i]));
    }
    snprintf(long_ka, sizeof long_ka, "%s.%0300d", TOK, 0);
    assert_int_equal(get_answered(&x, "GET", TOK, long_ka, body, sizeof body), 404);
    assert_int_equal(x.f.asks, 7);

    /* A token published here is served without asking; one the listener refuses is never
     * asked about; without a lookup nothing is asked. */
    assert_int_equal(http01_add(x.h, "pub", "pub.x", &(struct err){0}), 0);
    assert_int_equal(
        tu_http_wait(&x.loop, tu_http_send(x.port, "GET", "pub"), 5000, body, sizeof body), 200);
    assert_string_equal(body, "pub.x");
    assert_int_equal(
        tu_http_wait(&x.loop, tu_http_send(x.port, "GET", "a%2Fb"), 5000, body, sizeof body), 404);
    http01_set_lookup(x.h, NULL);
    assert_int_equal(
        tu_http_wait(&x.loop, tu_http_send(x.port, "GET", TOK), 5000, body, sizeof body), 404);
    assert_int_equal(x.f.asks, 7);
    fx_stop(&x);
}

static void test_timeout(void **state)
{
    struct fx x;
    char body[512];
    uint64_t t0, ms;
    int fd;

    (void)state;
    fx_start(&x);
    t0 = uv_hrtime() / 1000000;
    fd = tu_http_send(x.port, "GET", TOK);
    assert_int_equal(tu_http_wait(&x.loop, fd, 6000, body, sizeof body), 404);
    ms = uv_hrtime() / 1000000 - t0;
    assert_true(ms >= CHAL_LOOKUP_TIMEOUT_MS - 100);
    assert_true(ms < CHAL_LOOKUP_TIMEOUT_MS + 1500);
    assert_int_equal(x.f.np, 1);
    /* The late answer goes to no one, and frees its record. */
    fake_answer(&x.f, 0, KEYAUTH);
    assert_int_equal(get_answered(&x, "GET", TOK, KEYAUTH, body, sizeof body), 200);
    fx_stop(&x);
}

static void test_bound(void **state)
{
    struct fx x;
    char body[512], tok[16];
    int fds[CHAL_LOOKUP_MAX_INFLIGHT], fd;
    uint64_t t0;

    (void)state;
    fx_start(&x);
    for (int i = 0; i < CHAL_LOOKUP_MAX_INFLIGHT; i++) {
        snprintf(tok, sizeof tok, "tok%d", i);
        assert_true((fds[i] = tu_http_send(x.port, "GET", tok)) >= 0);
    }
    assert_true(tu_http_pump_until(&x.loop, &x.f.np, CHAL_LOOKUP_MAX_INFLIGHT, 5000));
    /* One more: 404 at once, nothing asked. */
    t0 = uv_hrtime() / 1000000;
    fd = tu_http_send(x.port, "GET", "one-more");
    assert_int_equal(tu_http_wait(&x.loop, fd, 5000, body, sizeof body), 404);
    assert_true(uv_hrtime() / 1000000 - t0 < 1000);
    assert_int_equal(x.f.asks, CHAL_LOOKUP_MAX_INFLIGHT);
    /* The waiting ones are all served. */
    while (x.f.np) {
        char ka[64];

        snprintf(ka, sizeof ka, "%s.thumb", x.f.p[0].token);
        fake_answer(&x.f, 0, ka);
    }
    for (int i = 0; i < CHAL_LOOKUP_MAX_INFLIGHT; i++) {
        char want[64];

        snprintf(want, sizeof want, "tok%d.thumb", i);
        assert_int_equal(tu_http_wait(&x.loop, fds[i], 5000, body, sizeof body), 200);
        assert_string_equal(body, want);
    }
    /* Room again. */
    assert_int_equal(get_answered(&x, "GET", TOK, KEYAUTH, body, sizeof body), 200);
    fx_stop(&x);
}

static void test_connection_closed_while_asking(void **state)
{
    struct fx x;
    char body[512];
    int fd;

    (void)state;
    fx_start(&x);
    /* A reset: the listener closes the connection while its ask is pending. */
    fd = tu_http_send(x.port, "GET", TOK);
    assert_true(tu_http_pump_until(&x.loop, &x.f.np, 1, 5000));
    tu_http_reset(fd);
    tu_http_pump(&x.loop, 100);
    fake_answer(&x.f, 0, KEYAUTH);
    /* An end of stream: the answer still goes out (to no one). */
    fd = tu_http_send(x.port, "GET", TOK);
    assert_true(tu_http_pump_until(&x.loop, &x.f.np, 1, 5000));
    close(fd);
    tu_http_pump(&x.loop, 100);
    fake_answer(&x.f, 0, KEYAUTH);
    tu_http_pump(&x.loop, 100);
    /* The listener is none the worse, and nothing is counted as in flight. */
    assert_int_equal(get_answered(&x, "GET", TOK, KEYAUTH, body, sizeof body), 200);
    assert_string_equal(body, KEYAUTH);
    fx_stop(&x);
}

static void test_listener_freed_while_asking(void **state)
{
    struct fx x;
    int fd1, fd2, closed = 0;

    (void)state;
    fx_start(&x);
    fd1 = tu_http_send(x.port, "GET", TOK);
    fd2 = tu_http_send(x.port, "HEAD", "other");
    assert_true(tu_http_pump_until(&x.loop, &x.f.np, 2, 5000));
    http01_close(x.h, on_closed, &closed);
    x.h = NULL;
    for (int i = 0; i < 5000 && !closed; i++) {
        uv_run(&x.loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_true(closed);
    assert_int_equal(tu_http_wait(&x.loop, fd1, 2000, NULL, 0), -1);
    assert_int_equal(tu_http_wait(&x.loop, fd2, 2000, NULL, 0), -1);
    /* The listener is gone; its records wait for their answers, which free them. */
    fake_answer(&x.f, 1, NULL);
    fake_answer(&x.f, 0, KEYAUTH);
    fx_stop(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_found),
        cmocka_unit_test(test_unknown_or_invalid),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_connection_closed_while_asking),
        cmocka_unit_test(test_listener_freed_while_asking),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
