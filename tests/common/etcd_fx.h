/* etcd_fx: what the fleet-mode integration tests share (tests/integration/test_ckv.c,
 * test_lockset.c, test_canswer.c): a loop, a client of the fixture's three-member cluster
 * (tests/etcd/fixture.sh, found through common/etcd_env.h), a prefix of the test's own and a
 * sealed view of it under a fixed test secret. */
#ifndef ACMED_TESTS_ETCD_FX_H
#define ACMED_TESTS_ETCD_FX_H

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

#endif
