/* mac: HMAC-SHA256 and a constant-time comparison, for the certificate server's client rules
 * (DESIGN.md §11: the HMAC of a CSR under a shared key). Pure functions over nettle, kept here
 * because only src/crypto may include nettle. */
#ifndef ACMED_CRYPTO_MAC_H
#define ACMED_CRYPTO_MAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of an HMAC-SHA256 value. */
#define MAC_SHA256_LEN 32

/* HMAC-SHA256(key[0..klen), data[0..len)) into out. key and data are borrowed; either may be
 * empty (NULL with length 0). The context on the stack is zeroed before returning. */
void mac_hmac_sha256(const uint8_t *key, size_t klen, const uint8_t *data, size_t len,
                     uint8_t out[MAC_SHA256_LEN]);

/* How many of a key file's len bytes are the key: all but one trailing newline, as
 * acme-mgmtserver's clients take it for `openssl dgst -hmac` (DESIGN.md §11). */
size_t mac_key_len(const uint8_t *bytes, size_t len);

/* Lowercase hex of an HMAC-SHA256 value into out (2 * MAC_SHA256_LEN + 1 bytes, with its NUL). */
void mac_hex(const uint8_t mac[MAC_SHA256_LEN], char out[2 * MAC_SHA256_LEN + 1]);

/* True when a[0..n) equals b[0..n), in a time that depends on n only. */
bool mac_equal(const void *a, const void *b, size_t n);

#endif
