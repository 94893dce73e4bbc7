/* nonce_pool: the client's pool of Replay-Nonce values (see nonce_pool.h). */
#include "acme/nonce_pool.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"

bool nonce_pool_offer(struct nonce_pool *p, const char *nonce)
{
    char *copy;

    if (!nonce || strlen(nonce) > NONCE_POOL_VALUE_MAX || !b64url_valid(nonce))
        return false;
    copy = strdup(nonce);
    if (!copy)
        return false;
    if (p->n == NONCE_POOL_MAX) {
        /* Drop the oldest: it is the likeliest to have expired at the server. */
        free(p->nonces[0]);
        memmove(p->nonces, p->nonces + 1, (NONCE_POOL_MAX - 1) * sizeof p->nonces[0]);
        p->n--;
    }
    p->nonces[p->n++] = copy;
    return true;
}

char *nonce_pool_take(struct nonce_pool *p)
{
    if (p->n == 0)
        return NULL;
    return p->nonces[--p->n];
}

void nonce_pool_clear(struct nonce_pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->nonces[i]);
    p->n = 0;
}
