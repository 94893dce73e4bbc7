#include "acme/ari.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/url.h"
#include "util/clock.h"
#include "util/sanitize.h"

static int window_time(json_t *win, const char *key, time_t *out, struct err *e)
{
    json_t *v = json_object_get(win, key);

    if (!json_is_string(v))
        return err_set(e, -EINVAL, "renewalInfo: suggestedWindow.%s %s", key,
                       v ? "is not a string" : "is missing");
    if (clock_parse_rfc3339(json_string_value(v), out) < 0)
        return err_set(e, -EINVAL, "renewalInfo: suggestedWindow.%s is not an RFC 3339 time", key);
    return 0;
}

int acme_renewal_info_parse(const char *text, size_t len, struct acme_renewal_info *out,
                            struct err *e)
{
    struct acme_renewal_info ri = {0};
    json_t *root = NULL, *win, *url;
    json_error_t jerr = {0};
    int rc;

    memset(out, 0, sizeof(*out));
    if (!text || !(root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
        char tmp[sizeof jerr.text];

        sanitize_into(tmp, sizeof tmp, jerr.text, strnlen(jerr.text, sizeof jerr.text));
        rc = err_set(e, -EINVAL, "renewalInfo: not JSON: %s", text ? tmp : "no body");
        goto out;
    }
    if (!json_is_object(root)) {
        rc = err_set(e, -EINVAL, "renewalInfo: not a JSON object");
        goto out;
    }
    win = json_object_get(root, "suggestedWindow");
    if (!json_is_object(win)) {
        rc = err_set(e, -EINVAL, "renewalInfo: suggestedWindow %s",
                     win ? "is not an object" : "is missing");
        goto out;
    }
    if ((rc = window_time(win, "start", &ri.start, e)) < 0 ||
        (rc = window_time(win, "end", &ri.end, e)) < 0)
        goto out;
    if (ri.end <= ri.start) {
        rc = err_set(e, -EINVAL, "renewalInfo: suggestedWindow ends before it starts");
        goto out;
    }
    /* explanationURL is only shown to the operator (RFC 9773 §4.2). A malformed one must not
     * cost a valid window, which may be asking for an urgent renewal: it is dropped instead. */
    url = json_object_get(root, "explanationURL");
    if (json_is_string(url) && acme_url_ok(json_string_value(url)) &&
        !(ri.explanation_url = strdup(json_string_value(url)))) {
        rc = err_set(e, -ENOMEM, "renewalInfo: out of memory");
        goto out;
    }
    *out = ri;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void acme_renewal_info_clear(struct acme_renewal_info *ri)
{
    if (!ri)
        return;
    free(ri->explanation_url);
    memset(ri, 0, sizeof(*ri));
}
