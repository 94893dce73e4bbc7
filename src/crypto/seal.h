/* seal: AES-256-GCM sealing of the values acmed stores in etcd in fleet mode (DESIGN.md §12).
 *
 * Every value under the cluster's prefix is sealed with the 32 raw bytes of the secret-file
 * (seal_key.h), so etcd, its snapshots and its operators never see a private key in clear and
 * cannot forge or alter anything a node reads back. A sealed value is
 *
 *     version (1 byte, SEAL_VERSION) || nonce (12 bytes) || ciphertext || tag (16 bytes)
 *
 * with a fresh random nonce per value (getrandom through util/fsio.h) and the etcd key name
 * (the whole key, the cluster's prefix included) as GCM's associated data, so a value cannot be
 * moved to another key, nor to another cluster sharing the etcd cluster and the secret. Random
 * 96-bit nonces stay safe for far more values than a cluster ever writes under one secret (NIST
 * SP 800-38D's limit of 2^32). The version byte is not part of the associated data: only
 * SEAL_VERSION is accepted, and a later format must bind its own version (in its associated
 * data or key).
 *
 * Sealing does not stop someone who can write to etcd from putting back an older value of the
 * same key (a replay): what needs freshness must carry it in its plaintext (a counter, the
 * lock's revision) and be checked by its reader.
 *
 * Pure functions over nettle, kept here because only src/crypto may include nettle. */
#ifndef ACMED_CRYPTO_SEAL_H
#define ACMED_CRYPTO_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SEAL_KEY_LEN 32
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
/* The format byte every sealed value starts with. */
#define SEAL_VERSION 1
/* How many bytes a sealed value has beyond its plaintext. */
#define SEAL_OVERHEAD (1 + SEAL_NONCE_LEN + SEAL_TAG_LEN)

/* Seals pt[0..ptlen) under key with ad[0..adlen) (the etcd key name) as associated data and a
 * fresh random nonce. *out (caller frees with free(); it holds no secret) gets ptlen +
 * SEAL_OVERHEAD bytes, *outlen their number. pt and ad may be NULL when their length is 0.
 * Returns 0, or negative with e set (-ENOMEM, -EOVERFLOW, or the failure of getrandom). */
int seal(const uint8_t key[SEAL_KEY_LEN], const char *ad, size_t adlen, const uint8_t *pt,
         size_t ptlen, uint8_t **out, size_t *outlen, struct err *e);

/* Opens what seal() made: checks the version, the length and the tag under key and ad. On
 * success *pt (caller frees with seal_free_secret(*pt, *ptlen)) holds the *ptlen bytes of
 * plaintext followed by a NUL that is not counted, so text values can be used as strings.
 * Returns 0; -EBADMSG with e naming the etcd key (ad, sanitised) and saying why when the value
 * is not one this key sealed for this ad (another secret-file, another etcd key, an altered,
 * truncated or unknown-format value); -ENOMEM. Nothing is returned for a refused value: the
 * unauthenticated plaintext is wiped. Never puts key or plaintext bytes in e. */
int seal_open(const uint8_t key[SEAL_KEY_LEN], const char *ad, size_t adlen, const uint8_t *in,
              size_t inlen, uint8_t **pt, size_t *ptlen, struct err *e);

/* Zeroes len bytes at p (explicit_bzero: not optimised away), then frees it. For what
 * seal_open returns and any other buffer that held a secret. p may be NULL. */
void seal_free_secret(void *p, size_t len);

/* seal() with the given nonce instead of a random one. For the known-answer tests only
 * (tests/unit/test_seal.c): reusing a nonce under one key gives the key's GHASH key away, so
 * no other caller may use it. */
int seal_with_nonce(const uint8_t key[SEAL_KEY_LEN], const uint8_t nonce[SEAL_NONCE_LEN],
                    const char *ad, size_t adlen, const uint8_t *pt, size_t ptlen, uint8_t **out,
                    size_t *outlen, struct err *e);

#endif
