/* etcd_fx: what the fleet-mode integration tests share (tests/integration/test_ckv.c,
 * test_lockset.c, test_canswer.c, test_ccert.c, test_caccount.c): a loop, a client of the
 * fixture's three-member cluster (tests/etcd/fixture.sh, found through common/etcd_env.h), a
 * prefix of the test's own and a sealed view of it under a fixed test secret; and callbacks
 * that record what a call answered, with a wait for them. */
#ifndef ACMED_TESTS_ETCD_FX_H
#define ACMED_TESTS_ETCD_FX_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "cluster/ckv.h"
#include "net/etcd.h"

extern const uint8_t etcd_fx_secret[SEAL_KEY_LEN];

struct etcd_fx {
    uv_loop_t loop;
    char prefix[64]; /* "/acmed-<name>-<pid>/" */
    struct etcd *etcd;
    struct ckv *kv;
};

/* Sets f up (failing the running cmocka test when it cannot). */
void etcd_fx_setup(struct etcd_fx *f, const char *name);
/* Deletes everything under f's prefix, frees the client and closes the loop. */
void etcd_fx_teardown(struct etcd_fx *f);

/* What one call answered, filled by the callbacks below (zero it before the call). */
struct etcd_fx_got {
    int done, rc;
    char msg[512];      /* etcd_fx_on_done: the error's text when rc < 0, else "" */
    bool succeeded;     /* etcd_fx_on_etcd: a txn's outcome */
    int64_t lease;      /* etcd_fx_on_etcd: a lease grant's ID */
    int64_t create_rev; /* etcd_fx_on_etcd: the first key-value's create revision */
    uint8_t *raw;       /* etcd_fx_on_etcd: a copy of the first key-value's value, NUL-terminated
                           (the caller frees it), or NULL when there was none */
    size_t raw_len;
};

/* A done callback of the cluster modules (caccount_cb, ccert_cb...): arg is a struct
 * etcd_fx_got. */
void etcd_fx_on_done(void *arg, int rc, const struct err *e);

/* An etcd call's callback (etcd_cb): arg is a struct etcd_fx_got. */
void etcd_fx_on_etcd(void *arg, int rc, const struct etcd_result *r, const struct err *e);

/* Runs f's loop until *done is set, failing the running cmocka test after 15 s. */
void etcd_fx_wait(struct etcd_fx *f, const int *done);

#endif
