/* Integration tests for net/etcd and net/etcd_watch against a real three-member etcd cluster
 * (tests/etcd/fixture.sh, on loopback): round trips with binary values, transactions, leases,
 * watches (order, resumption, compaction), endpoints that are dead, black holes, TLS with a
 * client certificate, a member killed mid-run, authentication, and no quorum. The member
 * kills come last: they change the cluster for whatever runs after them. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "common/etcd_env.h"
#include "common/testutil.h"
#include "net/etcd.h"
#include "net/etcd_internal.h" /* to spoil the token in test_auth */
#include "net/etcd_watch.h"
#include "net/http.h"

#define MAX_KVS 8

/* Fails with the call's error message when it failed. */
#define assert_ok(x)                                                                               \
    do {                                                                                           \
        if ((x)->rc != 0)                                                                          \
            fail_msg("call failed (%d): %s", (x)->rc, (x)->msg);                                   \
    } while (0)

/* What a call's callback saw (kvs copied). */
struct res {
    int done;
    int rc;
    char msg[ERR_MSG_MAX];
    struct etcd_result r; /* scalars only; kvs below */
    size_t nkvs;
    char *keys[MAX_KVS];
    uint8_t *values[MAX_KVS];
    size_t value_lens[MAX_KVS];
    int64_t create_rev[MAX_KVS];
    int64_t mod_rev[MAX_KVS];
};

static uv_loop_t loop;
static char prefix[64]; /* unique per run: "/acmed-test-PID/" */

static void res_clear(struct res *x)
{
    for (size_t i = 0; i < x->nkvs; i++) {
        free(x->keys[i]);
        free(x->values[i]);
    }
    memset(x, 0, sizeof *x);
}

static void on_done(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct res *x = arg;

    assert_int_equal(x->done, 0);
    x->done = 1;
    x->rc = rc;
    if (rc < 0) {
        assert_non_null(e);
        assert_null(r);
        snprintf(x->msg, sizeof x->msg, "%s", e->msg);
        return;
    }
    assert_non_null(r);
    x->r = *r;
    x->r.kvs = NULL;
    for (size_t i = 0; i < r->nkvs && i < MAX_KVS; i++) {
        x->keys[i] = strdup(r->kvs[i].key);
        x->values[i] = malloc(r->kvs[i].value_len + 1);
        memcpy(x->values[i], r->kvs[i].value, r->kvs[i].value_len);
        x->value_lens[i] = r->kvs[i].value_len;
        x->create_rev[i] = r->kvs[i].create_revision;
        x->mod_rev[i] = r->kvs[i].mod_revision;
        x->nkvs = i + 1;
    }
}

/* Runs the loop until x is done (at most ms), failing the test otherwise. */
static void wait_res(struct res *x, uint64_t ms)
{
    if (!tu_run_until(&loop, &x->done, ms))
        fail_msg("no answer within %llu ms", (unsigned long long)ms);
}

static char *key(const char *name)
{
    static char k[8][256];
    static int i;

    i = (i + 1) % 8;
    snprintf(k[i], sizeof k[i], "%s%s", prefix, name);
    return k[i];
}

static struct etcd *client_for(const char *const *eps, size_t n, long timeout_ms, unsigned tries,
                               const char *user, const char *password)
{
    struct etcd_opts o = {.endpoints = eps,
                          .n = n,
                          .timeout_ms = timeout_ms,
                          .tries = tries,
                          .user = user,
                          .password = password};
    struct etcd *c = NULL;
    struct err e;

    err_clear(&e);
    if (etcd_new(&loop, &o, &c, &e) < 0)
        fail_msg("etcd_new: %s", e.msg);
    return c;
}

static struct etcd *cluster_client(void)
{
    static const char *eps[3];

    eps[0] = ee_get("ETCD_URL_1");
    eps[1] = ee_get("ETCD_URL_2");
    eps[2] = ee_get("ETCD_URL_3");
    return client_for(eps, 3, 0, 0, NULL, NULL);
}

static int freed;
static void on_freed(void *arg)
{
    (void)arg;
    freed = 1;
}

static void client_free(struct etcd *c)
{
    freed = 0;
    etcd_free(c, on_freed, NULL);
    assert_int_equal(freed, 0); /* never from inside etcd_free */
    assert_true(tu_run_until(&loop, &freed, 5000));
}

/* ---- synchronous wrappers ---- */

static void do_put(struct etcd *c, const char *k, const void *v, size_t n, int64_t lease,
                   struct res *x)
{
    struct err e;

    res_clear(x);
    assert_int_equal(etcd_put(c, k, v, n, lease, on_done, x, &e), 0);
    assert_int_equal(x->done, 0); /* never from inside the call */
    wait_res(x, 10000);
}

static void do_get(struct etcd *c, const char *k, bool pfx, int64_t limit, struct res *x)
{
    struct err e;

    res_clear(x);
    assert_int_equal(
        pfx ? etcd_get_prefix(c, k, limit, on_done, x, &e) : etcd_get(c, k, on_done, x, &e), 0);
    wait_res(x, 10000);
}

