/* seal: AES-256-GCM sealed values over nettle (see seal.h). */
#include "crypto/seal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/gcm.h>
#include <nettle/memops.h>

#include "util/buf.h"
#include "util/fsio.h"
#include "util/sanitize.h"

/* Longest etcd key name quoted in a message (sanitised, cut with "..."). */
#define SEAL_AD_SHOWN 200

/* nettle reads through its pointers even for a zero length: never hand it NULL. */
static const uint8_t none[1];

static int seal_err(struct err *e, const char *ad, size_t adlen, const char *why)
{
    char shown[SEAL_AD_SHOWN];

    sanitize_into(shown, sizeof shown, ad ? ad : "", ad ? adlen : 0);
    return err_set(e, -EBADMSG, "etcd key \"%s\": sealed value refused: %s", shown, why);
}

int seal_with_nonce(const uint8_t key[SEAL_KEY_LEN], const uint8_t nonce[SEAL_NONCE_LEN],
                    const char *ad, size_t adlen, const uint8_t *pt, size_t ptlen, uint8_t **out,
                    size_t *outlen, struct err *e)
{
    struct gcm_aes256_ctx ctx;
    uint8_t *buf;

    *out = NULL;
    *outlen = 0;
    if (ptlen > SIZE_MAX - SEAL_OVERHEAD)
        return err_set(e, -EOVERFLOW, "a value of %zu bytes is too large to seal", ptlen);
    if (!(buf = malloc(ptlen + SEAL_OVERHEAD)))
        return err_set(e, -ENOMEM, "out of memory");
    buf[0] = SEAL_VERSION;
    memcpy(buf + 1, nonce, SEAL_NONCE_LEN);
    gcm_aes256_set_key(&ctx, key);
    gcm_aes256_set_iv(&ctx, SEAL_NONCE_LEN, nonce);
    gcm_aes256_update(&ctx, adlen, ad ? (const uint8_t *)ad : none);
    gcm_aes256_encrypt(&ctx, ptlen, buf + 1 + SEAL_NONCE_LEN, pt ? pt : none);
    gcm_aes256_digest(&ctx, SEAL_TAG_LEN, buf + 1 + SEAL_NONCE_LEN + ptlen);
    /* The context holds the expanded key and the GHASH key. */
    explicit_bzero(&ctx, sizeof ctx);
    *out = buf;
    *outlen = ptlen + SEAL_OVERHEAD;
    return 0;
}

int seal(const uint8_t key[SEAL_KEY_LEN], const char *ad, size_t adlen, const uint8_t *pt,
         size_t ptlen, uint8_t **out, size_t *outlen, struct err *e)
{
    uint8_t nonce[SEAL_NONCE_LEN];
    int rc;

    *out = NULL;
    *outlen = 0;
    if ((rc = fsio_random(nonce, sizeof nonce)) < 0)
        return err_sys(e, rc, "cannot draw a nonce to seal a value");
    return seal_with_nonce(key, nonce, ad, adlen, pt, ptlen, out, outlen, e);
}

int seal_open(const uint8_t key[SEAL_KEY_LEN], const char *ad, size_t adlen, const uint8_t *in,
              size_t inlen, uint8_t **pt, size_t *ptlen, struct err *e)
{
    struct gcm_aes256_ctx ctx;
    uint8_t tag[SEAL_TAG_LEN], *buf;
    size_t n;
    int ok;

    *pt = NULL;
    *ptlen = 0;
    if (!in || inlen < SEAL_OVERHEAD)
        return seal_err(e, ad, adlen, "too short to be a sealed value (truncated?)");
    if (in[0] != SEAL_VERSION)
        return seal_err(e, ad, adlen, "unknown format (this acmed reads format 1)");
    n = inlen - SEAL_OVERHEAD;
    if (!(buf = malloc(n + 1)))
        return err_set(e, -ENOMEM, "out of memory");
    gcm_aes256_set_key(&ctx, key);
    gcm_aes256_set_iv(&ctx, SEAL_NONCE_LEN, in + 1);
    gcm_aes256_update(&ctx, adlen, ad ? (const uint8_t *)ad : none);
    gcm_aes256_decrypt(&ctx, n, buf, in + 1 + SEAL_NONCE_LEN);
    gcm_aes256_digest(&ctx, SEAL_TAG_LEN, tag);
    explicit_bzero(&ctx, sizeof ctx);
    ok = memeql_sec(tag, in + 1 + SEAL_NONCE_LEN + n, SEAL_TAG_LEN);
    explicit_bzero(tag, sizeof tag);
    if (!ok) {
        /* What was decrypted is not authentic: nobody sees it, and nothing of it remains. */
        seal_free_secret(buf, n + 1);
        return seal_err(e, ad, adlen,
                        "authentication failed (sealed with another secret-file, for another "
                        "etcd key, or altered)");
    }
    buf[n] = '\0';
    *pt = buf;
    *ptlen = n;
    return 0;
}

void seal_free_secret(void *p, size_t len)
{
    buf_secret_free(p, len);
}
