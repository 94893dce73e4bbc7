/* The names of a desired file (DESIGN.md §3): satisfy.names, the legacy top-level names, the
 * file name itself, the legacy plain form (a document of hostnames alone), request.names,
 * and the apexes satisfy.www-apex adds. Every one is normalised (store/names.h). */
#include "store/desired_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/names.h"
#include "util/log.h"

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

/* satisfy.www-apex: appends the apex of each www.* name among v[0..*n-1] (not of the ones it
 * adds: "www.www.example.com" gives "www.example.com" only) unless it is there already. */
static int add_apexes(struct target_name **v, size_t *n, struct err *e)
{
    size_t n0 = *n;

    for (size_t i = 0; i < n0; i++) {
        struct target_name *grown;
        char *apex = NULL;
        int rc;

        if ((*v)[i].ip)
            continue;
        if ((rc = name_www_apex((*v)[i].name, &apex)) < 0)
            return err_set(e, -ENOMEM, "out of memory");
        if (rc == 0 || has_name(*v, *n, apex)) {
            free(apex);
            continue;
        }
        if (!(grown = realloc(*v, (*n + 2) * sizeof *grown))) {
            free(apex);
            return err_set(e, -ENOMEM, "out of memory");
        }
        *v = grown;
        grown[*n].name = apex;
        grown[*n].ip = false;
        (*n)++;
        memset(&grown[*n], 0, sizeof grown[*n]);
    }
    return 0;
}

/* satisfy.names, else the legacy top-level names, else the file name; then request.names,
 * else satisfy.names; with www-apex, each list gains its apexes. Only the desired file's
 * own names count: conf/target's are ignored (its www-apex is not: t already has it). */
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
    /* With request.csr and no names of the file's own, the CSR's are the names
     * (desired_walk_csr). */
    if (t->nnames == 0 && nonnull(ynode_get(req, "csr")))
        return 0;
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
    if (t->www_apex && (rc = add_apexes(&t->names, &t->nnames, e)) < 0)
        return rc;
    n = nonnull(ynode_get(req, "names"));
    if (n && (rc = get_names(n, "request.names", &t->req_names, &t->nreq_names, e)) < 0)
        return rc;
    /* An explicit request.names gains the apexes too: without them the certificate would
     * never satisfy the names above, and every pass would order it again. */
    if (t->nreq_names > 0 && t->www_apex && (rc = add_apexes(&t->req_names, &t->nreq_names, e)) < 0)
        return rc;
    if (t->nreq_names == 0) {
        free(t->req_names);
        t->req_names = NULL;
        rc = copy_names(t, &t->req_names, &t->nreq_names, e);
    }
    return rc;
}

/* ---- the legacy plain form: a document of hostnames alone ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '*';
}

/* What YAML would read as a number: digits, an optional fraction and exponent ("42", "1.5",
 * "1e5", "-3"). An IPv4 address has more than one dot and is not one. */
static bool is_number(const char *s)
{
    size_t d;

    s += *s == '-';
    if ((d = strspn(s, "0123456789")) == 0)
        return false;
    s += d;
    if (*s == '.') {
        if ((d = strspn(s + 1, "0123456789")) == 0)
            return false;
        s += 1 + d;
    }
    if (*s == 'e' || *s == 'E') {
        s += 1 + (s[1] == '-');
        if ((d = strspn(s, "0123456789")) == 0)
            return false;
        s += d;
    }
    return *s == '\0';
}

/* A plain scalar of hostname characters and white space, not YAML's null or a number. */
static bool is_legacy(const struct ynode *n)
{
    bool word = false;

    if (!n || n->type != YNODE_SCALAR || n->quoted || ynode_is_null(n) ||
        n->len != strlen(n->str) || is_number(n->str))
        return false;
    for (const char *p = n->str; *p; p++) {
        if (!is_space(*p) && !is_host_char(*p))
            return false;
        word = word || !is_space(*p);
    }
    return word;
}

