/* jwk: JSON Web Keys (RFC 7517) of public keys and their RFC 7638 thumbprints. */
#ifndef ACMED_CRYPTO_JWK_H
#define ACMED_CRYPTO_JWK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "util/err.h"

/* The public JWK of a key: EC {"crv","kty":"EC","x","y"} (coordinates zero-padded to the
 * curve size) or RSA {"e","kty":"RSA","n"} (no leading zero bytes). New reference, or NULL
 * with e set. */
json_t *jwk_public(const struct ckey *key, struct err *e);

/* RFC 7638 thumbprint of a JWK object: SHA-256 over the required members in lexicographic
 * order without whitespace, base64url encoded. *out is caller-owned. Returns 0 or negative
 * (-EINVAL for an unsupported kty or missing member). */
int jwk_thumbprint(json_t *jwk, char **out, struct err *e);

/* Thumbprint of a key's public JWK. Returns 0 or negative. */
int jwk_key_thumbprint(const struct ckey *key, char **out, struct err *e);

/* Decodes the base64url string member `name` of a JWK object. *out (caller frees; it may be
 * a secret such as "d": zero it first) and *len are set. Returns 0, -ENOENT when the member
 * is missing, -EINVAL when it is not a valid base64url string. (Shared with jws.c, which
 * imports public JWKs.) */
int jwk_get_bytes(json_t *jwk, const char *name, uint8_t **out, size_t *len, struct err *e);

/* Builds a key from a JWK (json text) holding private members: EC {crv,x,y,d} or RSA
 * {n,e,d,p,q,dp,dq,qi}. Used for published test vectors. *out is caller-owned (key_free).
 * Returns 0, or negative with e set and *out NULL. */
int jwk_to_key(const char *jwk_json, struct ckey **out, struct err *e);

#endif
