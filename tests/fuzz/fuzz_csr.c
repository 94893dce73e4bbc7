/* fuzz_csr: csr_read (src/crypto/csr_read.h) over the input as it comes (PEM or DER), and
 * what it promises of an accepted CSR: the names are CN + SANs each once, every one bounded and
 * free of control characters; the DER kept is one object; csr_matches_cert of the CSR's own
 * DER (not a certificate) fails cleanly. */
#include "fuzz_common.h"

#include <strings.h>

#include "crypto/csr_read.h"

FUZZ_QUIET_LOGS()

static void check_names(const struct csr_info *c)
{
    const char *const *names;
    size_t n, i, j;

    names = csr_names(c, &n);
    if (n == 0 || n > 1 + c->ndns + c->nips)
        abort();
    if (c->cn && strcmp(names[0], c->cn) != 0)
        abort();
    for (i = 0; i < n; i++) {
        size_t len = strlen(names[i]);

        if (len == 0 || len > CSR_NAME_MAX)
            abort();
        for (j = 0; j < len; j++)
            if ((unsigned char)names[i][j] < 0x20 || names[i][j] == 0x7f)
                abort();
        for (j = 0; j < i; j++)
            if (strcasecmp(names[i], names[j]) == 0)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = (uint8_t *)fuzz_memdup(data, size);
    struct csr_info *c = NULL;
    struct err e;

    if (!copy)
        return 0;
    err_clear(&e);
    if (csr_read(copy, size, &c, &e) == 0) {
        check_names(c);
        if (c->der_len == 0 || c->der_len > size || strlen(c->sha256_hex) != 64)
            abort();
        if (csr_matches_cert(c, c->der, c->der_len, &e) > 0)
            abort();
        csr_info_free(c);
    } else if (c || e.code == 0) {
        abort();
    }
    free(copy);
    return 0;
}
