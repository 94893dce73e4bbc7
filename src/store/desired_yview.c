/* desired_yview: typed reads of the merged YAML trees of desired files (see desired_yview.h). */
#include "store/desired_yview.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

const struct ynode *yview_nonnull(const struct ynode *n)
{
    return ynode_is_null(n) ? NULL : n;
}

const struct ynode *yview_eff(struct yview v)
{
    return v.d ? v.d : v.f;
}

/* The pair one key further down. Only two mappings merge: when the desired file has
 * something else there, the default is out of the picture. */
struct yview yview_sub(struct yview v, const char *key)
{
    struct yview r = {yview_nonnull(ynode_get(v.d, key)), yview_nonnull(ynode_get(v.f, key))};

    if (r.d && (r.d->type != YNODE_MAP || (r.f && r.f->type != YNODE_MAP)))
        r.f = NULL;
    return r;
}

bool yview_in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Checks that the node at v is a mapping and warns about the desired side's keys missing
 * from `known` (NULL: any key goes, as in env). */
int yview_open_map(struct yview_ctx *c, struct yview v, const char *path, const char *const *known)
{
    const struct ynode *n = yview_eff(v);

    if (n && n->type != YNODE_MAP)
        return ynode_err(c->e, n, path, "expected a mapping");
    for (size_t i = 0; known && v.d && v.d->type == YNODE_MAP && i < v.d->n; i++)
        if (!yview_in_list(v.d->keys[i]->str, known))
            log_warn("%s:%u: unknown key \"%s%s%s\" ignored", v.d->src, v.d->keys[i]->line, path,
                     *path ? "." : "", v.d->keys[i]->str);
    return 0;
}

/* The text of a scalar that must be one line: control characters (and NULs, which YAML
 * escapes can produce) never belong in a hostname, URL, path or label. */
int yview_scalar_text(struct yview_ctx *c, const struct ynode *n, const char *path,
                      const char *what, const char **out)
{
    if (n->type != YNODE_SCALAR || ynode_is_null(n))
        return ynode_err(c->e, n, path, "expected %s", what);
    for (size_t i = 0; i < n->len; i++)
        if ((unsigned char)n->str[i] < 0x20 || n->str[i] == 0x7f)
            return ynode_err(c->e, n, path, "expected %s without control characters", what);
    *out = n->str;
    return 0;
}

int yview_set_str(struct yview_ctx *c, char **dst, const char *s)
{
    char *copy = strdup(s);

    if (!copy)
        return err_set(c->e, -ENOMEM, "out of memory");
    free(*dst);
    *dst = copy;
    return 0;
}

int yview_get_str(struct yview_ctx *c, struct yview v, const char *path, char **out)
{
    const struct ynode *n = yview_eff(v);
    const char *s;
    int rc;

    if (!n)
        return 0;
    if ((rc = yview_scalar_text(c, n, path, "a string", &s)) < 0)
        return rc;
    return yview_set_str(c, out, s);
}

int yview_get_bool(struct yview_ctx *c, struct yview v, const char *path, bool *out)
{
    const struct ynode *n = yview_eff(v);

    if (n && ynode_bool(n, out) < 0)
        return ynode_err(c->e, n, path, "expected true or false");
    return 0;
}

int yview_get_int(struct yview_ctx *c, struct yview v, const char *path, long long min,
                  long long max, int *out)
{
    const struct ynode *n = yview_eff(v);
    long long x;

    if (!n)
        return 0;
    if (ynode_int(n, &x) < 0 || x < min || x > max) {
        if (min == INT_MIN)
            return ynode_err(c->e, n, path, "expected an integer");
        if (max < INT_MAX)
            return ynode_err(c->e, n, path, "expected an integer from %lld to %lld", min, max);
        return ynode_err(c->e, n, path, "expected an integer of at least %lld", min);
    }
    *out = (int)x;
    return 0;
}

/* A list of strings, or (as acmetool's users sometimes write) a single string. Every item
 * passes ok (when given); `what` describes one item for messages. An explicit empty list
 * gives an empty (non-NULL) vector. */
int yview_get_list(struct yview_ctx *c, struct yview v, const char *path, const char *what,
                   item_ok_fn ok, char ***out, size_t *nout)
{
    const struct ynode *n = yview_eff(v);
    size_t count;
    char **vec = NULL;
    int rc = 0;

    if (!n)
        return 0;
    if (n->type == YNODE_MAP)
        return ynode_err(c->e, n, path, "expected %s or a list of them", what);
    count = n->type == YNODE_SEQ ? n->n : 1;
    if (!(vec = calloc(count + 1, sizeof *vec)))
        return err_set(c->e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const struct ynode *item = n->type == YNODE_SEQ ? n->items[i] : n;
        char ipath[200];
        const char *s;

        snprintf(ipath, sizeof ipath, n->type == YNODE_SEQ ? "%s[%zu]" : "%s", path, i);
        if ((rc = yview_scalar_text(c, item, ipath, what, &s)) < 0)
            goto out;
        if (ok && !ok(s)) {
            rc = ynode_err(c->e, item, ipath, "expected %s, not \"%.100s\"", what, s);
            goto out;
        }
        if (!(vec[i] = strdup(s))) {
            rc = err_set(c->e, -ENOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < *nout; i++)
        free((*out)[i]);
    free(*out);
    *out = vec;
    *nout = count;
    vec = NULL;
out:
    for (size_t i = 0; vec && i < count; i++)
        free(vec[i]);
    free(vec);
    return rc;
}
