/* key: private keys (ECDSA P-256/P-384/P-521, RSA 2048..4096): generate, load, save, identify.
 *
 * The key object hides GnuTLS from every other layer. Saved keys are PEM in the traditional
 * formats acmetool writes ("EC PRIVATE KEY", "RSA PRIVATE KEY"); loading also accepts PKCS#8. */
#ifndef ACMED_CRYPTO_KEY_H
#define ACMED_CRYPTO_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/err.h"

enum key_type { KEY_ECDSA = 1, KEY_RSA = 2 };

struct key_spec {
    enum key_type type;
    int size; /* ECDSA: 256, 384 or 521 (the curve); RSA: modulus bits, 2048..4096 */
};

struct ckey; /* opaque: private key plus its public half */

/* Validates a spec (supported type and size). Returns 0 or -EINVAL with a message. */
int key_spec_check(const struct key_spec *spec, struct err *e);

/* Generates a key synchronously (slow for RSA: use key_generate_async on the loop).
 * *out is owned by the caller (key_free). Returns 0 or negative. */
int key_generate(const struct key_spec *spec, struct ckey **out, struct err *e);

/* Called on the loop thread when generation finishes: rc 0 and key owned by the callee, or
 * rc < 0, key NULL and e describing the failure. */
typedef void (*key_gen_cb)(void *arg, int rc, struct ckey *key, const struct err *e);

/* Generates a key on the libuv thread pool and calls cb on the loop thread. Returns 0 when
 * queued (cb will be called exactly once), negative otherwise (cb is never called). */
int key_generate_async(uv_loop_t *loop, const struct key_spec *spec, key_gen_cb cb, void *arg);

/* Parses a PEM private key (EC, RSA or PKCS#8, unencrypted). Returns 0 or negative. */
int key_from_pem(const char *pem, size_t len, struct ckey **out, struct err *e);

/* Exports the private key as PEM. *pem (caller frees; contains a secret: zero it before
 * freeing, see key_pem_free) and *len are set. Returns 0 or negative. */
int key_to_pem(const struct ckey *key, char **pem, size_t *len, struct err *e);

/* Zeroes and frees a PEM buffer from key_to_pem. NULL is ignored. */
void key_pem_free(char *pem, size_t len);

/* DER SubjectPublicKeyInfo. *der is caller-owned. Returns 0 or negative. */
int key_spki_der(const struct ckey *key, uint8_t **der, size_t *len, struct err *e);

/* The key id: lowercase unpadded base32 of SHA-256 of the DER SPKI (52 chars).
 * out must hold CRYPTO_ID_LEN + 1 bytes. Returns 0 or negative. */
int key_id(const struct ckey *key, char *out, struct err *e);

enum key_type key_get_type(const struct ckey *key);
/* ECDSA: curve size (256/384/521); RSA: modulus bits. */
int key_get_size(const struct ckey *key);

/* The JWS algorithm for this key: "ES256", "ES384", "ES512" or "RS256". Static string. */
const char *key_jws_alg(const struct ckey *key);

/* Signs `len` bytes with the key's JWS algorithm (key_jws_alg): raw r||s, each half left-padded
 * to the curve size, for ECDSA; PKCS#1 v1.5 with SHA-256 for RSA. *sig is caller-owned.
 * Returns 0 or negative. (Added for jws.c, which cannot see inside struct ckey.) */
int key_sign(const struct ckey *key, const uint8_t *data, size_t len, uint8_t **sig, size_t *siglen,
             struct err *e);

void key_free(struct ckey *key);

#endif
