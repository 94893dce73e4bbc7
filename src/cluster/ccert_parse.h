/* ccert_parse: cluster/ccert's check of a certificate's value as read back from etcd (after
 * its seal opened: still hostile), on its own so that tests/fuzz/fuzz_ccert.c can drive it
 * without etcd. A private header of cluster/ccert: the rest of acmed goes through ccert.h. */
#ifndef ACMED_CLUSTER_CCERT_PARSE_H
#define ACMED_CLUSTER_CCERT_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

/* Parses v[0..len) (not NUL-terminated) as the value of certs/<cert_id>:
 * {"v":1,"url":...,"chain":...,"key":...} whose url is the order URL of cert_id. On success
 * *url and *chain get copies (caller frees) and key_id the key's id. On failure returns
 * -EBADMSG (-EINVAL for a cert_id that is not an id, -ENOMEM) with e set; *url and *chain may
 * then hold a copy already made (caller frees them either way; both NULL first). */
int ccert_parse_value(const char *cert_id, const uint8_t *v, size_t len, char **url, char **chain,
                      char key_id[STORE_ID_LEN + 1], struct err *e);

#endif
