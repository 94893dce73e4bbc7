/* worker_engine: the worker's side of the engine operations (privsep/engine_proxy.h).
 *
 * One engine_acme per engine the keeper names (a CA, and the account its requests are signed
 * for), or an engine_mgmt for a central certificate server's URL (mgmt+https://...), all on one
 * HTTP client that trusts the CA bundle the keeper sent. An engine fetches
 * its directory before its first operation (again after each worker start); each operation's
 * outcome goes back as a WMSG_RESULT, bounded as privsep/wmsg_engine.h says. Account-key
 * signatures are asked of the keeper through the remote signer hub. */
#ifndef ACMED_DAEMON_WORKER_ENGINE_H
#define ACMED_DAEMON_WORKER_ENGINE_H

#include <stdbool.h>
#include <uv.h>

#include "privsep/ipc.h"
#include "privsep/remote_signer.h"

struct worker_engines;

struct worker_engines_opts {
    uv_loop_t *loop;
    struct remote_hub *hub; /* borrowed: outlives the set */
    remote_send_fn send;    /* sends a frame to the keeper (takes it) */
    void *send_arg;
};

/* Returns the set, or NULL when out of memory. */
struct worker_engines *worker_engines_new(const struct worker_engines_opts *o);

/* The settings of WMSG_CONFIG: the CA bundle's path (NULL: the system's; copied), plain http to
 * loopback allowed, requests per CA at once (0: no limit). Before any operation. */
int worker_engines_config(struct worker_engines *s, const char *ca_path, bool insecure_http,
                          unsigned max_requests, struct err *e);

/* Handles a decoded WMSG_OP, WMSG_ACCOUNT or WMSG_DROP (m decoded from frame, len bytes, which
 * an operation waiting for its engine's directory keeps a copy of). Returns 0, or negative
 * with e when the message cannot be from a sound keeper (the worker then ends). */
int worker_engines_handle(struct worker_engines *s, const struct ipc_msg *m, const uint8_t *frame,
                          size_t len, struct err *e);

/* Whether an operation is in flight (the CA's answer, or a wait between polls). */
bool worker_engines_busy(const struct worker_engines *s);

/* Stops when nothing is in flight (worker_engines_busy false): the set is freed once the HTTP
 * client has closed. NULL is ignored. */
void worker_engines_free(struct worker_engines *s);

#endif
