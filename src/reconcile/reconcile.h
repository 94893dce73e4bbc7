/* reconcile: one pass over the state directory (DESIGN.md §2-§4): read the desired targets,
 * compare them with the certificates present, obtain or renew what is missing or due, install
 * it, run the live-updated hook, and say how it went in an exit code (§7). */
#ifndef ACMED_RECONCILE_RECONCILE_H
#define ACMED_RECONCILE_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/err.h"

struct rec_opts {
    const char *state_dir;
    const char *const *hook_dirs; /* NULL: the default hook directories */
    size_t nhook_dirs;
    const char *ca_bundle;        /* NULL: the system's */
    const char *provider;         /* default directory URL when a target names none */
    bool agree_tos;               /* --agree-tos */
    bool force;                   /* ignore backoff (never a Retry-After) */
    unsigned hook_timeout_s;      /* 0: 300 */
    bool locked;                  /* the caller already holds the state lock (the daemon) */
    bool handle_signals;          /* SIGTERM/SIGINT end the pass early (in-flight steps stop at
                                     their next checkpoint, at most REC_STOP_GRACE_MS later, or
                                     at a second signal: then the webroot answers are removed
                                     and the process exits 0 at once, as a kill would);
                                     SIGHUP/SIGUSR1 ask for another pass */
};

#define REC_STOP_GRACE_MS 10000

/* Exit codes of DESIGN.md §7. */
enum rec_exit {
    REC_OK = 0,       /* every target satisfied */
    REC_FAILED = 1,   /* some target failed (not critical) */
    REC_USAGE = 2,    /* configuration error: nothing attempted */
    REC_CRITICAL = 3, /* a certificate in its critical window could not be renewed */
    REC_LOCKED = 4,   /* another reconciler holds the lock */
};

#define REC_LISTENERS_MAX 8
#define REC_LISTENER_TEXT_MAX 128

struct rec_summary {
    unsigned targets, satisfied, issued, failed, critical, bad_files;
    unsigned max_in_flight;  /* most orders in flight at once */
    unsigned long requests;  /* ACME requests sent */
    bool stop_requested;     /* SIGTERM/SIGINT arrived during the pass */
    bool rerun_requested;    /* SIGHUP/SIGUSR1 arrived during the pass */
    /* The challenge listeners the pass opened ("http-01 127.0.0.1:402"); they exist only
     * while a challenge is pending (DESIGN.md §6). */
    char listeners[REC_LISTENERS_MAX][REC_LISTENER_TEXT_MAX];
    unsigned nlisteners;
};

/* Runs one pass to the end on a loop of its own, holding the state directory's lock for its
 * duration. Returns an enum rec_exit; e describes the first fatal problem for REC_USAGE and
 * REC_LOCKED. sum may be NULL. */
int reconcile_once(const struct rec_opts *o, struct rec_summary *sum, struct err *e);

/* The earliest time something in the state directory needs a pass: a certificate's renewal
 * time, a target's backoff deadline, a renewal-information check, or `now` for a target
 * without a certificate. Reads without the lock; no network. Returns 0 with *wake set (0 when
 * nothing is scheduled) and, when why is not NULL, why (why_len bytes) saying what is due
 * ("www: renewal due"), or negative. */
int reconcile_next_wake(const char *state_dir, time_t now, time_t *wake, char *why,
                        size_t why_len, struct err *e);

#endif
