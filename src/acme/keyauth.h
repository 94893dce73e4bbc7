/* keyauth: key authorizations (RFC 8555 §8.1) and the dns-01 TXT record value (§8.4). */
#ifndef ACMED_ACME_KEYAUTH_H
#define ACMED_ACME_KEYAUTH_H

#include "util/err.h"

/* "token.thumbprint" into *out (caller frees). The token comes from the server and must be
 * non-empty base64url (b64url_valid), as must the thumbprint; otherwise -EINVAL with e set.
 * Returns 0, -EINVAL or -ENOMEM. */
int acme_key_authorization(const char *token, const char *thumbprint, char **out, struct err *e);

/* The dns-01 TXT record value: base64url(SHA-256(keyauth)), 43 characters. Caller frees;
 * NULL when keyauth is NULL or on allocation failure. */
char *acme_dns01_txt(const char *keyauth);

#endif
