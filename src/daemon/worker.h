/* worker: the unprivileged process of privilege separation (DESIGN.md §10).
 *
 * Started by the keeper (privsep/supervisor.h) as acmed itself, exec'd afresh with argv
 * {"acmed: worker", WORKER_ARG}, already running as its unprivileged user with the channel on
 * descriptor 3. It holds no key and opens none of the operator's files: what it needs (the CA
 * bundle, settings, listening sockets) comes over the channel. It serves the challenge
 * listeners the keeper hands it and asks the keeper for every account-key signature. It exits
 * when the channel ends (the keeper is gone) or breaks its rules. */
#ifndef ACMED_DAEMON_WORKER_H
#define ACMED_DAEMON_WORKER_H

#include <stdbool.h>

/* The argument that makes acmed the worker (never typed by a person). */
#define WORKER_ARG "--privsep-worker"

/* Whether argv asks for the worker: exactly {name, WORKER_ARG} with descriptor 3 open. */
bool worker_requested(int argc, char **argv);

/* Runs the worker until its channel ends. Returns the process exit code: 0 at the keeper's
 * end of stream, 1 when the channel broke or could not be set up. */
int worker_main(void);

#endif
