/* serve_keys: the HMAC keys of conf/serve.yaml's clients (DESIGN.md §11). Each
 * hmac-key-file must be a regular file (not a symbolic link) that only its owner can read,
 * holding 1 to 4096 bytes; the key is its bytes less one trailing newline (mac_key_len).
 * Keys are zeroed when freed and never logged. */
#ifndef ACMED_SERVE_SERVE_KEYS_H
#define ACMED_SERVE_SERVE_KEYS_H

#include <stddef.h>

#include "serve/rules.h"
#include "serve/serve_conf.h"
#include "util/err.h"

/* One key per client of c (key NULL for a client without hmac-key-file) into *out (free
 * with serve_keys_free(*out, c->nclients)). Returns 0, or negative with e naming the client
 * and the file. */
int serve_keys_load(const struct serve_conf *c, struct rules_key **out, struct err *e);

void serve_keys_free(struct rules_key *keys, size_t n);

#endif
