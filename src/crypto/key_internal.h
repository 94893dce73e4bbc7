/* key_internal: the inside of struct ckey, shared only by the sources in src/crypto (never
 * included from another layer). Both halves are owned by the ckey and released by key_free. */
#ifndef ACMED_CRYPTO_KEY_INTERNAL_H
#define ACMED_CRYPTO_KEY_INTERNAL_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "crypto/key.h"

struct ckey {
    gnutls_privkey_t priv;
    gnutls_pubkey_t pub;
    enum key_type type;
    int size; /* ECDSA: 256/384/521; RSA: modulus bits */
};

/* Wraps a freshly imported or generated private key into a ckey (*out, caller-owned). Takes
 * ownership of *privp (set to NULL) whatever happens. Checks that GnuTLS holds a key we
 * support (RSA 2048..4096 bits or one of our curves) whose public half matches the private
 * one, so a bad file or JWK is refused here rather than producing signatures nobody can
 * verify. Returns 0, or negative with e set and *out NULL. */
int key_adopt(gnutls_privkey_t *privp, struct ckey **out, struct err *e);

#endif
