/* mgmt: a central certificate server's protocol, the client's side (see mgmt.h). */
#include "reconcile/mgmt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/mac.h"
#include "util/buf.h"
#include "util/fsio.h"
#include "util/sanitize.h"

/* The longest piece of a reason quoted in an error. */
#define REASON_MAX 200

void mgmt_auth_value(const uint8_t *key, size_t klen, const char *body, size_t len,
                     char out[MGMT_AUTH_MAX])
{
    uint8_t mac[MAC_SHA256_LEN];
    char hex[2 * MAC_SHA256_LEN + 1];

    mac_hmac_sha256(key, klen, (const uint8_t *)body, len, mac);
    mac_hex(mac, hex);
    snprintf(out, MGMT_AUTH_MAX, "hmac name=sha256, hash=%s", hex);
}

int mgmt_key_read(const char *path, uint8_t **key, size_t *klen, struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    *key = NULL;
    *klen = 0;
    if ((rc = fsio_read_file(path, MGMT_KEY_MAX, &text, &len, e)) < 0)
        return err_wrap(e, "request.mgmt.hmac-key-file");
    if (mac_key_len((const uint8_t *)text, len) == 0) {
        buf_secret_free(text, len);
        return err_set(e, -EINVAL, "request.mgmt.hmac-key-file: %s is empty", path);
    }
    *key = (uint8_t *)text;
    *klen = mac_key_len((const uint8_t *)text, len);
    return 0;
}

static const char *meaning(long status, int *rc)
{
    switch (status) {
    case 403:
        *rc = -EPERM;
        return "not allowed";
    case 413:
        *rc = -EFBIG;
        return "CSR too large";
    case 415:
        *rc = -EBADMSG;
        return "not a CSR";
    case 421:
        *rc = -EREMOTEIO;
        return "the CA's validation failed";
    case 429:
        *rc = -EAGAIN;
        return "rate limited";
    case 500:
        *rc = -EIO;
        return "server error";
    }
    *rc = -EIO;
    return "unexpected status";
}

int mgmt_answer(const char *url, long status, const char *body, size_t len, time_t retry_after,
                struct err *e)
{
    char reason[REASON_MAX + 4], later[64] = "";
    const char *what;
    size_t n;
    int rc;

    if (status == 200 && body && len > 0)
        return 0;
    if (status == 200)
        return err_set(e, -EPROTO, "%s answered 200 without a chain", url);
    what = meaning(status, &rc);
    /* One line of the server's words, made harmless for logs and state/. */
    for (n = 0; body && n < len && body[n] != '\r' && body[n] != '\n';)
        n++;
    sanitize_into(reason, sizeof reason, body ? body : "", n);
    if (status == 429 && retry_after >= 0)
        snprintf(later, sizeof later, "; try again in %lld s", (long long)retry_after);
    return err_set(e, rc, "%s answered %ld (%s)%s%s%s", url, status, what, reason[0] ? ": " : "",
                   reason, later);
}
