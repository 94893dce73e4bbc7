/* keyauth: what answers an ACME challenge, computed from the challenge token and the account
 * key's JWK thumbprint alone: the key authorization (RFC 8555 §8.1), the dns-01 TXT record
 * value (RFC 8555 §8.4) and the tls-alpn-01 acmeIdentifier digest (RFC 8737 §3). Pure
 * functions, below src/acme: whoever provisions an answer (the keeper under privilege
 * separation, which never talks to the CA) computes it without the ACME layer. */
#ifndef ACMED_CRYPTO_KEYAUTH_H
#define ACMED_CRYPTO_KEYAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Length of the tls-alpn-01 digest: SHA-256. */
#define KEYAUTH_TLS_ALPN_DIGEST_LEN 32

/* "token.thumbprint" into *out (caller frees). The token comes from the server and must be
 * non-empty base64url (b64url_valid), as must the thumbprint; otherwise -EINVAL with e set and
 * *out untouched. Returns 0, -EINVAL or -ENOMEM (*out NULL). */
int keyauth_make(const char *token, const char *thumbprint, char **out, struct err *e);

/* The dns-01 TXT record value: base64url(SHA-256(keyauth)), 43 characters. Caller frees;
 * NULL when keyauth is NULL or on allocation failure. */
char *keyauth_dns01_txt(const char *keyauth);

/* The tls-alpn-01 acmeIdentifier extension value, SHA-256(keyauth[0..len)), into out (the
 * certificate carries it as a DER OCTET STRING). */
void keyauth_tls_alpn_digest(const char *keyauth, size_t len,
                             uint8_t out[KEYAUTH_TLS_ALPN_DIGEST_LEN]);

#endif
