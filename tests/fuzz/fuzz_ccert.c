/* fuzz_ccert: ccert_parse_value (src/cluster/ccert_parse.h) over a certificate's value as it
 * would come out of etcd after its seal opened, under a fixed certificate id. It must never
 * crash or leak, and what it accepts must keep the rules: an order URL whose cert-id is the
 * one asked for, no line break in it and at most 4096 bytes, a chain within CCERT_CHAIN_MAX,
 * a valid key id. Seeds use the order URL below. */
#include "fuzz_common.h"

#include <errno.h>

#include "cluster/ccert.h"
#include "cluster/ccert_parse.h"

FUZZ_QUIET_LOGS()

#define ORDER_URL "https://ca.test/order/fuzz-1"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char cert_id[STORE_ID_LEN + 1];
    char *v = fuzz_memdup(data, size), *url = NULL, *chain = NULL, key_id[STORE_ID_LEN + 1],
         id[STORE_ID_LEN + 1];
    struct err e;
    int rc;

    if (!cert_id[0])
        store_cert_id(ORDER_URL, cert_id);
    if (!v)
        return 0;
    err_clear(&e);
    rc = ccert_parse_value(cert_id, (const uint8_t *)v, size, &url, &chain, key_id, &e);
    if (rc == 0) {
        if (!url || !chain || strlen(url) > 4096 || strpbrk(url, "\r\n") ||
            strlen(chain) > CCERT_CHAIN_MAX || !store_id_valid(key_id))
            __builtin_trap();
        store_cert_id(url, id);
        if (strcmp(id, cert_id) != 0)
            __builtin_trap();
    } else if (rc != -EBADMSG && rc != -ENOMEM) {
        __builtin_trap();
    } else if (!e.msg[0]) {
        __builtin_trap(); /* a refusal says why */
    }
    free(url);
    free(chain);
    free(v);
    return 0;
}
