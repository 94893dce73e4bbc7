/* reconcile: one pass over the state directory (DESIGN.md §2-§4): read the desired targets,
 * compare them with the certificates present, obtain or renew what is missing or due, install
 * it, run the live-updated hook, and say how it went in an exit code (§7). */
#ifndef ACMED_RECONCILE_RECONCILE_H
#define ACMED_RECONCILE_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <uv.h>

#include "util/err.h"

struct engine;
struct chal_listener_factory;
struct target;
struct fleet;

/* How the order of an extra target (rec_opts.extra) went; everything is borrowed for the
 * callback's duration. */
struct rec_extra_result {
    bool ok;
    const char *cert_id; /* certs/<id> it was installed as (ok) */
    const char *chain;   /* the chain, PEM, leaf first (ok) */
    size_t chain_len;
    const struct err *err; /* what failed (not ok) */
    const char *problem;   /* the CA's problem type, or "local" (not ok) */
    const char *step;      /* the step that failed ("authorize", "finalize"...) (not ok) */
    time_t retry_until;    /* the CA's Retry-After as a time, 0 when none (not ok) */
    bool interrupted;      /* cut short by a stop (not ok) */
};

/* A target the caller made rather than desired/ (acmed sign-csr, acmed serve: DESIGN.md §11):
 * ordered as it is, never planned against certs/, installed in certs/ without live/ links,
 * its progress not kept in state/, and told how it went through done. */
struct rec_extra {
    const struct target *t; /* borrowed until done is called */
    void (*done)(void *arg, const struct target *t, const struct rec_extra_result *res);
    void *arg;
};

struct rec_opts {
    const char *state_dir;
    const char *const *hook_dirs; /* NULL: the default hook directories */
    size_t nhook_dirs;
    const char *ca_bundle;   /* NULL: the system's */
    const char *provider;    /* default directory URL when a target names none */
    bool agree_tos;          /* --agree-tos */
    bool force;              /* ignore backoff (never a Retry-After) */
    unsigned hook_timeout_s; /* 0: 300 */
    bool locked;             /* the caller already holds the state lock (the daemon) */
    /* Makes the engine reaching the CA at url (tests script a fake CA; engine.h's
     * engine_factory). NULL: the one over src/acme. */
    int (*new_engine)(void *arg, const char *url, struct engine **out, struct err *e);
    void *new_engine_arg;
    /* Where the http-01 and tls-alpn-01 listeners come from (privilege separation: served
     * by the worker). NULL: this process serves them. */
    const struct chal_listener_factory *listeners;
    /* With extra targets, the pass orders these alone: it reads no desired file (conf/target
     * only), plans no certificate, revokes nothing, changes no live/ link and runs no
     * end-of-pass hook event (challenge hooks run as usual). Borrowed. */
    const struct rec_extra *extra;
    size_t nextra;
    /* Fleet mode (conf/acmed.yaml cluster:, DESIGN.md §12): the node's fleet, borrowed for
     * the pass. The targets are the fleet's, each job works under its target's lock, and the
     * certificates other nodes obtained are installed here. NULL: this node alone. */
    struct fleet *fleet;
};

/* How long the daemon and the CLI let in-flight steps run to their next checkpoint after a
 * stop signal before they force the stop (reconcile_force_stop). */
#define REC_STOP_GRACE_MS 10000

/* Exit codes of DESIGN.md §7. */
enum rec_exit {
    REC_OK = 0,       /* every target satisfied */
    REC_FAILED = 1,   /* some target failed (not critical) */
    REC_USAGE = 2,    /* configuration error: nothing attempted */
    REC_CRITICAL = 3, /* a certificate in its critical window could not be renewed */
    REC_LOCKED = 4,   /* another reconciler holds the lock */
};

struct desired_set;
struct store_cert;
struct plan_index;

/* What a pass loaded: the desired targets, the certificates and their index by name
 * (plan_index_certs). All borrowed from the pass. */
struct rec_snapshot {
    const struct desired_set *ds;
    const struct store_cert *certs;
    size_t ncerts;
    const struct plan_index *certix;
};

#define REC_LISTENERS_MAX 8
#define REC_LISTENER_TEXT_MAX 128