static void do_delete(struct etcd *c, const char *k, bool pfx, struct res *x)
{
    struct err e;

    res_clear(x);
    assert_int_equal(etcd_delete(c, k, pfx, on_done, x, &e), 0);
    wait_res(x, 10000);
}

/* ---- tests ---- */

static void test_roundtrip(void **state)
{
    static const uint8_t bin[] = {0, 1, 2, 0xff, 0xfe, '\n', '"', '\\', 0, 0x80};
    struct etcd *c = cluster_client();
    size_t big_len = (size_t)1 << 20;
    uint8_t *big = malloc(big_len);
    struct res x = {0};

    (void)state;
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)(i * 7 + (i >> 9));
    do_put(c, key("rt/a"), bin, sizeof bin, 0, &x);
    assert_ok(&x);
    assert_true(x.r.revision > 0);
    do_put(c, key("rt/b"), big, big_len, 0, &x);
    assert_ok(&x);
    do_put(c, key("rt/c"), "", 0, 0, &x);
    assert_ok(&x);
    do_put(c, key("rtx"), "outside", 7, 0, &x); /* shares "rt" but not "rt/" */
    assert_ok(&x);

    do_get(c, key("rt/a"), false, 0, &x);
    assert_ok(&x);
    assert_int_equal(x.nkvs, 1);
    assert_string_equal(x.keys[0], key("rt/a"));
    assert_int_equal(x.value_lens[0], sizeof bin);
    assert_memory_equal(x.values[0], bin, sizeof bin);
    assert_true(x.create_rev[0] > 0 && x.mod_rev[0] >= x.create_rev[0]);

    do_get(c, key("rt/b"), false, 0, &x);
    assert_int_equal(x.value_lens[0], big_len);
    assert_memory_equal(x.values[0], big, big_len);

    do_get(c, key("rt/missing"), false, 0, &x);
    assert_ok(&x);
    assert_int_equal(x.nkvs, 0);

    do_get(c, key("rt/"), true, 0, &x);
    assert_ok(&x);
    assert_int_equal(x.nkvs, 3);
    assert_int_equal(x.r.count, 3);
    assert_false(x.r.more);
    assert_string_equal(x.keys[0], key("rt/a"));
    assert_string_equal(x.keys[2], key("rt/c"));
    assert_int_equal(x.value_lens[2], 0);

    do_get(c, key("rt/"), true, 2, &x);
    assert_int_equal(x.nkvs, 2);
    assert_true(x.r.more);
    assert_int_equal(x.r.count, 3);

    do_delete(c, key("rt/a"), false, &x);
    assert_ok(&x);
    assert_int_equal(x.r.deleted, 1);
    do_delete(c, key("rt/"), true, &x);
    assert_int_equal(x.r.deleted, 2);
    do_get(c, key("rt"), true, 0, &x);
    assert_int_equal(x.nkvs, 1); /* rtx stays */
    assert_string_equal(x.keys[0], key("rtx"));

    res_clear(&x);
    free(big);
    client_free(c);
}

/* A fenced write: put X only while lock key L still has the create revision we saw. */
static void test_txn(void **state)
{
    struct etcd *c = cluster_client();
    struct res x = {0};
    struct err e;
    int64_t lock_rev;

    (void)state;
    do_put(c, key("txn/lock"), "node-1", 6, 0, &x);
    do_get(c, key("txn/lock"), false, 0, &x);
    lock_rev = x.create_rev[0];

    struct etcd_cmp cmp = {
        .target = ETCD_CMP_CREATE, .op = ETCD_CMP_EQUAL, .key = key("txn/lock"), .num = lock_rev};
    struct etcd_op then[] = {
        {.type = ETCD_OP_PUT, .key = key("txn/x"), .value = "v1", .value_len = 2},
        {.type = ETCD_OP_DELETE, .key = key("txn/old")}};
    struct etcd_op els[] = {
        {.type = ETCD_OP_PUT, .key = key("txn/lost"), .value = "1", .value_len = 1}};
    struct etcd_txn t = {&cmp, 1, then, 2, els, 1};

    do_put(c, key("txn/old"), "o", 1, 0, &x);
    res_clear(&x);
    assert_int_equal(etcd_txn(c, &t, on_done, &x, &e), 0);
    wait_res(&x, 10000);
    assert_ok(&x);
    assert_true(x.r.succeeded);
    do_get(c, key("txn/x"), false, 0, &x);
    assert_int_equal(x.nkvs, 1);
    assert_memory_equal(x.values[0], "v1", 2);
    do_get(c, key("txn/old"), false, 0, &x);
    assert_int_equal(x.nkvs, 0);

    /* Another holder re-creates the lock: our fence fails, the else branch runs. */
    do_delete(c, key("txn/lock"), false, &x);
    do_put(c, key("txn/lock"), "node-2", 6, 0, &x);
    then[0].value = "v2";
    res_clear(&x);
    assert_int_equal(etcd_txn(c, &t, on_done, &x, &e), 0);
    wait_res(&x, 10000);
    assert_ok(&x);
    assert_false(x.r.succeeded);
    do_get(c, key("txn/x"), false, 0, &x);
    assert_memory_equal(x.values[0], "v1", 2);
    do_get(c, key("txn/lost"), false, 0, &x);
    assert_int_equal(x.nkvs, 1);

    /* Value, version and mod compares; "create == 0" means the key does not exist. */
    struct etcd_cmp cmps[] = {
        {.target = ETCD_CMP_VALUE,
         .op = ETCD_CMP_EQUAL,
         .key = key("txn/x"),
         .value = "v1",
         .value_len = 2},
        {.target = ETCD_CMP_VERSION, .op = ETCD_CMP_EQUAL, .key = key("txn/x"), .num = 1},
        {.target = ETCD_CMP_MOD, .op = ETCD_CMP_GREATER, .key = key("txn/x"), .num = 0},
        {.target = ETCD_CMP_CREATE, .op = ETCD_CMP_EQUAL, .key = key("txn/none"), .num = 0},
    };
    struct etcd_txn t2 = {cmps, 4, NULL, 0, NULL, 0};

    res_clear(&x);
    assert_int_equal(etcd_txn(c, &t2, on_done, &x, &e), 0);
    wait_res(&x, 10000);
    assert_ok(&x);
    assert_true(x.r.succeeded);
    cmps[1].num = 2;
    res_clear(&x);
    assert_int_equal(etcd_txn(c, &t2, on_done, &x, &e), 0);
    wait_res(&x, 10000);
    assert_false(x.r.succeeded);

    do_delete(c, key("txn/"), true, &x);
    res_clear(&x);
    client_free(c);
}

