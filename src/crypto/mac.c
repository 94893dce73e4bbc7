/* mac: HMAC-SHA256 and constant-time comparison over nettle (see mac.h). */
#include "crypto/mac.h"

#include <string.h>

#include <nettle/hmac.h>
#include <nettle/memops.h>

void mac_hmac_sha256(const uint8_t *key, size_t klen, const uint8_t *data, size_t len,
                     uint8_t out[MAC_SHA256_LEN])
{
    static const uint8_t none[1];
    struct hmac_sha256_ctx ctx;

    /* nettle reads through the pointers even for a zero length: never hand it NULL. */
    hmac_sha256_set_key(&ctx, klen, key ? key : none);
    hmac_sha256_update(&ctx, len, data ? data : none);
    hmac_sha256_digest(&ctx, MAC_SHA256_LEN, out);
    explicit_bzero(&ctx, sizeof ctx);
}

bool mac_equal(const void *a, const void *b, size_t n)
{
    return memeql_sec(a, b, n) != 0;
}

size_t mac_key_len(const uint8_t *bytes, size_t len)
{
    return len > 0 && bytes[len - 1] == '\n' ? len - 1 : len;
}

void mac_hex(const uint8_t mac[MAC_SHA256_LEN], char out[2 * MAC_SHA256_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < MAC_SHA256_LEN; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[2 * MAC_SHA256_LEN] = '\0';
}
