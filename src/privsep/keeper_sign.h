/* keeper_sign: the keeper's answer to a worker's request for an account-key signature.
 *
 * The worker cannot say which operation a signature is for in a way the keeper could trust,
 * so the keeper does not ask: it decodes the signing input (signer/signer_proto.h) and signs
 * it only if one of the operations it has in flight for that account allows exactly that
 * request (privsep/sign_guard.h). A refusal is logged once with what was asked. */
#ifndef ACMED_PRIVSEP_KEEPER_SIGN_H
#define ACMED_PRIVSEP_KEEPER_SIGN_H

#include <stddef.h>

#include "crypto/jws.h"
#include "privsep/sign_guard.h"
#include "util/err.h"

/* One allowance: what an operation in flight may have signed, and the key that signs it (the
 * account's, or a certificate's for a revocation signed with that certificate's key). */
struct keeper_grant {
    const struct sign_guard *guard;
    const struct signer *signer;
};

/* Checks `input` (a JWS signing input, "<b64url header>.<b64url payload>", len bytes) against
 * grants[0..n) and, when one allows it, starts signing it with that grant's signer: returns 0
 * and cb runs once (possibly before the return, as signer_sign says). Returns -EPERM with e
 * when no grant allows it (or n is 0), -EPROTO when the input is malformed, or the signer's
 * error; cb then never runs. The grants are borrowed for the call. */
int keeper_sign_start(const struct keeper_grant *grants, size_t n, const char *input, size_t len,
                      signer_cb cb, void *arg, struct err *e);

#endif
