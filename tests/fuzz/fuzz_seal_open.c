/* fuzz_seal_open: opening sealed values (src/crypto/seal.h), what etcd hands a node.
 *
 * Whatever the input, seal_open under a fixed key must refuse it (-EBADMSG, nothing
 * returned): forging a value without the key is what GCM's tag prevents, so an input it
 * accepts is a bug, as is a crash. The input is tried as a value of a fixed etcd key and, cut
 * at its first NUL, as an etcd key name over a value sealed for another key. Then the other
 * way: the input sealed under the fixed key opens back to itself, and with one bit flipped
 * (chosen by the input) is refused. */
#include "fuzz_common.h"

#include <errno.h>

#include "crypto/seal.h"

FUZZ_QUIET_LOGS()

static const uint8_t key[SEAL_KEY_LEN] = "fuzz_seal_open: a fixed test key";
static const char ad[] = "/acmed/keys/fuzz";

/* seal_open must refuse in[0..n) under (key, a[0..alen)). */
static void must_refuse(const char *a, size_t alen, const uint8_t *in, size_t n)
{
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    struct err e;

    if (seal_open(key, a, alen, in, n, &pt, &ptlen, &e) != -EBADMSG || pt || ptlen)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in = (uint8_t *)fuzz_memdup(data, size), *sealed = NULL, *pt = NULL;
    size_t sealed_len = 0, ptlen = 0, cut;
    struct err e;

    if (!in)
        return 0;
    must_refuse(ad, sizeof ad - 1, in, size);

    /* The input as the etcd key name of a value sealed for another key. */
    cut = strnlen((const char *)data, size);
    if (seal(key, "/acmed/keys/other", 17, (const uint8_t *)"v", 1, &sealed, &sealed_len, &e) != 0)
        abort();
    if (cut != 17 || memcmp(data, "/acmed/keys/other", 17) != 0)
        must_refuse((const char *)in, cut, sealed, sealed_len);
    free(sealed);

    /* Round trip, then one flipped bit. */
    if (seal(key, (const char *)in, cut, in, size, &sealed, &sealed_len, &e) != 0)
        abort();
    if (seal_open(key, (const char *)in, cut, sealed, sealed_len, &pt, &ptlen, &e) != 0 ||
        ptlen != size || (size && memcmp(pt, data, size) != 0) || pt[ptlen] != '\0')
        abort();
    seal_free_secret(pt, ptlen + 1);
    {
        size_t bit = size ? (size_t)data[0] * 257 % (sealed_len * 8) : 0;

        sealed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        must_refuse((const char *)in, cut, sealed, sealed_len);
    }
    free(sealed);
    free(in);
    return 0;
}
