/* cmd_want: `acmed want NAME...` and `acmed unwant NAME...` (DESIGN.md §7). They write
 * desired/ atomically without the lock, then reconcile only when nobody holds the lock (a
 * running reconciler sees the change itself). */
#include "cli/cli.h"
#include "cli/cmd_cluster_want.h"
#include "store/desired.h"
#include "store/names.h"
#include "store/store.h"
#include "util/lock.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Reconciles unless another reconciler holds the lock. */
static int maybe_reconcile(const struct cli *c)
{
    pid_t holder = lock_holder(c->state_dir);

    if (holder > 0) {
        log_info("a reconciler (pid %ld) holds the state directory: it will act on the change",
                 (long)holder);
        return EXIT_OK;
    }
    return cli_reconcile(c, false);
}

/* In fleet mode (conf/acmed.yaml cluster:) want and unwant change the fleet's targets in etcd
 * instead of desired/: the command's exit code then, else -1. */
static int in_cluster(const struct cli *c, bool is_want)
{
    struct store st = {.lock_fd = -1};
    struct acmed_conf conf = {0};
    struct err e;
    int code = -1;

    if (store_open(c->state_dir, &st, &e) < 0 || acmed_conf_load(st.root, &conf, &e) < 0) {
        log_err("%s", err_msg(&e));
        code = EXIT_USAGE;
    } else if (conf.cluster) {
        code = cluster_want_run(c, conf.cluster, st.root, is_want);
    }
    acmed_conf_clear(&conf);
    store_close(&st);
    return code;
}

/* Creates the state directory's layout if it is new (without taking the lock). */
static int open_layout(const struct cli *c, struct err *e)
{
    struct store st;
    int rc = store_open(c->state_dir, &st, e);

    if (rc == 0)
        store_close(&st);
    return rc;
}

int cmd_want(const struct cli *c)
{
    char *file = NULL;
    bool ip;
    struct err e;
    int rc;

    if (c->nargs == 0) {
        log_err("want needs at least one name (see acmed --help)");
        return EXIT_USAGE;
    }
    if (name_normalize(c->args[0], strlen(c->args[0]), &file, &ip, &e) < 0) {
        log_err("%s", err_msg(&e));
        return EXIT_USAGE;
    }
    if ((rc = in_cluster(c, true)) >= 0) {
        free(file);
        return rc;
    }
    if (open_layout(c, &e) < 0) {
        free(file);
        log_err("%s", err_msg(&e));
        return EXIT_USAGE;
    }
    rc = desired_want(c->state_dir, file, (const char *const *)c->args, c->nargs, c->apex, &e);
    free(file);
    if (rc < 0) {
        log_err("%s", err_msg(&e));
        return rc == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
    }
    return c->no_reconcile ? EXIT_OK : maybe_reconcile(c);
}

int cmd_unwant(const struct cli *c)
{
    size_t changed = 0;
    struct err e;
    int code;

    if (c->nargs == 0) {
        log_err("unwant needs at least one name (see acmed --help)");
        return EXIT_USAGE;
    }
    if ((code = in_cluster(c, false)) >= 0)
        return code;
    if (desired_unwant(c->state_dir, (const char *const *)c->args, c->nargs, &changed, &e) < 0) {
        log_err("%s", err_msg(&e));
        return EXIT_FAILED;
    }
    log_info("unwant: %zu desired file(s) changed", changed);
    return EXIT_OK;
}
