/* glob: acmed's one glob dialect for host names.
 *
 * `*` matches any run of characters (the empty run included) within one label, `?` exactly
 * one character; neither ever matches a dot, so "*.example.test" matches "a.example.test"
 * but neither "example.test" nor "a.b.example.test". Every other character matches itself,
 * compared case-insensitively in ASCII. There is no escaping and no character class. */
#ifndef ACMED_UTIL_GLOB_H
#define ACMED_UTIL_GLOB_H

#include <stdbool.h>

/* True when the whole of `name` matches `pattern`. NULL for either gives false. */
bool glob_match(const char *pattern, const char *name);

#endif
