/* cli_fleet: what the fleet-mode commands share (DESIGN.md §12): this node's conf/acmed.yaml
 * `cluster:` and conf/target, the cluster opened on a loop of the command's own, the
 * asynchronous calls a command starts run until every one has called back (bounded in time:
 * a command never hangs on an etcd that does not answer), then the cluster closed. */
#ifndef ACMED_CLI_CLI_FLEET_H
#define ACMED_CLI_CLI_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "cluster/cluster.h"
#include "store/conf_cluster.h"
#include "util/err.h"

/* How long the fleet commands that change etcd wait for it, in all (each etcd call is bounded
 * on its own too: net/etcd.h). */
#define CLI_FLEET_WAIT_MS 30000

struct cli_fleet {
    uv_loop_t loop;
    uv_timer_t deadline;
    struct cluster *cl;
    struct acmed_cluster *own; /* the conf read by cli_fleet_open, NULL when given one */
    const struct acmed_cluster *conf;
    char *defaults; /* conf/target's text, NULL when there is none */
    size_t defaults_len;
    unsigned pending; /* calls started and not called back: the caller counts them */
    bool expired;     /* cli_fleet_wait gave up: late callbacks come with -ECANCELED */
    bool open;
};

/* Reads root's conf/target and, when cc is NULL, conf/acmed.yaml's `cluster:` (none: -ENOENT
 * saying fleet mode is off), then opens the cluster on f's own loop. Returns 0, or negative
 * with e (naming the file at fault); f then holds nothing and needs no cli_fleet_close. cc,
 * when given, is borrowed until cli_fleet_close. */
int cli_fleet_open(struct cli_fleet *f, const char *root, const struct acmed_cluster *cc,
                   struct err *e);

/* Runs f's loop until f->pending is 0 (each call the command starts adds one, its callback
 * takes it off) or timeout_ms have passed. Returns 0, or -ETIMEDOUT with e naming etcd and
 * its endpoints; the calls still out then end with -ECANCELED from cli_fleet_close, with
 * f->expired set so that their callbacks can keep quiet. */
int cli_fleet_wait(struct cli_fleet *f, unsigned timeout_ms, struct err *e);

/* Closes the cluster (running what callbacks are left) and f's loop, frees what f holds.
 * f may be one whose cli_fleet_open failed. */
void cli_fleet_close(struct cli_fleet *f);

#endif
