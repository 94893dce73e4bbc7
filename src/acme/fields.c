/* fields: strict readers of the members of a CA's JSON objects (see fields.h). */
#include "acme/fields.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acme/url.h"
#include "util/clock.h"
#include "util/sanitize.h"

/* Server text quoted in an error message, through the one sanitiser. */
const char *acme_field_clean(const char *s, char *dst, size_t size)
{
    sanitize_into(dst, size, s ? s : "", s ? strlen(s) : 0);
    return dst;
}

/* A member, with JSON null read as absent. */
json_t *acme_field_get(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_null(v) ? NULL : v;
}

int acme_field_missing(const char *ctx, const char *key, struct err *e)
{
    return err_set(e, -EINVAL, "%s: missing \"%s\"", ctx, key);
}

int acme_field_wrong_type(const char *ctx, const char *key, const char *want, struct err *e)
{
    return err_set(e, -EINVAL, "%s: \"%s\" is not %s", ctx, key, want);
}

int acme_field_str(json_t *obj, const char *ctx, const char *key, bool required, bool url,
                   char **out, struct err *e)
{
    json_t *v = acme_field_get(obj, key);

    if (!v)
        return required ? acme_field_missing(ctx, key, e) : 0;
    if (!json_is_string(v))
        return acme_field_wrong_type(ctx, key, "a string", e);
    if (url && !acme_url_ok(json_string_value(v)))
        return acme_field_wrong_type(ctx, key, "a URL", e);
    if (required && !*json_string_value(v))
        return err_set(e, -EINVAL, "%s: \"%s\" is empty", ctx, key);
    /* A URL is used as given (checked above); any other text is sanitised once, here, so that
     * nothing a server sent reaches a log, a file or a terminal unfiltered. */
    *out = url ? strdup(json_string_value(v)) : sanitize_dup(json_string_value(v));
    return *out ? 0 : err_set(e, -ENOMEM, "%s: out of memory", ctx);
}

/* An array of strings. *out and *n are updated as entries are copied, so the caller's free
 * function releases a partial result. */
int acme_field_strv(json_t *obj, const char *ctx, const char *key, bool required, bool url,
                    char ***out, size_t *n, struct err *e)
{
    json_t *v = acme_field_get(obj, key);
    size_t cnt;

    if (!v)
        return required ? acme_field_missing(ctx, key, e) : 0;
    if (!json_is_array(v))
        return acme_field_wrong_type(ctx, key, "an array", e);
    cnt = json_array_size(v);
    *out = calloc(cnt ? cnt : 1, sizeof(**out));
    if (!*out)
        return err_set(e, -ENOMEM, "%s: out of memory", ctx);
    for (size_t i = 0; i < cnt; i++) {
        json_t *it = json_array_get(v, i);

        if (!json_is_string(it))
            return err_set(e, -EINVAL, "%s: \"%s\"[%zu] is not a string", ctx, key, i);
        if (url && !acme_url_ok(json_string_value(it)))
            return err_set(e, -EINVAL, "%s: \"%s\"[%zu] is not a URL", ctx, key, i);
        if (!((*out)[i] =
                  url ? strdup(json_string_value(it)) : sanitize_dup(json_string_value(it))))
            return err_set(e, -ENOMEM, "%s: out of memory", ctx);
        *n = i + 1;
    }
    return 0;
}

int acme_field_bool(json_t *obj, const char *ctx, const char *key, bool *out, struct err *e)
{
    json_t *v = acme_field_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return acme_field_wrong_type(ctx, key, "a boolean", e);
    *out = json_is_true(v);
    return 0;
}

int acme_field_time(json_t *obj, const char *ctx, const char *key, time_t *out, struct err *e)
{
    json_t *v = acme_field_get(obj, key);
    char tmp[48];

    if (!v)
        return 0;
    if (!json_is_string(v))
        return acme_field_wrong_type(ctx, key, "a string", e);
    if (clock_parse_rfc3339(json_string_value(v), out) < 0)
        return err_set(e, -EINVAL, "%s: \"%s\" is not an RFC 3339 time: \"%s\"", ctx, key,
                       acme_field_clean(json_string_value(v), tmp, sizeof(tmp)));
    return 0;
}

/* A required status member, looked up in `names`. */
int acme_field_status(json_t *obj, const char *ctx, const char *const *names, size_t n, int *out,
                      struct err *e)
{
    json_t *v = acme_field_get(obj, "status");
    char tmp[48];

    if (!v)
        return acme_field_missing(ctx, "status", e);
    if (!json_is_string(v))
        return acme_field_wrong_type(ctx, "status", "a string", e);
    if ((*out = acme_field_index(names, n, json_string_value(v))) < 0)
        return err_set(e, -EINVAL, "%s: unknown status \"%s\"", ctx,
                       acme_field_clean(json_string_value(v), tmp, sizeof(tmp)));
    return 0;
}

int acme_field_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++) {
        if (strcmp(names[i], s) == 0)
            return (int)i;
    }
    return -EINVAL;
}

/* Parses text as a JSON object and allocates a zeroed struct of `size` bytes for it. Returns
 * the struct, or NULL with *rc and e set. */
void *acme_field_load(const char *text, size_t len, const char *what, size_t size, json_t **root,
                      int *rc, struct err *e)
{
    json_error_t jerr;
    void *obj;

    *root = NULL;
    if (!text) {
        *rc = err_set(e, -EINVAL, "%s: empty response", what);
        return NULL;
    }
    *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*root) {
        char tmp[sizeof jerr.text];

        *rc = err_set(e, -EINVAL, "%s: not JSON: %s (line %d, column %d)", what,
                      acme_field_clean(jerr.text, tmp, sizeof tmp), jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(*root)) {
        *rc = err_set(e, -EINVAL, "%s: not a JSON object", what);
        return NULL;
    }
    if (!(obj = calloc(1, size)))
        *rc = err_set(e, -ENOMEM, "%s: out of memory", what);
    return obj;
}
