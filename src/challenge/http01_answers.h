/* http01_answers: the answers the http-01 responder (challenge/http01.h) publishes: the key
 * authorization for each token. A plain set with no I/O; the listener owns one. */
#ifndef ACMED_CHALLENGE_HTTP01_ANSWERS_H
#define ACMED_CHALLENGE_HTTP01_ANSWERS_H

#include <stddef.h>

#include "util/err.h"

struct http01_answer {
    char *token;   /* base64url, at most HTTP01_TOKEN_MAX bytes */
    char *keyauth; /* the body served for it */
};

/* Zero-initialised ({0}) it is empty. Entries are owned by the set. */
struct http01_answers {
    struct http01_answer *v;
    size_t n;
};

/* Publishes the answer for token (copies of token and keyauth are kept; publishing a token
 * again replaces its answer). Returns 0, -EINVAL when token is NULL, not base64url or longer
 * than HTTP01_TOKEN_MAX or keyauth is NULL (the set is unchanged), or -ENOMEM. */
int http01_answers_put(struct http01_answers *s, const char *token, const char *keyauth,
                       struct err *e);

/* The answer for token, or NULL. Borrowed from s until its next change. */
const struct http01_answer *http01_answers_find(const struct http01_answers *s, const char *token);

/* Withdraws the answer for token; an unknown or NULL token is ignored. */
void http01_answers_remove(struct http01_answers *s, const char *token);

/* Forgets every answer and leaves s empty (s itself is the caller's). s may be NULL. */
void http01_answers_clear(struct http01_answers *s);

#endif
