/* caccount: a fleet's ACME account per provider (DESIGN.md §12, issue 16 item 2): one node
 * registers it and publishes it under accounts/<dir-id> (the directory URL, the account URL,
 * its contact and EAB kid, and its private key, all sealed, cluster/ckv.h); every other node
 * materialises it into its own accounts/ through the store before it orders, so the fleet
 * has one account however many nodes order. An account held by a signer stays with its node. */
#ifndef ACMED_CLUSTER_CACCOUNT_H
#define ACMED_CLUSTER_CACCOUNT_H

#include "cluster/ckv.h"
#include "store/store.h"
#include "util/err.h"

/* Done: rc 0; -ENOENT (materialise: the fleet has no account for that CA yet); or negative
 * with e set. From the loop, once. */
typedef void (*caccount_cb)(void *arg, int rc, const struct err *e);

/* Publishes st's account for directory_url (the one the reconciler would use: no EAB kid, or
 * eab_kid). Returns 0 when started, or negative with e (-ENOENT: none; -EINVAL: a signer's). */
int caccount_publish(struct ckv *kv, const struct store *st, const char *directory_url,
                     const char *eab_kid, caccount_cb cb, void *arg, struct err *e);

/* Reads the fleet's account for directory_url and saves it into st (its key 0600, never
 * rewriting one there; its meta). Returns 0 when started, or negative with e. */
int caccount_materialize(struct ckv *kv, const struct store *st, const char *directory_url,
                         caccount_cb cb, void *arg, struct err *e);

#endif