static void sleep_loop(uint64_t ms)
{
    int never = 0;

    tu_run_until(&loop, &never, ms);
}

static void test_lease(void **state)
{
    struct etcd *c = cluster_client();
    struct res x = {0};
    struct err e;
    int64_t id, id2;
    uint64_t start;
    int gone = 0;

    (void)state;
    res_clear(&x);
    assert_int_equal(etcd_lease_grant(c, 2, on_done, &x, &e), 0);
    wait_res(&x, 10000);
    assert_ok(&x);
    assert_true(x.r.lease_id != 0);
    assert_int_equal(x.r.ttl, 2);
    id = x.r.lease_id;
    do_put(c, key("lease/k"), "held", 4, id, &x);
    assert_ok(&x);

    /* Kept alive for 3 s, longer than the TTL: the key stays. */
    for (int i = 0; i < 5; i++) {
        sleep_loop(600);
        res_clear(&x);
        assert_int_equal(etcd_lease_keepalive(c, id, on_done, &x, &e), 0);
        wait_res(&x, 10000);
        assert_ok(&x);
        assert_int_equal(x.r.lease_id, id);
        assert_true(x.r.ttl > 0);
    }
    do_get(c, key("lease/k"), false, 0, &x);
    assert_int_equal(x.nkvs, 1);

    /* Not kept alive: gone after the TTL (etcd checks expiry every 500 ms). */
    start = uv_now(&loop);
    while (!gone && uv_now(&loop) - start < 8000) {
        sleep_loop(250);
        do_get(c, key("lease/k"), false, 0, &x);
        gone = x.rc == 0 && x.nkvs == 0;
    }
    assert_true(gone);
    assert_true(uv_now(&loop) - start >= 1000);
    res_clear(&x);
    assert_int_equal(etcd_lease_keepalive(c, id, on_done, &x, &e), 0);
    wait_res(&x, 10000);
    assert_ok(&x);
    assert_int_equal(x.r.ttl, 0); /* the lease is gone */

    /* Revoke deletes the lease's keys at once; a second revoke finds no lease. */
    res_clear(&x);
    assert_int_equal(etcd_lease_grant(c, 60, on_done, &x, &e), 0);
    wait_res(&x, 10000);
    id2 = x.r.lease_id;
    do_put(c, key("lease/r"), "r", 1, id2, &x);
    res_clear(&x);
    assert_int_equal(etcd_lease_revoke(c, id2, on_done, &x, &e), 0);
    wait_res(&x, 10000);
    assert_ok(&x);
    do_get(c, key("lease/r"), false, 0, &x);
    assert_int_equal(x.nkvs, 0);
    res_clear(&x);
    assert_int_equal(etcd_lease_revoke(c, id2, on_done, &x, &e), 0);
    wait_res(&x, 10000);
    assert_int_equal(x.rc, -ENOENT);
    /* A put bound to a lease that is gone is refused, not retried. */
    do_put(c, key("lease/r"), "r", 1, id2, &x);
    assert_int_equal(x.rc, -ENOENT);
    res_clear(&x);
    client_free(c);
}

/* ---- watches ---- */

#define MAX_EVENTS 64

