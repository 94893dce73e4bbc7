/* fuzz_caccount: caccount_parse_value (src/cluster/caccount_parse.h) over an account's value
 * as it would come out of etcd after its seal opened, for a fixed directory URL. It must never
 * crash or leak; a refusal says why; what it accepts keeps the rules (a key, an account URL of
 * at most 2048 bytes and an EAB kid of at most 256 without line breaks, at most 16 contacts
 * each passing target_contact_check).
 *
 * Random bytes never make a private key, and without one the parser stops before the
 * contacts: every "@KEY@" in the input is replaced by the PEM of a key made at start-up
 * (JSON-escaped), so that seeds (which hold no key) reach the whole parser. */
#include "fuzz_common.h"

#include <errno.h>

#include "cluster/caccount_parse.h"
#include "crypto/key.h"
#include "store/target.h"

FUZZ_QUIET_LOGS()

#define DIRECTORY "https://ca.test/dir"
#define MARK "@KEY@"

/* A fresh key's PEM with its newlines written as JSON's \n; made once, kept. */
static const char *key_json(void)
{
    static char *s;
    struct key_spec spec = {KEY_ECDSA, 256};
    struct ckey *k = NULL;
    char *pem = NULL, *p;
    size_t len = 0;
    struct err e;

    if (s)
        return s;
    if (key_generate(&spec, &k, &e) < 0 || key_to_pem(k, &pem, &len, &e) < 0 ||
        !(s = p = malloc(2 * len + 1)))
        abort();
    for (size_t i = 0; i < len; i++) {
        if (pem[i] == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else {
            *p++ = pem[i];
        }
    }
    *p = '\0';
    key_pem_free(pem, len);
    key_free(k);
    return s;
}

/* data[0..size) with every MARK replaced by the key: an exact-size heap copy in *out. */
static char *with_key(const uint8_t *data, size_t size, size_t *out_len)
{
    const char *k = key_json();
    size_t klen = strlen(k), mlen = sizeof MARK - 1, n = 0, cap = size + 1;
    char *out, *shrunk;

    for (size_t i = 0; i + mlen <= size; i++) {
        if (memcmp(data + i, MARK, mlen) == 0)
            cap += klen;
    }
    if (!(out = malloc(cap)))
        return NULL;
    for (size_t i = 0; i < size;) {
        if (i + mlen <= size && memcmp(data + i, MARK, mlen) == 0) {
            memcpy(out + n, k, klen);
            n += klen;
            i += mlen;
        } else {
            out[n++] = (char)data[i++];
        }
    }
    *out_len = n;
    if (n > 0 && n < cap && (shrunk = realloc(out, n)))
        out = shrunk; /* exact size: ASan sees a read past the end */
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store_account a = {0};
    size_t len = 0;
    char *v = with_key(data, size, &len);
    struct err e;
    int rc;

    if (!v)
        return 0;
    err_clear(&e);
    rc = caccount_parse_value(DIRECTORY, (const uint8_t *)v, len, &a, &e);
    if (rc == 0) {
        if (!a.key || !a.contact || a.ncontact > 16 ||
            (a.url && (strlen(a.url) > 2048 || strpbrk(a.url, "\r\n"))) ||
            (a.eab_kid && (strlen(a.eab_kid) > 256 || strpbrk(a.eab_kid, "\r\n"))))
            __builtin_trap();
        for (size_t i = 0; i < a.ncontact; i++) {
            if (!a.contact[i] || target_contact_check(a.contact[i]))
                __builtin_trap();
        }
    } else if (!e.msg[0]) {
        __builtin_trap(); /* a refusal says why */
    }
    store_account_clear(&a);
    free(v);
    return 0;
}
