/* nonce_pool: the Replay-Nonce values (RFC 8555 §7.2) a client holds for its next POSTs.
 *
 * Pure bookkeeping, no I/O: values are checked (base64url, at most NONCE_POOL_VALUE_MAX
 * characters) before they are kept, the newest is used first, and a full pool drops its
 * oldest value, the likeliest to have expired at the server. */
#ifndef ACMED_ACME_NONCE_POOL_H
#define ACMED_ACME_NONCE_POOL_H

#include <stdbool.h>
#include <stddef.h>

#define NONCE_POOL_MAX 32
#define NONCE_POOL_VALUE_MAX 256

struct nonce_pool {
    char *nonces[NONCE_POOL_MAX]; /* newest last */
    size_t n;
};

/* Keeps a copy of `nonce` if it is well-formed. Returns true if kept (false for NULL, a
 * malformed value or no memory). */
bool nonce_pool_offer(struct nonce_pool *p, const char *nonce);

/* The newest nonce, removed from the pool (caller frees), or NULL when the pool is empty. */
char *nonce_pool_take(struct nonce_pool *p);

/* Frees every nonce held; the pool is empty and usable afterwards. */
void nonce_pool_clear(struct nonce_pool *p);

#endif
