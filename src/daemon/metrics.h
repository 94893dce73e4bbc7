/* metrics: the daemon's state in the Prometheus text exposition format (version 0.0.4),
 * written atomically to a file for node_exporter's textfile collector or any scraper that
 * reads files. Pure formatting: the daemon fills a `struct metrics` snapshot and calls
 * metrics_write() after each reconcile pass. */
#ifndef ACMED_DAEMON_METRICS_H
#define ACMED_DAEMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/err.h"

struct metrics_target {
    const char *target;  /* desired file name */
    const char *cert_id; /* current certificate, NULL when none */
    time_t not_after;    /* 0 when no certificate */
    time_t next_renewal; /* 0 when unknown */
    time_t last_success; /* 0 when never */
    unsigned failures;   /* consecutive */
    bool satisfied;
};

struct metrics {
    const struct metrics_target *targets; /* borrowed, ntargets entries */
    size_t ntargets;
    uint64_t passes_total, orders_total, requests_total, failures_total, certificates_issued_total;
    time_t last_pass; /* end of the last reconcile pass */
    unsigned orders_in_flight;
    /* Fleet mode (cluster true): whether etcd answered last (acmed_cluster_etcd_up 1 or 0);
     * outside fleet mode the metric is left out. */
    bool cluster, cluster_up;
};

/* The exposition text of `m` (borrowed): for every metric one "# HELP" and one "# TYPE" line,
 * then its samples, label values escaped (backslash, double quote, newline; invalid UTF-8
 * replaced by U+FFFD). Per-target samples whose value is unknown (0) are left out, except
 * acmed_target_failures and acmed_target_satisfied. Caller frees; NULL on allocation
 * failure. */
char *metrics_format(const struct metrics *m);

/* Writes metrics_format(m) to `path` atomically (temp file, fsync, rename), mode 0644
 * whatever the umask. Returns 0 or negative with e set. */
int metrics_write(const char *path, const struct metrics *m, struct err *e);

#endif
