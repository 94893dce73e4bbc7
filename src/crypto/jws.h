/* jws: flattened JWS JSON serialization (RFC 7515 §7.2.2) produced through a signer.
 *
 * A signer is an interface (`sign(bytes) -> signature`), so the key may later live in
 * another process or a remote signing service without touching the protocol code. */
#ifndef ACMED_CRYPTO_JWS_H
#define ACMED_CRYPTO_JWS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "util/err.h"

struct signer {
    /* JWS "alg" value: "ES256", "ES384", "ES512", "RS256" or "HS256". */
    const char *alg;
    /* Returns the public JWK as a new reference, or NULL (HMAC signers have none). */
    json_t *(*jwk)(void *ctx, struct err *e);
    /* Signs `len` bytes; *sig (caller frees) is the JWS signature: raw r||s for ECDSA, PKCS#1
     * v1.5 for RS256, the MAC for HS256. Returns 0 or negative. */
    int (*sign)(void *ctx, const uint8_t *data, size_t len, uint8_t **sig, size_t *siglen,
                struct err *e);
    void *ctx;
};

/* A signer backed by a local key. The key is borrowed and must outlive the signer. */
void jws_signer_from_key(struct ckey *key, struct signer *out);

/* An HS256 signer over a MAC key (used for External Account Binding). The key bytes are
 * borrowed and must outlive the signer. */
struct hmac_key {
    const uint8_t *key;
    size_t len;
};
void jws_signer_hmac(struct hmac_key *key, struct signer *out);

/* Signs `payload` (may be "" for POST-as-GET) under the protected header `protected_hdr`
 * (borrowed; "alg" is set from the signer, other members are kept as given). *out is the
 * flattened JWS JSON text {"protected","payload","signature"}, caller-owned. Returns 0 or
 * negative. */
int jws_sign(const struct signer *s, json_t *protected_hdr, const char *payload, char **out,
             struct err *e);

/* The ACME form (RFC 8555 §6.2): protected header {alg, nonce, url} plus "kid" when kid is
 * non-NULL, else "jwk" with the signer's public key. nonce may be NULL (EAB inner JWS has
 * none). Returns 0 or negative; *out caller-owned. */
int jws_sign_acme(const struct signer *s, const char *kid, const char *nonce, const char *url,
                  const char *payload, char **out, struct err *e);

/* Verifies a signature over `input` with the public key in `jwk` (EC or RSA) for `alg`.
 * ECDSA signatures are raw r||s. Returns 0 when valid, -EBADMSG when not, other negative
 * codes on malformed input. */
int jws_verify(json_t *jwk, const char *alg, const uint8_t *input, size_t inlen, const uint8_t *sig,
               size_t siglen, struct err *e);

/* Verifies a flattened JWS JSON text against `jwk`. Returns 0 or negative as above. */
int jws_verify_flattened(const char *jws_json, json_t *jwk, struct err *e);

#endif
