/* san: walking a subjectAltName extension (RFC 5280 §4.2.1.6), for the certificates acmed
 * reads (crypto/x509.h) and the CSRs it is given (crypto/csr_read.h). */
#ifndef ACMED_CRYPTO_SAN_H
#define ACMED_CRYPTO_SAN_H

#include <gnutls/gnutls.h>
#include <gnutls/x509-ext.h>

#include "util/err.h"

/* One entry: its GnuTLS type (GNUTLS_SAN_DNSNAME, GNUTLS_SAN_IPADDRESS...) and value, valid
 * for the call. Returns 0 to go on, or negative with e set to stop the walk. */
typedef int (*san_fn)(void *arg, unsigned type, const gnutls_datum_t *san, struct err *e);

/* Decodes the extension's DER value ext and calls fn for each entry in order; more than max
 * entries (0: no limit) is an error. Messages start with `what` ("x509", "csr"). Returns 0, or
 * -EINVAL for an extension that does not decode, or fn's error. */
int san_walk(const gnutls_datum_t *ext, const char *what, unsigned max, san_fn fn, void *arg,
             struct err *e);

#endif
