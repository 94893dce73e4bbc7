/* tls_alpn: the tls-alpn-01 responder (RFC 8737), a TLS listener on the libuv loop.
 *
 * It answers only handshakes that offer the ALPN protocol "acme-tls/1" and name, by SNI, a
 * DNS name registered with tls_alpn_add(); the certificate it presents is self-signed, carries
 * that one name as its only subjectAltName and the critical id-pe-acmeIdentifier extension
 * (1.3.6.1.5.5.7.1.31) holding SHA-256 of the key authorization. Everything else is refused
 * with a TLS alert, as is any client that cannot speak TLS 1.2 or 1.3 with an AEAD cipher.
 * Once a handshake completes the connection is shut down: the certificate is the whole
 * answer; each one is logged at debug level only. Nothing blocks the loop.
 *
 * One client holding connections open must not keep the CA's validator out, even from the
 * same address (a NAT, loopback). A connection is idle until the listener has accepted its
 * ClientHello (ALPN acme-tls/1 and a served name). An idle one is closed 3 s after the
 * accept; of the idle connections of one address only the newest 4 are kept, older ones
 * being closed once they have been open 250 ms; and a new connection is never turned away
 * for an idle one: at 256 connections it closes the oldest idle connection of any address
 * (else the oldest one draining after its answer) at once. A connection past its ClientHello
 * is not closed for another; the whole exchange is bounded by 10 s from the accept. The
 * numbers are the defaults of struct conn_guard_limits (net/conn_guard.h). */
#ifndef ACMED_NET_TLS_ALPN_H
#define ACMED_NET_TLS_ALPN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "net/conn_guard.h"
#include "util/err.h"

/* The ALPN protocol name of RFC 8737 §6.2. */
#define TLS_ALPN_PROTOCOL "acme-tls/1"

struct tls_alpn;

/* Binds and listens on each of the n addresses addrs[i] (lens[i] bytes; IPv6 sockets are
 * IPV6_V6ONLY so "[::]" and "0.0.0.0" can both be listed). A failed bind of an address whose
 * required[i] is false is only logged; a failed required one fails the call, as does binding
 * none at all. Generates one fresh ECDSA P-256 key for the listener's validation certificates.
 * On success *out is the listener (close it with tls_alpn_close) and 0 is returned; on failure
 * a negative errno-style code, e says why and *out is NULL (should libuv refuse a socket after
 * others were registered, those are already closing and go with the loop's next turn). */
int tls_alpn_start(uv_loop_t *loop, const struct sockaddr *const *addrs, const socklen_t *lens,
                   const bool *required, size_t n, struct tls_alpn **out, struct err *e);

/* Like tls_alpn_start, over n sockets already listening (privilege separation: the keeper
 * binds, the worker serves). Takes the descriptors (closed on failure too); each must be a
 * listening IPv4 or IPv6 TCP socket (-EINVAL otherwise). */
int tls_alpn_adopt(uv_loop_t *loop, const int *fds, size_t n, struct tls_alpn **out, struct err *e);

/* Serves, for SNI `name` (a DNS name in lowercase ASCII, copied), a self-signed certificate
 * whose only subjectAltName is dNSName=name with the critical acmeIdentifier extension =
 * SHA-256(keyauth[0..keyauth_len)). Replaces an existing entry for the name; connections in
 * the middle of a handshake keep the certificate they chose. Returns 0, -EINVAL for a bad
 * name or empty key authorization, -ENOMEM, or -EIO when the certificate cannot be made. */
int tls_alpn_add(struct tls_alpn *t, const char *name, const char *keyauth, size_t keyauth_len,
                 struct err *e);

/* Stops serving `name`; unknown names are ignored. */
void tls_alpn_remove(struct tls_alpn *t, const char *name);

/* The number of names currently served. */
size_t tls_alpn_count(const struct tls_alpn *t);

/* The local port of the i-th address given to tls_alpn_start (useful after binding port 0),
 * or a negative code when i is out of range or that address could not be bound. */
int tls_alpn_bound_port(const struct tls_alpn *t, size_t i);

/* Replaces the connection caps and deadlines (lim borrowed; NULL or a 0 field: the default);
 * for tests. The caps apply at once, the deadlines to connections accepted from now on. */
void tls_alpn_set_limits(struct tls_alpn *t, const struct conn_guard_limits *lim);

/* Closes the listening sockets and every open connection, then frees t (and the key)
 * once libuv has closed all handles, and only then calls done(arg) (which may be NULL) from
 * the loop. t must not be used after this call. */
void tls_alpn_close(struct tls_alpn *t, void (*done)(void *arg), void *arg);

#endif