struct wlog {
    int created;
    int ended;
    int end_rc;
    int64_t compact_revision;
    char end_msg[ERR_MSG_MAX];
    size_t n;
    int type[MAX_EVENTS];
    char key[MAX_EVENTS][256];
    char value[MAX_EVENTS][32];
    int64_t rev[MAX_EVENTS];
};

static void on_watch(void *arg, int rc, const struct etcd_watch_msg *m, const struct err *e)
{
    struct wlog *l = arg;

    assert_int_equal(l->ended, 0); /* nothing after the end */
    if (rc < 0) {
        l->ended = 1;
        l->end_rc = rc;
        l->compact_revision = m ? m->compact_revision : 0;
        snprintf(l->end_msg, sizeof l->end_msg, "%s", e ? e->msg : "");
        return;
    }
    if (m->kind == ETCD_WATCH_CREATED)
        l->created = 1;
    for (size_t i = 0; i < m->nevents && l->n < MAX_EVENTS; i++, l->n++) {
        l->type[l->n] = (int)m->events[i].type;
        snprintf(l->key[l->n], sizeof l->key[l->n], "%s", m->events[i].kv.key);
        snprintf(l->value[l->n], sizeof l->value[l->n], "%.*s", (int)m->events[i].kv.value_len,
                 (const char *)m->events[i].kv.value);
        l->rev[l->n] = m->events[i].kv.mod_revision;
    }
}

static int wait_events(struct wlog *l, size_t n, uint64_t ms)
{
    uint64_t start = uv_now(&loop);

    while (l->n < n && !l->ended && uv_now(&loop) - start < ms)
        sleep_loop(20);
    return l->n >= n;
}

static void test_watch(void **state)
{
    struct etcd *c = cluster_client();
    struct etcd_watch *w = NULL;
    struct wlog *l = calloc(1, sizeof *l), *l2 = calloc(1, sizeof *l2);
    struct res x = {0};
    struct err e;

    (void)state;
    assert_int_equal(etcd_watch_start(c, key("w/"), 0, on_watch, l, &w, &e), 0);
    assert_int_equal(l->created, 0);
    assert_true(tu_run_until(&loop, &l->created, 10000));
    do_put(c, key("w/a"), "1", 1, 0, &x);
    do_put(c, key("w/b"), "2", 1, 0, &x);
    do_put(c, key("other"), "x", 1, 0, &x); /* not under the prefix */
    do_delete(c, key("w/a"), false, &x);
    do_put(c, key("w/b"), "3", 1, 0, &x);
    assert_true(wait_events(l, 4, 10000));
    sleep_loop(200);
    assert_int_equal(l->n, 4);
    assert_int_equal(l->type[0], ETCD_EVENT_PUT);
    assert_string_equal(l->key[0], key("w/a"));
    assert_string_equal(l->value[0], "1");
    assert_int_equal(l->type[1], ETCD_EVENT_PUT);
    assert_string_equal(l->key[1], key("w/b"));
    assert_int_equal(l->type[2], ETCD_EVENT_DELETE);
    assert_string_equal(l->key[2], key("w/a"));
    assert_string_equal(l->value[3], "3");
    for (int i = 1; i < 4; i++)
        assert_true(l->rev[i] > l->rev[i - 1]);

    /* A watch from an old revision replays what happened since (what a resume does). */
    assert_int_equal(etcd_watch_start(c, key("w/"), l->rev[1], on_watch, l2, NULL, &e), 0);
    assert_true(wait_events(l2, 3, 10000));
    assert_int_equal(l2->rev[0], l->rev[1]);
    assert_int_equal(l2->type[1], ETCD_EVENT_DELETE);

    /* Cancelled: no callback afterwards, even with events coming. */
    etcd_watch_cancel(w);
    do_put(c, key("w/c"), "4", 1, 0, &x);
    assert_true(wait_events(l2, 4, 10000));
    assert_int_equal(l->n, 4);
    assert_int_equal(l->ended, 0);

    /* Freeing the client ends the other watch with -ECANCELED. */
    do_delete(c, key("w/"), true, &x);
    res_clear(&x);
    client_free(c);
    assert_int_equal(l2->ended, 1);
    assert_int_equal(l2->end_rc, -ECANCELED);
    free(l);
    free(l2);
}

struct posted {
    int status;
    char body[1024];
};

static void on_http_done(void *arg, int rc, const struct http_response *resp, const struct err *e)
{
    struct posted *p = arg;

    (void)e;
    p->status = rc < 0 ? rc : (int)resp->status;
    if (resp)
        snprintf(p->body, sizeof p->body, "%.*s", (int)resp->body_len, resp->body);
}

/* POSTs body to path on a member's gateway (base: its URL) directly, for what acmed never asks
 * for (compaction, user administration, leadership), with token as the Authorization header
 * if not NULL. Returns the HTTP status; the answer's start goes to out if not NULL. */
