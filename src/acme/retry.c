/* retry: backoff, Retry-After and problem documents of failed exchanges (see retry.h). */
#include "acme/retry.h"

#include <string.h>
#include <strings.h>

#include "acme/headers.h"
#include "util/clock.h"
#include "util/fsio.h"

uint64_t acme_backoff_ms(uint64_t base_ms, uint64_t max_ms, unsigned attempt)
{
    uint64_t ms = base_ms;
    uint32_t rnd = 0;

    for (unsigned i = 1; i < attempt && ms < max_ms; i++)
        ms *= 2;
    if (ms > max_ms)
        ms = max_ms;
    fsio_random(&rnd, sizeof rnd);
    return ms / 2 + (ms / 2 ? rnd % (ms / 2 + 1) : 0);
}

time_t acme_response_retry_after(const struct http_response *resp)
{
    const char *v = resp ? http_header_get(resp, "Retry-After") : NULL;
    time_t delay;

    if (!v || acme_retry_after_parse(v, clock_now(), ACME_RETRY_AFTER_MAX, &delay) < 0)
        return -1;
    return delay;
}

bool acme_response_may_be_problem(const struct http_response *resp)
{
    const char *ct = http_header_get(resp, "Content-Type");

    if (resp->body_len == 0)
        return false;
    return (ct && strncasecmp(ct, "application/problem+json", 24) == 0) || resp->body[0] == '{';
}