/* Where each word of the legacy scalar n starts in the document's text, so that an error
 * names the line of the name at fault (one name a line is a common layout). The words are
 * found in order from the scalar's own position, separated by white space only; when the
 * text does not line up (a byte-order mark, a tag before the scalar), every word keeps the
 * scalar's position. */
struct wordpos {
    const char *end, *p;
    unsigned line, col;
    bool lost;
};

static void wordpos_init(struct wordpos *w, const struct ynode *n, const char *text, size_t len)
{
    memset(w, 0, sizeof *w);
    w->p = text;
    w->end = text ? text + len : NULL;
    w->line = 1;
    w->col = 1;
    w->lost = !text;
    while (!w->lost && w->line < n->line) {
        const char *nl = memchr(w->p, '\n', (size_t)(w->end - w->p));

        if (!nl)
            w->lost = true;
        else
            w->p = nl + 1;
        w->line++;
    }
    for (; !w->lost && w->col < n->col; w->col++, w->p++)
        if (w->p >= w->end || *w->p == '\n')
            w->lost = true;
}

static void wordpos_next(struct wordpos *w, const char *word, size_t len)
{
    for (; !w->lost && w->p < w->end && is_space(*w->p); w->p++) {
        w->col++;
        if (*w->p == '\n') {
            w->line++;
            w->col = 1;
        }
    }
    if (w->lost || (size_t)(w->end - w->p) < len || memcmp(w->p, word, len) != 0)
        w->lost = true;
}

/* {satisfy: {names: [...]}}, each node with the position of what it stands for. */
static struct ynode *legacy_tree(const struct ynode *n, const char *text, size_t len)
{
    struct ynode *root = ynode_new(YNODE_MAP, n->src), *sat = ynode_new(YNODE_MAP, n->src);
    struct ynode *list = ynode_new(YNODE_SEQ, n->src);
    struct wordpos w;
    const char *p = n->str;

    if (!root || !sat || !list)
        goto fail;
    root->line = sat->line = list->line = n->line;
    root->col = sat->col = list->col = n->col;
    wordpos_init(&w, n, text, len);
    while (*p) {
        size_t wl;
        struct ynode *item;
        char *word;

        while (is_space(*p))
            p++;
        if (!(wl = strcspn(p, " \t\r\n")))
            break;
        if (!(word = strndup(p, wl)))
            goto fail;
        item = ynode_new_scalar(word, n->src);
        free(word);
        if (!item)
            goto fail;
        wordpos_next(&w, p, wl);
        item->line = w.lost ? n->line : w.line;
        item->col = w.lost ? n->col : w.col;
        if (!w.lost) {
            w.p += wl;
            w.col += (unsigned)wl;
        }
        if (ynode_add(list, NULL, item) < 0)
            goto fail;
        p += wl;
    }
    if (ynode_add(sat, ynode_new_scalar("names", n->src), list) < 0) {
        list = NULL;
        goto fail;
    }
    list = NULL;
    if (ynode_add(root, ynode_new_scalar("satisfy", n->src), sat) < 0) {
        sat = NULL;
        goto fail;
    }
    return root;
fail:
    ynode_free(list);
    ynode_free(sat);
    ynode_free(root);
    return NULL;
}

int desired_legacy_root(struct ydoc *doc, const char *text, size_t len, struct err *e)
{
    struct ynode *tree;

    if (!is_legacy(doc->root))
        return 0;
    if (!(tree = legacy_tree(doc->root, text, len)))
        return err_set(e, -ENOMEM, "out of memory");
    ynode_free(doc->root);
    doc->root = tree;
    return 1;
}

int desired_root_err(const struct ynode *root, struct err *e)
{
    if (root->type == YNODE_SCALAR && !root->quoted && is_number(root->str))
        return ynode_err(e, root, "", "expected a mapping, not a number");
    return ynode_err(e, root, "",
                     "expected a mapping (satisfy: ...), or hostnames separated by white space "
                     "(the legacy plain form)");
}
