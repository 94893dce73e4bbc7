/* fields: strict readers of the members of a JSON object a CA sent, shared by the parsers of
 * acme/objects.h and acme/problem.h. Private to src/acme/.
 *
 * `ctx` names the object in error messages ("order", "authorization: challenges[0]"). A member
 * whose value is JSON null is treated as absent. Every reader returns 0 (also when an optional
 * member is absent: *out is then left as it was) or a negative code (-EINVAL for bad input,
 * -ENOMEM) with e set; text a server sent is quoted in messages through util/sanitize. */
#ifndef ACMED_ACME_FIELDS_H
#define ACMED_ACME_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/err.h"

#define ACME_FIELD_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Server text quoted in an error message, sanitised into dst (size bytes). Returns dst. */
const char *acme_field_clean(const char *s, char *dst, size_t size);

/* The member `key` of obj, or NULL when it is absent or JSON null. Borrowed from obj. */
json_t *acme_field_get(json_t *obj, const char *key);

/* The errors "ctx: missing "key"" and "ctx: "key" is not <want>" (-EINVAL). */
int acme_field_missing(const char *ctx, const char *key, struct err *e);
int acme_field_wrong_type(const char *ctx, const char *key, const char *want, struct err *e);

/* The index of s in names[0..n), or -EINVAL (also for s NULL). */
int acme_field_index(const char *const *names, size_t n, const char *s);

/* A string member into *out (caller frees). With `url` it must pass acme_url_ok and is kept
 * as given; any other text is sanitised (util/sanitize). A required member must not be
 * empty. */
int acme_field_str(json_t *obj, const char *ctx, const char *key, bool required, bool url,
                   char **out, struct err *e);

/* An array of strings, each read as by acme_field_str. *out and *n are updated as entries are
 * copied, so the caller's free function releases a partial result. */
int acme_field_strv(json_t *obj, const char *ctx, const char *key, bool required, bool url,
                    char ***out, size_t *n, struct err *e);

/* An optional boolean member. */
int acme_field_bool(json_t *obj, const char *ctx, const char *key, bool *out, struct err *e);

/* An optional RFC 3339 time member. */
int acme_field_time(json_t *obj, const char *ctx, const char *key, time_t *out, struct err *e);

/* The required "status" member, looked up in names[0..n): *out is its index. */
int acme_field_status(json_t *obj, const char *ctx, const char *const *names, size_t n, int *out,
                      struct err *e);

/* Parses text as a JSON object (*root, a new reference the caller releases, also on failure)
 * and allocates a zeroed struct of `size` bytes for it (caller-owned). Returns the struct, or
 * NULL with *rc and e set naming `what`. */
void *acme_field_load(const char *text, size_t len, const char *what, size_t size, json_t **root,
                      int *rc, struct err *e);

/* Defines a parser entry point `fname` (see acme/objects.h): load the text, fill the object
 * with the expression `fill` (which sees root, obj and e), hand it over on success, free the
 * partial result with `release` otherwise. */
#define ACME_FIELD_PARSE_FUNC(fname, type, what, fill, release)                                    \
    int fname(const char *text, size_t len, type **out, struct err *e)                             \
    {                                                                                              \
        json_t *root = NULL;                                                                       \
        int rc = 0;                                                                                \
        type *obj = acme_field_load(text, len, what, sizeof(type), &root, &rc, e);                 \
                                                                                                   \
        if (obj && (rc = fill) == 0) {                                                             \
            *out = obj;                                                                            \
            obj = NULL;                                                                            \
        }                                                                                          \
        release(obj);                                                                              \
        json_decref(root);                                                                         \
        return rc;                                                                                 \
    }

#endif
