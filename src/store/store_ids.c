/* store ids: acmetool's dir-id, cert-id and key-id rules (storage/util.go in acmetool). */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"
#include "store/store_internal.h"

/* Go's url.QueryEscape leaves only these unescaped; a space would become '+', but we refuse
 * spaces before getting here. */
static bool query_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Length of the scheme ("https" or "http", any case) followed by "://", or 0. *http is set
 * for plain http. */
static size_t scheme_len(const char *url, bool *http)
{
    if (strncasecmp(url, "https://", 8) == 0) {
        *http = false;
        return 8;
    }
    if (strncasecmp(url, "http://", 7) == 0) {
        *http = true;
        return 7;
    }
    return 0;
}

/* acmetool (accountURLPart) takes Go's re-serialisation of the URL, drops "scheme://", drops
 * the last character when the path is exactly "/" (meant for the trailing slash; with a
 * query it really drops the query's last character, and we copy that faithfully so the
 * same account directory is found), query-escapes the rest with lowercase hex, and prefixes
 * "http:" for plain http. Go only lowercases the scheme; everything else is kept verbatim.
 * We refuse what Go would re-escape (spaces, controls, non-ASCII) instead of imitating it. */
char *store_dir_id(const char *directory_url, struct err *e)
{
    static const char hex[] = "0123456789abcdef";
    bool http = false;
    size_t skip = directory_url ? scheme_len(directory_url, &http) : 0;
    const char *rest, *path;
    size_t restlen, pathlen;
    char *out, *p;

    if (!skip)
        goto bad;
    rest = directory_url + skip;
    restlen = strlen(rest);
    if (restlen == 0 || rest[0] == '/' || rest[0] == '?' || rest[0] == '#')
        goto bad; /* no host */
    for (const char *c = rest; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            goto bad;
    path = rest + strcspn(rest, "/?#");
    pathlen = strcspn(path, "?#");
    if (pathlen == 1 && path[0] == '/')
        restlen--;
    out = malloc((http ? 5 : 0) + restlen * 3 + 1);
    if (!out) {
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    p = out;
    if (http) {
        memcpy(p, "http:", 5);
        p += 5;
    }
    for (size_t i = 0; i < restlen; i++) {
        unsigned char c = (unsigned char)rest[i];

        if (query_unreserved(c)) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    /* A host of "." or ".." would escape to itself and climb out of accounts/. */
    if (!store_name_valid(out)) {
        free(out);
        goto bad;
    }
    return out;
bad:
    err_set(e, -EINVAL, "directory URL \"%s\" is not a usable http(s) URL",
            directory_url ? directory_url : "(null)");
    return NULL;
}

void store_cert_id(const char *order_url, char *out)
{
    crypto_sha256_id(order_url, strlen(order_url), out);
}

bool store_id_valid(const char *s)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];

        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')))
            return false;
        if (n >= STORE_ID_LEN)
            return false;
    }
    return n == STORE_ID_LEN;
}

/* An account held by a signer is named by its key thumbprint (store_account_signer.c). */
int store_signer_key_id(const char *thumbprint, char *out, struct err *e)
{
    uint8_t *raw = NULL;
    size_t len = 0;

    if (!thumbprint || b64url_decode(thumbprint, strlen(thumbprint), &raw, &len) < 0 || len != 32) {
        free(raw);
        return err_set(e, -EINVAL, "not a key thumbprint: \"%.64s\"", thumbprint ? thumbprint : "");
    }
    base32_lower(raw, len, out);
    free(raw);
    return store_id_valid(out) ? 0 : err_set(e, -EINVAL, "not a key thumbprint");
}

bool store_sha256_valid(const char *s)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n] && n <= 64; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}
