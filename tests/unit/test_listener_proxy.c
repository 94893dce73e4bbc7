/* Unit tests for privsep/listener_proxy's lookups: a real keeper (privsep/keeper.h) whose
 * worker is this binary, exec'd as the keeper execs acmed (as nobody when we are root).
 *
 * With ACMED_TEST_WORKER unset the worker is the real one (daemon/worker.h's worker_main): a
 * GET to the listener the keeper bound and the worker serves, for a token the worker has no
 * answer for, is asked of the keeper's lookup (set through chal_listener_set_lookup, or
 * listener_proxy_set_lookup for every listener) and served when valid; unknown, invalid, late
 * (after CHAL_LOOKUP_TIMEOUT_MS) or switched-off answers give 404; a listener closed or the
 * proxy freed while the keeper's lookup has not answered leaves a record its answer frees.
 *
 * With ACMED_TEST_WORKER=hostile the worker is a script speaking the channel by hand: the
 * keeper answers "unknown" for a listener it does not have, asks its lookup at most
 * CHAL_LOOKUP_MAX_INFLIGHT at once per listener (answering the rest "unknown" at once), relays
 * the answers, and ends the worker that asks about something that is not a token. */
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

#include "common/fake_worker.h"
#include "common/testutil.h"
#include "common/tu_http.h"
#include "daemon/worker.h"
#include "privsep/listener_proxy.h"
#include "privsep/wmsg.h"

#define TOK "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOK ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define MAXP 128

/* ---- the hostile worker, by hand, blocking ---- */

static void send_lookup(uint64_t id, uint64_t responder, const char *token)
{
    struct ipc_out o;

    ipc_out_begin(&o, WMSG_LOOKUP);
    ipc_put_u64(&o, WMSG_T_ID, id);
    ipc_put_u64(&o, WMSG_T_RESPONDER, responder);
    ipc_put_text(&o, WMSG_T_KEY, token);
    fw_send(&o);
}

/* The next WMSG_LOOKED: its id, and its key authorization (or "-" for none) in ka. */
static uint64_t next_looked(char *ka, size_t n)
{
    struct ipc_msg *m = malloc(sizeof *m);
    uint8_t *buf = NULL;
    uint64_t id = 0;
    char *t;

    for (;;) {
        free(buf);
        buf = NULL;
        if (!m || fw_next_msg(&buf, m) < 0)
            _exit(7);
        if (m->type == WMSG_LOOKED)
            break;
    }
    ipc_get_u64(m, WMSG_T_ID, 0, &id);
    t = ipc_get_text(m, WMSG_T_KEYAUTH, 0);
    snprintf(ka, n, "%s", t ? t : "-");
    free(t);
    free(buf);
    free(m);
    return id;
}

/* Waits to be told to ask, then: a lookup for a listener the keeper does not have; 33 at once
 * for ours; "verified" once those came back right; then one that is not a token. Exits 3 when
 * an answer is wrong (the test then never sees "verified" asked). */
static int hostile_worker(void)
{
    struct ipc_msg *m = malloc(sizeof *m);
    uint8_t *buf = NULL;
    uint64_t rid = 0, on = 0, id;
    bool seen[40] = {false};
    char ka[600], want[64];

    while (!on) {
        free(buf);
        buf = NULL;
        if (!m || fw_next_msg(&buf, m) < 0)
            return 2;
        if (m->type == WMSG_SET_LOOKUP) {
            ipc_get_u64(m, WMSG_T_RESPONDER, 0, &rid);
            ipc_get_u64(m, WMSG_T_LOOKUP, 0, &on);
        }
    }
    free(buf);
    free(m);
    send_lookup(1, rid + 1000, "tok");
    if (next_looked(ka, sizeof ka) != 1 || strcmp(ka, "-"))
        return 3;
    for (uint64_t i = 2; i <= 2 + CHAL_LOOKUP_MAX_INFLIGHT; i++) {
        snprintf(want, sizeof want, "t%llu", (unsigned long long)i);
        send_lookup(i, rid, want);
    }
    for (int n = 0; n <= CHAL_LOOKUP_MAX_INFLIGHT; n++) {
        id = next_looked(ka, sizeof ka);
        snprintf(want, sizeof want, "t%llu.ok", (unsigned long long)id);
        if (id < 2 || id > 2 + CHAL_LOOKUP_MAX_INFLIGHT || seen[id] ||
            strcmp(ka, id == 2 + CHAL_LOOKUP_MAX_INFLIGHT ? "-" : want))
            return 3;
        seen[id] = true;
    }
    send_lookup(100, rid, "verified");
    if (next_looked(ka, sizeof ka) != 100 || strcmp(ka, "verified.ok"))
        return 3;
    send_lookup(101, rid, "bad/token");
    for (;;) {
        m = malloc(sizeof *m);
        buf = NULL;
        if (!m || fw_next_msg(&buf, m) < 0)
            return 0;
        free(buf);
        free(m);
    }
}

/* ---- the keeper's lookup ---- */

