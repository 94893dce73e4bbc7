/* signer_conn: one connection to an account-key signer, the transport under
 * signer/signer_client.h: a UNIX socket, or a command spawned with its stdin/stdout as the
 * channel (no shell; its stderr drained and logged at debug level, sanitised).
 *
 * It cuts what it reads into CRLF lines of at most SIGNER_LINE_MAX bytes
 * (signer/signer_proto.h) and hands each to a callback; the end of the connection (EOF, an
 * error, a bare LF, an oversized line, a failed write) is reported once to another. Nothing
 * of the protocol's meaning lives here. */
#ifndef ACMED_SIGNER_SIGNER_CONN_H
#define ACMED_SIGNER_SIGNER_CONN_H

#include <stddef.h>
#include <uv.h>

#include "util/err.h"

/* One line, CRLF removed; borrowed for the call. */
typedef void (*signer_conn_line_cb)(void *arg, const char *line, size_t len);

/* The connection is over: rc is UV_EOF when the peer closed it cleanly, else the error (e
 * says what, naming the signer). No callback follows; the owner still calls
 * signer_conn_close. */
typedef void (*signer_conn_end_cb)(void *arg, int rc, const struct err *e);

struct signer_conn_cbs {
    signer_conn_line_cb line;
    signer_conn_end_cb end;
    void *arg;
};

struct signer_conn;

/* Connects to the socket at `path`, or spawns `argv` (exactly one of them non-NULL; both
 * borrowed for the call). `name` (borrowed: it must outlive the connection) names the signer
 * in messages. Callbacks run on the loop, never inside this call. Returns 0 with *out set
 * (close it with signer_conn_close), or negative with e set (e.g. the command cannot run). */
int signer_conn_open(uv_loop_t *loop, const char *path, char *const *argv, const char *name,
                     const struct signer_conn_cbs *cbs, struct signer_conn **out, struct err *e);

/* Queues `len` bytes (copied) for the signer. A failed write is reported through the end
 * callback. Returns 0 or negative (-ENOMEM, or the connection has ended). */
int signer_conn_write(struct signer_conn *c, const char *data, size_t len, struct err *e);

/* Stops every callback at once, closes the handles (a command still running gets SIGTERM)
 * and frees c once they are closed. May be called from inside c's callbacks. NULL is
 * ignored. */
void signer_conn_close(struct signer_conn *c);

#endif
