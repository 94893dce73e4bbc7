/* cluster: a node's connection to its fleet (DESIGN.md §12): conf/acmed.yaml's `cluster:`
 * turned into an etcd client (net/etcd.h), the sealed view of the prefix (cluster/ckv.h) and
 * the node's name. The secret file and the etcd password are read here, by the process that
 * reads configuration (the keeper); neither ever reaches a worker or a log. */
#ifndef ACMED_CLUSTER_CLUSTER_H
#define ACMED_CLUSTER_CLUSTER_H

#include <uv.h>

#include "cluster/ckv.h"
#include "net/etcd.h"
#include "store/conf_cluster.h"
#include "util/err.h"

struct cluster {
    struct etcd *etcd;
    struct ckv *kv;
    char *node;
};

/* Connects (lazily: etcd is first asked by the first call) with c's settings on loop: reads
 * the secret file (crypto/seal_key.h) and the password file (its bytes less one trailing
 * newline). Returns 0 with *out, or negative with e naming the file at fault. */
int cluster_open(uv_loop_t *loop, const struct acmed_cluster *c, struct cluster **out,
                 struct err *e);

/* Frees cl once its etcd client has ended what it had in flight; done(arg) then, from the loop
 * (may be NULL). cl may be NULL. */
void cluster_close(struct cluster *cl, void (*done)(void *arg), void *arg);

#endif
