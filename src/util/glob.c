/* glob: `*` and `?` within one label, never across a dot (see glob.h). */
#include "util/glob.h"

#include <stddef.h>

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Iterative matching with one backtrack point: a `*` that did not match a dot can only be
 * retried by letting it swallow one more character of the same label, so remembering the
 * last star is enough (as in the classic wildcard matcher). Linear in practice, at worst
 * O(len(pattern) * len(name)); no recursion, so a hostile pattern cannot exhaust the stack. */
bool glob_match(const char *pattern, const char *name)
{
    const char *p, *n, *star_p = NULL, *star_n = NULL;

    if (!pattern || !name)
        return false;
    p = pattern;
    n = name;
    while (*n) {
        if (*p == '*') {
            star_p = ++p;
            star_n = n;
            continue;
        }
        if (*p && ((*p == '?' && *n != '.') || (*p != '?' && lower(*p) == lower(*n)))) {
            /* Past a dot a former star can no longer extend: it would have to eat the dot. */
            if (*n == '.')
                star_p = NULL;
            p++;
            n++;
            continue;
        }
        /* Mismatch: let the last star swallow one more character, unless that is a dot. */
        if (!star_p || *star_n == '.')
            return false;
        p = star_p;
        n = ++star_n;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}