static int gateway_to(const char *base, const char *path, const char *body, const char *token,
                      struct posted *out)
{
    struct http_client *h = NULL;
    struct http_request req = {
        .method = "POST", .body = body, .body_len = strlen(body), .authorization = token};
    struct posted p = {0};
    char url[256];
    struct err e;

    assert_int_equal(http_client_new(&loop, NULL, &h, &e), 0);
    snprintf(url, sizeof url, "%s%s", base, path);
    req.url = url;
    assert_int_equal(http_request_start(h, &req, on_http_done, &p, &e), 0);
    assert_true(tu_run_until(&loop, &p.status, 10000));
    freed = 0;
    http_client_close(h, on_freed, NULL);
    assert_true(tu_run_until(&loop, &freed, 5000));
    if (out)
        *out = p;
    return p.status;
}

static int gateway_post(const char *path, const char *body, const char *token)
{
    return gateway_to(ee_get("ETCD_URL_1"), path, body, token, NULL);
}

static void compact(int64_t rev)
{
    char body[64];

    snprintf(body, sizeof body, "{\"revision\":\"%lld\",\"physical\":true}", (long long)rev);
    assert_int_equal(gateway_post("/v3/kv/compaction", body, NULL), 200);
}

static void test_watch_compacted(void **state)
{
    struct etcd *c = cluster_client();
    struct wlog *l = calloc(1, sizeof *l);
    struct res x = {0};
    struct err e;
    int64_t old;

    (void)state;
    do_put(c, key("wc/a"), "1", 1, 0, &x);
    old = x.r.revision;
    do_put(c, key("wc/a"), "2", 1, 0, &x);
    compact(x.r.revision);
    assert_int_equal(etcd_watch_start(c, key("wc/"), old, on_watch, l, NULL, &e), 0);
    assert_true(tu_run_until(&loop, &l->ended, 10000));
    assert_int_equal(l->end_rc, -ESTALE);
    assert_int_equal(l->compact_revision, x.r.revision);
    do_delete(c, key("wc/"), true, &x);
    res_clear(&x);
    client_free(c);
    free(l);
}

/* A port nothing listens on: bound, then closed. */
static int dead_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_dead_first_endpoint(void **state)
{
    char dead[64];
    const char *eps[2];
    struct etcd *c;
    struct res x = {0};

    (void)state;
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", dead_port());
    eps[0] = dead;
    eps[1] = ee_get("ETCD_URL_2");
    c = client_for(eps, 2, 2000, 0, NULL, NULL);
    /* A write too: nothing was sent to the dead endpoint, so trying the next one is safe. */
    do_put(c, key("dead/k"), "v", 1, 0, &x);
    assert_ok(&x);
    do_get(c, key("dead/k"), false, 0, &x);
    assert_ok(&x);
    assert_int_equal(x.nkvs, 1);
    do_delete(c, key("dead/k"), false, &x);
    assert_ok(&x);
    client_free(c);

    /* Only dead endpoints: a bounded number of tries, then -EHOSTDOWN. */
    c = client_for(eps, 1, 2000, 3, NULL, NULL);
    do_get(c, key("dead/k"), false, 0, &x);
    assert_int_equal(x.rc, -EHOSTDOWN);
    assert_non_null(strstr(x.msg, "3 tries"));
    res_clear(&x);
    client_free(c);
}

/* A listening socket that never accepts: connections complete (the kernel's backlog), requests
 * go out, no answer ever comes. */
static void test_black_hole(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char hole[64];
    const char *eps[2];
    struct etcd *c;
    struct res x = {0};
    struct wlog *l = calloc(1, sizeof *l);
    struct err e;
    uint64_t start;

    (void)state;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(hole, sizeof hole, "http://127.0.0.1:%d", ntohs(a.sin_port));
    eps[0] = hole;
    eps[1] = ee_get("ETCD_URL_1");

    c = client_for(eps, 1, 400, 2, NULL, NULL);
    /* A read is retried, and bounded: 2 tries of 400 ms. */
    uv_update_time(&loop);
    start = uv_now(&loop);
    do_get(c, key("hole"), false, 0, &x);
    assert_int_equal(x.rc, -EHOSTDOWN);
    assert_true(uv_now(&loop) - start >= 700 && uv_now(&loop) - start < 3000);
    /* A write that went out unanswered is not repeated: its outcome is unknown. */
    uv_update_time(&loop);
    start = uv_now(&loop);
    do_put(c, key("hole"), "v", 1, 0, &x);
    assert_int_equal(x.rc, ETCD_EUNKNOWN);
    assert_true(uv_now(&loop) - start < 2000);
    client_free(c);

    /* The black hole first, a live member second: a read gets through after one timeout. */
    c = client_for(eps, 2, 400, 0, NULL, NULL);
    uv_update_time(&loop);
    start = uv_now(&loop);
    do_get(c, key("hole"), false, 0, &x);
    assert_ok(&x);
    assert_true(uv_now(&loop) - start < 3000);
    client_free(c);

    /* So does a watch: etcd must confirm it within the timeout. */
    c = client_for(eps, 2, 400, 0, NULL, NULL);
    uv_update_time(&loop);
    start = uv_now(&loop);
    assert_int_equal(etcd_watch_start(c, key("hole/"), 0, on_watch, l, NULL, &e), 0);
    assert_true(tu_run_until(&loop, &l->created, 5000));
    assert_true(uv_now(&loop) - start >= 350 && uv_now(&loop) - start < 3000);
    do_put(c, key("hole/k"), "v", 1, 0, &x);
    assert_ok(&x);
    assert_true(wait_events(l, 1, 5000));
    do_delete(c, key("hole/k"), false, &x);
    res_clear(&x);
    client_free(c);
    free(l);
    close(fd);
}

