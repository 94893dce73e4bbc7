/* `want` and `unwant`: writing desired files (DESIGN.md §7).
 *
 * unwant edits the YAML tree and writes it back, so every other setting survives; comments
 * and the original layout do not (the tree keeps neither). */
#include "store/desired.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/desired_internal.h"
#include "store/names.h"
#include "util/fsio.h"
#include "util/log.h"

/* Normalises names[0..n-1] into a fresh vector without duplicates. -EINVAL on the first bad
 * name (its message says which), nothing allocated then. */
static int normalize_all(const char *const *names, size_t n, char ***out, size_t *nout,
                         struct err *e)
{
    char **v = calloc(n + 1, sizeof *v);
    size_t k = 0;
    int rc = 0;

    if (!v)
        return err_set(e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char *norm = NULL;
        bool ip, dup = false;

        if ((rc = name_normalize(names[i], strlen(names[i]), &norm, &ip, e)) < 0)
            goto out;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(v[j], norm) == 0;
        if (dup)
            free(norm);
        else
            v[k++] = norm;
    }
    *out = v;
    *nout = k;
    v = NULL;
out:
    desired_free_strv(v, k);
    return rc;
}

/* `want --apex`: appends the apex of each www.* name of v[0..*n-1] that is not there yet, as
 * satisfy.www-apex would (the file then says plainly what is wanted, and unwant can drop an
 * apex like any name). */
static int add_apexes(char ***v, size_t *n, struct err *e)
{
    size_t n0 = *n;

    for (size_t i = 0; i < n0; i++) {
        char *apex = NULL, **grown;
        bool dup = false;
        int rc;

        if ((rc = name_www_apex((*v)[i], &apex)) < 0)
            return err_set(e, -ENOMEM, "out of memory");
        for (size_t j = 0; rc > 0 && j < *n && !dup; j++)
            dup = strcmp((*v)[j], apex) == 0;
        if (rc == 0 || dup) {
            free(apex);
            continue;
        }
        if (!(grown = realloc(*v, (*n + 2) * sizeof *grown))) {
            free(apex);
            return err_set(e, -ENOMEM, "out of memory");
        }
        *v = grown;
        grown[(*n)++] = apex;
        grown[*n] = NULL;
    }
    return 0;
}

/* A desired file name must stay one harmless path component. */
static bool file_name_ok(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > 255 || s[0] == '.' || strchr(s, '/'))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* satisfy: {names: [...]} as a tree; libyaml's emitter quotes what needs it ("*.x"). */
static int want_tree(char **names, size_t n, const char *src, struct ynode **out)
{
    struct ynode *root = ynode_new(YNODE_MAP, src), *sat = ynode_new(YNODE_MAP, src);
    struct ynode *list = ynode_new(YNODE_SEQ, src);
    int rc = -ENOMEM;

    *out = NULL;
    if (!root || !sat || !list)
        goto out;
    for (size_t i = 0; i < n; i++)
        if ((rc = ynode_add(list, NULL, ynode_new_scalar(names[i], src))) < 0)
            goto out;
    rc = ynode_add(sat, ynode_new_scalar("names", src), list);
    list = NULL;
    if (rc < 0)
        goto out;
    rc = ynode_add(root, ynode_new_scalar("satisfy", src), sat);
    sat = NULL;
    if (rc < 0)
        goto out;
    *out = root;
    root = NULL;
out:
    ynode_free(list);
    ynode_free(sat);
    ynode_free(root);
    return rc;
}

static int write_tree(const char *path, const struct ynode *tree, struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if ((rc = ynode_emit(tree, &text, &len, e)) == 0)
        rc = fsio_write_atomic(path, text, len, 0644, e);
    free(text);
    return rc;
}

int desired_want(const char *root, const char *file, const char *const *names, size_t n,
                 bool www_apex, struct err *e)
{
    char **norm = NULL, *dir = NULL, *path = NULL;
    struct ynode *tree = NULL;
    size_t nnorm = 0;
    int rc;

    if (n == 0)
        return err_set(e, -EINVAL, "want: no names given");
    if ((rc = normalize_all(names, n, &norm, &nnorm, e)) < 0)
        return rc;
    if (www_apex && (rc = add_apexes(&norm, &nnorm, e)) < 0)
        goto out;
    if (!file)
        file = norm[0];
    if (!file_name_ok(file)) {
        rc = err_set(e, -EINVAL, "want: \"%.100s\" cannot be a desired file name", file);
        goto out;
    }
    if (!(dir = fsio_join(root, "desired")) || !(path = fsio_join(dir, file))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = want_tree(norm, nnorm, "want", &tree)) < 0) {
        err_set(e, rc, "out of memory");
        goto out;
    }
    if ((rc = fsio_mkdirs(dir, 0755, e)) < 0 || (rc = write_tree(path, tree, e)) < 0)
        goto out;
    log_info("desired/%s: wants %s%s", file, norm[0], nnorm > 1 ? " and more" : "");
out:
    ynode_free(tree);
    free(path);
    free(dir);
    desired_free_strv(norm, nnorm);
    return rc;
}

