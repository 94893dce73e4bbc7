/* ckv: fleet mode's values in etcd (DESIGN.md §12, issue 16 items 1-3), each sealed
 * (crypto/seal.h) under the cluster's secret with its whole etcd key as associated data, so
 * that etcd, its snapshots and its operators see no private key in clear, and that write
 * access to etcd alone can neither forge a value nor move one to another key. A value that
 * does not open is hostile: the caller hears -EBADMSG naming the key, never its bytes.
 *
 * Names are relative to the cluster's prefix ("desired/www", "locks/www"). Writes of results
 * can be fenced: made only while a lock key still has the create revision its holder saw
 * (ckv_put_fenced), so a node that lost its lock never overwrites a newer holder's work. */
#ifndef ACMED_CLUSTER_CKV_H
#define ACMED_CLUSTER_CKV_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/seal.h"
#include "net/etcd.h"
#include "util/err.h"

#define CKV_NAME_MAX 1024 /* bytes of a name under the prefix */

struct ckv;

/* A view of etcd c (borrowed, outlives the ckv) under prefix (copied; "/acmed/") with the
 * cluster's secret (copied; wiped by ckv_free). Returns 0 with *out, or negative with e. */
int ckv_new(struct etcd *c, const char *prefix, const uint8_t secret[SEAL_KEY_LEN],
            struct ckv **out, struct err *e);
void ckv_free(struct ckv *kv);
/* The etcd client kv reads and writes through (borrowed). */
struct etcd *ckv_etcd(const struct ckv *kv);

/* The full etcd key of name into out (out_len bytes); false when it does not fit or name is
 * not a name (empty, over CKV_NAME_MAX, a control character, "..", a leading '/'). */
bool ckv_key(const struct ckv *kv, const char *name, char *out, size_t out_len);

/* One opened value: name relative to the prefix, the plaintext (NUL after len bytes; wiped
 * after the callback), and etcd's revisions of the key. */
struct ckv_item {
    const char *name;
    const uint8_t *value;
    size_t len;
    int64_t create_revision, mod_revision, lease;
};

/* get: rc 0 with one item; -ENOENT when the key does not exist; -EBADMSG when its value does
 * not open; other etcd errors as net/etcd.h. list: rc 0 with every item under the name prefix
 * that opens (n may be 0); the values that do not open are counted in bad and skipped (and
 * logged by the caller). Items are borrowed for the callback. Called once, from the loop. */
typedef void (*ckv_cb)(void *arg, int rc, const struct ckv_item *items, size_t n, size_t bad,
                       const struct err *e);

/* Opens a pair as etcd gave it (a watch event's): *pt (seal_free_secret(*pt, *len)) and *len,
 * *name (borrowed from raw) its name under the prefix. Returns 0, or -EBADMSG with e when it
 * is not under the prefix or does not open. */
int ckv_open(const struct ckv *kv, const struct etcd_kv *raw, const char **name, uint8_t **pt,
             size_t *len, struct err *e);

/* Each returns 0 when started (cb will run) or negative with e set (cb will not run). */
int ckv_get(struct ckv *kv, const char *name, ckv_cb cb, void *arg, struct err *e);
int ckv_list(struct ckv *kv, const char *name_prefix, ckv_cb cb, void *arg, struct err *e);
/* Seals value[0..len) for name and puts it, bound to lease (0: none). */
int ckv_put(struct ckv *kv, const char *name, const void *value, size_t len, int64_t lease,
            etcd_cb cb, void *arg, struct err *e);
/* ckv_put only while lock (a name) has create revision rev: r->succeeded false means the
 * fence failed (the lock is gone or another node's) and nothing was written; ETCD_EUNKNOWN as
 * net/etcd.h. */
int ckv_put_fenced(struct ckv *kv, const char *lock, int64_t rev, const char *name,
                   const void *value, size_t len, etcd_cb cb, void *arg, struct err *e);

/* ckv_put only when name does not exist (a lock): r->succeeded false when it does, and
 * r->revision, on success, is the new key's create revision. */
int ckv_put_absent(struct ckv *kv, const char *name, const void *value, size_t len, int64_t lease,
                   etcd_cb cb, void *arg, struct err *e);
/* ckv_put only while name's mod revision is still rev (no one changed it since it was read;
 * rev 0: only when absent): r->succeeded false otherwise. */
int ckv_put_if_mod(struct ckv *kv, const char *name, int64_t rev, const void *value, size_t len,
                   etcd_cb cb, void *arg, struct err *e);
/* Deletes name only while its mod revision is still rev. */
int ckv_delete_if_mod(struct ckv *kv, const char *name, int64_t rev, etcd_cb cb, void *arg,
                      struct err *e);
/* Deletes name only while it has create revision rev (a lock given back by its holder). */
int ckv_delete_fenced(struct ckv *kv, const char *name, int64_t rev, etcd_cb cb, void *arg,
                      struct err *e);

#endif
