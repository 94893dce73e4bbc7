/* supervisor: the keeper keeps one worker running (DESIGN.md §10, issue 14 item 5).
 *
 * Starts the worker (privsep/child.h) with its channel (privsep/ipc_chan.h), hands the owner
 * every frame it sends, and when it dies (crash, kill, or killed by us for a frame that breaks
 * the channel's rules) tells the owner and starts it again: at once the first time, then
 * after 1, 2, 4 ... up to 30 seconds while it keeps dying; a worker that ran for a minute
 * starts the count again. */
#ifndef ACMED_PRIVSEP_SUPERVISOR_H
#define ACMED_PRIVSEP_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "privsep/child.h"
#include "util/buf.h"
#include "util/err.h"

struct supervisor;

struct supervisor_cbs {
    /* A worker is up (first start or restart): the owner sends what it needs first. */
    void (*up)(void *arg);
    /* A whole frame from the worker, not yet decoded (valid for the call). */
    void (*frame)(void *arg, const uint8_t *frame, size_t len);
    /* The worker is gone (status as from waitpid, or -1 when it could not be started); what
     * the owner had asked of it will not be answered. A restart is scheduled. */
    void (*down)(void *arg, int status, const struct err *why);
    void *arg;
};

/* Starts supervising on loop: the spec is copied (its argv, envp and fds must outlive the
 * supervisor). The first worker is started from the loop at once (never inside this call). Returns
 * the supervisor, or NULL with e. */
struct supervisor *supervisor_start(uv_loop_t *loop, const struct child_spec *spec,
                                    const struct supervisor_cbs *cbs, struct err *e);

/* Sends a frame (takes the buffer). Returns 0, or -EPIPE when no worker is up. */
int supervisor_send(struct supervisor *s, struct buf *frame, struct err *e);

/* Sends a frame with a descriptor along (a copy is passed; fd stays the caller's), as
 * ipc_chan_send_fd. Returns 0, or -EPIPE when no worker is up. */
int supervisor_send_fd(struct supervisor *s, struct buf *frame, int fd, struct err *e);

/* Ends the current worker as broken (a frame that failed validation): logged, killed,
 * reported through down, restarted as after a crash. */
void supervisor_reject(struct supervisor *s, const struct err *why);

/* Ends the current worker at once (a forced stop): killed, reported through down, restarted
 * as after a crash. */
void supervisor_kill(struct supervisor *s);

/* The current worker's pid, or 0 when none is up. */
pid_t supervisor_pid(const struct supervisor *s);
/* How many times a worker was started. */
unsigned supervisor_starts(const struct supervisor *s);

/* Stops: closes the channel (the worker exits on end of stream), kills and reaps the worker
 * if it lingers, frees once libuv is done. No callback runs after this. NULL is ignored. */
void supervisor_free(struct supervisor *s);

#endif
