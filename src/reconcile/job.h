/* job: what one pass shares between the per-target state machine's steps (step_*.c), the
 * providers (provider.c) and the pass itself (reconcile.c). Private to src/reconcile. */
#ifndef ACMED_RECONCILE_JOB_H
#define ACMED_RECONCILE_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "acme/client.h"
#include "acme/ops.h"
#include "signer/signer_client.h"
#include "reconcile/engine.h"
#include "net/http.h"
#include "reconcile/plan.h"
#include "reconcile/reconcile.h"
#include "reconcile/tstate.h"
#include "store/desired.h"
#include "store/store.h"

struct job;
struct provider;
struct responder;

/* One pass. */
struct rec {
    const struct rec_opts *o;
    uv_loop_t *loop;     /* the caller's (reconcile_start) */
    rec_done_cb done_cb; /* called once the pass has ended and released what it held */
    void *done_arg;
    int code;          /* the pass's exit code, once finished */
    struct err err;    /* what made it REC_USAGE or REC_LOCKED */
    uv_timer_t finish; /* runs the end of the pass from the loop, never from a step */
    struct store st;
    struct http_client *http;
    struct desired_set ds;
    struct store_cert *certs;
    size_t ncerts;
    struct plan_index certix; /* certs by name (plan_target_ix) */
    struct plan_index owners; /* each satisfy name's owning target (plan_owner) */
    struct provider **provs;
    size_t nprovs;
    struct job **jobs;
    size_t njobs, running, done;
    char **changed; /* hostnames whose live link changed, for live-updated */
    size_t nchanged;
    struct rec_summary sum;
    unsigned ari_pending;          /* renewal-information checks under way */
    size_t event_cursor;           /* hook events of the end of the pass (rec.c) */
    unsigned hook_timeout_s;       /* conf/acmed.yaml hook-timeout, or --hook-timeout */
    struct responder **responders; /* challenge listeners (responders.c) */
    size_t nresponders;
    unsigned accounts_pending; /* rec_account.c: accounts whose contact is being updated */
    unsigned revoke_pending;
    unsigned phase; /* index in rec_phases.c's table */
    bool finished;
    bool stopping;             /* reconcile_stop: no new steps */
    unsigned max_jobs;         /* conf/acmed.yaml max-orders */
    unsigned max_requests;     /* conf/acmed.yaml max-requests-per-ca */
    bool allow_insecure_http;  /* conf/acmed.yaml allow-insecure-http */
    engine_factory new_engine; /* NULL: engine_acme_new (tests script a fake one) */
    void *new_engine_arg;
};

/* An ACME server and the account acmed uses there. */
typedef void (*provider_cb)(void *arg, int rc, const struct err *e);

struct provider_waiter {
    provider_cb cb;
    void *arg;
};

enum provider_state {
    PROV_IDLE,
    PROV_STARTING,
    PROV_DIRECTORY,
    PROV_ACCOUNT,
    PROV_READY,
    PROV_FAILED
};

struct provider {
    struct rec *rec;
    char *url;
    char *dir_id;
    struct engine *eng; /* how the pass reaches the CA (engine.h) */
    enum provider_state state;
    bool want_account;      /* some waiter needs the account, not only the directory */
    const struct target *t; /* the target whose account settings create the account */
    struct store_account acct;
    bool have_acct;
    struct signer signer;
    struct signer_client *sc; /* the target's account signer (acct_signer.h), or NULL */
    char *signer_name;        /* its name, as accounts/ and `account list` record it */
    bool contact_tried;       /* the contact update was sent to the CA in this pass */
    struct provider_waiter *dir_waiters, *acct_waiters;
    size_t ndir_waiters, nacct_waiters;
    int rc;
    struct err err;
};

/* The provider for a directory URL, created on first use (no I/O yet). NULL on ENOMEM. */
struct provider *provider_get(struct rec *r, const char *url);
/* The provider for target t's CA and account: t's directory URL and, when t's account key
 * lives in a signer (request.account.signer), that signer: each signer's key is an account
 * of its own. NULL on ENOMEM. */
