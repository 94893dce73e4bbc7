/* problem: ACME problem documents (RFC 7807 with the subproblems of RFC 8555 §6.7.1), parsed
 * from the JSON text a server sent, as strictly as the objects of acme/objects.h: a member of
 * the wrong JSON type is an error naming it, unknown members are ignored, JSON null is absent.
 * Text members are sanitised (util/sanitize) when parsed. */
#ifndef ACMED_ACME_PROBLEM_H
#define ACMED_ACME_PROBLEM_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* RFC 7807 problem document with the ACME subproblems of RFC 8555 §6.7.1. */
struct acme_subproblem {
    char *type;    /* "about:blank" when absent */
    char *detail;  /* NULL when absent */
    char *id_type; /* identifier, as strings since any type may appear; NULL when absent */
    char *id_value;
};

struct acme_problem {
    char *type;     /* "about:blank" when absent (RFC 7807 §3.1) */
    char *detail;   /* NULL when absent */
    char *instance; /* NULL when absent */
    int status;     /* HTTP status, 0 when absent */
    struct acme_subproblem *subproblems;
    size_t nsubproblems;
};

/* Parses a problem document: 0 and *out (caller-owned, acme_problem_free), or -EINVAL /
 * -ENOMEM with e set and *out untouched. */
int acme_problem_parse(const char *text, size_t len, struct acme_problem **out, struct err *e);

/* Frees p and everything in it. NULL is ignored. */
void acme_problem_free(struct acme_problem *p);

/* One line describing a problem: type, HTTP status, detail, then each subproblem with its
 * identifier, e.g. `urn:...:malformed (400): Some identifiers were rejected; [dns
 * _example.org] urn:...:malformed: Invalid underscore`. Control characters from the server are
 * replaced by '?'. Caller frees; NULL on allocation failure. */
char *acme_problem_format(const struct acme_problem *p);

/* True when p's type is "urn:ietf:params:acme:error:<name>" (e.g. name "badNonce").
 * p may be NULL (false). */
bool acme_problem_is(const struct acme_problem *p, const char *name);

#endif
