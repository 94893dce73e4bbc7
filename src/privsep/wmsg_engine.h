/* wmsg_engine: the keeper's reading of the engine's plain data (reconcile/engine_types.h) that
 * its worker sends (privsep/wmsg_encode.h writes it).
 *
 * Each operation's outcome is one WMSG_RESULT; the objects in it (problem, account, order,
 * authorization with its challenges, renewal window, directory) travel as nested frames, each
 * decoded against wmsg_objects, so every field, count and size is bounded before the keeper
 * looks at it. Then it checks what no schema can: enumerations in range, times and HTTP
 * statuses plausible, an error code a real errno. */
#ifndef ACMED_PRIVSEP_WMSG_ENGINE_H
#define ACMED_PRIVSEP_WMSG_ENGINE_H

#include <stdbool.h>

#include "privsep/ipc.h"
#include "reconcile/engine_types.h"
#include "util/err.h"

/* Reads identifier idx of tag into *out (out->value caller-owned). Returns 0, or -EPROTO. */
int wmsg_get_ident(const struct ipc_msg *m, uint16_t tag, size_t idx, struct engine_identifier *out,
                   struct err *e);

/* Decodes the outcome of a WMSG_RESULT: *rc (0 or negative), *why (the worker's message when
 * *rc < 0), and *r (caller-owned: engine_result_clear). Returns 0, or -EPROTO (nothing of it
 * to be used; *r cleared) when the message breaks a rule, or -ENOMEM. */
int wmsg_get_result(const struct ipc_msg *m, int *rc, struct err *why, struct engine_result *r,
                    struct err *e);

/* Decodes field DIRDOC into *out (caller-owned: engine_directory_free). Returns 0, -ENOENT
 * when absent, -EPROTO or -ENOMEM. */
int wmsg_get_directory(const struct ipc_msg *m, struct engine_directory **out, struct err *e);

#endif
