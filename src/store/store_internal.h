/* store_internal: helpers shared by the store_*.c files (paths, names, links, directory
 * listings, meta JSON times). Not part of the store API: only src/store/store*.c include it. */
#ifndef ACMED_STORE_STORE_INTERNAL_H
#define ACMED_STORE_STORE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "store/store.h"
#include "util/err.h"

#define STORE_DIR_MODE 0755
#define STORE_FILE_MODE 0644
#define STORE_PRIV_DIR_MODE 0700
#define STORE_PRIV_FILE_MODE 0600

/* Largest file the store reads (certificates, keys, meta, state). */
#define STORE_MAX_FILE (1024 * 1024)

/* root "/" the formatted relative path. Caller frees; NULL on allocation failure. */
char *store_pathf(const struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True when s can be used as one path component: non-empty, no '/', no leading '.' (which
 * also excludes "." and ".." and our ".tmp-*" files). */
bool store_name_valid(const char *s);

/* Makes `path` a real directory with mode `mode` (exactly) when missing; an existing one must
 * be a directory, not a symlink, and is left as it is. Returns 0 or negative. */
int store_ensure_dir(const char *path, mode_t mode, struct err *e);

/* True when path exists as a real directory (lstat: a symlink is not one). */
bool store_is_real_dir(const char *path);

/* Reads the target of symlink `path` (*target caller-owned). -ENOENT when missing, -EINVAL
 * when it exists but is not a symlink. */
int store_read_link(const char *path, char **target, struct err *e);

/* Resolves the relative link target `target` found in the directory `base_rel` (relative to
 * the state directory) lexically, without touching the file system. *out is the resolved
 * path relative to the state directory (caller frees). -EXDEV for an absolute target or one
 * climbing above the state directory; -ENOMEM. */
int store_link_resolve(const char *base_rel, const char *target, char **out);

/* Lists the entries of `dir` whose names pass store_name_valid, sorted; with `dirs_only`,
 * only real directories (symlinks are never descended into). A missing dir gives 0 entries.
 * Free with store_names_free. Returns 0 or negative. */
int store_list_dir(const char *dir, bool dirs_only, char ***names, size_t *n, struct err *e);
void store_names_free(char **names, size_t n);

/* Removes `path` and everything under it without following symlinks. Missing is fine. */
int store_rmtree(const char *path, struct err *e);

/* ---- certificates (store_certs.c, used by store_cert_install.c) ---- */

/* Fills names, dates, serial and ARI certID of c from the leaf's DER. */
int store_cert_fill_leaf(struct store_cert *c, const uint8_t *der, size_t len, struct err *e);
/* Loads keys/<key_id>/privkey and checks that the leaf's public key is its public half; on
 * success sets c->key_id, key_is_rsa and key_size. -EINVAL when they do not match. */
int store_cert_check_key(const struct store *st, struct store_cert *c, const uint8_t *der,
                         size_t len, const char *key_id, struct err *e);
/* Writes certs/<c->id>/meta. */
int store_cert_write_meta(const char *dir, const struct store_cert *c, struct err *e);

/* Meta JSON times: RFC 3339 strings (an integer of unix seconds is accepted on reading).
 * set does nothing for t == 0; get returns 0 when absent or malformed. */
int store_json_set_time(json_t *o, const char *key, time_t t);
time_t store_json_get_time(const json_t *o, const char *key);
/* A string member, strdup'ed (NULL when absent or not a string; *oom set on failure). */
char *store_json_get_str(const json_t *o, const char *key, bool *oom);

/* Serialises `o` (indented, with a final newline) and writes it atomically to `path`. */
int store_json_write(const char *path, json_t *o, mode_t mode, struct err *e);
/* Reads and parses a JSON object from path. -ENOENT when missing; -EINVAL when malformed. */
int store_json_read(const char *path, json_t **out, struct err *e);

/* ---- state/certs.cache (store_certs_cache.c) ---- */

/* Seconds a file must have stood unchanged before its facts are cached. */
#define STORE_CACHE_RACY_S 2

/* The identity of a file's content as stat(2) sees it. */
struct store_fstat {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
};

/* What loading derived from one certificate's files: in c, its id, names, dates, serial,
 * ARI certID and (key_id non-empty) its matched key's id, type and size. */
struct store_cert_facts {
    struct store_fstat cert; /* certs/<id>/cert */
    struct store_fstat key;  /* keys/<key-id>/privkey, when c.key_id is set */
    struct store_cert c;
};

struct store_certs_cache {
    struct store_cert_facts *v; /* sorted by id once read */
    size_t n, cap;
};

/* lstat(2) of a regular file into *out: 0, or -1 when missing or not a regular file. */
int store_fstat_get(const char *path, struct store_fstat *out);
/* True when a and b are the same, existing file content (all five fields equal). */
bool store_fstat_eq(const struct store_fstat *a, const struct store_fstat *b);
/* True when f was last changed more than STORE_CACHE_RACY_S seconds ago. */
bool store_fstat_settled(const struct store_fstat *f);
/* Reads state/certs.cache into *cc (empty when missing, of another version or malformed:
 * logged at debug level). Release with store_certs_cache_free. */
void store_certs_cache_read(const struct store *st, struct store_certs_cache *cc);
/* The entry for id, or NULL. */
const struct store_cert_facts *store_certs_cache_find(const struct store_certs_cache *cc,
                                                      const char *id);
/* Appends f, taking what f->c holds (0), or -ENOMEM (f left to the caller). */
int store_certs_cache_add(struct store_certs_cache *cc, const struct store_cert_facts *f);
/* Atomically writes cc as state/certs.cache (0600). 0 or negative with e set. */
int store_certs_cache_write(const struct store *st, const struct store_certs_cache *cc,
                            struct err *e);
void store_certs_cache_free(struct store_certs_cache *cc);
/* Copies the facts the cache holds (id, names, dates, serial, ARI certID, key id, type and
 * size) from src into dst, which must be empty. 0 or -ENOMEM (dst then left to clear). */
int store_cert_copy_facts(struct store_cert *dst, const struct store_cert *src);

#endif
