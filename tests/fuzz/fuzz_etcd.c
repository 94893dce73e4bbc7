/* fuzz_etcd: the etcd client's answer parsers (src/net/etcd_parse.h) and its base64
 * (src/net/etcd_json.h).
 *
 * The input is parsed as the answer to every kind of call (and, for an authentication, its
 * token must be printable ASCII), then split at '\n' into watch lines as a stream delivers
 * them; every parsed value must respect the documented caps. The whole input also goes
 * through etcd_next_step with a few statuses and through etcd_error_text, and whatever
 * etcd_b64_decode accepts must re-encode to exactly the input (one encoding per value). */
#include "fuzz_common.h"

#include "net/etcd_json.h"
#include "net/etcd_parse.h"

FUZZ_QUIET_LOGS()

static void check_kv(const struct etcd_kv *kv)
{
    if (!kv->key || !kv->value || strlen(kv->key) == 0 || strlen(kv->key) > ETCD_MAX_KEY ||
        kv->value_len > ETCD_MAX_VALUE || kv->value[kv->value_len] != '\0')
        abort();
}

static void answers(const char *text, size_t size)
{
    struct etcd_result r;
    struct err e;
    char *token;

    for (int call = ETCD_RANGE; call <= ETCD_AUTH; call++) {
        token = NULL;
        if (etcd_parse((enum etcd_call)call, text, size, &r, &token, &e) == 0) {
            for (size_t i = 0; i < r.nkvs; i++)
                check_kv(&r.kvs[i]);
            if (r.count < 0 || r.deleted < 0 || r.ttl < 0)
                abort();
            for (const char *p = token; p && *p; p++) {
                if (*p <= ' ' || *p > '~')
                    abort();
            }
        } else if (token || r.nkvs || r.kvs) {
            abort(); /* nothing is handed over on failure */
        }
        free(token);
        etcd_result_clear(&r);
    }
}

static void watch_lines(const char *text, size_t size)
{
    struct etcd_watch_msg m;
    struct err e;
    const char *p = text, *end = text + size, *nl;

    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        if (etcd_parse_watch(p, (size_t)(nl - p), &m, &e) == 0) {
            for (size_t i = 0; i < m.nevents; i++)
                check_kv(&m.events[i].kv);
            if (m.kind == ETCD_WATCH_COMPACTED && m.compact_revision <= 0)
                abort();
        } else if (m.nevents || m.events) {
            abort();
        }
        etcd_watch_msg_clear(&m);
        p = nl + 1;
    }
}

static void b64(const char *text, size_t size)
{
    uint8_t *out = NULL;
    size_t n = 0;
    char *enc;

    if (etcd_b64_decode(text, size, size, &out, &n) != 0)
        return;
    if (!(enc = etcd_b64_encode(out, n)) || strlen(enc) != size || memcmp(enc, text, size) != 0)
        abort();
    free(enc);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 400, 401, 404, 429, 500, 503};
    char *text = fuzz_memdup(data, size), why[256];
    int code;

    if (!text)
        return 0;
    answers(text, size);
    watch_lines(text, size);
    b64(text, size);
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        enum etcd_next n = etcd_next_step(ETCD_TXN, 0, statuses[i], text, size, &code);

        if (n == ETCD_NEXT_DONE && statuses[i] != 200 && code >= 0)
            abort(); /* an error answer always carries a code */
    }
    etcd_error_text(text, size, why, sizeof why);
    free(text);
    return 0;
}
