/* Unit tests for serve/serve_listen: acmed serve's held http-01 listener, in this process,
 * given a lookup (challenge/lookup.h) when opened: a token no pass published is asked about and
 * served when the lookup knows it; without a lookup it is 404 with nothing asked. A factory
 * that cannot take a lookup makes the open fail with nothing left open. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/tu_http.h"
#include "serve/serve_listen.h"

#define TOK "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOK ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"

static int asks;

/* Knows TOK only; answers from inside ask. */
static void ask(void *arg, const char *token, chal_lookup_done done, void *done_arg)
{
    (void)arg;
    asks++;
    done(done_arg, strcmp(token, TOK) ? NULL : KEYAUTH);
}

static void loopback(struct serve_listen *a)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;

    memset(a, 0, sizeof *a);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->len = sizeof *sin;
    snprintf(a->text, sizeof a->text, "127.0.0.1:0");
}

static void test_held_listener_asks(void **state)
{
    const struct chal_lookup lk = {ask, NULL};
    struct serve_listen_held h;
    struct serve_listen a;
    struct err e = {0};
    uv_loop_t loop;
    char body[512];
    int port;

    (void)state;
    loopback(&a);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(serve_listen_open(&h, &loop, NULL, &lk, &a, 1, &e), 0);
    assert_true((port = serve_listen_port(&h, 0)) > 0);
    assert_int_equal(tu_http_wait(&loop, tu_http_send(port, "GET", TOK), 5000, body, sizeof body),
                     200);
    assert_string_equal(body, KEYAUTH);
    assert_int_equal(
        tu_http_wait(&loop, tu_http_send(port, "GET", "unknown"), 5000, body, sizeof body), 404);
    assert_int_equal(asks, 2);
    serve_listen_close(&h);
    uv_run(&loop, UV_RUN_DEFAULT);

    /* Without a lookup: nothing asked. */
    assert_int_equal(serve_listen_open(&h, &loop, NULL, NULL, &a, 1, &e), 0);
    port = serve_listen_port(&h, 0);
    assert_int_equal(tu_http_wait(&loop, tu_http_send(port, "GET", TOK), 5000, body, sizeof body),
                     404);
    assert_int_equal(asks, 2);
    serve_listen_close(&h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A factory of listeners served elsewhere that cannot take a lookup. */
static int nop_add(void *ctx, const char *key, const char *keyauth, struct err *e)
{
    (void)ctx, (void)key, (void)keyauth, (void)e;
    return 0;
}

static void nop_remove(void *ctx, const char *key)
{
    (void)ctx, (void)key;
}

static const struct chal_listener_ops nop_ops = {nop_add, nop_remove};
static int opened, closed;

static int f_open(void *arg, bool tls, const struct listen_addr *addrs, const bool *required,
                  size_t n, struct chal_listener *out, struct err *e)
{
    (void)arg, (void)tls, (void)addrs, (void)required, (void)n, (void)e;
    opened++;
    *out = (struct chal_listener){.ops = &nop_ops};
    return 0;
}

static void f_close(void *arg, struct chal_listener *l)
{
    (void)arg;
    closed++;
    l->ops = NULL;
}

static void test_factory_without_lookup(void **state)
{
    const struct chal_listener_factory f = {f_open, f_close, NULL, NULL};
    const struct chal_lookup lk = {ask, NULL};
    struct serve_listen_held h;
    struct serve_listen a;
    struct err e = {0};
    uv_loop_t loop;

    (void)state;
    loopback(&a);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(serve_listen_open(&h, &loop, &f, &lk, &a, 1, &e), -ENOTSUP);
    assert_non_null(strstr(e.msg, "http-01-listen"));
    assert_int_equal(opened, 1);
    assert_int_equal(closed, 1);
    assert_false(h.open);
    serve_listen_close(&h); /* nothing left: a no-op */
    assert_int_equal(closed, 1);
    /* The same factory without a lookup is fine. */
    assert_int_equal(serve_listen_open(&h, &loop, &f, NULL, &a, 1, &e), 0);
    serve_listen_close(&h);
    assert_int_equal(closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_listener_asks),
        cmocka_unit_test(test_factory_without_lookup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
