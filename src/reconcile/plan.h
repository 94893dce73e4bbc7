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
    bool critical;       /* cur is in its critical window (or expired) */
    bool resume;         /* an order is in progress (ts.order_url) */
    time_t next_attempt; /* PLAN_BACKOFF: when work may start */
};

/* True when certificate c covers target t: every satisfy name, a key of the wanted type,
 * not revoked nor asked to be. */
bool plan_covers(const struct target *t, const struct store_cert *c);

/* Decides for one target. force ignores the backoff, never the CA's Retry-After. */
void plan_target(const struct target *t, const struct store_cert *certs, size_t ncerts,
                 const struct tstate *ts, time_t now, bool force, struct plan *out);

/* An index over borrowed names, for passes over thousands of targets: the certificates by
 * each name they list (plan_index_certs), or each name's owning target (plan_index_owners).
 * Entries borrow the names and objects they index, which must outlive it and not move. */
struct plan_ix_entry {
    const char *name;
    const void *obj;
};

struct plan_index {
    struct plan_ix_entry *v;
    size_t n;
};

/* Indexes certs[0..n-1] by every name they list (compared without case, as plan_covers
 * does). Returns 0 or -ENOMEM; release with plan_index_free. */
int plan_index_certs(struct plan_index *ix, const struct store_cert *certs, size_t n);
/* Indexes, for every satisfy name of ts[0..n-1], the target that owns it (target_owner's
 * rule). Returns 0 or -ENOMEM. */
int plan_index_owners(struct plan_index *ix, const struct target *ts, size_t n);
/* The owner of `name` in an index from plan_index_owners: target_owner(ts, n, name) in
 * O(log n). NULL when no target lists it. */
const struct target *plan_owner(const struct plan_index *ix, const char *name);
void plan_index_free(struct plan_index *ix);

/* plan_target with the certificates of `certs` (the array plan_index_certs indexed in ix):
 * the same decision, looking only at the certificates listing the target's first name. */
void plan_target_ix(const struct target *t, const struct store_cert *certs, size_t ncerts,
                    const struct plan_index *ix, const struct tstate *ts, time_t now, bool force,
                    struct plan *out);

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
