/* serve_target: the target acmed serve orders for a client's CSR (DESIGN.md §11):
 * conf/target's defaults (provider, account, challenges), the CSR's names, the client rule's
 * challenge types when it names some, http-01 answers from the server's own listener (never
 * conf/target's webroot: the fleet proxies to the listener), and ACMED_SERVE_CLIENT=<client>
 * in the hooks' environment (a dns-01 hook may pick its zone by client). */
#ifndef ACMED_SERVE_SERVE_TARGET_H
#define ACMED_SERVE_SERVE_TARGET_H

#include "crypto/csr_read.h"
#include "serve/serve_conf.h"
#include "store/target.h"
#include "util/err.h"

/* Fills *t (release with target_clear) for csr (taken over: freed on failure too) of client c,
 * named "serve:<client>:<first 12 hex digits of sha>" in messages. Returns 0, or negative
 * with e set (conf/target malformed, a name acmed cannot order, no memory). */
int serve_target_make(const char *state_dir, const char *sha, struct csr_info *csr,
                      const struct serve_client *c, struct target *t, struct err *e);

#endif
