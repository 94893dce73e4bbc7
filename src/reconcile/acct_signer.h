/* acct_signer: the signer of a target whose account key lives elsewhere
 * (request.account.signer, DESIGN.md §10): its name as operators read it, a client for it,
 * and the store's record of the account it holds. Private to src/reconcile. */
#ifndef ACMED_RECONCILE_ACCT_SIGNER_H
#define ACMED_RECONCILE_ACCT_SIGNER_H

#include <uv.h>

#include "signer/signer_client.h"
#include "store/store.h"
#include "store/target.h"

/* A client (not yet connected) for t's signer on loop. Returns 0 with *out
 * (signer_client_close), or negative with e. */
int acct_signer_client(uv_loop_t *loop, const struct target *t, struct signer_client **out,
                       struct err *e);

/* Describes, in *a (cleared first; store_account_clear), the account that the connected
 * client's key stands for: signer `name`, the key's thumbprint and public JWK, and, when the
 * signer gave a kid, that kid as the account URL. Returns 0 or negative (-ENOTCONN before a
 * greeting). */
int acct_signer_account(const struct signer_client *sc, const char *name, struct store_account *a,
                        struct err *e);

#endif
