/* x509_internal: helpers shared by the sources of the x509 module (x509.c, x509_chain.c);
 * never included from another layer. */
#ifndef ACMED_CRYPTO_X509_INTERNAL_H
#define ACMED_CRYPTO_X509_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/x509.h>

#include "util/err.h"

/* Imports one DER certificate into a new *crt (the caller deinits it); *crt is NULL on
 * failure. Returns 0, -EINVAL or -ENOMEM. */
int x509_import_der(const uint8_t *der, size_t len, gnutls_x509_crt_t *crt, struct err *e);

/* The first common name of the certificate's subject (issuer when `issuer` is set) as a new
 * string in *cn (caller frees), NULL when the DN has none. Returns 0 or negative. */
int x509_crt_cn(gnutls_x509_crt_t crt, int issuer, char **cn, struct err *e);

#endif
