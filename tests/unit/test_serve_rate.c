/* Unit tests for serve/rate: per-client sliding-window limits (`rate: N/h`) over a fake
 * clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/rate.h"

static uint64_t fake_ms;

static uint64_t fake_now(void *ctx)
{
    return *(uint64_t *)ctx;
}

static const char conf_yaml[] = "listen: 127.0.0.1:1313\n"
                                "clients:\n"
                                "  a: {ip: 192.0.2.1, domains: a.example, rate: 3/m}\n"
                                "  b: {ip: 192.0.2.2, domains: b.example}\n"
                                "  c: {ip: 192.0.2.3, domains: c.example, rate: 2/s}\n"
                                "  d: {ip: 192.0.2.4, domains: d.example, rate: 10/h}\n";

struct fx {
    struct serve_conf conf;
    struct rate rate;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct err e;

    assert_non_null(f);
    if (serve_conf_parse("conf/serve.yaml", conf_yaml, strlen(conf_yaml), &f->conf, &e) != 0)
        fail_msg("%s", e.msg);
    fake_ms = 1000000;
    assert_int_equal(rate_init(&f->rate, &f->conf, fake_now, &fake_ms, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    rate_clear(&f->rate);
    rate_clear(&f->rate);
    serve_conf_clear(&f->conf);
    free(f);
    return 0;
}

/* rate_take for client i, expecting acceptance (retry 0) or refusal with `retry` seconds. */
static void take(struct fx *f, size_t i, unsigned retry)
{
    unsigned got = 12345;
    int rc = rate_take(&f->rate, i, &got);

    if (retry == 0) {
        if (rc != 0)
            fail_msg("client %zu at %llu ms: refused (retry %u), expected accepted", i,
                     (unsigned long long)fake_ms, got);
        assert_int_equal(got, 12345); /* untouched when accepted */
    } else {
        if (rc != -EAGAIN)
            fail_msg("client %zu at %llu ms: rc %d, expected -EAGAIN", i,
                     (unsigned long long)fake_ms, rc);
        assert_int_equal(got, retry);
    }
}

static void test_per_minute(void **state)
{
    struct fx *f = *state;
    uint64_t t0 = fake_ms;

    take(f, 0, 0);
    fake_ms = t0 + 1000;
    take(f, 0, 0);
    fake_ms = t0 + 2000;
    take(f, 0, 0);
    take(f, 0, 58); /* the first leaves the window at t0 + 60 s */
    fake_ms = t0 + 59001;
    take(f, 0, 1);
    fake_ms = t0 + 59999;
    take(f, 0, 1); /* rounded up: never "retry after 0" */
    fake_ms = t0 + 60000;
    take(f, 0, 0); /* exactly one period later the first has left */
    take(f, 0, 1); /* the second leaves at t0 + 61 s */
    fake_ms = t0 + 61000;
    take(f, 0, 0);
    fake_ms = t0 + 62000;
    take(f, 0, 0);
    take(f, 0, 58);
    /* a refusal counts nothing: after a long quiet spell the whole allowance is back */
    fake_ms = t0 + 10 * 60000;
    take(f, 0, 0);
    take(f, 0, 0);
    take(f, 0, 0);
    take(f, 0, 60);
}

static void test_clients_apart(void **state)
{
    struct fx *f = *state;

    /* b has no rate */
    for (int i = 0; i < 1000; i++)
        take(f, 1, 0);
    /* a's use does not touch c's */
    take(f, 0, 0);
    take(f, 0, 0);
    take(f, 0, 0);
    take(f, 0, 60);
    take(f, 2, 0);
    take(f, 2, 0);
    take(f, 2, 1);
    fake_ms += 999;
    take(f, 2, 1);
    fake_ms += 1;
    take(f, 2, 0);
    take(f, 0, 59);
    /* out of range */
    assert_int_equal(rate_take(&f->rate, 4, NULL), -EINVAL);
    assert_int_equal(rate_take(NULL, 0, NULL), -EINVAL);
    /* retry_after may be NULL */
    assert_int_equal(rate_take(&f->rate, 0, NULL), -EAGAIN);
}

/* 10/h is at most ten in any hour, including across a window's edge (where a token bucket
 * would let twenty through). Requests every 7 minutes for a day, plus a burst. */
static void test_exact_window(void **state)
{
    struct fx *f = *state;
    uint64_t start = fake_ms, accepted[400];
    size_t n = 0;

    for (uint64_t t = start; t < start + 24 * 3600 * 1000ULL; t += 60000) {
        fake_ms = t;
        int tries = (t - start) % (7 * 60000) == 0 ? 1 : 0;

        if ((t - start) == 3600 * 1000ULL * 5 + 59 * 60000)
            tries = 30; /* a burst just before an hour's end */
        for (int k = 0; k < tries; k++) {
            unsigned retry;

            if (rate_take(&f->rate, 3, &retry) == 0) {
                assert_true(n < sizeof accepted / sizeof accepted[0]);
                accepted[n++] = t;
            } else {
                assert_true(retry >= 1 && retry <= 3600);
            }
        }
    }
    for (size_t i = 0; i + 10 < n; i++)
        if (accepted[i + 10] - accepted[i] < 3600 * 1000ULL)
            fail_msg("eleven requests within an hour: %zu..%zu", i, i + 10);
    /* one every 7 minutes is under 10/h: all but the burst's extras went through */
    assert_true(n >= 24 * 60 / 7);
}

/* No clients, and the real clock. */
static void test_empty_and_real_clock(void **state)
{
    struct serve_conf conf;
    struct rate r;
    struct err e;
    unsigned retry;
    static const char y[] = "listen: 127.0.0.1:1\n"
                            "clients: {x: {ip: 127.0.0.1, domains: x.example, rate: 1/h}}\n";

    memset(&conf, 0, sizeof conf);
    assert_int_equal(rate_init(&r, &conf, NULL, NULL, &e), 0);
    assert_int_equal(rate_take(&r, 0, NULL), -EINVAL);
    rate_clear(&r);
    assert_int_equal(serve_conf_parse("t", y, strlen(y), &conf, &e), 0);
    assert_int_equal(rate_init(&r, &conf, NULL, NULL, &e), 0);
    assert_int_equal(rate_take(&r, 0, &retry), 0);
    assert_int_equal(rate_take(&r, 0, &retry), -EAGAIN);
    assert_true(retry >= 3599 && retry <= 3600);
    rate_clear(&r);
    serve_conf_clear(&conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_per_minute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clients_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_window, setup, teardown),
        cmocka_unit_test(test_empty_and_real_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