struct rec_summary {
    unsigned targets, satisfied, issued, failed, critical, bad_files;
    unsigned max_in_flight; /* most orders in flight at once */
    unsigned long requests; /* ACME requests sent */
    bool stop_requested;    /* reconcile_stop was called during the pass */
    /* The challenge listeners the pass opened ("http-01 127.0.0.1:402"); they exist only
     * while a challenge is pending (DESIGN.md §6). */
    char listeners[REC_LISTENERS_MAX][REC_LISTENER_TEXT_MAX];
    unsigned nlisteners;
    /* When the pass changed nothing it read (no job ran, it was not stopped), the next wake
     * computed from what it loaded, as reconcile_next_wake would read it: wake_known, then
     * next_wake (0: nothing scheduled) and what is due. Otherwise wake_known is false. */
    bool wake_known;
    time_t next_wake;
    char next_why[160];
    /* With wake_known, what the pass loaded (still what the state directory holds), for the
     * done callback to read instead of loading it all again (the daemon's metrics); NULL
     * otherwise. Valid only during that callback: never keep it. */
    const struct rec_snapshot *snap;
    /* Fleet mode: etcd answered the pass (fleet_up); targets another node held
     * (fleet_elsewhere); something wants a pass soon whatever else is due (fleet_again: a
     * target waited for etcd or for its holder, a certificate came from the fleet). */
    bool fleet, fleet_up, fleet_again;
    bool fleet_now; /* a certificate came from the fleet: a pass at once links it */
    unsigned fleet_elsewhere;
};

struct rec;

/* Called once when a pass has ended and released everything it held (files, the lock, its
 * listeners and connections; its snapshot goes when this returns): code is an enum rec_exit, sum
 * the pass's summary, e the first fatal problem for REC_USAGE and REC_LOCKED. All are borrowed for
 * the call; the pass itself is freed right after it returns. */
typedef void (*rec_done_cb)(void *arg, int code, const struct rec_summary *sum,
                            const struct err *e);

/* Starts a pass on the caller's loop (o is borrowed and must outlive the pass) and returns at
 * once: the pass goes on as the loop runs, taking the state directory's lock unless o->locked,
 * and calls done(arg, ...) from the loop when it is over, never from inside this call. *out
 * (may be NULL) is the pass, for reconcile_stop and reconcile_force_stop, valid until done runs.
 * Nothing here handles signals: the daemon and the CLI do. Returns 0, or -ENOMEM (e set, done
 * never called). */
int reconcile_start(uv_loop_t *loop, const struct rec_opts *o, rec_done_cb done, void *arg,
                    struct rec **out, struct err *e);

/* Adds a target of the caller's (as in rec_opts.extra; x borrowed until its done runs) to a
 * pass started with extra targets while it still runs its jobs, so that requests arriving
 * together share the pass's account lookup and connections. Returns 0, or -EBUSY when the
 * pass is past its jobs or stopping (start another pass). */
int reconcile_add_extra(struct rec *r, const struct rec_extra *x);

/* Asks the pass to stop: no step starts any more, in-flight steps end at their next checkpoint
 * (the next run resumes them), and done is called as usual. A second call does nothing. */
void reconcile_stop(struct rec *r);

/* For a stop that cannot wait (the grace is over, or a second signal): reconcile_stop, and
 * everything in flight is cancelled: requests to the CA (on the wire or waiting for a retry, a
 * nonce or their turn), polls of authorizations and orders, and running hooks (their process
 * groups get SIGTERM, then SIGKILL after HOOKS_KILL_GRACE_MS). Each step so cut short ends as
 * interrupted: it withdraws what it published (webroot files, listener entries; the stop hooks
 * of start hooks that ran, each with a timeout of 5 s at most) and its target resumes on the
 * next run.
 * The end-of-pass hook events do not run. done is then called from the loop as usual, once
 * the listeners, connections and the lock are released; the state directory stays valid.
 * Returns at once; does nothing after the first call or once the pass is ending. */
void reconcile_force_stop(struct rec *r);

/* One pass to the end on a loop of its own (reconcile_start on a private loop), for callers
 * that have no loop: returns an enum rec_exit, fills *sum when not NULL. */
int reconcile_once(const struct rec_opts *o, struct rec_summary *sum, struct err *e);

/* The earliest time something in the state directory needs a pass: a certificate's renewal
 * time, a target's backoff deadline, a renewal-information check, or `now` for a target
 * without a certificate. Reads without the lock; no network. Returns 0 with *wake set (0 when
 * nothing is scheduled) and, when why is not NULL, why (why_len bytes) saying what is due
 * ("www: renewal due"), or negative. */
int reconcile_next_wake(const char *state_dir, time_t now, time_t *wake, char *why, size_t why_len,
                        struct err *e);

#endif
