/* plan: what a target needs, decided from the desired target, the certificates present and
 * the target's saved progress (DESIGN.md §4). Pure: no I/O, `now` passed in. Used by the
 * reconciler and by `acmed status`. */
#ifndef ACMED_RECONCILE_PLAN_H
#define ACMED_RECONCILE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "reconcile/policy.h"
#include "reconcile/tstate.h"
#include "store/store.h"
#include "store/target.h"

enum plan_action {
    PLAN_SATISFIED, /* a certificate covers the target and is not due */
    PLAN_ISSUE,     /* no certificate covers the target */
    PLAN_RENEW,     /* the covering certificate is due */
    PLAN_BACKOFF,   /* work is needed but the target is backing off after failures */
};

struct plan {
    enum plan_action action;
    const struct store_cert *cur; /* the best covering certificate, NULL when none */
    time_t due;                   /* cur's renewal time (0 without cur) */
    enum policy_why why;
    bool critical;                /* cur is in its critical window (or expired) */
    bool resume;                  /* an order is in progress (ts.order_url) */
    time_t next_attempt;          /* PLAN_BACKOFF: when work may start */
};

/* True when certificate c covers target t: every satisfy name, a key of the wanted type,
 * not revoked nor asked to be. */
bool plan_covers(const struct target *t, const struct store_cert *c);

/* Decides for one target. force ignores the backoff, never the CA's Retry-After. */
void plan_target(const struct target *t, const struct store_cert *certs, size_t ncerts,
                 const struct tstate *ts, time_t now, bool force, struct plan *out);

const char *plan_action_str(enum plan_action a);

/* True when the directory URLs a and b name the same CA for acmed: equal, or with the same
 * dir-id (the same accounts/ directory). False when either is NULL or unusable. */
bool plan_same_directory(const char *a, const char *b);

/* True when certificate c is known to come from the CA at directory `url`: its meta says so
 * (c->directory), or, for a meta that predates that field, its `account` link is an account
 * of that CA. A certificate whose issuer is unknown comes from no CA. */
bool plan_issued_by(const struct store_cert *c, const char *url);

/* The directory URL of the CA that issued c, the one to ask for its renewal information:
 * c->directory, else provider_url (the target's provider) when plan_issued_by says it is
 * that CA, else NULL (unknown: never ask another CA). Borrowed from c or provider_url. */
const char *plan_cert_directory(const struct store_cert *c, const char *provider_url);

#endif
