/* child: the keeper's worker process, started and watched on a libuv loop (DESIGN.md §10).
 *
 * The worker is this same binary, exec'd afresh through a descriptor opened at start
 * (privdrop_self_open), after the privilege drop of util/privdrop.h. It gets exactly these
 * descriptors: 0-2 as the keeper's (stdin /dev/null), 3 the channel (one end of a socketpair),
 * then the listening sockets handed down, from 4 on, in order. It dies with the keeper
 * (PR_SET_PDEATHSIG, and the channel's end of stream). Its exit is reported once by callback. */
#ifndef ACMED_PRIVSEP_CHILD_H
#define ACMED_PRIVSEP_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "util/err.h"
#include "privsep/privdrop.h"

#define CHILD_CHAN_FD 3
#define CHILD_FIRST_FD 4

struct child;

/* The child has exited: status as from waitpid. */
typedef void (*child_exit_cb)(void *arg, int status);

struct child_spec {
    const struct privdrop_id *id; /* the user to become; NULL keeps ours (not root only) */
    int self_fd;                  /* privdrop_self_open */
    char *const *argv;            /* argv[0] is the process name shown ("acmed: worker") */
    char *const *envp;
    const int *fds; /* handed down as CHILD_FIRST_FD, CHILD_FIRST_FD + 1, ... (borrowed) */
    size_t nfds;
};

/* Forks and execs the child. On success *chan_fd is the keeper's end of the channel (the
 * caller owns it, e.g. ipc_chan_open) and on_exit will run once on loop when the child has
 * exited. Returns the child, or NULL with e set. Refuses id == NULL when running as root. */
struct child *child_start(uv_loop_t *loop, const struct child_spec *s, child_exit_cb on_exit,
                          void *arg, int *chan_fd, struct err *e);

pid_t child_pid(const struct child *c);

/* Sends sig to the child if it has not been reaped. */
void child_kill(struct child *c, int sig);

/* Stops watching and frees c once its handles are closed; an unreaped child is killed with
 * SIGKILL and reaped first (so no zombie is left). No callback runs after this. NULL ok. */
void child_free(struct child *c);

#endif
