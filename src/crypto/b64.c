/* b64: base64url (RFC 4648 §5, unpadded as RFC 7515 §2 requires) and lowercase base32. */
#include "crypto/b64.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/sha2.h>

char *b64url_encode(const void *data, size_t n)
{
    struct base64_encode_ctx ctx;
    size_t cap, len;
    char *out;

    cap = BASE64_ENCODE_LENGTH(n) + BASE64_ENCODE_FINAL_LENGTH + 1;
    out = malloc(cap);
    if (!out)
        return NULL;
    base64url_encode_init(&ctx);
    len = base64_encode_update(&ctx, out, n, data);
    len += base64_encode_final(&ctx, out + len);
    /* nettle pads to a multiple of four; JWS wants no padding at all. */
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    return out;
}

/* The value of a base64url character, or -1 for anything else (including '=' and the '+' and
 * '/' of standard base64, which would mean the sender used the wrong alphabet). */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* A hand-written decoder rather than nettle's: nettle skips whitespace and accepts padding,
 * while JWS (and so ACME) demands exactly one encoding for each byte string. Accepting a
 * second spelling would let two different texts carry the same signature. */
int b64url_decode(const char *s, size_t len, uint8_t **out, size_t *outlen)
{
    uint8_t *buf = NULL;
    uint32_t acc = 0;
    size_t i, n = 0;
    int bits = 0, v;

    *out = NULL;
    *outlen = 0;
    if (len % 4 == 1)
        return -EINVAL;
    buf = malloc(len / 4 * 3 + 3);
    if (!buf)
        return -ENOMEM;
    for (i = 0; i < len; i++) {
        v = b64url_value((unsigned char)s[i]);
        if (v < 0)
            goto bad;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* The bits left over after the last whole byte must be zero, otherwise "Zh" and "Zg"
     * would both decode to "f". */
    if (acc != 0)
        goto bad;
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
bad:
    free(buf);
    return -EINVAL;
}

bool b64url_valid(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (b64url_value((unsigned char)*s) < 0)
            return false;
    }
    return true;
}

char *base32_lower(const void *data, size_t n, char *out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    const uint8_t *p = data;
    uint32_t acc = 0;
    size_t i, o = 0;
    int bits = 0;

    for (i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = alphabet[(acc >> bits) & 31];
        }
        acc &= (1u << bits) - 1;
    }
    /* The final partial group is padded with zero bits on the right, as RFC 4648 says. */
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return out;
}

void crypto_sha256(const void *data, size_t n, uint8_t out[32])
{
    struct sha256_ctx ctx;

    sha256_init(&ctx);
    sha256_update(&ctx, n, data);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

char *crypto_sha256_id(const void *data, size_t n, char *out)
{
    uint8_t digest[SHA256_DIGEST_SIZE];

    crypto_sha256(data, n, digest);
    return base32_lower(digest, sizeof digest, out);
}
