/* daemon: acmed as a long-running process (DESIGN.md §4, §7): one loop that reconciles at
 * start, then whenever something is due (each certificate's renewal time, each backoff
 * deadline, renewal-information checks), at least every `interval` with jitter, within a
 * second of a change under desired/ or conf/, on SIGHUP (reload) and SIGUSR1; SIGTERM and
 * SIGINT stop it cleanly. It holds the state directory's lock for its whole life and speaks
 * systemd's notification protocol. */
#ifndef ACMED_DAEMON_DAEMON_H
#define ACMED_DAEMON_DAEMON_H

#include <stdbool.h>

#include "reconcile/reconcile.h"
#include "util/err.h"

/* Runs the daemon until a stop signal; with serve, the certificate server too (acmed serve,
 * daemon_serve.h). Returns an exit code (0 after a clean stop, 2 for a
 * configuration error at start, 4 when another reconciler holds the lock) with e set for
 * the non-zero ones. */
int daemon_run(const struct rec_opts *o, bool serve, struct err *e);

#endif
