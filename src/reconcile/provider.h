/* provider: an ACME server of the pass and the account acmed uses there, shared by the jobs
 * that order from it. Private to src/reconcile. */
#ifndef ACMED_RECONCILE_PROVIDER_H
#define ACMED_RECONCILE_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "net/http.h"
#include "signer/signer_client.h"
#include "reconcile/engine.h"
#include "reconcile/reconcile.h"
#include "store/desired.h"
#include "store/store.h"

/* An ACME server and the account acmed uses there. */
typedef void (*provider_cb)(void *arg, int rc, const struct err *e);

struct provider_waiter {
    provider_cb cb;
    void *arg;
};

/* How many operations lost with a dying worker (ENGINE_ELOST) a provider begins again. */
#define PROVIDER_LOST_MAX 3

enum provider_state {
    PROV_IDLE,
    PROV_STARTING,
    PROV_DIRECTORY,
    PROV_ACCOUNT,
    PROV_READY,
    PROV_FAILED
};

struct provider;

/* What the pass lends its providers, and the providers it has made (provider_get). */
struct providers {
    struct store *st;
    const struct desired_set *ds;
    uv_loop_t *loop;
    struct http_client *http;
    const struct rec_opts *o;
    const bool *stopping;      /* the pass's stop request: nothing lost is begun again */
    unsigned max_requests;     /* conf/acmed.yaml max-requests-per-ca */
    bool allow_insecure_http;  /* conf/acmed.yaml allow-insecure-http */
    engine_factory new_engine; /* NULL: engine_acme_new (tests script a fake one) */
    /* Fleet mode (NULL otherwise): before a provider registers a new account, the fleet's is
     * looked for (cb rc 0: look in accounts/ again, then register when still none); once
     * registered, it is published. fleet_arg is their first argument. */
    void (*account_gate)(void *arg, struct provider *p, provider_cb cb, void *cbarg);
    void (*account_registered)(void *arg, struct provider *p);
    void *fleet_arg;
    void *new_engine_arg;
    struct provider **v;
    size_t n;
};

struct provider {
    struct providers *set;
    char *url;
    char *dir_id;
    struct engine *eng; /* how the pass reaches the CA (engine.h); NULL for a failed one */
    bool mgmt;          /* a central certificate server (mgmt+https://...): no ACME */
    enum provider_state state;
    unsigned lost;          /* operations lost with a worker and begun again */
    bool want_account;      /* some waiter needs the account, not only the directory */
    const struct target *t; /* the target whose account settings create the account */
    struct store_account acct;
    bool have_acct;
    struct signer signer;
    struct signer_client *sc; /* the target's account signer (acct_signer.h), or NULL */
    char *signer_name;        /* its name, as accounts/ and `account list` record it */
    bool contact_tried;       /* the contact update was sent to the CA in this pass */
    bool gated;               /* fleet mode: the fleet's account was looked for */
    struct provider_waiter *dir_waiters, *acct_waiters;
    size_t ndir_waiters, nacct_waiters;
    int rc;
    struct err err;
};

/* The provider for a directory URL, created on first use (no I/O yet). NULL on ENOMEM. */
struct provider *provider_get(struct providers *set, const char *url);
/* The provider for target t's CA and account: t's directory URL and, when t's account key
 * lives in a signer (request.account.signer), that signer: each signer's key is an account
 * of its own. NULL on ENOMEM. */
struct provider *provider_for_target(struct providers *set, const char *url,
                                     const struct target *t);
/* Frees every provider of the set (not the set's borrowed fields). */
void providers_free(struct providers *set);
/* Calls cb once the directory is fetched (or failed). */
void provider_need_directory(struct provider *p, provider_cb cb, void *arg);
/* Calls cb once the account is usable (found or registered with t's settings) or failed. */
void provider_need_account(struct provider *p, const struct target *t, provider_cb cb, void *arg);
void provider_free(struct provider *p);
/* The CA said the account does not exist (it lost it): the next provider_need_account
 * registers the account key again. */
void provider_forget_account(struct provider *p);

#endif
