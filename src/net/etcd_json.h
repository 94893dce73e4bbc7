/* etcd_json: the pure part of the etcd client (net/etcd.h) that speaks: the types of its
 * answers, request bodies for etcd's v3 HTTP/JSON gateway and standard base64. Parsing the
 * answers is net/etcd_parse.h. No I/O, so all of it is unit-tested.
 *
 * The gateway speaks protobuf's JSON mapping: keys and values are standard base64 (with
 * padding), 64-bit integers are strings, fields at their default (0, false, empty) are left
 * out, enums are names. Everything that comes back is treated as hostile: sizes are capped,
 * base64 is checked strictly, every field's type is checked, integers must be decimal. */
#ifndef ACMED_NET_ETCD_JSON_H
#define ACMED_NET_ETCD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define ETCD_MAX_KEY 4096                   /* bytes of a key acmed writes or accepts */
#define ETCD_MAX_VALUE ((size_t)1536 << 10) /* etcd's default request limit, 1.5 MiB */
#define ETCD_MAX_RESPONSE ((size_t)4 << 20) /* one response, or one line of a watch */

/* One key-value pair as etcd returns it. key and value are NUL-terminated for convenience
 * (value may hold NUL bytes: use value_len); both owned by the kv. */
struct etcd_kv {
    char *key;
    uint8_t *value;
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;
};

/* A call's answer. Only the fields the call fills are meaningful; kvs owned by the result. */
struct etcd_result {
    int64_t revision;    /* the store's revision when the call was served (header.revision) */
    struct etcd_kv *kvs; /* range: the pairs found, in key order */
    size_t nkvs;
    bool more;        /* range: the limit cut the answer short */
    int64_t count;    /* range: how many keys the range holds */
    int64_t deleted;  /* delete: how many keys went */
    bool succeeded;   /* txn: the compares held, the "then" operations ran */
    int64_t lease_id; /* lease grant, keepalive */
    int64_t ttl;      /* lease grant, keepalive: seconds left; 0 = the lease is gone */
};

/* Releases what r holds and zeroes it. r may be NULL. */
void etcd_result_clear(struct etcd_result *r);

/* ---- transactions ---- */

enum etcd_cmp_target { ETCD_CMP_VERSION, ETCD_CMP_CREATE, ETCD_CMP_MOD, ETCD_CMP_VALUE };
enum etcd_cmp_op { ETCD_CMP_EQUAL, ETCD_CMP_GREATER, ETCD_CMP_LESS, ETCD_CMP_NOT_EQUAL };

/* "target(key) op operand": num for VERSION, CREATE, MOD (a key that does not exist has
 * version and revisions 0), value/value_len for VALUE. Borrowed. */
struct etcd_cmp {
    enum etcd_cmp_target target;
    enum etcd_cmp_op op;
    const char *key;
    int64_t num;
    const void *value;
    size_t value_len;
};

enum etcd_op_type { ETCD_OP_PUT, ETCD_OP_DELETE, ETCD_OP_DELETE_PREFIX };

/* One operation of a transaction's branch; value and lease for PUT only (lease 0: none). */
struct etcd_op {
    enum etcd_op_type type;
    const char *key;
    const void *value;
    size_t value_len;
    int64_t lease;
};

struct etcd_txn {
    const struct etcd_cmp *cmp;
    size_t ncmp;
    const struct etcd_op *then; /* run when every compare holds */
    size_t nthen;
    const struct etcd_op *els; /* run otherwise */
    size_t nels;
};

/* ---- base64 and keys ---- */

/* Standard base64 with padding. Returns a string the caller frees, or NULL (out of memory). */
char *etcd_b64_encode(const void *data, size_t n);

/* Decodes standard base64: the length must be a multiple of 4, padding only at the end,
 * unused bits zero (one encoding per value), at most `max` bytes out. *out (NUL-terminated,
 * caller frees) and *outlen on success. Returns 0, -EINVAL, -EFBIG or -ENOMEM. */
int etcd_b64_decode(const char *s, size_t len, size_t max, uint8_t **out, size_t *outlen);

/* The range end that selects every key starting with prefix (its last byte below 0xff plus
 * one, the 0xff bytes after it dropped; "\0" when there is none: every key). *out_len gets its
 * length. Returns a buffer the caller frees, or NULL (out of memory). */
uint8_t *etcd_prefix_end(const char *prefix, size_t *out_len);

/* ---- request bodies: each returns a JSON text the caller frees, or NULL with e set ---- */

/* A range of one key, or of every key under it when prefix; limit 0: no limit. */
char *etcd_body_range(const char *key, bool prefix, int64_t limit, struct err *e);
char *etcd_body_put(const char *key, const void *value, size_t len, int64_t lease, struct err *e);
char *etcd_body_delete(const char *key, bool prefix, struct err *e);
char *etcd_body_txn(const struct etcd_txn *t, struct err *e);
/* Lease calls: grant takes a TTL in seconds; keepalive and revoke take an id. */
char *etcd_body_lease_grant(int64_t ttl, struct err *e);
char *etcd_body_lease_id(int64_t id, struct err *e);
/* A watch of every key under prefix from revision start_rev (0: from now). */
char *etcd_body_watch(const char *prefix, int64_t start_rev, struct err *e);
/* name and password are secrets: the caller zeroes and frees the text (buf_secret_free). */
char *etcd_body_auth(const char *name, const char *password, struct err *e);

#endif
