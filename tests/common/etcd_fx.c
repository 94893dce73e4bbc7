/* etcd_fx: the fleet-mode integration tests' common set-up (see etcd_fx.h). */
#include "common/etcd_fx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/etcd_env.h"
#include "common/testutil.h"

const uint8_t etcd_fx_secret[SEAL_KEY_LEN] = "0123456789abcdef0123456789abcdef";

void etcd_fx_setup(struct etcd_fx *f, const char *name)
{
    const char *eps[3] = {ee_get("ETCD_URL_1"), ee_get("ETCD_URL_2"), ee_get("ETCD_URL_3")};
    struct etcd_opts o = {.endpoints = eps, .n = 3};
    struct err e;

    snprintf(f->prefix, sizeof f->prefix, "/acmed-%s-%ld/", name, (long)getpid());
    assert_int_equal(uv_loop_init(&f->loop), 0);
    if (etcd_new(&f->loop, &o, &f->etcd, &e) < 0 ||
        ckv_new(f->etcd, f->prefix, etcd_fx_secret, &f->kv, &e) < 0)
        fail_msg("%s", err_msg(&e));
}

struct flag {
    int done;
};

static void on_deleted(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    (void)rc, (void)r, (void)e;
    ((struct flag *)arg)->done = 1;
}

static void on_freed(void *arg)
{
    ((struct flag *)arg)->done = 1;
}

void etcd_fx_teardown(struct etcd_fx *f)
{
    struct flag del = {0}, freed = {0};
    struct err e;

    if (etcd_delete(f->etcd, f->prefix, true, on_deleted, &del, &e) == 0)
        tu_run_until(&f->loop, &del.done, 15000);
    ckv_free(f->kv);
    etcd_free(f->etcd, on_freed, &freed);
    tu_run_until(&f->loop, &freed.done, 5000);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

void etcd_fx_on_done(void *arg, int rc, const struct err *e)
{
    struct etcd_fx_got *g = arg;

    g->done = 1;
    g->rc = rc;
    snprintf(g->msg, sizeof g->msg, "%s", rc < 0 && e ? err_msg(e) : "");
}

void etcd_fx_on_etcd(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct etcd_fx_got *g = arg;

    g->done = 1;
    g->rc = rc;
    snprintf(g->msg, sizeof g->msg, "%s", rc < 0 && e ? err_msg(e) : "");
    if (rc < 0)
        return;
    g->succeeded = r->succeeded;
    g->lease = r->lease_id;
    if (r->nkvs) {
        g->create_rev = r->kvs[0].create_revision;
        g->raw_len = r->kvs[0].value_len;
        assert_non_null(g->raw = malloc(g->raw_len + 1));
        memcpy(g->raw, r->kvs[0].value, g->raw_len);
        g->raw[g->raw_len] = '\0';
    }
}

void etcd_fx_wait(struct etcd_fx *f, const int *done)
{
    if (!tu_run_until(&f->loop, done, 15000))
        fail_msg("no answer from etcd");
}
