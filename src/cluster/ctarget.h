/* ctarget: a desired target as fleet mode keeps it in etcd (DESIGN.md §12, issue 16 item 2):
 * names, request names, key, profile and challenge types only. Paths, commands, environment,
 * accounts and signers never travel: each node takes them from its own conf/target, so write
 * access to etcd cannot make a node run, read or write anything of its choosing.
 *
 * The value is JSON, {"v":1,"names":[...],"request-names":[...],"key":{"type":"ecdsa",
 * "curve":"nistp256"}|{"type":"rsa","bits":2048},"profile":"...","challenge":[...]}, sealed
 * (crypto/seal.h) by the caller. Decoding is strict (unknown fields, types, sizes and
 * characters refused) and then goes through the same desired-file schema as a local file,
 * merged over the node's conf/target, so a target from etcd is validated exactly as one from
 * desired/. */
#ifndef ACMED_CLUSTER_CTARGET_H
#define ACMED_CLUSTER_CTARGET_H

#include <stddef.h>

#include "store/target.h"
#include "util/err.h"

#define CTARGET_MAX 65536     /* bytes of JSON */
#define CTARGET_NAMES_MAX 100 /* names of a certificate (Let's Encrypt's limit) */
#define CTARGET_FILE_MAX 128  /* bytes of a target's name (the etcd key's last part) */

/* True when file can name a target in etcd and a file under desired/: 1..CTARGET_FILE_MAX of
 * [A-Za-z0-9._@+-], not starting with '.'. */
bool ctarget_file_ok(const char *file);

/* The JSON for target t (its satisfy names, request names when they differ, key, profile and
 * challenge types) into *out (NUL-terminated, caller frees) and *len. A target whose request
 * names a CSR, a key id, a central server or a signer cannot be shared (those are this
 * node's): -EINVAL naming the setting. Returns 0 or negative with e set. */
int ctarget_encode(const struct target *t, char **out, size_t *len, struct err *e);

/* Reads json[0..len) (hostile: from etcd, after its seal was opened) for target `file`, merged
 * over conf/target's text (defaults, may be NULL), into *out (release with target_clear).
 * Returns 0, or -EINVAL with e naming the target and what is wrong, or -ENOMEM. */
int ctarget_decode(const char *file, const char *json, size_t len, const char *defaults,
                   size_t defaults_len, struct target *out, struct err *e);

#endif
