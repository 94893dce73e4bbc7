/* remote_signer: the worker's account signers, which ask the keeper for each signature.
 *
 * The worker holds no account key. Its acme client signs through a struct signer like any
 * other; this one sends the signing input to the keeper (WMSG_SIGN) and delivers the keeper's
 * answer (WMSG_SIGNED) to the waiting request. One hub per channel numbers the requests and
 * routes the answers; each account (directory) gets a signer on the hub. */
#ifndef ACMED_PRIVSEP_REMOTE_SIGNER_H
#define ACMED_PRIVSEP_REMOTE_SIGNER_H

#include <jansson.h>

#include "crypto/jws.h"
#include "privsep/ipc.h"
#include "util/buf.h"
#include "util/err.h"

struct remote_hub;

/* Sends one whole frame to the keeper, taking its buffer. Returns 0 or negative. */
typedef int (*remote_send_fn)(void *arg, struct buf *frame, struct err *e);

/* A hub sending through send(arg, ...). Returns NULL when out of memory. */
struct remote_hub *remote_hub_new(remote_send_fn send, void *arg);

/* Fills *out with a signer for the account at `directory` whose key has `alg` and public
 * `jwk` (a new reference is taken; NULL for an account known only by kid). The signer's
 * context is owned by the hub and lives as long as it. Returns 0 or -ENOMEM. */
int remote_hub_signer(struct remote_hub *h, const char *directory, const char *alg, json_t *jwk,
                      struct signer *out, struct err *e);

/* Delivers a decoded WMSG_SIGNED to the request it answers: its callback runs with the
 * signature, or with the keeper's refusal. Returns 0, or -EPROTO when no request waits for
 * that id (the keeper answered twice or made one up). */
int remote_hub_answer(struct remote_hub *h, const struct ipc_msg *m, struct err *e);

/* Fails every waiting request with rc (e.g. -ECONNRESET when the keeper is gone). */
void remote_hub_fail_all(struct remote_hub *h, int rc, const char *why);

/* Fails what waits with -ECANCELED and frees the hub and its signers. NULL is ignored. */
void remote_hub_free(struct remote_hub *h);

#endif
