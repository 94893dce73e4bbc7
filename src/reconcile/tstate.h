/* tstate: a target's reconciler progress, checkpointed in state/<desired-file>.json after
 * every step so that a crash or kill resumes the same order (DESIGN.md §2). Which step comes
 * next is not saved: on resume the order's status at the CA decides (step_order). */
#ifndef ACMED_RECONCILE_TSTATE_H
#define ACMED_RECONCILE_TSTATE_H

#include <stdbool.h>
#include <time.h>

#include "store/store.h"
#include "util/err.h"

struct tstate {
    char *order_url;   /* the order in progress, NULL when none */
    char *key_id;      /* the key of the order in progress */
    char *account_url; /* the account the order belongs to */
    char *replaces;    /* ARI certID the order replaces */
    /* The CA refused a newOrder naming replaces_dropped in `replaces` (step_order): this
     * renewal orders without it from then on, across runs, until a certificate is installed
     * (or the certificate in use changes). Kept by tstate_clear_order. */
    char *replaces_dropped;     /* that certID, NULL when none */
    char *replaces_dropped_why; /* the refusal (problem type, status, detail), sanitised */
    unsigned failures;          /* consecutive failed attempts */
    char *last_error;           /* message of the last failure, NULL after a success */
    char *last_problem;         /* ACME problem type of the last failure, or "local" */
    time_t last_failure;
    time_t next_attempt; /* backoff: no attempt before this (unless --force) */
    time_t retry_until;  /* the CA's Retry-After: no attempt before this, even with --force */
    time_t last_success;
};

/* Loads state/<file>.json; a missing file gives an empty state. A corrupt one is reported
 * (log_warn) and treated as empty: losing progress costs one new order, never a crash.
 * Returns 0 or negative for I/O errors. */
int tstate_load(const struct store *st, const char *file, struct tstate *ts, struct err *e);

/* Reads a record as tstate_json wrote it (text[0..len), hostile: from a file or etcd) into
 * *ts (emptied first; tstate_free). Returns 0, or -EBADMSG with e when it is not one. */
int tstate_parse(const char *text, size_t len, struct tstate *ts, struct err *e);

/* The record of ts as JSON text (compact, or indented for state/ files), or NULL when out of
 * memory; the caller frees it. */
char *tstate_json(const struct tstate *ts, bool compact);

/* Writes the state atomically. Returns 0 or negative. */
int tstate_save(const struct store *st, const char *file, const struct tstate *ts, struct err *e);

/* Forgets the order in progress (order_url, key_id, account_url, replaces); keeps
 * replaces_dropped, which belongs to the renewal, not to one order. */
void tstate_clear_order(struct tstate *ts);

void tstate_free(struct tstate *ts);

/* Replaces *slot with a copy of s (NULL clears). Returns 0 or -ENOMEM. */
int tstate_set(char **slot, const char *s);
/* Like tstate_set, for text that may come from a server (an error, a problem type): the copy
 * goes through the one sanitiser (util/sanitize.h). s may be *slot. */
int tstate_set_text(char **slot, const char *s);

#endif
