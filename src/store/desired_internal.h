/* desired_internal: what desired.c (files) and desired_schema.c (the schema walk) share.
 * Not for other modules. */
#ifndef ACMED_STORE_DESIRED_INTERNAL_H
#define ACMED_STORE_DESIRED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "store/target.h"
#include "store/ynode.h"
#include "util/err.h"

#define DESIRED_MAX_FILE (1024 * 1024)
/* satisfy.critical-days: ten years is longer than any certificate a CA issues today. */
#define DESIRED_MAX_CRITICAL_DAYS 3650

/* Walks a desired file's tree `root` (NULL when empty) merged over conf/target's `defaults`
 * (NULL when none, else already checked by desired_walk_defaults) into *out, per DESIGN.md
 * §3. `file` is the desired file's name (the default hostname). A root that is not a mapping
 * is an error (desired_root_err): convert the legacy form first (desired_legacy_root).
 * Unknown keys in root are warned about (those of defaults were, once, by
 * desired_walk_defaults). Returns 0, or -EINVAL with e naming file, line, column and key
 * path; *out is then zeroed. */
int desired_walk(const char *file, const struct ynode *root, const struct ynode *defaults,
                 struct target *out, struct err *e);

/* Checks conf/target's tree alone (NULL when empty), warning about unknown keys and about
 * names (ignored there). Returns 0 or -EINVAL as desired_walk; on success, when out is not
 * NULL, *out is conf/target walked as a target of its own (file "conf/target", names empty),
 * for target_clear. */
int desired_walk_defaults(const struct ynode *defaults, struct target *out, struct err *e);

/* Fills t's satisfy.names and request.names from the desired file's own tree `root` (NULL
 * when empty); conf/target's names never count. Returns 0 or -EINVAL with e set. */
int desired_walk_names(const char *file, const struct ynode *root, struct target *t, struct err *e);

/* request.csr in the desired file's own tree `root` (conf/target may not name one): reads
 * and checks the CSR into t->csr (t->csr_path), makes its names t's request.names and checks
 * that every satisfy name is among them (satisfy.names defaults to them when the file names
 * none). Nothing when the file has no request.csr. Returns 0 or -EINVAL with e naming the
 * file and line. */
int desired_walk_csr(const struct ynode *root, struct target *t, struct err *e);

/* t->csr's names, normalised and each once, as t's request.names and satisfy.names (for
 * the targets of sign-csr and serve). Returns 0, or -EINVAL (a name acmed cannot order) or
 * -ENOMEM with e set. */
int desired_csr_names(struct target *t, struct err *e);

/* The legacy plain desired file: a YAML document that is one plain scalar of hostname
 * characters ([A-Za-z0-9.*-]) and white space, "www.example.com example.com" (or one name a
 * line), not a number. When doc->root is one, it is replaced by the tree
 * {satisfy: {names: [...]}} whose names carry their own line and column in `text` (the len
 * bytes doc was parsed from; NULL: the scalar's position), and 1 is returned. Anything else
 * leaves doc alone: 0. -ENOMEM with e set. */
int desired_legacy_root(struct ydoc *doc, const char *text, size_t len, struct err *e);

/* The error for a desired file whose document is neither a mapping nor the legacy form
 * above: -EINVAL with e naming root's line ("top level: expected a mapping..."). */
int desired_root_err(const struct ynode *root, struct err *e);

/* The names of the regular files directly in dir, sorted, without dotfiles (a missing dir
 * has none). *out is freed with desired_free_strv. Returns 0 or negative. */
int desired_list_files(const char *dir, char ***out, size_t *n, struct err *e);
void desired_free_strv(char **v, size_t n);

#endif