/* TLS with a client certificate: calls and a watch go through; without the certificate, or
 * without trusting the fixture's CA, nothing does (and nothing is applied). */
static void test_tls(void **state)
{
    const char *eps[2] = {ee_get("ETCD_TLS_URL_1"), ee_get("ETCD_TLS_URL_2")};
    struct etcd_opts o = {.endpoints = eps,
                          .n = 2,
                          .ca_bundle = ee_get("ETCD_CA"),
                          .cert = ee_get("ETCD_CLIENT_CERT"),
                          .key = ee_get("ETCD_CLIENT_KEY")};
    struct wlog *l = calloc(1, sizeof *l);
    struct etcd *c = NULL;
    struct res x = {0};
    struct err e;

    (void)state;
    assert_int_equal(etcd_new(&loop, &o, &c, &e), 0);
    assert_int_equal(etcd_watch_start(c, key("tls/"), 0, on_watch, l, NULL, &e), 0);
    assert_true(tu_run_until(&loop, &l->created, 10000));
    do_put(c, key("tls/k"), "secret", 6, 0, &x);
    assert_ok(&x);
    do_get(c, key("tls/k"), false, 0, &x);
    assert_int_equal(x.nkvs, 1);
    assert_true(wait_events(l, 1, 10000));
    assert_string_equal(l->key[0], key("tls/k"));
    client_free(c);

    /* The members demand a client certificate. (With TLS 1.3 the refusal comes after the
     * client has sent its request, so a write would be ETCD_EUNKNOWN: a read shows it.) */
    o.cert = o.key = NULL;
    assert_int_equal(etcd_new(&loop, &o, &c, &e), 0);
    do_get(c, key("tls/k"), false, 0, &x);
    assert_int_equal(x.rc, -EHOSTDOWN);
    client_free(c);

    o.cert = ee_get("ETCD_CLIENT_CERT");
    o.key = ee_get("ETCD_CLIENT_KEY");
    o.ca_bundle = NULL; /* the system's trust does not know the fixture's CA */
    assert_int_equal(etcd_new(&loop, &o, &c, &e), 0);
    do_put(c, key("tls/k2"), "x", 1, 0, &x);
    assert_int_equal(x.rc, -EHOSTDOWN);
    assert_non_null(strstr(x.msg, "certificate"));
    client_free(c);

    c = cluster_client();
    do_get(c, key("tls/k2"), false, 0, &x);
    assert_int_equal(x.nkvs, 0);
    do_delete(c, key("tls/"), true, &x);
    res_clear(&x);
    client_free(c);
    free(l);
}

/* etcd_free inside a callback: the other call in flight and the open watch end with
 * -ECANCELED (from the loop), nothing runs after, the client is freed, done runs once. */
struct freer {
    struct etcd *c;
    struct res x;
};

static void on_done_free(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct freer *f = arg;

    on_done(&f->x, rc, r, e);
    etcd_free(f->c, on_freed, NULL);
    etcd_free(f->c, on_freed, NULL); /* a second call is ignored */
}

static void test_free_in_callback(void **state)
{
    struct freer f = {.c = cluster_client()};
    struct wlog *l = calloc(1, sizeof *l);
    struct res other = {0};
    struct err e;

    (void)state;
    assert_int_equal(etcd_watch_start(f.c, key("free/"), 0, on_watch, l, NULL, &e), 0);
    assert_true(tu_run_until(&loop, &l->created, 10000));
    freed = 0;
    assert_int_equal(etcd_get(f.c, key("free/a"), on_done_free, &f, &e), 0);
    assert_int_equal(etcd_lease_grant(f.c, 30, on_done, &other, &e), 0);
    assert_true(tu_run_until(&loop, &freed, 10000));
    assert_int_equal(f.x.done, 1);
    assert_ok(&f.x);
    assert_int_equal(l->ended, 1);
    assert_int_equal(l->end_rc, -ECANCELED);
    /* The grant either finished before the get's callback or was cancelled. */
    assert_int_equal(other.done, 1);
    assert_true(other.rc == 0 || other.rc == -ECANCELED);
    res_clear(&f.x);
    res_clear(&other);
    free(l);
}

