/* The names of a desired file (DESIGN.md §3): satisfy.names, the legacy top-level names, the
 * file name itself, and request.names. Every one is normalised (store/names.h). */
#include "store/desired_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/names.h"

static const struct ynode *nonnull(const struct ynode *n)
{
    return ynode_is_null(n) ? NULL : n;
}

static bool has_name(const struct target_name *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return true;
    return false;
}

/* Normalises every name of a list (or single string); duplicates are dropped, the first
 * kept. An empty list leaves *out and *nout alone. */
static int get_names(const struct ynode *n, const char *path, struct target_name **out,
                     size_t *nout, struct err *e)
{
    size_t count = n->type == YNODE_SEQ ? n->n : 1, k = 0;
    struct target_name *v;
    int rc = 0;

    if (n->type == YNODE_MAP)
        return ynode_err(e, n, path, "expected a list of hostnames");
    if (!(v = calloc(count + 1, sizeof *v)))
        return err_set(e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const struct ynode *item = n->type == YNODE_SEQ ? n->items[i] : n;
        struct err ne;
        char ipath[200];
        char *name = NULL;
        bool ip;

        snprintf(ipath, sizeof ipath, n->type == YNODE_SEQ ? "%s[%zu]" : "%s", path, i);
        if (item->type != YNODE_SCALAR || ynode_is_null(item)) {
            rc = ynode_err(e, item, ipath, "expected a hostname or an IP address");
            goto out;
        }
        if ((rc = name_normalize(item->str, item->len, &name, &ip, &ne)) < 0) {
            rc = ynode_err(e, item, ipath, "%s", ne.msg);
            goto out;
        }
        if (has_name(v, k, name)) {
            free(name);
            continue;
        }
        v[k].name = name;
        v[k++].ip = ip;
    }
    if (k > 0) {
        *out = v;
        *nout = k;
        v = NULL;
    }
out:
    for (size_t i = 0; v && i < k; i++)
        free(v[i].name);
    free(v);
    return rc;
}

static int copy_names(const struct target *t, struct target_name **out, size_t *nout, struct err *e)
{
    if (!(*out = calloc(t->nnames + 1, sizeof **out)))
        return err_set(e, -ENOMEM, "out of memory");
    for (*nout = 0; *nout < t->nnames; (*nout)++) {
        (*out)[*nout].ip = t->names[*nout].ip;
        if (!((*out)[*nout].name = strdup(t->names[*nout].name)))
            return err_set(e, -ENOMEM, "out of memory");
    }
    return 0;
}

/* satisfy.names, else the legacy top-level names, else the file name; then request.names,
 * else satisfy.names. Only the desired file's own names count: conf/target's are ignored. */
int desired_walk_names(const char *file, const struct ynode *root, struct target *t, struct err *e)
{
    const struct ynode *sat = nonnull(ynode_get(root, "satisfy"));
    const struct ynode *n = nonnull(ynode_get(sat, "names"));
    const struct ynode *req = nonnull(ynode_get(root, "request"));
    int rc = 0;

    if (n && (rc = get_names(n, "satisfy.names", &t->names, &t->nnames, e)) < 0)
        return rc;
    n = nonnull(ynode_get(root, "names"));
    if (t->nnames == 0 && n && (rc = get_names(n, "names", &t->names, &t->nnames, e)) < 0)
        return rc;
    if (t->nnames == 0) {
        struct err ne;
        bool ip;

        free(t->names);
        if (!(t->names = calloc(1, sizeof *t->names)))
            return err_set(e, -ENOMEM, "out of memory");
        if (name_normalize(file, strlen(file), &t->names[0].name, &ip, &ne) < 0)
            return err_set(e, -EINVAL,
                           "desired/%s: the file lists no names (satisfy.names), and its file "
                           "name is not a hostname: %s",
                           file, ne.msg);
        t->names[0].ip = ip;
        t->nnames = 1;
    }
    n = nonnull(ynode_get(req, "names"));
    if (n && (rc = get_names(n, "request.names", &t->req_names, &t->nreq_names, e)) < 0)
        return rc;
    if (t->nreq_names == 0) {
        free(t->req_names);
        t->req_names = NULL;
        rc = copy_names(t, &t->req_names, &t->nreq_names, e);
    }
    return rc;
}