static bool unwanted(const struct ynode *item, char *const *gone, size_t ngone)
{
    char *norm = NULL;
    bool ip, hit = false;

    if (item->type != YNODE_SCALAR)
        return false;
    if (name_normalize(item->str, item->len, &norm, &ip, NULL) < 0)
        norm = strdup(item->str); /* not a valid name: only an exact match removes it */
    for (size_t i = 0; norm && i < ngone && !hit; i++)
        hit = strcmp(norm, gone[i]) == 0;
    free(norm);
    return hit;
}

/* Drops the unwanted names from the list (or single string) under m[key]; a list left empty
 * goes with its key, so request.names falls back to satisfy.names. Returns how many went. */
static size_t drop_names(struct ynode *m, const char *key, char *const *gone, size_t ngone)
{
    size_t dropped = 0, at;
    struct ynode *v;

    if (!m || m->type != YNODE_MAP)
        return 0;
    for (at = 0; at < m->n && strcmp(m->keys[at]->str, key) != 0; at++)
        ;
    if (at == m->n)
        return 0;
    v = m->items[at];
    if (v->type == YNODE_SCALAR && !ynode_is_null(v) && unwanted(v, gone, ngone)) {
        ynode_remove(m, at);
        return 1;
    }
    if (v->type != YNODE_SEQ)
        return 0;
    for (size_t i = v->n; i-- > 0;) {
        if (unwanted(v->items[i], gone, ngone)) {
            ynode_remove(v, i);
            dropped++;
        }
    }
    if (dropped && v->n == 0)
        ynode_remove(m, at);
    return dropped;
}

static size_t count_names(const struct ynode *m, const char *key)
{
    const struct ynode *v = ynode_get(m, key);

    if (!v || ynode_is_null(v))
        return 0;
    return v->type == YNODE_SEQ ? v->n : 1;
}

/* Decides what unwant does to one parsed file: 0 nothing, 1 rewrite, 2 delete. A file
 * naming nobody explicitly stands for its own file name. */
static int unwant_plan(const char *file, struct ynode *root, char *const *gone, size_t ngone)
{
    struct ynode *sat = root ? ynode_get(root, "satisfy") : NULL;
    struct ynode *req = root ? ynode_get(root, "request") : NULL;
    size_t before = count_names(sat, "names") + count_names(root, "names"), dropped;

    if (before == 0) {
        struct ynode self = {.type = YNODE_SCALAR, .str = (char *)file, .len = strlen(file)};

        if (unwanted(&self, gone, ngone))
            return 2;
    }
    dropped = drop_names(sat, "names", gone, ngone) + drop_names(root, "names", gone, ngone);
    if (before > 0 && count_names(sat, "names") + count_names(root, "names") == 0)
        return 2;
    dropped += drop_names(req, "names", gone, ngone);
    return dropped ? 1 : 0;
}

static int unwant_file(const char *dir, const char *file, char *const *gone, size_t ngone,
                       size_t *changed, struct err *e)
{
    char *path = fsio_join(dir, file), *text = NULL, *src = NULL;
    struct ydoc doc = {0};
    struct err fe;
    size_t len;
    int rc = 0, plan;

    if (!path || asprintf(&src, "desired/%s", file) < 0) {
        src = NULL;
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    /* A file we cannot read or parse names nobody we can find; it is reported by the
     * reconciler anyway, and must not stop the others from being edited. */
    if (fsio_read_file(path, DESIRED_MAX_FILE, &text, &len, &fe) < 0 ||
        ydoc_parse(&doc, src, text, len, &fe) < 0) {
        log_warn("unwant: %s skipped: %s", src, fe.msg);
        goto out;
    }
    /* The legacy plain form is edited as the satisfy.names it stands for, and rewritten
     * (when a name goes) in the current form. */
    if ((rc = desired_legacy_root(&doc, text, len, e)) < 0)
        goto out;
    rc = 0;
    if (doc.root && doc.root->type != YNODE_MAP && !ynode_is_null(doc.root))
        goto out;
    plan = unwant_plan(file, ynode_is_null(doc.root) ? NULL : doc.root, gone, ngone);
    if (plan == 2) {
        if (unlink(path) < 0) {
            rc = err_sys(e, -errno, "cannot remove %s", path);
            goto out;
        }
        rc = fsio_fsync_dir(dir, e);
        log_info("%s: removed (no names left)", src);
    } else if (plan == 1) {
        rc = write_tree(path, doc.root, e);
        log_info("%s: names removed", src);
    }
    if (rc == 0 && plan)
        (*changed)++;
out:
    ydoc_clear(&doc);
    free(text);
    free(src);
    free(path);
    return rc;
}

int desired_unwant(const char *root, const char *const *names, size_t n, size_t *changed,
                   struct err *e)
{
    char **gone = NULL, **files = NULL, *dir = NULL;
    size_t ngone = 0, nfiles = 0;
    int rc;

    *changed = 0;
    if (n == 0)
        return err_set(e, -EINVAL, "unwant: no names given");
    if ((rc = normalize_all(names, n, &gone, &ngone, e)) < 0)
        return rc;
    if (!(dir = fsio_join(root, "desired"))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = desired_list_files(dir, &files, &nfiles, e)) < 0)
        goto out;
    for (size_t i = 0; i < nfiles && rc == 0; i++)
        rc = unwant_file(dir, files[i], gone, ngone, changed, e);
out:
    desired_free_strv(files, nfiles);
    desired_free_strv(gone, ngone);
    free(dir);
    return rc;
}
