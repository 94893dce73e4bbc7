/* seal_key: the cluster's secret-file (conf/acmed.yaml cluster.secret-file, DESIGN.md §12),
 * the 32 raw random bytes every value in etcd is sealed with (crypto/seal.h).
 *
 * The file is made with `head -c 32 /dev/urandom` and copied to every node. It is refused,
 * with a message that names it, says why and how to fix it, unless it is a regular file
 * (opened with O_NOFOLLOW: not a symbolic link), owned by the user acmed runs as (root when
 * acmed runs as root), of mode 0600 or stricter, and exactly 32 bytes long (a 33rd byte, a
 * newline from an editor or `echo`, is refused too: the key is raw bytes, not text). 32
 * identical bytes (`head -c 32 /dev/zero`) are refused as not random. */
#ifndef ACMED_CRYPTO_SEAL_KEY_H
#define ACMED_CRYPTO_SEAL_KEY_H

#include <stdint.h>
#include <sys/types.h>

#include "crypto/seal.h"
#include "util/err.h"

/* Reads the secret-file at path into key, checking it as above with the effective uid as the
 * owner it must have. Returns 0; or negative with e set and key zeroed (-ENOENT, -ELOOP for a
 * symbolic link, -EPERM for a wrong owner or mode, -EINVAL for a wrong size or content, or the
 * failure of open or read). Key bytes never reach e; the read buffer is wiped. */
int seal_key_load(const char *path, uint8_t key[SEAL_KEY_LEN], struct err *e);

/* seal_key_load with the owner the file must have given: for tests, which cannot make files
 * owned by another user unless they run as root. */
int seal_key_load_owner(const char *path, uid_t owner, uint8_t key[SEAL_KEY_LEN], struct err *e);

#endif
