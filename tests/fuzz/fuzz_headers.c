/* fuzz_headers: the Retry-After and Link header parsers (src/acme/headers.h).
 *
 * The input is a header value. Retry-After is parsed at a fixed "now" and at the extremes of
 * time_t, and with a maximum wait taken from the value's length; Link is parsed whole, then
 * the input is split at '\n' into several values for acme_link_find, as a response with
 * several Link headers would give them. */
#include "fuzz_common.h"

#include <time.h>

#include "acme/headers.h"

FUZZ_QUIET_LOGS()

#define MAX_VALUES 16

static void retry_after(const char *value, size_t size)
{
    /* A fixed instant, the epoch, and the extremes a caller could pass. */
    static const time_t nows[] = {1700000000, 0, -1, INT32_MAX, INT64_MAX, INT64_MIN};
    time_t delay;

    for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++) {
        delay = -12345;
        if (acme_retry_after_parse(value, nows[i], (time_t)size, &delay) == 0) {
            time_t max_s = size ? (time_t)size : ACME_RETRY_AFTER_MAX;

            if (delay < 0 || delay > max_s)
                abort(); /* the documented clamp to [0, max_s] */
        }
    }
}

static void link_one(const char *value)
{
    struct acme_link *links = NULL;
    size_t n = 0;
    struct err e;

    err_clear(&e);
    if (acme_link_parse(value, &links, &n, &e) == 0) {
        for (size_t i = 0; i < n; i++)
            (void)acme_link_rel_has(links[i].rel, "alternate");
        acme_links_free(links, n);
    }
}

static void link_find(char *text)
{
    const char *values[MAX_VALUES];
    size_t nvalues = 0;
    char **urls = NULL, *p = text, *nl;
    size_t nurls = 0;
    struct err e;

    while (nvalues < MAX_VALUES) {
        values[nvalues++] = p;
        if (!(nl = strchr(p, '\n')))
            break;
        *nl = '\0';
        p = nl + 1;
    }
    err_clear(&e);
    if (acme_link_find(values, nvalues, "up", &urls, &nurls, &e) == 0)
        acme_urls_free(urls, nurls);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = fuzz_strndup(data, size);

    if (!value)
        return 0;
    retry_after(value, size);
    link_one(value);
    (void)acme_link_rel_has(value, "up");
    link_find(value); /* last: it cuts value at '\n' */
    free(value);
    return 0;
}
