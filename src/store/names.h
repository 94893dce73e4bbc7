/* names: validation and normalisation of the hostnames and addresses a target names, before
 * any of them reaches a path, a request or a hook (DESIGN.md §3). */
#ifndef ACMED_STORE_NAMES_H
#define ACMED_STORE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* Normalises `in` (len bytes; an embedded NUL is an error): an IPv4/IPv6 address becomes its
 * canonical text (inet_ntop) with *is_ip set; otherwise a DNS name is lowercased, converted
 * from Unicode to punycode A-labels (libidn2), stripped of one trailing dot, and checked:
 * labels of 1..63 letters, digits and inner hyphens, 253 characters at most, at least two
 * labels, and "*" only as the whole first label. Anything else ("../x", "a/b", "*.*.x", "",
 * spaces, a 64-character label) is -EINVAL with e saying what is wrong. *out is caller-owned. */
int name_normalize(const char *in, size_t len, char **out, bool *is_ip, struct err *e);

/* True when s is a name name_normalize would return unchanged (safe in a path component). */
bool name_is_normal(const char *s);

/* The apex of a www name (satisfy.www-apex, `want --apex`): for a normalised DNS name
 * "www.<rest>" whose rest is itself a valid name of two labels or more, *out = "<rest>"
 * (caller-owned) and 1. Anything else ("www.com", "wwwx.example.com", an IP address, a
 * wildcard) is 0 with *out NULL; -ENOMEM when out of memory. */
int name_www_apex(const char *name, char **out);

#endif
