/* csr_read: reading a PKCS#10 CSR someone else made (`acmed sign-csr`, `request.csr`, the
 * `acmed serve` endpoint: DESIGN.md §11). The CSR is hostile input.
 *
 * What is accepted:
 * - PEM ("CERTIFICATE REQUEST" or the old "NEW CERTIFICATE REQUEST", exactly one block,
 *   whitespace around it) or DER (one SEQUENCE, nothing after it), at most CSR_READ_MAX bytes;
 * - keys an ACME CA issues for: RSA of 2048 to 4096 bits, ECDSA on P-256 or P-384. Ed25519,
 *   P-521, RSA-PSS and DSA keys are refused: the CA/Browser Forum baseline requirements allow
 *   none of them, so Let's Encrypt and the other public CAs would refuse the finalize anyway;
 * - a self-signature that verifies;
 * - names: the subject CN (at most one, may be absent) and the subjectAltName dNSName and
 *   iPAddress entries. Any other SAN type (an email address, a URI, an otherName...) is
 *   refused, naming it: the CA would refuse the CSR at finalize after its authorizations were
 *   spent. At least one name, at most CSR_READ_MAX_SANS SANs.
 *
 * Names are returned as found, not normalised (src/store/names.h does that a layer up), but
 * each is 1..CSR_NAME_MAX bytes with no NUL or control character, a dNSName plain ASCII and a
 * CN well-formed UTF-8; anything else is refused. */
#ifndef ACMED_CRYPTO_CSR_READ_H
#define ACMED_CRYPTO_CSR_READ_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CSR_READ_MAX 65536     /* bytes of input, PEM or DER */
#define CSR_READ_MAX_SANS 1000 /* subjectAltName entries */
#define CSR_NAME_MAX 255       /* bytes of one name (the DNS limit) */

/* What acmed keeps of a CSR. Every pointer is owned by the struct (csr_info_free); callers
 * read the fields and change none. */
struct csr_info {
    uint8_t *der; /* the CSR exactly as signed, DER: what finalize sends */
    size_t der_len;
    char sha256_hex[65]; /* SHA-256 of der, lowercase hex (the served/ cache key) */
    char key_desc[16];   /* "RSA-2048", "EC-P256", "EC-P384" (for messages) */
    char *cn;            /* the subject CN as found, NULL when the subject has none */
    char **dns;          /* dNSName SANs in the CSR's order, as found (not de-duplicated) */
    size_t ndns;
    char **ips; /* iPAddress SANs in text form (inet_ntop: "192.0.2.7", "2001:db8::7") */
    size_t nips;
    char **names; /* csr_names(): CN then SANs in order, each once */
    size_t nnames;
    uint8_t *spki; /* the DER SubjectPublicKeyInfo (csr_matches_cert compares it) */
    size_t spki_len;
};

/* Reads the CSR in data[0..len) (PEM or DER, see above) and checks it. *out is caller-owned
 * (csr_info_free) and NULL on failure. Returns 0; -EBADMSG when the self-signature does not
 * verify; -EINVAL for anything else wrong with the input (e says what, quoting at most a short
 * sanitised piece of it); -ENOMEM. */
int csr_read(const uint8_t *data, size_t len, struct csr_info **out, struct err *e);

/* The names the CSR asks for: the CN first when there is one, then the dNSName and iPAddress
 * SANs in the CSR's order, each name once (the first spelling kept; compared ignoring ASCII
 * case, so "Example.ORG" and "example.org" are one name, as are "2001:DB8::7" and
 * "2001:db8::7"). The array and strings are borrowed from c; *n is set. */
const char *const *csr_names(const struct csr_info *c, size_t *n);

/* 1 when the certificate (DER) carries the CSR's public key, 0 when it carries another one,
 * negative (-EINVAL with e set) when the certificate cannot be read. */
int csr_matches_cert(const struct csr_info *c, const uint8_t *cert_der, size_t len, struct err *e);

/* Frees c and everything it owns. NULL is ignored. */
void csr_info_free(struct csr_info *c);

#endif
