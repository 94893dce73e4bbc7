/* desired_yview: typed reads of a desired file's YAML tree merged over conf/target's, with
 * errors naming file, line, column and key path (the tools desired_schema.c walks the schema
 * with). Not for other modules. */
#ifndef ACMED_STORE_DESIRED_YVIEW_H
#define ACMED_STORE_DESIRED_YVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "store/ynode.h"
#include "util/err.h"

struct yview {
    const struct ynode *d; /* the desired file's node */
    const struct ynode *f; /* conf/target's node at the same path */
};

struct yview_ctx {
    struct err *e;
    bool defaults; /* walking conf/target alone (desired_walk_defaults) */
};

typedef bool (*item_ok_fn)(const char *s);

/* n, or NULL when n is a YAML null (not set). */
const struct ynode *yview_nonnull(const struct ynode *n);
/* The node in effect at v: the desired file's, else conf/target's. */
const struct ynode *yview_eff(struct yview v);
/* The pair one key further down. Only two mappings merge: when the desired file has
 * something else there, the default is out of the picture. */
struct yview yview_sub(struct yview v, const char *key);
/* True when s is one of the NULL-terminated list. */
bool yview_in_list(const char *s, const char *const *list);
/* Checks that the node at v is a mapping and warns about the desired side's keys missing
 * from `known` (NULL: any key goes, as in env). 0 or -EINVAL (c->e set). */
int yview_open_map(struct yview_ctx *c, struct yview v, const char *path, const char *const *known);
/* The text of scalar n (borrowed, into *out), which must be one line: control characters
 * never belong in a hostname, URL, path or label. `what` names it in messages. */
int yview_scalar_text(struct yview_ctx *c, const struct ynode *n, const char *path,
                      const char *what, const char **out);
/* Replaces *dst with a copy of s. 0 or -ENOMEM. */
int yview_set_str(struct yview_ctx *c, char **dst, const char *s);
/* The string, boolean or integer (in [min, max]) at v into *out, left alone when not set.
 * 0 or negative with c->e set. */
int yview_get_str(struct yview_ctx *c, struct yview v, const char *path, char **out);
int yview_get_bool(struct yview_ctx *c, struct yview v, const char *path, bool *out);
int yview_get_int(struct yview_ctx *c, struct yview v, const char *path, long long min,
                  long long max, int *out);
/* A list of strings, or (as acmetool's users sometimes write) a single string, replacing
 * *out and *nout. Every item passes ok (when given); `what` describes one item for messages. An
 * explicit empty list gives an empty (non-NULL) vector. */
int yview_get_list(struct yview_ctx *c, struct yview v, const char *path, const char *what,
                   item_ok_fn ok, char ***out, size_t *nout);

#endif
