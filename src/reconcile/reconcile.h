/* reconcile: one pass over the state directory (DESIGN.md §2-§4): read the desired targets,
 * compare them with the certificates present, obtain or renew what is missing or due, install
 * it, run the live-updated hook, and say how it went in an exit code (§7). */
#ifndef ACMED_RECONCILE_RECONCILE_H
#define ACMED_RECONCILE_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

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
};

/* Exit codes of DESIGN.md §7. */
enum rec_exit {
    REC_OK = 0,       /* every target satisfied */
    REC_FAILED = 1,   /* some target failed (not critical) */
    REC_USAGE = 2,    /* configuration error: nothing attempted */
    REC_CRITICAL = 3, /* a certificate in its critical window could not be renewed */
    REC_LOCKED = 4,   /* another reconciler holds the lock */
};

struct rec_summary {
    unsigned targets, satisfied, issued, failed, critical, bad_files;
};

/* Runs one pass to the end on a loop of its own, holding the state directory's lock for its
 * duration. Returns an enum rec_exit; e describes the first fatal problem for REC_USAGE and
 * REC_LOCKED. sum may be NULL. */
int reconcile_once(const struct rec_opts *o, struct rec_summary *sum, struct err *e);

#endif