struct fake {
    bool sync_on;
    const char *sync;
    int asks;
    int np;
    char asked[MAXP][64]; /* every token asked, in order */
    struct {
        chal_lookup_done done;
        void *arg;
        char token[300];
    } p[MAXP];
};

static void fake_ask(void *arg, const char *token, chal_lookup_done done, void *done_arg)
{
    struct fake *f = arg;

    if (f->asks < MAXP)
        snprintf(f->asked[f->asks], sizeof f->asked[0], "%s", token);
    f->asks++;
    if (f->sync_on) {
        done(done_arg, f->sync);
        return;
    }
    assert_true(f->np < MAXP);
    f->p[f->np].done = done;
    f->p[f->np].arg = done_arg;
    snprintf(f->p[f->np].token, sizeof f->p[0].token, "%s", token);
    f->np++;
}

static void fake_answer(struct fake *f, int i, const char *keyauth)
{
    chal_lookup_done done = f->p[i].done;
    void *arg = f->p[i].arg;

    memmove(&f->p[i], &f->p[i + 1], (size_t)(f->np - i - 1) * sizeof f->p[0]);
    f->np--;
    done(arg, keyauth);
}

/* ---- fixture ---- */

struct fx {
    uv_loop_t loop;
    struct keeper *k;
    struct listener_proxy *lp;
    const struct chal_listener_factory *f;
    struct chal_listener cl;
    bool open;
    struct fake fake;
    struct chal_lookup lk;
    struct privdrop_id id;
    char *dir, ca[512];
    int port;
};

