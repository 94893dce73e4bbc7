/* fuzz_b64: base64url decoding (src/crypto/b64.h).
 *
 * Whatever b64url_decode accepts must re-encode to exactly the input (the encoding is
 * canonical: no padding, zero trailing bits), and b64url_valid must agree with it on
 * inputs whose length is not 1 mod 4. Random bytes are also encoded and decoded back. */
#include "fuzz_common.h"

#include "crypto/b64.h"

FUZZ_QUIET_LOGS()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_memdup(data, size), *cstr = fuzz_strndup(data, size), *enc;
    uint8_t *out = NULL;
    size_t outlen = 0;
    int rc;

    if (!text || !cstr)
        goto out;
    rc = b64url_decode(text, size, &out, &outlen);
    if (rc == 0) {
        if (!(enc = b64url_encode(out, outlen)))
            goto out;
        if (strlen(enc) != size || memcmp(enc, text, size) != 0)
            abort();
        free(enc);
        if (size && strlen(cstr) == size && !b64url_valid(cstr))
            abort();
        free(out);
        out = NULL;
    }
    /* The other way: any bytes encode to something that decodes back to them. */
    if ((enc = b64url_encode(data, size))) {
        if (b64url_decode(enc, strlen(enc), &out, &outlen) != 0 || outlen != size ||
            (size && memcmp(out, data, size) != 0))
            abort();
        free(enc);
    }
out:
    free(out);
    free(text);
    free(cstr);
    return 0;
}
