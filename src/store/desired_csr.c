/* request.csr (DESIGN.md §11): a target issued for a CSR someone else made, whose key never
 * comes near acmed. The CSR is read and checked (self-signature, key, names) whenever the
 * desired file is, so a bad one is reported with the file and line like any other mistake;
 * its names become request.names, and satisfy.names, when the file gives them, must be
 * among them. */
#include "store/desired_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/csr_read.h"
#include "store/names.h"
#include "util/fsio.h"

static const struct ynode *nonnull(const struct ynode *n)
{
    return ynode_is_null(n) ? NULL : n;
}

static bool listed(const struct target_name *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, name))
            return true;
    return false;
}

/* The CSR's names, normalised and each once, as request.names; -EINVAL with ne set when
 * one is not a name acmed orders. */
static int csr_names_in(const struct csr_info *csr, struct target *t, struct err *ne)
{
    size_t n, k = 0;
    const char *const *names = csr_names(csr, &n);
    struct target_name *v = calloc(n + 1, sizeof *v);

    if (!v)
        return err_set(ne, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char *name = NULL;
        bool ip;
        int rc;

        if ((rc = name_normalize(names[i], strlen(names[i]), &name, &ip, ne)) < 0) {
            for (size_t j = 0; j < k; j++)
                free(v[j].name);
            free(v);
            return rc;
        }
        if (listed(v, k, name)) {
            free(name);
            continue;
        }
        v[k].name = name;
        v[k++].ip = ip;
    }
    for (size_t i = 0; i < t->nreq_names; i++)
        free(t->req_names[i].name);
    free(t->req_names);
    t->req_names = v;
    t->nreq_names = k;
    return 0;
}

/* Every satisfy name must be one the CSR asks for: the line of the first that is not. */
static int check_satisfy(const struct ynode *list, const struct target *t, struct err *e)
{
    for (size_t i = 0; i < t->nnames; i++) {
        const struct ynode *at = list;

        if (listed(t->req_names, t->nreq_names, t->names[i].name))
            continue;
        /* The line of the name itself when it is written as one (www-apex adds others). */
        for (size_t k = 0; list && list->type == YNODE_SEQ && k < list->n; k++) {
            const struct ynode *it = list->items[k];
            char *name = NULL;
            struct err ne;
            bool ip;

            if (it->type == YNODE_SCALAR &&
                name_normalize(it->str, it->len, &name, &ip, &ne) == 0 &&
                !strcmp(name, t->names[i].name))
                at = it;
            free(name);
        }
        return ynode_err(e, at, "satisfy.names", "%s is not among the names of the CSR %s",
                         t->names[i].name, t->csr_path);
    }
    return 0;
}

/* satisfy.names taken from the CSR when the file names none of its own. */
static int copy_req_names(struct target *t, struct err *e)
{
    struct target_name *v = calloc(t->nreq_names + 1, sizeof *v);

    if (!v)
        return err_set(e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < t->nreq_names; i++) {
        v[i].ip = t->req_names[i].ip;
        if (!(v[i].name = strdup(t->req_names[i].name))) {
            for (size_t k = 0; k < i; k++)
                free(v[k].name);
            free(v);
            return err_set(e, -ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < t->nnames; i++)
        free(t->names[i].name);
    free(t->names);
    t->names = v;
    t->nnames = t->nreq_names;
    return 0;
}

int desired_walk_csr(const struct ynode *root, struct target *t, struct err *e)
{
    const struct ynode *req = nonnull(ynode_get(root, "request"));
    const struct ynode *n = nonnull(ynode_get(req, "csr"));
    const struct ynode *sat = nonnull(ynode_get(nonnull(ynode_get(root, "satisfy")), "names"));
    char *data = NULL;
    size_t len = 0;
    struct err fe;
    int rc;

    if (!n)
        return 0;
    if (n->type != YNODE_SCALAR || n->len != strlen(n->str) || n->str[0] != '/')
        return ynode_err(e, n, "request.csr", "expected an absolute path to a CSR (PEM or DER)");
    if (nonnull(ynode_get(req, "names")))
        return ynode_err(e, ynode_get(req, "names"), "request.names",
                         "cannot be used with request.csr: the CSR's names are ordered");
    if (nonnull(ynode_get(req, "key")))
        return ynode_err(e, ynode_get(req, "key"), "request.key",
                         "cannot be used with request.csr: the key is the CSR's");
    if (!(t->csr_path = strdup(n->str)))
        return err_set(e, -ENOMEM, "out of memory");
    if ((rc = fsio_read_file(t->csr_path, CSR_READ_MAX, &data, &len, &fe)) < 0)
        return ynode_err(e, n, "request.csr", "%s", fe.msg);
    rc = csr_read((const uint8_t *)data, len, &t->csr, &fe);
    free(data);
    if (rc < 0)
        return ynode_err(e, n, "request.csr", "%s: %s", t->csr_path, fe.msg);
    if ((rc = csr_names_in(t->csr, t, &fe)) < 0)
        return rc == -ENOMEM
                   ? err_set(e, rc, "out of memory")
                   : ynode_err(e, n, "request.csr", "%s: the CSR asks for %s", t->csr_path, fe.msg);
    if (!sat && !nonnull(ynode_get(root, "names")))
        return copy_req_names(t, e);
    return check_satisfy(sat ? sat : ynode_get(root, "names"), t, e);
}

int desired_csr_names(struct target *t, struct err *e)
{
    struct err ne;
    int rc = csr_names_in(t->csr, t, &ne);

    if (rc < 0)
        return rc == -ENOMEM ? err_set(e, rc, "out of memory")
                             : err_set(e, rc, "the CSR asks for %s", ne.msg);
    return copy_req_names(t, e);
}
