/* b64: base64url without padding (RFC 7515 §2) and acmetool's lowercase unpadded base32. */
#ifndef ACMED_CRYPTO_B64_H
#define ACMED_CRYPTO_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encodes n bytes as base64url without '=' padding. Returns a NUL-terminated string the
 * caller frees, or NULL on allocation failure. n == 0 gives "". */
char *b64url_encode(const void *data, size_t n);

/* Decodes base64url without padding. Rejects '=' padding, characters outside [A-Za-z0-9_-],
 * a length of 1 mod 4 and non-zero trailing bits. *out (caller frees, NUL-terminated for
 * convenience) and *outlen are set on success. Returns 0, -EINVAL or -ENOMEM. */
int b64url_decode(const char *s, size_t len, uint8_t **out, size_t *outlen);

/* True when s is non-empty and made only of base64url characters (no padding). This is the
 * check applied to ACME tokens before they reach a path or a command. */
bool b64url_valid(const char *s);

/* Encodes n bytes as lowercase RFC 4648 base32 without padding into out (at least
 * (n*8+4)/5 + 1 bytes). Returns out. */
char *base32_lower(const void *data, size_t n, char *out);

/* The 52-character id acmetool uses: lowercase unpadded base32 of SHA-256(data).
 * out must hold CRYPTO_ID_LEN + 1 bytes. Returns out. */
#define CRYPTO_ID_LEN 52
char *crypto_sha256_id(const void *data, size_t n, char *out);

/* SHA-256 of data into out[32]. */
void crypto_sha256(const void *data, size_t n, uint8_t out[32]);

#endif
