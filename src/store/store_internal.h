/* store_internal: helpers shared by the store_*.c files (paths, names, links, directory
 * listings, meta JSON times). Not part of the store API: only src/store/store*.c include it. */
#ifndef ACMED_STORE_STORE_INTERNAL_H
#define ACMED_STORE_STORE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
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

/* ---- one certificate (store_cert.c, used by store_certs.c and store_cert_install.c) ---- */

/* Fills names, dates, serial and ARI certID of c from the leaf's DER. */
int store_cert_fill_leaf(struct store_cert *c, const uint8_t *der, size_t len, struct err *e);
/* Loads keys/<key_id>/privkey and checks that the leaf's public key is its public half; on
 * success sets c->key_id, key_is_rsa and key_size. -EINVAL when they do not match. */
int store_cert_check_key(const struct store *st, struct store_cert *c, const uint8_t *der,
                         size_t len, const char *key_id, struct err *e);
/* Writes certs/<c->id>/meta. */
int store_cert_write_meta(const char *dir, const struct store_cert *c, struct err *e);
/* Reads dir/meta into c's own fields (directory, ARI, replaces...); a missing meta leaves them
 * empty, a malformed one is ignored with a warning. 0, or -ENOMEM. */
int store_cert_read_meta(const char *dir, struct store_cert *c, struct err *e);

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

/* The identity of a file's content as stat(2) sees it; all zeros for none. */
struct store_fstat {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
};

/* The identities a certificate's facts were derived from (zeros: not to be trusted next
 * time): certs/<id> (its links and markers), cert (the leaf's facts), keys/<link_kid>/privkey
 * (the key's match with that leaf, type and size), url (the order URL) and meta. */
struct store_cert_stamp {
    struct store_fstat dir, cert, key, url, meta;
    char link_kid[STORE_ID_LEN + 1]; /* the key id the privkey link names, "" when none */
};

/* One cache entry: the stamp and, in c, what each stamped file gave. */
struct store_cert_facts {
    struct store_cert_stamp stamp;
    struct store_cert c;
};

/* A reader of state/certs.cache, an entry at a time. */
struct store_certs_cache {
    FILE *f;
    char *line;
    size_t cap;
    struct store_cert_facts cur; /* the entry read ahead, when have */
    bool have, bad;              /* bad: the file is missing, of another version or malformed */
    bool given;                  /* cur was returned by store_certs_cache_find */
    size_t passed;               /* entries skipped by store_certs_cache_find */
};

/* lstat(2) of a regular file (store_fstat_get) or a real directory (store_fstat_dir) into
 * *out: 0, or -1 (and zeros) when missing or of another type. */
int store_fstat_get(const char *path, struct store_fstat *out);
int store_fstat_dir(const char *path, struct store_fstat *out);
/* True when a and b are the same, existing file content (all five fields equal). */
bool store_fstat_eq(const struct store_fstat *a, const struct store_fstat *b);
/* True when f exists and was last changed more than STORE_CACHE_RACY_S seconds ago. */
bool store_fstat_settled(const struct store_fstat *f);
/* True when two stamps are identical (zeros included); when s stamps nothing (all zeros). */
bool store_cert_stamp_eq(const struct store_cert_stamp *a, const struct store_cert_stamp *b);
bool store_cert_stamp_empty(const struct store_cert_stamp *s);

/* Opens state/certs.cache for reading (a missing, unreadable or other version's file reads as
 * empty). Release with store_certs_cache_close. */
void store_certs_cache_open(const struct store *st, struct store_certs_cache *r);
/* The entry for id, or NULL. Ids must be asked in increasing strcmp order (entries before id
 * are passed over). The caller may take (move) the entry's strings, leaving NULL behind; the
 * entry is valid until the next call. */
struct store_cert_facts *store_certs_cache_find(struct store_certs_cache *r, const char *id);
/* Closes the reader; true when it held entries that were passed over or never asked for, or
 * was unusable (the cache then differs from what was loaded). */
bool store_certs_cache_close(struct store_certs_cache *r);
/* Atomically writes v[0..n) (sorted by id) with their stamps s[0..n) as state/certs.cache
 * (0600), leaving out those whose stamp is empty. 0 or negative with e set. */
int store_certs_cache_write(const struct store *st, const struct store_cert *v,
                            const struct store_cert_stamp *s, size_t n, struct err *e);

#endif
