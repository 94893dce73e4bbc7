/* caccount_parse: cluster/caccount's check of an account's value as read back from etcd
 * (after its seal opened: still hostile), on its own so that tests/fuzz/fuzz_caccount.c can
 * drive it without etcd. A private header of cluster/caccount: the rest of acmed goes through
 * caccount.h. */
#ifndef ACMED_CLUSTER_CACCOUNT_PARSE_H
#define ACMED_CLUSTER_CACCOUNT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* Parses v[0..len) (not NUL-terminated) as the fleet's account for directory_url:
 * {"v":1,"directory":...,"url":...,"eab_kid":...,"contact":[...],"key":"<PEM>"}. Fills *a
 * (zeroed by the caller; its key parsed, its strings copied); clear it with
 * store_account_clear whatever this returns. Returns 0, or -EBADMSG (or what the key's PEM
 * parse returns, or -ENOMEM) with e set. */
int caccount_parse_value(const char *directory_url, const uint8_t *v, size_t len,
                         struct store_account *a, struct err *e);

#endif
