/* csr: PKCS#10 certificate signing requests for ACME finalize (RFC 8555 §7.4). */
#ifndef ACMED_CRYPTO_CSR_H
#define ACMED_CRYPTO_CSR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "util/err.h"

/* Builds a DER CSR signed by `key` with every name as a subjectAltName: names that parse as
 * IPv4/IPv6 addresses become IP SANs, others DNS SANs (already validated and normalised by
 * the caller). The subject CN is the first DNS name when it fits in 64 characters, else
 * empty. `must_staple` adds the TLS feature extension (status_request). *der is caller-owned.
 * Returns 0 or negative. */
int csr_create(const struct ckey *key, const char *const *names, size_t n, bool must_staple,
               uint8_t **der, size_t *len, struct err *e);

#endif
