/* crl_reason: the revocation reason codes of X.509 (RFC 5280 §5.3.1, CRLReason), as a name
 * or a number, for a revocation request (RFC 8555 §7.6 carries the code). */
#ifndef ACMED_CRYPTO_CRL_REASON_H
#define ACMED_CRYPTO_CRL_REASON_H

/* The reasons that have a name here: those an ACME server accepts from a subscriber. The
 * other codes of RFC 5280 (2, 3, 6, 8, 9, 10; 7 is unused) are taken as numbers. */
enum crl_reason {
    CRL_REASON_UNSPECIFIED = 0,
    CRL_REASON_KEY_COMPROMISE = 1,
    CRL_REASON_SUPERSEDED = 4,
    CRL_REASON_CESSATION_OF_OPERATION = 5,
};

/* Parses a reason name ("keyCompromise", case-insensitive) or a code 0..10 other than 7 in
 * plain decimal digits into *out (untouched on failure). Returns 0, or -EINVAL when s is
 * NULL, empty or neither. */
int crl_reason_parse(const char *s, int *out);

#endif
