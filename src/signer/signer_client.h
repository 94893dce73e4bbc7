/* signer_client: an account-key signer reached over the signer protocol
 * (signer/signer_proto.h), on a libuv loop, behind the asynchronous signer interface of
 * crypto/jws.h.
 *
 * The signer is a UNIX socket (`unix:PATH`: lacme-accountd --socket, `acmed signer --socket`)
 * or a command spawned per connection that speaks the protocol on its stdin/stdout
 * (`ssh -T host acmed signer --stdio`; no shell is involved; its stderr is drained and logged
 * at debug level, sanitised). One connection at a time, one request in flight, the others
 * wait in FIFO order. The reference signer closes the connection to refuse a request: the
 * request in flight then fails with an error naming the signer and "refused", and the ones
 * queued behind it go again on a fresh connection. Each request has a timeout. A connection
 * idle for a while is closed (lacme-accountd serves one connection at a time, and another
 * client may be waiting). The first greeting gives the signer's alg, key thumbprint, kid and
 * public JWK; a later connection announcing another key fails its requests.
 *
 * Callbacks run on the loop, never inside the call that queued them. */
#ifndef ACMED_SIGNER_SIGNER_CLIENT_H
#define ACMED_SIGNER_SIGNER_CLIENT_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "crypto/jws.h"
#include "util/err.h"

#define SIGNER_CLIENT_TIMEOUT_MS 30000 /* per request, connection and greeting included */
#define SIGNER_CLIENT_IDLE_MS 5000     /* an idle connection is closed after this */

struct signer_client_opts {
    const char *socket_path; /* a UNIX socket, or NULL with argv */
    char *const *argv;       /* a command (argv[0] looked up in PATH), NULL-terminated */
    const char *name;        /* for messages, e.g. "unix:/run/S.signer"; NULL: derived */
    uint64_t timeout_ms;     /* 0: SIGNER_CLIENT_TIMEOUT_MS */
    uint64_t idle_ms;        /* 0: SIGNER_CLIENT_IDLE_MS */
};

struct signer_client;

/* Creates a client on `loop`; does no I/O yet. opts and what it points to are copied.
 * *out is caller-owned (signer_client_close). Returns 0 or negative (-EINVAL: neither or
 * both of socket_path and argv, or a socket path too long for sockaddr_un). */
int signer_client_new(uv_loop_t *loop, const struct signer_client_opts *opts,
                      struct signer_client **out, struct err *e);

/* Called when a connection has been made and its greeting checked (rc 0; the alg, JWK and
 * kid below are known from then on), or with the error that prevented it. */
typedef void (*signer_client_cb)(void *arg, int rc, const struct err *e);

/* Queues a connection check behind any request queued before it: cb runs once a connection
 * is up with a valid greeting (a live one counts), or with the error. Returns 0 or -ENOMEM;
 * cb is called exactly once (never inside this call) when 0 was returned. */
int signer_client_connect(struct signer_client *sc, signer_client_cb cb, void *arg, struct err *e);

/* What the first greeting said, NULL before it: the JWS alg, the RFC 7638 thumbprint of the
 * key, the kid (NULL if the signer gave none) and the public JWK (NULL when the signer sent
 * {} with a kid). Borrowed; valid until signer_client_close. */
const char *signer_client_alg(const struct signer_client *sc);
const char *signer_client_thumbprint(const struct signer_client *sc);
const char *signer_client_kid(const struct signer_client *sc);
json_t *signer_client_jwk(const struct signer_client *sc);

/* How many connections sc has opened (spawned commands included) so far. */
unsigned signer_client_connections(const struct signer_client *sc);

/* The signer's name, as in its messages. Borrowed. */
const char *signer_client_name(const struct signer_client *sc);

/* Fills *out with the signer interface of sc (crypto/jws.h): its sign queues a request
 * (the data must be a JWS signing input, "<b64url header>.<b64url payload>"), its jwk gives
 * the greeting's JWK. Needs a successful connection first. Returns 0, or -ENOTCONN before
 * one. out stays valid until signer_client_close. */
int signer_client_signer(struct signer_client *sc, struct signer *out, struct err *e);

/* Queues one signature of `len` bytes (a JWS signing input, copied). Same contract as
 * signer->sign, except that cb never runs inside this call. Returns 0, -EMSGSIZE for an
 * input beyond the protocol's line limit, or -ENOMEM. */
int signer_client_sign(struct signer_client *sc, const uint8_t *data, size_t len, signer_cb cb,
                       void *arg, struct err *e);

/* Closes the connection, kills a spawned command still running, calls the callback of every
 * request and connection check still pending with -ECANCELED, and frees sc once its handles
 * are closed (the loop must run for that). May be called from inside one of sc's callbacks.
 * NULL is ignored. */
void signer_client_close(struct signer_client *sc);

#endif
