#include "crypto/keyauth.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"

int keyauth_make(const char *token, const char *thumbprint, char **out, struct err *e)
{
    /* The token reaches file names (http-01 webroot) and hook arguments: it must be plain
     * base64url, never "../x" or "a/b". */
    if (!token || !b64url_valid(token))
        return err_set(e, -EINVAL, "challenge token is not base64url");
    if (!thumbprint || !b64url_valid(thumbprint))
        return err_set(e, -EINVAL, "account key thumbprint is not base64url");
    if (asprintf(out, "%s.%s", token, thumbprint) < 0) {
        *out = NULL;
        return err_set(e, -ENOMEM, "key authorization: out of memory");
    }
    return 0;
}

char *keyauth_dns01_txt(const char *keyauth)
{
    uint8_t digest[32];

    if (!keyauth)
        return NULL;
    crypto_sha256(keyauth, strlen(keyauth), digest);
    return b64url_encode(digest, sizeof(digest));
}

void keyauth_tls_alpn_digest(const char *keyauth, size_t len,
                             uint8_t out[KEYAUTH_TLS_ALPN_DIGEST_LEN])
{
    crypto_sha256(keyauth, len, out);
}
