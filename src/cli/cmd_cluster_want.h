/* cmd_cluster_want: want and unwant in fleet mode (see cmd_cluster_want.c). */
#ifndef ACMED_CLI_CMD_CLUSTER_WANT_H
#define ACMED_CLI_CMD_CLUSTER_WANT_H

#include <stdbool.h>

#include "cli/cli.h"
#include "store/conf_cluster.h"

/* Runs `want` (is_want) or `unwant` with c's names against the fleet's targets in etcd, for
 * the state directory root whose conf/acmed.yaml has cc. Returns the exit code. */
int cluster_want_run(const struct cli *c, const struct acmed_cluster *cc, const char *root,
                     bool is_want);

#endif
