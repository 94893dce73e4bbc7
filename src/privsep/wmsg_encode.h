/* wmsg_encode: the worker's writing of engine results (privsep/wmsg_engine.h reads them).
 *
 * The worker writes only what the channel's bounds allow: text longer than its field's bound
 * is cut at a character boundary and control characters the channel refuses become '?'; a
 * list or URL that does not fit fails the message (ipc_out_end then says -E2BIG) rather than
 * arriving changed. So a hostile CA cannot make the worker break the channel. */
#ifndef ACMED_PRIVSEP_WMSG_ENCODE_H
#define ACMED_PRIVSEP_WMSG_ENCODE_H

#include "privsep/ipc.h"
#include "reconcile/engine_types.h"
#include "util/err.h"

/* Appends text s (NULL: nothing) as field tag, cut to max bytes and cleaned as above. */
void wmsg_put_text_max(struct ipc_out *o, uint16_t tag, const char *s, size_t max);

/* Appends an identifier as "dns:<value>" or "ip:<value>". */
void wmsg_put_ident(struct ipc_out *o, uint16_t tag, const struct engine_identifier *id);

/* Appends an operation's outcome to a WMSG_RESULT under construction: RC (rc as a positive
 * errno, 0 for success), ERROR (e's message, when rc < 0), STATUS, RETRY, PROBLEM, LOCATION and
 * the object r holds (r may be NULL). */
void wmsg_put_result(struct ipc_out *o, int rc, const struct engine_result *r, const struct err *e);

/* Appends the directory as field DIRDOC. */
void wmsg_put_directory(struct ipc_out *o, const struct engine_directory *d);

#endif
