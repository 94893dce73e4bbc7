/* proxy_op: one engine operation of engine_proxy.c in flight: its frame, its grants and the
 * data they point at, and its answer. Private to engine_proxy.c. */
#ifndef ACMED_PRIVSEP_PROXY_OP_H
#define ACMED_PRIVSEP_PROXY_OP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "privsep/keeper.h"
#include "privsep/sign_guard.h"
#include "privsep/wmsg.h"
#include "reconcile/engine.h"

struct pop;

struct proxy {
    struct engine base; /* first */
    struct keeper *k;
    uint64_t id; /* the engine's number in the worker */
    char *url;
    struct engine_directory *dir;
    const struct signer *acct; /* borrowed, as engine_set_account says */
    char *kid;
    struct keeper_watch watch;
    struct engine_stats done, now; /* of workers gone, of the current one */
    struct pop *ops;
};

/* One operation in flight: its callback, its grants, and the data they point at. */
struct pop {
    struct pop *next;
    struct proxy *p;
    uint64_t id;
    enum wmsg_op kind;
    engine_cb cb;
    void *arg;
    struct sign_guard g[2];
    struct keeper_grant grants[2];
    size_t ngrants;
    char *url, *kid, *replaces;
    char **names;
    size_t nnames;
    uint8_t *der;
    size_t der_len;
    char **contact;
    size_t ncontact;
    json_t *eab, *inner, *jwk; /* a registration's binding, a rollover's inner JWS, a key */
    /* A download: the chain is verified here too. */
    const struct ckey *key;
    char *anchors;
    size_t anchors_len;
};

void proxy_strv_free(char **v, size_t n);
/* Copies nv strings into *out (caller frees with proxy_strv_free). Returns 0 or -ENOMEM, with
 * what was copied left in *out. */
int proxy_strv_dup(char ***out, size_t *n, const char *const *v, size_t nv);

/* Starts an operation of p: a WMSG_OP frame begun in *out with its header, for the caller's
 * fields. Returns it, or NULL with e set (nothing begun). */
struct pop *proxy_pop_begin(struct proxy *p, enum wmsg_op kind, engine_cb cb, void *arg,
                            struct ipc_out *out, struct err *e);
/* Adds a grant to o: op signed by the account key with its kid, at url (NULL: any). The
 * caller adjusts the returned guard. */
struct sign_guard *proxy_grant(struct pop *o, enum sign_guard_op op, const char *url);
/* Sends o (o and the frame taken in every case): its callback runs once later. Returns 0 or
 * negative with e. */
int proxy_pop_send(struct pop *o, struct ipc_out *out, struct err *e);
/* Frees o and the frame, and says "out of memory" in e. Returns -ENOMEM. */
int proxy_fail_oom(struct pop *o, struct ipc_out *out, struct err *e);
void proxy_pop_free(struct pop *o);

/* Tells the worker which account p's requests are signed for. Returns 0 or negative. */
int proxy_send_account(struct proxy *p, struct err *e);
/* keeper_watch's up: a new worker gets the account again; counters carry over. */
void proxy_worker_up(void *arg);

#endif
