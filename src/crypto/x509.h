/* x509: the facts acmed needs from a certificate, and chain checks. */
#ifndef ACMED_CRYPTO_X509_H
#define ACMED_CRYPTO_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto/key.h"
#include "crypto/pem.h"
#include "util/err.h"

struct x509_info {
    char **dns; /* DNS subjectAltNames, lowercase, as in the certificate */
    size_t ndns;
    char **ips; /* IP subjectAltNames in text form ("127.0.0.1", "::1") */
    size_t nips;
    time_t not_before;
    time_t not_after;
    char *serial_hex; /* lowercase hex, no leading zero bytes stripped beyond DER's */
    uint8_t *serial;  /* DER serial bytes as encoded (for the ARI certID) */
    size_t serial_len;
    uint8_t *aki; /* authority key identifier keyIdentifier, NULL if absent */
    size_t aki_len;
    char *issuer_cn;  /* NULL if absent */
    char *subject_cn; /* NULL if absent */
};

/* Parses a DER certificate. *out is caller-owned (x509_info_free). Returns 0 or negative. */
int x509_parse(const uint8_t *der, size_t len, struct x509_info **out, struct err *e);

void x509_info_free(struct x509_info *info);

/* The ARI certID (RFC 9773 §4.1): base64url(AKI keyIdentifier) "." base64url(serial), both
 * unpadded. `serial` is the content of the certificate's DER INTEGER exactly as encoded,
 * including a leading 0x00 (x509_info.serial). Returns a caller-owned string, or NULL when
 * either input is empty or on allocation failure. */
char *x509_ari_cert_id(const uint8_t *aki, size_t aki_len, const uint8_t *serial,
                       size_t serial_len);

/* 1 when the certificate's public key is the public half of `key`, 0 when not, negative on
 * error. */
int x509_matches_key(const uint8_t *der, size_t len, const struct ckey *key, struct err *e);

/* Verifies chain[0] (leaf) through chain[1..n-1] up to one of the trusted roots in
 * `roots_pem` (PEM, one or more certificates), at time `now`. Returns 0 when it verifies,
 * -EBADMSG with the reason when the chain does not verify, -EINVAL for an empty chain or
 * unusable roots. */
int x509_verify_chain(const struct pem_chain *chain, const char *roots_pem, size_t roots_len,
                      time_t now, struct err *e);

/* Checks a chain as a CA sent it (chain[0] the leaf): each certificate is issued by the next
 * one (name, key identifier, signature by its key), which must be a CA allowed to sign
 * certificates within its path length constraint; every certificate is valid at `now`, a
 * notBefore up to `skew` seconds ahead allowed (clock skew). When `anchors_pem` is not NULL
 * (PEM, one or more certificates) the last certificate must also be one of them or be issued
 * by one, itself valid at `now`; without anchors the top of the chain is taken as it is.
 * Returns 0; -EBADMSG with the reason, naming the certificate by role and position ("the leaf",
 * "chain certificate 2") and subject CN; -EINVAL for an empty chain or anchors holding no
 * certificate. */
int x509_check_chain_links(const struct pem_chain *chain, const char *anchors_pem,
                           size_t anchors_len, time_t now, time_t skew, struct err *e);

/* The system's trust store (GnuTLS's system trust: Debian's ca-certificates) as PEM, for
 * x509_check_chain_links's anchors when a chain must end at a root the system trusts. *pem
 * (NUL-terminated, caller frees) and *len. Returns 0, or negative with e set (-ENOENT when the
 * store holds no certificate). */
int x509_system_anchors(char **pem, size_t *len, struct err *e);

/* The issuer CN of the last certificate of a chain (for preferred-chain selection), or NULL.
 * Caller frees. */
char *x509_chain_top_issuer_cn(const struct pem_chain *chain);

#endif
