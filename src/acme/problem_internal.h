/* problem_internal: the problem document embedded in another object (the "error" of orders
 * and challenges), for acme/objects.c. Private to src/acme/. */
#ifndef ACMED_ACME_PROBLEM_INTERNAL_H
#define ACMED_ACME_PROBLEM_INTERNAL_H

#include <jansson.h>

#include "acme/problem.h"
#include "util/err.h"

/* Reads the optional problem member `key` of obj (ctx names obj in errors) into *out
 * (caller-owned, acme_problem_free; also set, partly filled, when parsing fails). Returns 0
 * (also when absent: *out untouched) or negative with e set. */
int acme_problem_member(json_t *obj, const char *ctx, const char *key, struct acme_problem **out,
                        struct err *e);

#endif
