/* fuzz_http01_req: the http-01 listener's request-head parser (src/challenge/http01_req.h).
 *
 * The parser is called over the whole input and over every prefix of it, as the listener
 * does when bytes trickle in; the documented invariants are checked: OK gives a base64url
 * token and a head length within the input, and a result never flips from a final answer to
 * INCOMPLETE as more bytes arrive. */
#include "fuzz_common.h"

#include "challenge/http01_req.h"
#include "crypto/b64.h"

FUZZ_QUIET_LOGS()

static int check(const char *buf, size_t len)
{
    struct http01_req req;
    int rc = http01_req_parse(buf, len, &req);

    if (rc == HTTP01_REQ_OK) {
        if (req.head_len == 0 || req.head_len > len || req.head_len > HTTP01_REQ_MAX_HEAD + 1 ||
            !b64url_valid(req.token) || strlen(req.token) > HTTP01_TOKEN_MAX)
            abort();
    }
    (void)http01_status_reason(http01_req_status(rc));
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf;
    int final = 0;

    if (size > 4 * HTTP01_REQ_MAX_HEAD)
        return 0;
    if (!(buf = fuzz_memdup(data, size)))
        return 0;
    /* Every prefix would be quadratic; a stride keeps long inputs cheap. */
    for (size_t n = 0; n <= size; n += size > 512 ? 7 : 1) {
        int rc = check(buf, n);

        if (final && rc == HTTP01_REQ_INCOMPLETE)
            abort();
        if (rc != HTTP01_REQ_INCOMPLETE)
            final = 1;
    }
    check(buf, size);
    free(buf);
    return 0;
}
