/* status: what the daemon records about itself after every pass: state/daemon.json (read by
 * `acmed status`) and, when conf/acmed.yaml names one, the Prometheus metrics file. */
#ifndef ACMED_DAEMON_STATUS_H
#define ACMED_DAEMON_STATUS_H

#include <stdint.h>
#include <time.h>

#include "reconcile/reconcile.h"
#include "store/store.h"

struct daemon_stats {
    uint64_t passes, issued, failures, requests, orders;
    time_t last_pass_start, last_pass_end, next_pass;
    int last_exit;
    char next_why[160]; /* what the next pass is for ("www: renewal due", "interval") */
    struct rec_summary last;
    /* Fleet mode: this node's name, whether etcd answered last and why not. */
    const char *fleet_node;
    bool fleet_up;
    char fleet_why[256];
};

/* Writes state/daemon.json: pid, start time, the last pass and the next. Logs on failure. */
void daemon_status_write(const struct store *st, time_t started, const struct daemon_stats *s);

/* Writes the metrics file: every target's certificate expiry, next renewal, last success,
 * failures, and the daemon's counters. The targets and certificates come from `snap` (the
 * pass's, borrowed) when it is not NULL, else from the state directory; each target's progress
 * from its state file. Logs on failure. */
void daemon_metrics_write(const struct store *st, const char *path, const struct daemon_stats *s,
                          const struct rec_snapshot *snap);

#endif
