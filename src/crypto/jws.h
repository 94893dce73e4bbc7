/* jws: flattened JWS JSON serialization (RFC 7515 §7.2.2) produced through a signer.
 *
 * A signer is an asynchronous interface (`sign(bytes)`, the signature arrives by callback), so
 * the key may live in another process or a remote signing service (signer/signer_client.h)
 * without touching the protocol code, and the loop never blocks on it. */
#ifndef ACMED_CRYPTO_JWS_H
#define ACMED_CRYPTO_JWS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "util/err.h"

/* Delivers one signature: rc 0 with sig/siglen (borrowed for the call: copy what you keep),
 * or rc < 0 with e saying why (a remote signer's refusal names the signer and "refused"). */
typedef void (*signer_cb)(void *arg, int rc, const uint8_t *sig, size_t siglen,
                          const struct err *e);

struct signer {
    /* JWS "alg" value: "ES256", "ES384", "ES512", "RS256" or "HS256". */
    const char *alg;
    /* Returns the public JWK as a new reference, or NULL (HMAC signers have none, nor has a
     * remote signer that only gave a kid). */
    json_t *(*jwk)(void *ctx, struct err *e);
    /* Starts signing `len` bytes (copied before it returns). The signature is the JWS one: raw
     * r||s for ECDSA (RFC 7518 §3.4), PKCS#1 v1.5 for RS256, the MAC for HS256. Returns 0 and
     * then calls cb exactly once, or returns negative and never calls cb. cb MAY run before
     * sign returns (local keys and MACs answer at once; a remote signer answers later from
     * the loop): callers must finish their own bookkeeping before starting, and touch nothing
     * the callback may have released once sign returned 0. */
    int (*sign)(void *ctx, const uint8_t *data, size_t len, signer_cb cb, void *arg, struct err *e);
    void *ctx;
};

/* s->sign, with a check that s is complete. Same contract. */
int signer_sign(const struct signer *s, const uint8_t *data, size_t len, signer_cb cb, void *arg,
                struct err *e);

/* A signer backed by a local key. The key is borrowed and must outlive the signer. */
void jws_signer_from_key(struct ckey *key, struct signer *out);

/* An HS256 signer over a MAC key (used for External Account Binding). The key bytes are
 * borrowed and must outlive the signer. */
struct hmac_key {
    const uint8_t *key;
    size_t len;
};
void jws_signer_hmac(struct hmac_key *key, struct signer *out);

/* Delivers a JWS: rc 0 with the flattened JWS JSON text (borrowed for the call), or rc < 0
 * with e. */
typedef void (*jws_cb)(void *arg, int rc, const char *jws, const struct err *e);

/* Starts signing `payload` (may be "" for POST-as-GET) under the protected header
 * `protected_hdr` (borrowed, copied; "alg" is set from the signer, other members are kept as
 * given). cb gets the flattened JWS JSON text {"protected","payload","signature"}. Returns 0
 * and calls cb exactly once (possibly before returning, as signer->sign), or returns
 * negative and never calls cb. */
int jws_sign_start(const struct signer *s, json_t *protected_hdr, const char *payload, jws_cb cb,
                   void *arg, struct err *e);

/* The ACME form (RFC 8555 §6.2): protected header {alg, nonce, url} plus "kid" when kid is
 * non-NULL, else "jwk" with the signer's public key. nonce may be NULL (the inner JWS of a
 * keyChange and EAB have none). Same contract as jws_sign_start. */
int jws_sign_acme_start(const struct signer *s, const char *kid, const char *nonce, const char *url,
                        const char *payload, jws_cb cb, void *arg, struct err *e);

/* Synchronous forms for signers that answer at once (local keys and MACs: EAB, tests). *out is
 * the flattened JWS JSON text, caller-owned. A signer that has not answered when its sign
 * returns gives -EWOULDBLOCK (its late answer is discarded). Returns 0 or negative. */
int jws_sign(const struct signer *s, json_t *protected_hdr, const char *payload, char **out,
             struct err *e);
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
