/* fleet_view: the fleet as `acmed status` shows it in fleet mode (DESIGN.md §12, issue 16
 * item 7): the targets under etcd's desired/, decoded over this node's conf/target, and which
 * node holds each target's lock, read within a bound, so that status answers even when etcd
 * does not. */
#ifndef ACMED_CLI_FLEET_VIEW_H
#define ACMED_CLI_FLEET_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "store/conf_cluster.h"
#include "store/desired.h"
#include "util/err.h"

/* How long status waits for etcd before it shows what this node has alone. */
#define FLEET_VIEW_WAIT_MS 5000

struct fleet_holder {
    char *target, *node;
};

struct fleet_view {
    char node[CONF_CLUSTER_NODE_MAX + 1]; /* this node's name */
    bool reachable;                       /* false: error says why, ds and holders are empty */
    char error[ERR_MSG_MAX];
    /* The fleet's targets, sorted by name; a target that does not decode, and the values
     * this node's secret-file does not open, are in ds.errors. */
    struct desired_set ds;
    struct fleet_holder *holders; /* every lock held, in target order */
    size_t nholders;
};

/* Reads the fleet for the node of state directory root, whose conf/acmed.yaml has cc
 * (borrowed), waiting at most timeout_ms for etcd. Returns 0 with *v (release with
 * fleet_view_clear): reachable false and v->error set when etcd failed or did not answer,
 * which is not an error here; or negative with e when the cluster cannot be opened at all
 * (a secret file, conf/target), *v then holding only the node's name. */
int fleet_view_load(const char *root, const struct acmed_cluster *cc, unsigned timeout_ms,
                    struct fleet_view *v, struct err *e);

/* The node holding target's lock (borrowed from v), or "-" when none does. */
const char *fleet_view_holder(const struct fleet_view *v, const char *target);

void fleet_view_clear(struct fleet_view *v);

#endif
