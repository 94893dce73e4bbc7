/* ccert: certificates and their keys shared by a fleet (DESIGN.md §12, issue 16 item 5). The
 * node that obtained a certificate publishes it under certs/<cert-id> (its chain, order URL and
 * key id) and its private key under keys/<key-id>, both sealed (cluster/ckv.h): etcd and its
 * snapshots never hold a key in clear. Every node materialises what it reads into its own state
 * directory through the store, as if it had obtained it: the key written 0600 and atomically,
 * its id recomputed from the key itself, and the certificate installed only when its leaf is
 * for that key and its id is that of its order URL. What etcd says is hostile until then. */
#ifndef ACMED_CLUSTER_CCERT_H
#define ACMED_CLUSTER_CCERT_H

#include "cluster/ckv.h"
#include "store/store.h"
#include "util/err.h"

#define CCERT_CHAIN_MAX (1u << 20)

/* Done: rc 0, or negative with e set. From the loop, once. */
typedef void (*ccert_cb)(void *arg, int rc, const struct err *e);

/* Publishes st's certs/<cert_id> and the key its privkey link names (a certificate without a
 * key of ours, for a CSR, is refused: it stays with its node): the key first, then the
 * certificate, so that a certificate in etcd always has its key there. Returns 0 when
 * started, or negative with e. */
int ccert_publish(struct ckv *kv, const struct store *st, const char *cert_id, ccert_cb cb,
                  void *arg, struct err *e);

/* Reads certs/<cert_id> and its key from etcd and installs them into st (nothing is written
 * when anything fails to open, parse or match). Returns 0 when started, or negative with e. */
int ccert_materialize(struct ckv *kv, const struct store *st, const char *cert_id, ccert_cb cb,
                      void *arg, struct err *e);

/* An order's key alone (fleet mode's checkpoints: another node resumes the order with it):
 * publishes st's keys/<key_id> sealed, or reads it back into st (its id recomputed from the
 * key; nothing written when it does not match). Return as ccert_publish. */
int ccert_key_publish(struct ckv *kv, const struct store *st, const char *key_id, ccert_cb cb,
                      void *arg, struct err *e);
int ccert_key_materialize(struct ckv *kv, const struct store *st, const char *key_id, ccert_cb cb,
                          void *arg, struct err *e);

#endif
