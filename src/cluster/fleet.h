/* fleet: a node's standing connection to its fleet in fleet mode (DESIGN.md §12, issue 16),
 * for the daemon's life: the cluster (cluster/cluster.h), this node's locks (lockset), its
 * copy of the fleet's challenge answers (canswers), and a watch of the fleet's targets and
 * progress (desired/ and state/ under the prefix) that tells the owner when either changed,
 * so that every node reconciles soon after any node wants a target or installs a certificate.
 * The passes borrow it (rec_opts.fleet) and record whether etcd answered them. */
#ifndef ACMED_CLUSTER_FLEET_H
#define ACMED_CLUSTER_FLEET_H

#include <stdbool.h>
#include <uv.h>

#include "cluster/canswer.h"
#include "cluster/cluster.h"
#include "cluster/lockset.h"
#include "store/conf_cluster.h"
#include "util/err.h"

#define FLEET_WHY_MAX 256

struct fleet {
    uv_loop_t *loop;
    struct cluster *cl;
    struct lockset *locks;
    struct canswers *answers;
    struct etcd_watch *w;
    int64_t rev;      /* the last revision the watch saw */
    uv_timer_t again; /* the watch starts again after a pause */
    uv_timer_t probe; /* a linearizable read now and then: a silent etcd is noticed */
    bool probing;     /* one in flight */
    unsigned nclosed; /* timers closed (fleet_close) */
    void (*changed)(void *arg);
    void *arg;
    bool up;                 /* etcd answered the last call that tells (a pass, the watch) */
    char why[FLEET_WHY_MAX]; /* why not, when !up */
    bool closing;
    void (*closed)(void *arg);
    void *closed_arg;
};

/* Opens the fleet of c on loop and starts following it: changed(arg) runs from the loop
 * whenever a target or a target's progress changed in etcd (and once the watch is back after
 * a break, since changes may have been missed). Returns 0 with *out, or negative with e
 * naming the file at fault (secret, password). */
int fleet_open(uv_loop_t *loop, const struct acmed_cluster *c, void (*changed)(void *arg),
               void *arg, struct fleet **out, struct err *e);

/* Records whether etcd answered (up) and, when not, why; a change is logged and told to the
 * owner as a change of the fleet (changed). */
void fleet_set_up(struct fleet *f, bool up, const char *why);

/* Revokes the node's lease (its locks and answers go at once), stops following and frees f;
 * done(arg) from the loop once everything is closed. f may be NULL (done is then not called). */
void fleet_close(struct fleet *f, void (*done)(void *arg), void *arg);

#endif
