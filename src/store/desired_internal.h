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

/* Walks a desired file's tree `root` (NULL when empty) merged over conf/target's `defaults`
 * (NULL when none, else already checked by desired_walk_defaults) into *out, per DESIGN.md
 * §3. `file` is the desired file's name (the default hostname). Unknown keys in root are
 * warned about (those of defaults were, once, by desired_walk_defaults). Returns 0, or
 * -EINVAL with e naming file, line, column and key path; *out is then zeroed. */
int desired_walk(const char *file, const struct ynode *root, const struct ynode *defaults,
                 struct target *out, struct err *e);

/* Checks conf/target's tree alone (NULL when empty), warning about unknown keys and about
 * names (ignored there). Returns 0 or -EINVAL as desired_walk; on success, when out is not
 * NULL, *out is conf/target walked as a target of its own (file "conf/target", names empty),
 * for target_free. */
int desired_walk_defaults(const struct ynode *defaults, struct target *out, struct err *e);

/* Fills t's satisfy.names and request.names from the desired file's own tree `root` (NULL
 * when empty); conf/target's names never count. Returns 0 or -EINVAL with e set. */
int desired_walk_names(const char *file, const struct ynode *root, struct target *t, struct err *e);

/* The names of the regular files directly in dir, sorted, without dotfiles (a missing dir
 * has none). *out is freed with desired_free_strv. Returns 0 or negative. */
int desired_list_files(const char *dir, char ***out, size_t *n, struct err *e);
void desired_free_strv(char **v, size_t n);

#endif
