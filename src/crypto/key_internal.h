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

#endif
