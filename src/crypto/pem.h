/* pem: splitting a PEM certificate chain (RFC 8555 §11.4: only CERTIFICATE blocks), and
 * encoding DER as PEM. */
#ifndef ACMED_CRYPTO_PEM_H
#define ACMED_CRYPTO_PEM_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct der_blob {
    uint8_t *der;
    size_t len;
};

struct pem_chain {
    struct der_blob *certs; /* leaf first, as the CA sent them */
    size_t n;
};

/* Splits `pem` into DER certificates. Refuses (-EINVAL, naming the block) any block that is
 * not "CERTIFICATE" (a PRIVATE KEY block above all), bad base64, an unterminated block,
 * non-whitespace text outside blocks, and an input with no certificate. The chain is owned
 * by the caller (pem_chain_clear). Returns 0 or negative. */
int pem_split_chain(const char *pem, size_t len, struct pem_chain *out, struct err *e);

/* Frees the certificates of chain and leaves it empty (the struct itself is the caller's).
 * chain may be NULL. */
void pem_chain_clear(struct pem_chain *chain);

/* Encodes one DER certificate as a PEM "CERTIFICATE" block with 64-column lines and a final
 * newline. Caller frees; NULL on allocation failure. */
char *pem_encode_cert(const uint8_t *der, size_t len);

/* Encodes DER bytes as one PEM block labelled `label` ("CERTIFICATE REQUEST"...), 64-column
 * lines and a final newline. Caller frees; NULL on allocation failure. */
char *pem_encode(const char *label, const uint8_t *der, size_t len);

#endif
