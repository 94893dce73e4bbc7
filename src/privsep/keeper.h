/* keeper: the privileged side of privilege separation (DESIGN.md §10, issue 14 item 4).
 *
 * The keeper keeps one worker running (privsep/supervisor.h): acmed exec'd afresh as an
 * unprivileged user, which alone talks to the CA. It hands the worker its settings and CA
 * bundle at every start, sends it operations and routes the answers back, and signs for it
 * only what an operation in flight allows (privsep/keeper_sign.h): each operation comes with
 * its grants, and a request for a signature is checked against the grants of every operation
 * the worker was given and has not answered.
 *
 * A worker that dies fails the operations it had been sent (the callback gets no message):
 * their outcome is unknown, and their owners resume from what they checkpointed. Operations
 * asked for while no worker is up wait, and go to the next worker once it has its settings
 * and the owners' state (keeper_watch). */
#ifndef ACMED_PRIVSEP_KEEPER_H
#define ACMED_PRIVSEP_KEEPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "privsep/ipc.h"
#include "privsep/keeper_sign.h"
#include "privsep/privdrop.h"
#include "util/buf.h"
#include "util/err.h"

struct keeper;

struct keeper_opts {
    const struct privdrop_id *id; /* the worker's user (copied); NULL keeps ours (not as root) */
    const char *ca_bundle;        /* PEM file of the CAs to trust for the CA; NULL: the system's */
    bool insecure_http;           /* plain http to loopback CAs (net/url_policy.h) */
    unsigned max_requests;        /* per CA at once in the worker, 0 for no limit */
};

/* Starts the keeper on loop: reads the CA bundle now (the worker cannot), then starts the
 * worker from the loop. Returns the keeper (keeper_free), or NULL with e set. */
struct keeper *keeper_start(uv_loop_t *loop, const struct keeper_opts *o, struct err *e);

uv_loop_t *keeper_loop(const struct keeper *k);

/* The outcome of an operation: m is the decoded WMSG_RESULT (valid for the call), or NULL
 * when the worker died before answering, with lost saying so: lost->code ENGINE_ELOST, or
 * -ECANCELED after keeper_abort. */
typedef void (*keeper_result_cb)(void *arg, const struct ipc_msg *m, const struct err *lost);

/* A fresh operation id, for the WMSG_OP frame the caller builds. */
uint64_t keeper_new_id(struct keeper *k);

/* Sends operation `id` (frame taken), or queues it until a worker is up. grants[0..n) are
 * borrowed until cb has run or the operation is cancelled. cb runs exactly once, later, from
 * the loop. Returns 0, or negative with e (cb never runs). */
int keeper_op(struct keeper *k, uint64_t id, struct buf *frame, const struct keeper_grant *grants,
              size_t ngrants, keeper_result_cb cb, void *arg, struct err *e);

/* Forgets operation id: its callback never runs, its late answer is ignored. */
void keeper_op_cancel(struct keeper *k, uint64_t id);

/* Sends a message that needs no answer (frame taken) to the worker that is up; when none is,
 * the frame is dropped and 0 returned: a watcher sends its state again to the next worker. */
int keeper_send(struct keeper *k, struct buf *frame, struct err *e);

/* keeper_send with a descriptor along (a copy goes; fd stays the caller's). */
int keeper_send_fd(struct keeper *k, struct buf *frame, int fd, struct err *e);

/* Messages of the worker's the keeper does not handle itself (WMSG_ASK, WMSG_GONE) go to
 * fn(arg, m, e) (m valid for the call); fn returns negative with e set for a message the
 * worker had no business sending: the worker is then ended as for any breach. fn NULL: such
 * messages are breaches. */
void keeper_set_extra(struct keeper *k,
                      int (*fn)(void *arg, const struct ipc_msg *m, struct err *e), void *arg);

/* Another module's own message type from the worker (privsep/listener_proxy.h's WMSG_LOOKUP):
 * such messages go to fn(arg, m, e) as for keeper_set_extra, before it, so that modules do not
 * take the one extra handler from one another. *r is the caller's until removed. */
struct keeper_route {
    uint16_t type;
    int (*fn)(void *arg, const struct ipc_msg *m, struct err *e);
    void *arg;
    struct keeper_route *next; /* the keeper's */
};
void keeper_route_add(struct keeper *k, struct keeper_route *r);
void keeper_route_remove(struct keeper *k, struct keeper_route *r);

/* Called after each worker start, once it has its settings, before queued operations go. */
struct keeper_watch {
    void (*up)(void *arg);
    void *arg;
    struct keeper_watch *next; /* the keeper's */
};
void keeper_watch_add(struct keeper *k, struct keeper_watch *w);
void keeper_watch_remove(struct keeper *k, struct keeper_watch *w);

/* A forced stop: ends the worker now, so that every operation it was sent fails (its callback
 * with no message) from the loop; a new worker starts as after a crash and gets what is queued.
 * Does nothing when no operation is in flight. */
void keeper_abort(struct keeper *k);

/* The worker's pid (0 when none is up) and how many workers were started. */
pid_t keeper_worker_pid(const struct keeper *k);
unsigned keeper_worker_starts(const struct keeper *k);

/* Stops the worker and frees the keeper: operations still registered are dropped without
 * their callbacks; signatures still being made are answered to no one. NULL is ignored. */
void keeper_free(struct keeper *k);

#endif