/* Kills member `i` of the fixture by its PID and waits until it is gone. */
static void kill_member(int i)
{
    char name[32];
    pid_t pid;

    snprintf(name, sizeof name, "ETCD_PID_%d", i);
    pid = (pid_t)atoi(ee_get(name));
    assert_true(pid > 1);
    if (kill(pid, SIGKILL) < 0)
        return; /* already gone (a rerun of this test) */
    for (int n = 0; n < 100 && kill(pid, 0) == 0; n++)
        usleep(20000);
}

/* A member's id and its leader's (decimal strings from the status call). */
static void member_status(int i, char *id, char *leader)
{
    char name[32];
    struct posted p;
    json_t *j;

    snprintf(name, sizeof name, "ETCD_URL_%d", i);
    assert_int_equal(gateway_to(ee_get(name), "/v3/maintenance/status", "{}", NULL, &p), 200);
    j = json_loads(p.body, 0, NULL);
    assert_non_null(j);
    snprintf(id, 32, "%s",
             json_string_value(json_object_get(json_object_get(j, "header"), "member_id")));
    snprintf(leader, 32, "%s", json_string_value(json_object_get(j, "leader")));
    json_decref(j);
}

/* Makes member i the leader (etcd's MoveLeader, sent to the current leader). */
static void lead_member(int i)
{
    char id[32], leader[32], other[32], lid[32];
    char body[96];
    int from = 0;

    member_status(i, id, leader);
    if (strcmp(id, leader) == 0)
        return;
    for (int m = 1; m <= 3 && !from; m++) {
        member_status(m, other, lid);
        if (strcmp(other, leader) == 0)
            from = m;
    }
    assert_true(from > 0);
    snprintf(body, sizeof body, "{\"targetID\":\"%s\"}", id);
    snprintf(other, sizeof other, "ETCD_URL_%d", from);
    assert_int_equal(
        gateway_to(ee_get(other), "/v3/maintenance/transfer-leadership", body, NULL, NULL), 200);
    member_status(i, id, leader);
    assert_string_equal(id, leader);
}

/* A watch on member 3, made the leader, sees its stream cut when the member dies, and resumes
 * through the others (once they have elected a new leader) from the last revision it saw plus one
 * without losing what happened meanwhile; calls through all three endpoints go on. */
static void test_failover(void **state)
{
    const char *only3[1] = {ee_get("ETCD_URL_3")};
    struct etcd *c = cluster_client(), *c3 = client_for(only3, 1, 0, 0, NULL, NULL);
    struct wlog *l = calloc(1, sizeof *l), *l2 = calloc(1, sizeof *l2);
    struct res x = {0};
    struct err e;
    int ok = 0;

    (void)state;
    assert_int_equal(etcd_watch_start(c3, key("f/"), 0, on_watch, l, NULL, &e), 0);
    assert_true(tu_run_until(&loop, &l->created, 10000));
    do_put(c, key("f/1"), "1", 1, 0, &x);
    assert_true(wait_events(l, 1, 10000));

    lead_member(3); /* its death then needs an election: the harder case */
    kill_member(3);
    assert_true(tu_run_until(&loop, &l->ended, 10000));
    assert_int_equal(l->end_rc, -ECONNRESET);

    /* Meanwhile, through the cluster client (whose endpoints include the dead one). A read
     * first: when member 3 led, it waits (retried) for the others to elect a leader, which a
     * write sent during the election might not survive (ETCD_EUNKNOWN, by design). */
    do_get(c, key("f/1"), false, 0, &x);
    assert_ok(&x);
    for (int i = 0; i < 6; i++) {
        char k[16];

        snprintf(k, sizeof k, "f/%d", i + 2);
        do_put(c, key(k), "x", 1, 0, &x);
        ok += x.rc == 0;
        do_get(c, key(k), false, 0, &x);
        ok += x.rc == 0 && x.nkvs == 1;
    }
    assert_int_equal(ok, 12);

    assert_int_equal(etcd_watch_start(c, key("f/"), l->rev[l->n - 1] + 1, on_watch, l2, NULL, &e),
                     0);
    assert_true(wait_events(l2, 6, 10000));
    assert_string_equal(l2->key[0], key("f/2"));
    assert_string_equal(l2->key[5], key("f/7"));
    do_delete(c, key("f/"), true, &x);
    assert_ok(&x);
    res_clear(&x);
    client_free(c3);
    client_free(c);
    free(l);
    free(l2);
}

/* Sets up a root user, enables authentication, then: calls authenticate once, a spoiled token
 * is replaced (for a call and a watch), a wrong password is -EACCES. Turns it off again. */
