/* policy: when a certificate is due for renewal, how long a failing target backs off, and
 * when a certificate is in its critical window (DESIGN.md §4). Pure functions of their
 * arguments (the caller passes `now`), unit-tested without a clock. */
#ifndef ACMED_RECONCILE_POLICY_H
#define ACMED_RECONCILE_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct policy_cert {
    time_t not_before, not_after;
    time_t ari_chosen; /* a renewal time chosen inside the CA's ARI window, 0 when none */
};

enum policy_why {
    WHY_ARI,      /* the time chosen inside the CA's renewalInfo window */
    WHY_MARGIN,   /* the target's explicit margin (days before notAfter) */
    WHY_LIFETIME, /* 1/3 of the lifetime left (1/2 under 10 days) */
};

/* The time at which `c` should be renewed: the ARI choice when there is one, else notAfter
 * minus margin_days when margin_days > 0, else when 1/3 of the lifetime remains (1/2 for
 * lifetimes under 10 days). *why says which rule decided. */
time_t policy_due(const struct policy_cert *c, int margin_days, enum policy_why *why);

/* A renewal time inside the CA's suggested window [start, end), uniformly random as RFC 9773
 * §4.2 asks, chosen from random_u64 (a uniformly random 64-bit value the caller draws):
 * every second of the window gets the same share of the inputs. Returns start when
 * end <= start. */
time_t policy_ari_pick(time_t start, time_t end, uint64_t random_u64);

/* A short name for a rule ("ari", "margin", "lifetime"). */
const char *policy_why_str(enum policy_why why);

/* True when `c` is in its critical window at `now` (failures there are critical): less than
 * critical_days days before notAfter when critical_days > 0 (satisfy.critical-days), else
 * less than 1/10 of the lifetime left. */
bool policy_critical(const struct policy_cert *c, int critical_days, time_t now);

/* Backoff after the n-th consecutive failure (n >= 1): 60 s, 600 s, 6000 s, then a day. */
time_t policy_backoff(unsigned failures);

/* The next attempt after a failure at `now`: the later of the backoff and the CA's
 * Retry-After (retry_after_s < 0: none). */
time_t policy_next_attempt(time_t now, unsigned failures, time_t retry_after_s);

/* True when a newOrder that named the certificate it replaces (RFC 9773 `replaces`) and was
 * refused with HTTP `status` (0: no answer) and problem `type` (NULL: no problem document)
 * should be tried once more, at once, without `replaces`: any 4xx (alreadyReplaced 409,
 * unauthorized 403 for a certificate another account issued, malformed 400 from a CA that
 * does not know the field...) except a rate limit (429 or rateLimited: wait, and keep
 * `replaces`), badNonce (the client retried it already) and accountDoesNotExist (the account
 * is registered again instead). 5xx and transport failures are retried as any request. */
bool policy_drop_replaces(long status, const char *type);

#endif
