/* daemon_fleet: the daemon in fleet mode (conf/acmed.yaml cluster:, DESIGN.md §12): the
 * node's fleet (cluster/fleet.h) for the daemon's life, lent to every pass, and the http-01
 * listener held open on conf/target's http-ports for as long as the daemon runs, so that the
 * CA may validate any node's order through this node. */
#ifndef ACMED_DAEMON_DAEMON_FLEET_H
#define ACMED_DAEMON_DAEMON_FLEET_H

#include <stdbool.h>
#include <uv.h>

#include "reconcile/reconcile.h"
#include "store/desired.h"
#include "util/err.h"

struct daemon_fleet;

/* Opens the fleet of conf->cluster on loop and, when conf/target under root names http
 * listeners (or no webroot), holds them through po->listeners (NULL: in this process);
 * po->fleet and po->listeners are then set for the passes. changed(arg) runs when the fleet's
 * targets or progress changed. Returns 0 with *out, or negative with e set. */
int daemon_fleet_start(uv_loop_t *loop, const struct acmed_conf *conf, const char *root,
                       struct rec_opts *po, void (*changed)(void *arg), void *arg,
                       struct daemon_fleet **out, struct err *e);

/* Whether etcd answered last, and why not, and the node's name (borrowed). */
bool daemon_fleet_up(const struct daemon_fleet *df, const char **why, const char **node);

/* Closes the listener (after the last pass) and the fleet, frees df, and sets *closed once
 * the fleet's last call to etcd has ended (the loop must run until then). df may be NULL
 * (*closed is set at once). */
void daemon_fleet_stop(struct daemon_fleet *df, bool *closed);

#endif
