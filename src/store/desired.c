/* desired: reading desired/ and conf/target into targets (the schema itself is in
 * desired_schema.c), and `want`/`unwant` writing desired files. */
#include "store/desired.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/desired_internal.h"
#include "store/names.h"
#include "util/fsio.h"
#include "util/log.h"

/* Parses conf/target's text into doc and checks it alone (warnings come out here, once);
 * out, when not NULL, receives it walked as a target (desired_walk_defaults). */
static int parse_defaults(struct ydoc *doc, const char *text, size_t len, struct target *out,
                          struct err *e)
{
    int rc;

    if ((rc = ydoc_parse(doc, "conf/target", text, len, e)) < 0)
        return rc;
    return desired_walk_defaults(doc->root, out, e);
}

static int parse_one(const char *file, const char *text, size_t len, const struct ynode *defaults,
                     struct target *out, struct err *e)
{
    struct ydoc doc = {0};
    char *src = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if (asprintf(&src, "desired/%s", file) < 0)
        return err_set(e, -ENOMEM, "out of memory");
    if ((rc = ydoc_parse(&doc, src, text, len, e)) == 0 &&
        (rc = desired_legacy_root(&doc, text, len, e)) > 0) {
        log_notice("%s:%u: hostnames alone (the legacy plain form), read as satisfy.names", src,
                   doc.root->line);
        rc = 0;
    }
    if (rc == 0)
        rc = desired_walk(file, doc.root, defaults, out, e);
    ydoc_clear(&doc);
    free(src);
    return rc;
}

int desired_parse(const char *file, const char *text, size_t len, const char *defaults,
                  size_t defaults_len, struct target *out, struct err *e)
{
    struct ydoc def = {0};
    int rc;

    memset(out, 0, sizeof *out);
    if (!file || !*file)
        return err_set(e, -EINVAL, "desired file without a name");
    if ((rc = parse_defaults(&def, defaults, defaults ? defaults_len : 0, NULL, e)) == 0)
        rc = parse_one(file, text, text ? len : 0, def.root, out, e);
    ydoc_clear(&def);
    return rc;
}

void desired_set_clear(struct desired_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ntargets; i++)
        target_clear(&s->targets[i]);
    free(s->targets);
    for (size_t i = 0; i < s->nerrors; i++) {
        free(s->errors[i].file);
        free(s->errors[i].message);
    }
    free(s->errors);
    desired_free_strv(s->contact, s->ncontact);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void desired_free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Dotfiles (".tmp-*" among them) are not targets; anything that is not a regular file (a
 * symlink might lead out of the state directory, a directory is a mistake) is skipped with a
 * warning rather than followed. */
static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

int desired_list_files(const char *dir, char ***out, size_t *n, struct err *e)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **v = NULL;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT ? 0 : err_sys(e, -errno, "cannot open %s", dir);
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        char **grown;

        if (de->d_name[0] == '.')
            continue;
        if (has_control(de->d_name)) {
            char shown[256];

            /* Never echo terminal escapes from a file name into the log. */
            snprintf(shown, sizeof shown, "%s", de->d_name);
            for (char *c = shown; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    *c = '?';
            log_err("%s/%s: a file name with control characters is not a target, skipped", dir,
                    shown);
            continue;
        }
        /* The entry's type when the file system gives it (no stat for each of thousands). */
        if (de->d_type == DT_REG) {
            /* a regular file */
        } else if (de->d_type != DT_UNKNOWN ||
                   fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                   !S_ISREG(st.st_mode)) {
            log_warn("%s/%s: not a regular file, skipped", dir, de->d_name);
            continue;
        }
        if (!(grown = realloc(v, (*n + 1) * sizeof *v)) || !(grown[*n] = strdup(de->d_name))) {
            v = grown ? grown : v;
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
        v = grown;
        (*n)++;
    }
    if (*n > 1)
        qsort(v, *n, sizeof *v, cmp_str);
    *out = v;
    v = NULL;
out:
    if (v)
        desired_free_strv(v, *n);
    if (rc < 0)
        *n = 0;
    closedir(d);
    return rc;
}