struct provider *provider_for_target(struct rec *r, const char *url, const struct target *t);
/* Calls cb once the directory is fetched (or failed). */
void provider_need_directory(struct provider *p, provider_cb cb, void *arg);
/* Calls cb once the account is usable (found or registered with t's settings) or failed. */
void provider_need_account(struct provider *p, const struct target *t, provider_cb cb, void *arg);
void provider_free(struct provider *p);
/* The CA said the account does not exist (it lost it): the next provider_need_account
 * registers the account key again. */
void provider_forget_account(struct provider *p);
/* The account acmed uses at directory `url` for EAB kid `kid` (NULL: none), as read from
 * accounts/: the oldest whose meta names the same kid (one account per provider and kid,
 * DESIGN.md §3). *found says whether there is one; if so it is moved into *out (released
 * with store_account_clear). Returns 0, or negative with e set. */
int provider_pick_account(const struct store *st, const char *url, const char *kid,
                          struct store_account *out, bool *found, struct err *e);

/* One target's state machine. */
enum job_step {
    STEP_ACCOUNT,
    STEP_KEY,
    STEP_ORDER,
    STEP_AUTHORIZE,
    STEP_FINALIZE,
    STEP_DOWNLOAD,
    STEP_INSTALL,
    STEP_COUNT
};

struct job {
    struct rec *rec;
    void (*done)(struct job *j); /* called once when the job has finished (rec_job_finished) */
    const struct target *t;
    const struct store_cert *cur; /* the certificate this one replaces, NULL for a first */
    struct provider *prov;
    struct tstate ts;
    enum job_step step;
    struct ckey *key;
    char key_id[STORE_ID_LEN + 1];
    struct acme_order *order;
    struct authz_set *authz; /* step_authorize's, while it runs */
    int fail_rc;
    struct err fail_err;
    char *fail_problem;
    char *chain;
    size_t chain_len;
    struct store_cert installed; /* after step_install */
    bool have_installed;
    bool finished;
    bool ok;
    bool interrupted;      /* stopped at a checkpoint by a stop signal */
    bool reregistered;     /* the account was registered again once in this job */
    bool replaces_sent;    /* the newOrder under way names the certificate it replaces */
    bool replaces_dropped; /* the CA refused that: this job orders without it (step_order) */
};

/* Step modules: each runs its step and ends with job_step_done (or job_fail). */
void step_account(struct job *j);
void step_key(struct job *j);
void step_order(struct job *j);
void step_authorize(struct job *j);
void step_finalize(struct job *j);
void step_download(struct job *j);
void step_install(struct job *j);
/* A stop that cannot wait for the authorization step: removes, synchronously, the answer
 * files it published in webroot paths (hooks and listeners end with the process). */
void step_authorize_abandon(struct job *j);

/* Records the step as done (checkpoint in state/, failpoint "after-<step>") and runs the
 * next one from the transition table, or finishes the job after the last. */
void job_step_done(struct job *j);
/* Fails the job: rc and e (copied), the ACME problem of r if any, and its Retry-After. */
void job_fail(struct job *j, int rc, const struct acme_result *r, const struct err *e,
              const char *what);
/* Starts the job at its first step. */
void job_start(struct job *j);
/* Saves the job's tstate (logging, not failing, on error). */
void job_checkpoint(struct job *j);
/* The target's request.trust-anchors file, read whole into *pem (NUL-terminated, caller frees)
 * and *len; *pem is NULL when the target names none. Returns 0, or negative with e naming the
 * setting and the file (missing, unreadable, a symbolic link, empty, too large). */
int job_read_trust_anchors(const struct job *j, char **pem, size_t *len, struct err *e);
/* The names of the order: request.names as ACME identifiers. ids must hold t->nreq_names. */
void job_identifiers(const struct job *j, struct acme_identifier *ids);
/* The pass's job->done (rec.c). */
void rec_job_finished(struct job *j);
/* Points live/ at cert_id for every name target t owns (acmetool's rule for names several
 * targets list), recording the names whose link changed. Returns 0 or negative. */
int rec_link_target(struct rec *r, const struct target *t, const char *cert_id, struct err *e);
/* Records a hostname whose live link changed (for live-updated). */
void rec_changed(struct rec *r, const char *name);

#endif
