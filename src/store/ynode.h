/* ynode: a small YAML tree (libyaml) that remembers where every node came from, for the
 * desired files, conf/target, conf/acmed.yaml and conf/responses (DESIGN.md §2, §3).
 *
 * Only what those files need: scalars, sequences and mappings with string keys. Aliases are
 * refused (no desired file needs them, and they make "which line is wrong" ambiguous), as are
 * duplicate keys, non-scalar keys, nesting deeper than YNODE_MAX_DEPTH and a second document.
 * Tags are ignored. Comments are not kept, so a tree written back loses them. */
#ifndef ACMED_STORE_YNODE_H
#define ACMED_STORE_YNODE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define YNODE_MAX_DEPTH 32

enum ynode_type { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
    enum ynode_type type;
    unsigned line, col; /* 1-based start of the node; 0 for nodes built in memory */
    const char *src;    /* "desired/www" etc. for messages; borrowed from the ydoc */
    char *str;          /* scalar text (NUL-terminated; may hold NULs, see len) */
    size_t len;
    bool quoted;          /* scalar written quoted or as a block: never null, kept quoted */
    bool flow;            /* collection written in flow style ([a, b]); kept when emitted */
    struct ynode **keys;  /* YNODE_MAP: n scalar keys */
    struct ynode **items; /* YNODE_SEQ: n items; YNODE_MAP: n values */
    size_t n, cap;
};

struct ydoc {
    char *src;          /* owned; nodes borrow it */
    struct ynode *root; /* NULL for an empty document */
};

/* Parses `len` bytes of YAML. `src` names the file in messages. On success doc->root is the
 * first document's root (NULL when the text holds no document). -EINVAL with
 * "<src>: line L, column C: ..." otherwise. The doc is released with ydoc_clear in both cases. */
int ydoc_parse(struct ydoc *doc, const char *src, const char *text, size_t len, struct err *e);
void ydoc_clear(struct ydoc *doc);

/* Writes the tree back as YAML (block style unless the node was flow, quoting whatever would
 * not read back as the same scalar). *out is caller-owned and NUL-terminated. */
int ynode_emit(const struct ynode *root, char **out, size_t *len, struct err *e);

/* True for a plain scalar "", "~", "null", "Null" or "NULL" (YAML's null): "not set". */
bool ynode_is_null(const struct ynode *n);

/* A boolean as acmetool's YAML library read them: true/false, yes/no, on/off in any case.
 * Returns 0, or -EINVAL when n is not a scalar holding one. */
int ynode_bool(const struct ynode *n, bool *out);

/* A decimal integer with an optional sign. Returns 0, -EINVAL when n is not a scalar holding
 * one, -ERANGE when it does not fit. */
int ynode_int(const struct ynode *n, long long *out);

/* The value under `key` in a mapping, NULL when absent or when m is not a mapping. */
struct ynode *ynode_get(const struct ynode *m, const char *key);

/* Removes (and frees) key/item i of a mapping or a sequence. */
void ynode_remove(struct ynode *n, size_t i);

/* Building trees in memory (for `want`); NULL on allocation failure. Nodes borrow `src`. */
struct ynode *ynode_new(enum ynode_type type, const char *src);
struct ynode *ynode_new_scalar(const char *s, const char *src);
/* Appends item to a sequence, or key/value to a mapping (key NULL for a sequence). Takes
 * ownership of key and item whatever happens. Returns 0 or -ENOMEM. */
int ynode_add(struct ynode *n, struct ynode *key, struct ynode *item);
void ynode_free(struct ynode *n);

/* Formats "<src>: line L, column C: <path>: <what>" into e (-EINVAL); n may be NULL (then
 * only "<path>: <what>"). Returns -EINVAL. */
int ynode_err(struct err *e, const struct ynode *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