static void test_auth(void **state)
{
    struct etcd *c = cluster_client(), *ca, *bad;
    struct wlog *l = calloc(1, sizeof *l);
    const char *eps[2] = {ee_get("ETCD_URL_1"), ee_get("ETCD_URL_2")};
    static const char *const steps[][2] = {
        {"/v3/auth/user/add", "{\"name\":\"root\",\"password\":\"s3cret\"}"},
        {"/v3/auth/user/grant", "{\"user\":\"root\",\"role\":\"root\"}"},
        {"/v3/auth/enable", "{}"},
    };
    struct res x = {0};
    struct err e;
    char *token;

    (void)state;
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(gateway_post(steps[i][0], steps[i][1], NULL), 200);

    /* Without credentials: refused. */
    do_get(c, key("auth/k"), false, 0, &x);
    assert_int_equal(x.rc, -EACCES);
    client_free(c);

    ca = client_for(eps, 2, 0, 0, "root", "s3cret");
    do_put(ca, key("auth/k"), "v", 1, 0, &x);
    assert_ok(&x);
    assert_non_null(ca->token);
    /* A token etcd no longer knows: the client authenticates again and the call goes on. (A
     * simple token ends in the raft index it was made at; etcd waits for a higher one to be
     * applied, so a spoiled token keeps a small index.) */
    free(ca->token);
    ca->token = strdup("spoiled.1");
    do_get(ca, key("auth/k"), false, 0, &x);
    assert_ok(&x);
    assert_int_equal(x.nkvs, 1);
    assert_string_not_equal(ca->token, "spoiled.1");

    /* The same for a watch, whose refusal comes inside the stream. */
    free(ca->token);
    ca->token = strdup("spoiled.2");
    assert_int_equal(etcd_watch_start(ca, key("auth/"), 0, on_watch, l, NULL, &e), 0);
    assert_true(tu_run_until(&loop, &l->created, 10000));
    do_put(ca, key("auth/w"), "w", 1, 0, &x);
    assert_ok(&x);
    assert_true(wait_events(l, 1, 10000));
    assert_string_equal(l->key[0], key("auth/w"));
    assert_int_equal(l->ended, 0);
    do_delete(ca, key("auth/"), true, &x);
    token = strdup(ca->token);
    client_free(ca);

    bad = client_for(eps, 2, 0, 0, "root", "wrong");
    do_get(bad, key("auth/k"), false, 0, &x);
    assert_int_equal(x.rc, -EACCES);
    res_clear(&x);
    client_free(bad);
    assert_int_equal(l->end_rc, -ECANCELED); /* the watch ended with its client */
    free(l);
    /* Off again for what follows. */
    assert_int_equal(gateway_post("/v3/auth/disable", "{}", token), 200);
    free(token);
}

/* Member 3 was killed by test_failover; killing member 2 leaves member 1 alone, without a
 * quorum: a watch on it ends, reads fail after a bounded number of tries, a write fails without
 * being repeated (ETCD_EUNKNOWN once sent, or -EHOSTDOWN when every member refused it before
 * proposing), all within the bounds the options set. Last: the cluster is gone. */
static void test_no_quorum(void **state)
{
    struct etcd *c;
    struct res x = {0};
    uint64_t start;

    const char *only1[1] = {ee_get("ETCD_URL_1")};
    struct etcd *c1 = client_for(only1, 1, 0, 0, NULL, NULL);
    struct wlog *l = calloc(1, sizeof *l);
    struct err e;

    (void)state;
    assert_int_equal(etcd_watch_start(c1, key("nq/"), 0, on_watch, l, NULL, &e), 0);
    assert_true(tu_run_until(&loop, &l->created, 10000));
    kill_member(2);
    /* Member 1 has lost its leader: etcd ends the watch rather than leave it silent. */
    assert_true(tu_run_until(&loop, &l->ended, 10000));
    assert_int_equal(l->end_rc, -ECONNRESET);
    assert_non_null(strstr(l->end_msg, "no leader"));
    client_free(c1);
    free(l);
    c = client_for(
        (const char *const[]){ee_get("ETCD_URL_1"), ee_get("ETCD_URL_2"), ee_get("ETCD_URL_3")}, 3,
        500, 3, NULL, NULL);
    uv_update_time(&loop);
    start = uv_now(&loop);
    do_get(c, key("nq"), false, 0, &x);
    assert_int_equal(x.rc, -EHOSTDOWN);
    assert_true(uv_now(&loop) - start < 3 * 500 + 1000);
    uv_update_time(&loop);
    start = uv_now(&loop);
    do_put(c, key("nq"), "v", 1, 0, &x);
    if (x.rc != ETCD_EUNKNOWN && x.rc != -EHOSTDOWN)
        fail_msg("put without quorum: %d: %s", x.rc, x.msg);
    assert_true(uv_now(&loop) - start < 3 * 500 + 1000);
    res_clear(&x);
    client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_txn),
        cmocka_unit_test(test_lease),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_watch_compacted),
        cmocka_unit_test(test_dead_first_endpoint),
        cmocka_unit_test(test_black_hole),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_free_in_callback),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_no_quorum),
    };
    int rc;

    signal(SIGPIPE, SIG_IGN);
    snprintf(prefix, sizeof prefix, "/acmed-test-%d/", (int)getpid());
    uv_loop_init(&loop);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    return rc;
}