static int add_error(struct desired_set *s, const char *file, const char *msg, struct err *e)
{
    struct desired_error *grown = realloc(s->errors, (s->nerrors + 1) * sizeof *grown);

    if (!grown)
        return err_set(e, -ENOMEM, "out of memory");
    s->errors = grown;
    grown[s->nerrors].file = strdup(file);
    grown[s->nerrors].message = strdup(msg);
    if (!grown[s->nerrors].file || !grown[s->nerrors].message) {
        free(grown[s->nerrors].file);
        free(grown[s->nerrors].message);
        return err_set(e, -ENOMEM, "out of memory");
    }
    s->nerrors++;
    return 0;
}

/* Reads and parses desired/<file>; a bad file becomes an entry of s->errors, not a failure. */
static int load_one(const char *dir, const char *file, const struct ynode *defaults,
                    struct desired_set *s, struct err *e)
{
    char *path = fsio_join(dir, file), *text = NULL;
    struct target t;
    struct err fe;
    size_t len = 0;
    int rc = 0;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    /* Its progress would be state/daemon.json, which is the daemon's own record. */
    if (!strcmp(file, "daemon")) {
        err_set(&fe, -EINVAL,
                "desired/daemon: the file name \"daemon\" is reserved "
                "(state/daemon.json is the daemon's record); give the target another name");
        log_err("%s", fe.msg);
        rc = add_error(s, file, fe.msg, e);
        goto out;
    }
    if (fsio_read_file(path, DESIRED_MAX_FILE, &text, &len, &fe) < 0 ||
        parse_one(file, text, len, defaults, &t, &fe) < 0) {
        log_err("%s", fe.msg);
        rc = add_error(s, file, fe.msg, e);
        goto out;
    }
    if (!(s->ntargets % 16)) {
        struct target *grown = realloc(s->targets, (s->ntargets + 16) * sizeof *grown);

        if (!grown) {
            target_clear(&t);
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
        s->targets = grown;
    }
    s->targets[s->ntargets++] = t;
out:
    free(text);
    free(path);
    return rc;
}

/* Reads conf/target into doc (left empty when the file is missing) and into *out as
 * desired_walk_defaults does (the built-in defaults when the file is missing). */
static int load_defaults(const char *root, struct ydoc *doc, struct target *out, struct err *e)
{
    char *path = fsio_join(root, "conf/target"), *text = NULL;
    size_t len = 0;
    int rc;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    rc = fsio_read_file(path, DESIRED_MAX_FILE, &text, &len, e);
    if (rc == -ENOENT)
        rc = desired_walk_defaults(NULL, out, e);
    else if (rc == 0)
        rc = parse_defaults(doc, text, len, out, e);
    if (rc < 0 && rc != -ENOMEM)
        rc = -EINVAL;
    free(text);
    free(path);
    return rc;
}

int desired_load_defaults(const char *root, struct target *out, struct err *e)
{
    struct ydoc doc = {0};
    int rc;

    memset(out, 0, sizeof *out);
    rc = load_defaults(root, &doc, out, e);
    if (rc < 0 && e)
        e->code = rc;
    ydoc_clear(&doc);
    return rc;
}

int desired_load(const char *root, struct desired_set *out, struct err *e)
{
    struct ydoc def = {0};
    struct target deft = {0};
    char *dir = NULL, **files = NULL;
    size_t nfiles = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = load_defaults(root, &def, &deft, e)) < 0) {
        if (e)
            e->code = rc;
        goto out;
    }
    /* The accounts' contact is conf/target's alone: kept apart from the merged targets. */
    out->contact = deft.contact;
    out->ncontact = deft.ncontact;
    deft.contact = NULL;
    deft.ncontact = 0;
    if (!(dir = fsio_join(root, "desired"))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = desired_list_files(dir, &files, &nfiles, e)) < 0)
        goto out;
    for (size_t i = 0; i < nfiles && rc == 0; i++)
        rc = load_one(dir, files[i], def.root, out, e);
out:
    if (rc < 0)
        desired_set_clear(out);
    desired_free_strv(files, nfiles);
    free(dir);
    target_clear(&deft);
    ydoc_clear(&def);
    return rc;
}

int desired_target_csr(const char *root, const char *file, struct csr_info *csr, struct target *out,
                       struct err *e)
{
    int rc;

    if ((rc = desired_load_defaults(root, out, e)) < 0) {
        csr_info_free(csr);
        return rc;
    }
    free(out->file);
    out->csr = csr;
    if (!(out->file = strdup(file)))
        rc = err_set(e, -ENOMEM, "out of memory");
    else
        rc = desired_csr_names(out, e);
    if (rc < 0)
        target_clear(out);
    return rc;
}