static void fx_start(struct fx *x, const char *mode)
{
    struct keeper_opts ko = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct listen_addr a;
    struct err e = {0};

    memset(x, 0, sizeof *x);
    if (mode)
        setenv("ACMED_TEST_WORKER", mode, 1);
    else
        unsetenv("ACMED_TEST_WORKER");
    assert_int_equal(uv_loop_init(&x->loop), 0);
    assert_int_equal(privdrop_resolve("nobody", &x->id, &e), 0);
    ko.id = geteuid() == 0 ? &x->id : NULL;
    /* The worker here talks to no CA: any bundle will do. */
    assert_non_null(x->dir = tu_mkdtemp("lproxy"));
    snprintf(x->ca, sizeof x->ca, "%s/ca.pem", x->dir);
    tu_write_file(x->ca, "-----BEGIN CERTIFICATE-----\nnot used\n-----END CERTIFICATE-----\n");
    ko.ca_bundle = x->ca;
    assert_non_null(x->k = keeper_start(&x->loop, &ko, &e));
    assert_non_null(x->lp = listener_proxy_new(x->k));
    x->f = listener_proxy_factory(x->lp);
    x->port = tu_http_free_port();
    sin.sin_port = htons((uint16_t)x->port);
    assert_int_equal(listen_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(x->f->open(x->f->arg, false, &a, NULL, 1, &x->cl, &e), 0);
    x->open = true;
    x->lk = (struct chal_lookup){fake_ask, &x->fake};
    /* The one entry point, with the proxy's factory. */
    assert_int_equal(chal_listener_set_lookup(x->f, &x->cl, &x->lk, &e), 0);
}

static void fx_stop(struct fx *x)
{
    if (x->open)
        x->f->close(x->f->arg, &x->cl);
    listener_proxy_free(x->lp);
    keeper_free(x->k);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    /* Whatever is still waiting is answered to no one, which frees it. */
    while (x->fake.np)
        fake_answer(&x->fake, 0, NULL);
    tu_rmtree(x->dir);
    free(x->dir);
}

/* GET token while the keeper's lookup answers `answer`. Returns the status. */
static int get_answered(struct fx *x, const char *token, const char *answer, char *body, size_t n)
{
    int fd = tu_http_send(x->port, "GET", token);

    assert_true(fd >= 0);
    assert_true(tu_http_pump_until(&x->loop, &x->fake.np, 1, 10000));
    assert_string_equal(x->fake.p[0].token, token);
    fake_answer(&x->fake, 0, answer);
    return tu_http_wait(&x->loop, fd, 5000, body, n);
}

static int get(struct fx *x, const char *token, char *body, size_t n)
{
    return tu_http_wait(&x->loop, tu_http_send(x->port, "GET", token), 8000, body, n);
}

/* ---- tests ---- */

static void test_lookup_through_worker(void **state)
{
    struct fx x;
    struct err e = {0};
    char body[512];
    uint64_t t0, ms;
    int fd;

    (void)state;
    fx_start(&x, NULL);
    /* Served by the worker once it is up: a published answer is not asked about. */
    assert_int_equal(x.cl.ops->add(x.cl.ctx, "pub", "pub.x", &e), 0);
    assert_int_equal(get(&x, "pub", body, sizeof body), 200);
    assert_string_equal(body, "pub.x");
    assert_int_equal(x.fake.asks, 0);

    /* A miss goes to the keeper's lookup. */
    assert_int_equal(get_answered(&x, TOK, KEYAUTH, body, sizeof body), 200);
    assert_string_equal(body, KEYAUTH);
    assert_int_equal(get_answered(&x, TOK, NULL, body, sizeof body), 404);
    assert_int_equal(get_answered(&x, TOK, "other.thumbprint", body, sizeof body), 404);
    assert_int_equal(get_answered(&x, TOK, TOK ".a.b", body, sizeof body), 404);
    x.fake.sync_on = true;
    x.fake.sync = KEYAUTH;
    assert_int_equal(get(&x, TOK, body, sizeof body), 200);
    assert_string_equal(body, KEYAUTH);
    x.fake.sync_on = false;
    assert_int_equal(x.fake.asks, 5);

    /* No answer in time: 404, and the late answer goes to no one. */
    t0 = uv_hrtime() / 1000000;
    fd = tu_http_send(x.port, "GET", TOK);
    assert_int_equal(tu_http_wait(&x.loop, fd, 8000, body, sizeof body), 404);
    ms = uv_hrtime() / 1000000 - t0;
    assert_true(ms >= CHAL_LOOKUP_TIMEOUT_MS - 100 && ms < CHAL_LOOKUP_TIMEOUT_MS + 2000);
    assert_int_equal(x.fake.np, 1);
    fake_answer(&x.fake, 0, KEYAUTH);
    tu_http_pump(&x.loop, 100);
    assert_int_equal(get_answered(&x, TOK, KEYAUTH, body, sizeof body), 200);

    /* Switched off: nothing asked. The proxy's own lookup then serves every listener without
     * one of its own. */
    assert_int_equal(chal_listener_set_lookup(x.f, &x.cl, NULL, &e), 0);
    tu_http_pump(&x.loop, 200);
    assert_int_equal(get(&x, TOK, body, sizeof body), 404);
    assert_int_equal(x.fake.asks, 7);
    listener_proxy_set_lookup(x.lp, &x.lk);
    tu_http_pump(&x.loop, 200);
    assert_int_equal(get_answered(&x, TOK, KEYAUTH, body, sizeof body), 200);
    listener_proxy_set_lookup(x.lp, NULL);
    tu_http_pump(&x.loop, 200);
    assert_int_equal(get(&x, TOK, body, sizeof body), 404);
    assert_int_equal(x.fake.asks, 8);
    listener_proxy_set_lookup(x.lp, &x.lk);
    tu_http_pump(&x.loop, 200);

    /* The listener closed while the keeper's lookup has not answered. */
    fd = tu_http_send(x.port, "GET", TOK);
    assert_true(tu_http_pump_until(&x.loop, &x.fake.np, 1, 10000));
    x.f->close(x.f->arg, &x.cl);
    x.open = false;
    fake_answer(&x.fake, 0, KEYAUTH);
    assert_true(tu_http_wait(&x.loop, fd, 8000, body, sizeof body) != 200);
    fx_stop(&x);
}

static void test_proxy_freed_while_asking(void **state)
{
    struct fx x;
    int fd;

    (void)state;
    fx_start(&x, NULL);
    fd = tu_http_send(x.port, "GET", TOK);
    assert_true(tu_http_pump_until(&x.loop, &x.fake.np, 1, 10000));
    x.f->close(x.f->arg, &x.cl);
    x.open = false;
    listener_proxy_free(x.lp);
    x.lp = NULL;
    fake_answer(&x.fake, 0, KEYAUTH); /* to no one: the record is freed */
    close(fd);
    fx_stop(&x);
}

static void test_hostile_worker(void **state)
{
    struct fx x;
    char ka[64];
    bool bad = false;

    (void)state;
    fx_start(&x, "hostile");
    /* 32 asks of the 33 reach the lookup; the listener it does not have is answered alone. */
    assert_true(tu_http_pump_until(&x.loop, &x.fake.np, CHAL_LOOKUP_MAX_INFLIGHT, 10000));
    tu_http_pump(&x.loop, 300);
    assert_int_equal(x.fake.np, CHAL_LOOKUP_MAX_INFLIGHT);
    assert_int_equal(x.fake.asks, CHAL_LOOKUP_MAX_INFLIGHT);
    while (x.fake.np) {
        snprintf(ka, sizeof ka, "%s.ok", x.fake.p[0].token);
        fake_answer(&x.fake, 0, ka);
    }
    /* The worker checked every answer before it asks this. */
    assert_true(tu_http_pump_until(&x.loop, &x.fake.np, 1, 10000));
    assert_string_equal(x.fake.p[0].token, "verified");
    fake_answer(&x.fake, 0, "verified.ok");
    /* Then asks about something that is not a token: ended, and started again. */
    for (int i = 0; i < 10000 && keeper_worker_starts(x.k) < 2; i++) {
        uv_run(&x.loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(keeper_worker_starts(x.k), 2);
    for (int i = 0; i < x.fake.asks && i < MAXP; i++)
        bad = bad || strchr(x.fake.asked[i], '/') != NULL;
    assert_false(bad);
    fx_stop(&x);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_through_worker),
        cmocka_unit_test(test_proxy_freed_while_asking),
        cmocka_unit_test(test_hostile_worker),
    };
    const char *mode = getenv("ACMED_TEST_WORKER");

    if (worker_requested(argc, argv))
        return mode && !strcmp(mode, "hostile") ? hostile_worker() : worker_main();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
