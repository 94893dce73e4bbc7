/* fuzz_ctarget: ctarget_decode (src/cluster/ctarget.h) over a target's JSON as it would come
 * out of etcd (after its seal was opened), merged over a fixed conf/target. It must never
 * crash, and whatever it accepts must be a target the desired-file schema accepted. */
#include "fuzz_common.h"

#include "cluster/ctarget.h"

FUZZ_QUIET_LOGS()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char defaults[] = "request:\n  challenge:\n    webroot-paths: [/var/www]\n";
    char *json = fuzz_memdup(data, size);
    struct target t;
    struct err e;

    if (json && ctarget_decode("fuzz", json, size, defaults, sizeof defaults - 1, &t, &e) == 0) {
        /* Nothing of the node's own can come from etcd. */
        if (t.nwebroot_paths != 1 || t.csr || t.key_id || t.signer_unix || t.nenv)
            __builtin_trap();
        target_clear(&t);
    }
    free(json);
    return 0;
}
