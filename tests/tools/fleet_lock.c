/* fleet_lock: holds one target's lock in a fleet as node NODE would (cluster/lockset.h), for
 * the tests of `acmed status` in fleet mode (tests/cli/test_cluster_status.sh).
 *
 *   fleet_lock [--ttl SECONDS] STATE-DIR NODE TARGET
 *
 * Reads STATE-DIR's conf/acmed.yaml cluster:, takes locks/TARGET under a lease of its own
 * (TTL SECONDS, default lockset's) and keeps it alive until killed: prints "locked FENCE"
 * once held; SIGTERM or SIGINT gives the lock back (the lease is revoked) and exits 0, SIGKILL
 * leaves it to expire with the lease. Prints "busy HOLDER" and exits 1 when another node
 * holds it, the error and exits 2 otherwise. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cluster/cluster.h"
#include "cluster/lockset.h"
#include "store/desired.h"
#include "util/log.h"

struct state {
    struct lockset *ls;
    int rc; /* exit code once decided, -1 while waiting */
    bool held;
    uv_signal_t term, intr;
};

static void on_lock(void *arg, int rc, int64_t fence, const char *holder, const struct err *e)
{
    struct state *s = arg;

    if (rc == 0) {
        printf("locked %lld\n", (long long)fence);
        s->held = true;
    } else if (rc == -EBUSY) {
        printf("busy %s\n", holder);
        s->rc = 1;
    } else {
        printf("%s\n", err_msg(e));
        s->rc = 2;
    }
    fflush(stdout);
}

static void on_lost(void *arg)
{
    struct state *s = arg;

    printf("lost\n");
    fflush(stdout);
    s->rc = 2;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct state *s = h->data;

    (void)signum;
    s->rc = 0;
}

static void on_closed(void *arg)
{
    (void)arg;
}

static void on_grace(uv_timer_t *t)
{
    uv_stop(t->loop);
}

int main(int argc, char **argv)
{
    struct state s = {.rc = -1};
    struct acmed_conf conf = {0};
    struct cluster *cl = NULL;
    long ttl = 0;
    int i = 1;
    struct err e;
    uv_loop_t loop;
    uv_timer_t grace;

    log_init();
    if (argc > 2 && !strcmp(argv[1], "--ttl")) {
        ttl = strtol(argv[2], NULL, 10);
        i = 3;
    }
    if (argc - i != 3) {
        fprintf(stderr, "usage: fleet_lock [--ttl SECONDS] STATE-DIR NODE TARGET\n");
        return 2;
    }
    if (acmed_conf_load(argv[i], &conf, &e) < 0 ||
        (!conf.cluster && err_set(&e, -EINVAL, "%s: no cluster: section", argv[i]) < 0)) {
        printf("%s\n", err_msg(&e));
        acmed_conf_clear(&conf);
        return 2;
    }
    uv_loop_init(&loop);
    uv_signal_init(&loop, &s.term);
    uv_signal_init(&loop, &s.intr);
    s.term.data = s.intr.data = &s;
    uv_signal_start(&s.term, on_signal, SIGTERM);
    uv_signal_start(&s.intr, on_signal, SIGINT);
    if (cluster_open(&loop, conf.cluster, &cl, &e) < 0 ||
        lockset_new(&loop, cl->etcd, cl->kv, argv[i + 1], ttl, on_lost, &s, &s.ls, &e) < 0 ||
        lockset_acquire(s.ls, argv[i + 2], on_lock, &s, &e) < 0) {
        printf("%s\n", err_msg(&e));
        s.rc = 2;
    }
    while (s.rc < 0 && uv_run(&loop, UV_RUN_ONCE))
        ;
    lockset_free(s.ls, false); /* revokes the lease: the lock goes at once */
    uv_close((uv_handle_t *)&s.term, NULL);
    uv_close((uv_handle_t *)&s.intr, NULL);
    /* The revocation is answered before the client closes (which would cancel it): the loop
     * runs until nothing is left to do, or 3 s at most. */
    uv_timer_init(&loop, &grace);
    uv_timer_start(&grace, on_grace, 3000, 0);
    uv_unref((uv_handle_t *)&grace);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&grace, NULL);
    cluster_close(cl, on_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    acmed_conf_clear(&conf);
    return s.rc;
}
