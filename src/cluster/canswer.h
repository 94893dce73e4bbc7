/* canswer: challenge answers shared by a fleet (DESIGN.md §12, issue 16 item 4), so that the
 * CA may validate through any node. The ordering node publishes each pending http-01 and
 * tls-alpn-01 answer under challenges/http/<token> or challenges/tls/<SNI name> (sealed, bound
 * to a lease so that a dead node's answers go with it) before it tells the CA to validate;
 * every node keeps a copy of them, read once then followed by a watch, and its listeners answer
 * from it (and ask etcd on a miss before they say 404).
 *
 * Values are only a key authorization: at most CANSWER_KEYAUTH_MAX bytes of base64url and one
 * '.'; anything else, or a value that does not open, is ignored and counted. */
#ifndef ACMED_CLUSTER_CANSWER_H
#define ACMED_CLUSTER_CANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cluster/ckv.h"
#include "net/etcd.h"
#include "util/err.h"

#define CANSWER_KEYAUTH_MAX 256
#define CANSWER_KEY_MAX 253 /* a token or a DNS name */

enum canswer_type { CANSWER_HTTP01, CANSWER_TLSALPN01 };

/* Publishes keyauth for key (an http-01 token or a tls-alpn-01 SNI name), bound to lease (0:
 * none). cb as etcd_put's. Returns 0 when started, or negative with e (-EINVAL for a key or
 * keyauth that could not be looked up or served). */
int canswer_publish(struct ckv *kv, enum canswer_type type, const char *key, const char *keyauth,
                    int64_t lease, etcd_cb cb, void *arg, struct err *e);
/* Withdraws the answer for key (fire and forget when cb is NULL). */
int canswer_withdraw(struct ckv *kv, enum canswer_type type, const char *key, etcd_cb cb, void *arg,
                     struct err *e);

/* A listener's miss: the answer for key as etcd has it now (a linearizable read), keyauth
 * NULL when there is none or it is not a key authorization; borrowed for the call. */
typedef void (*canswer_lookup_cb)(void *arg, const char *keyauth);

/* Asks etcd for key's answer; cb runs once, from the loop. Returns 0 when started, or
 * negative with e (-EINVAL for a key no answer can have). */
int canswer_lookup(struct ckv *kv, enum canswer_type type, const char *key, canswer_lookup_cb cb,
                   void *arg, struct err *e);

struct canswers;

/* A node's copy of the fleet's answers, on loop: the answers are read, then followed by a
 * watch resumed from the last revision seen when its stream breaks (read again when that
 * revision was compacted). Returns 0 with *out, or negative with e. */
int canswers_new(uv_loop_t *loop, struct etcd *c, struct ckv *kv, struct canswers **out,
                 struct err *e);

/* An answer of the copy appeared or changed (keyauth, borrowed for the call) or went away
 * (keyauth NULL): key is the token or the name. */
typedef void (*canswers_change_cb)(void *arg, enum canswer_type type, const char *key,
                                   const char *keyauth);

/* Tells cb (NULL: no one) about every change of the copy from now on (webroot answers,
 * written by every node into its own webroot). */
void canswers_on_change(struct canswers *cs, canswers_change_cb cb, void *arg);

/* The key authorization for key, or NULL: borrowed until the loop runs again. */
const char *canswers_find(const struct canswers *cs, enum canswer_type type, const char *key);

/* Answers known, and values ignored (did not open, or not a key authorization), so far. */
size_t canswers_count(const struct canswers *cs);
size_t canswers_ignored(const struct canswers *cs);
/* True once the first read is done and the watch runs. */
bool canswers_ready(const struct canswers *cs);

/* Stops following and frees cs (cb of nothing runs after this). cs may be NULL. */
void canswers_free(struct canswers *cs);

#endif
