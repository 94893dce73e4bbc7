/* job: one target's state machine, as its steps (step_*.c) see it: the job and what the pass
 * hands it (struct job_ctx), never the pass itself. Private to src/reconcile. */
#ifndef ACMED_RECONCILE_JOB_H
#define ACMED_RECONCILE_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "net/etcd.h"
#include "net/http.h"
#include "reconcile/engine.h"
#include "reconcile/reconcile.h"
#include "reconcile/tstate.h"
#include "store/desired.h"
#include "store/store.h"

struct job;
struct provider;
struct chal_listener;
struct hooks_opts;

/* How many times a job resumes from its checkpoint after its engine's worker died. */
#define JOB_LOST_MAX 3

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

/* A step of the transition table. */
struct job_step_def {
    const char *name;
    void (*run)(struct job *j);
};

/* The transition table: the steps in order (job_steps.c). */
extern const struct job_step_def job_steps[STEP_COUNT];
/* The table for a target whose provider is a central certificate server (mgmt+https://...):
 * no account, order, authorizations or finalization; the CSR's post and the chain's checks
 * take the download's place (step_mgmt). A step whose run is NULL is skipped. */
extern const struct job_step_def job_steps_mgmt[STEP_COUNT];

/* What the pass hands its jobs: shared, read-only for them. */
struct job_ctx {
    struct store *st;
    uv_loop_t *loop;
    const bool *stopping; /* a stop was asked: no new steps */
    const struct store_cert *certs;
    size_t ncerts;
    const struct job_step_def *steps; /* STEP_COUNT entries (job_steps) */
    /* The same for targets of a central certificate server (job_steps_mgmt); NULL: steps. */
    const struct job_step_def *mgmt_steps;
    void *arg; /* passed to the callbacks below */
    /* Hook options for target t (NULL: no target environment) in *ho; the timeout may shrink
     * during the pass (a forced stop). */
    void (*hooks_opts)(void *arg, const struct target *t, struct hooks_opts *ho);
    /* The http-01 (tls false) or tls-alpn-01 listener for t, with one more user, or NULL
     * with e set; responder_release gives it back. */
    struct chal_listener *(*responder_get)(void *arg, bool tls, const struct target *t,
                                           struct err *e);
    void (*responder_release)(void *arg, struct chal_listener *l);
    /* Points live/ at cert_id for the names t owns. Returns 0 or negative with e set. */
    int (*link)(void *arg, const struct target *t, const char *cert_id, struct err *e);
    /* Fleet mode (NULL otherwise): after each step's local checkpoint, the fenced one in etcd,
     * then next(j) (or the job ends there, interrupted, when the lock is no longer its). */
    void (*fleet_checkpoint)(void *arg, struct job *j, void (*next)(struct job *j));
    /* Fleet mode (NULL otherwise): publishes the http-01 (tls false: key is the token) or
     * tls-alpn-01 (key: the name) answer keyauth for every node to serve, or withdraws it
     * (keyauth NULL). Returns 0 when started (cb runs once it is stored), 1 when there is
     * nothing to wait for, or negative with e set. */
    int (*share_answer)(void *arg, struct job *j, bool tls, const char *key, const char *keyauth,
                        etcd_cb cb, void *cbarg, struct err *e);
};

struct job {
    const struct job_ctx *ctx;
    void (*done)(struct job *j); /* called once when the job has finished */
    void *done_arg;              /* for done */
    const struct target *t;
    const struct store_cert *cur; /* the certificate this one replaces, NULL for a first */
    struct provider *prov;
    struct tstate ts;
    enum job_step step;
    struct ckey *key;
    char key_id[STORE_ID_LEN + 1];
    struct engine_order *order;
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
    unsigned lost;         /* operations lost with a dying worker, resumed (JOB_LOST_MAX) */
    bool replaces_sent;    /* the newOrder under way names the certificate it replaces */
    bool replaces_dropped; /* the CA refused that: this job orders without it (step_order) */
    const struct rec_extra *extra; /* a caller's target (rec_opts.extra): no state/ file */
    struct job_fleet *fl;          /* fleet mode: its lock and record (rec_fleet_job.c) */
};

/* Step modules: each runs its step and ends with job_step_done (or job_fail). */
void step_account(struct job *j);
void step_key(struct job *j);
void step_order(struct job *j);
void step_authorize(struct job *j);
void step_finalize(struct job *j);
void step_download(struct job *j);
void step_install(struct job *j);
/* The CSR posted to a central certificate server, and its chain checked (step_mgmt.c). */
void step_mgmt(struct job *j);

/* Records the step as done (checkpoint in state/, failpoint "after-<step>") and runs the
 * next one from the transition table, or finishes the job after the last. */
void job_step_done(struct job *j);
/* Fails the job: rc and e (copied), the ACME problem of r if any, and its Retry-After. */
void job_fail(struct job *j, int rc, const struct engine_result *r, const struct err *e,
              const char *what);
/* Starts the job at its first step. */
void job_start(struct job *j);
/* Saves the job's tstate (logging, not failing, on error). */
void job_checkpoint(struct job *j);
/* The target's request.trust-anchors file, read whole into *pem (NUL-terminated, caller frees)
 * and *len; *pem is NULL when the target names none. Returns 0, or negative with e naming the
 * setting and the file (missing, unreadable, a symbolic link, empty, too large). */
int job_read_trust_anchors(const struct job *j, char **pem, size_t *len, struct err *e);
/* An authorization must be for one of the identifiers the target ordered: (type, normalised
 * value, wildcard) as asked. Anything else, from a hostile CA or a man in the middle, would
 * otherwise reach a hook's argv, a DNS record or a log. The value is replaced by its
 * normalised form. Returns 0, or -EPROTO with e saying what came and from where. */
int job_check_identifier(const struct job *j, const char *url, struct engine_authz *az,
                         struct err *e);
/* The names of the order: request.names as ACME identifiers. ids must hold t->nreq_names. */
void job_identifiers(const struct job *j, struct engine_identifier *ids);
#endif
