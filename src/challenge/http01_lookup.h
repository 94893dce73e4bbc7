/* http01_lookup: the asks of one http-01 listener (challenge/http01.h) on a miss, through a
 * struct chal_lookup (challenge/lookup.h): the records that outlive their connection or the
 * listener until the answer comes, the bound on asks in flight, and the check of what comes
 * back. No I/O of its own: the listener times its connections out itself. */
#ifndef ACMED_CHALLENGE_HTTP01_LOOKUP_H
#define ACMED_CHALLENGE_HTTP01_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "challenge/lookup.h"

/* One ask in flight: allocated per ask and freed by its answer (the done of lookup.h), never
 * by the listener or the connection, which only orphan it. */
struct http01_ask;

/* Called once with the answer for the owner of an ask: keyauth (borrowed for the call) when a
 * valid answer for the token came, NULL when it is unknown or what came was not valid. */
typedef void (*http01_lookup_cb)(void *owner, const char *keyauth);

/* The asks of one listener; zero-initialised ({0}) it has no lookup and nothing in flight. */
struct http01_lookup {
    const struct chal_lookup *lk; /* borrowed; NULL: never ask */
    struct http01_ask *head;      /* in flight, orphaned ones excepted */
    size_t n;                     /* in flight, counted until their answer comes */
    bool warned;                  /* an invalid answer was logged at warning level */
};

/* Asks s->lk for token (borrowed) on behalf of owner: *slot is set to the record before the
 * ask goes, and cb(owner, keyauth) is called once (possibly before this returns), with *slot
 * cleared to NULL just before, unless http01_lookup_cancel(*slot) came first. Returns 0, or
 * -ENOENT with no lookup set, -EBUSY with CHAL_LOOKUP_MAX_INFLIGHT asks in flight, -ENOMEM;
 * then nothing is asked and cb never runs. */
int http01_lookup_ask(struct http01_lookup *s, const char *token, http01_lookup_cb cb, void *owner,
                      struct http01_ask **slot);

/* The owner no longer wants the answer (its connection closes): cb never runs for a. The ask
 * still counts as in flight until its answer comes. a may be NULL. */
void http01_lookup_cancel(struct http01_ask *a);

/* The listener goes away: every ask in flight is orphaned (no cb runs; each record is freed
 * when its answer comes) and s is left with no lookup and nothing in flight. */
void http01_lookup_detach(struct http01_lookup *s);

/* Whether keyauth is an acceptable answer for token: base64url characters and exactly one
 * '.', at most HTTP01_TOKEN_MAX bytes, starting with "<token>.". */
bool http01_lookup_valid(const char *token, const char *keyauth);

#endif
