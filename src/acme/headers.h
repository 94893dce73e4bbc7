/* headers: parsers of the HTTP response headers ACME relies on, Retry-After (RFC 9110
 * §10.2.3) and Link (RFC 8288). Pure functions over strings, safe on hostile input. */
#ifndef ACMED_ACME_HEADERS_H
#define ACMED_ACME_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/err.h"

/* The longest wait a server can impose through Retry-After, in seconds. */
#define ACME_RETRY_AFTER_MAX 86400

/* Parses a Retry-After value: delta-seconds ("120") or an HTTP-date in IMF-fixdate, RFC 850 or
 * asctime form. Sets *delay_s to the wait from `now` clamped to [0, max_s] (a date in the past
 * gives 0; max_s <= 0 means ACME_RETRY_AFTER_MAX). Returns 0, or -EINVAL for anything else
 * ("-1", "abc", "", a number too large for time_t), leaving *delay_s untouched. */
int acme_retry_after_parse(const char *value, time_t now, time_t max_s, time_t *delay_s);

struct acme_link {
    char *url; /* the target as given between < and > (not resolved) */
    char *rel; /* the first rel parameter, unquoted (may list several types); NULL if none */
};

/* Parses one Link header value, which may hold several comma-separated links. Sets *links (an
 * array the caller releases with acme_links_free) and *n. A URL with spaces or control
 * characters, or any syntax error, gives -EINVAL with e set; -ENOMEM on allocation failure. */
int acme_link_parse(const char *value, struct acme_link **links, size_t *n, struct err *e);

void acme_links_free(struct acme_link *links, size_t n);

/* True when the rel value `rel_value` (a space-separated list of relation types) contains
 * `rel` (case-insensitive, as RFC 8288 §2.1.1 requires). */
bool acme_link_rel_has(const char *rel_value, const char *rel);

/* Given every Link header value of one response, collects the URLs of the links whose rel
 * includes `rel` ("alternate", "up", "index"...), in order. *urls is a caller-owned array
 * (NULL when none) of *nurls caller-owned strings, released with acme_urls_free. Returns 0, or
 * the first parse error (nothing is returned then). */
int acme_link_find(const char *const *values, size_t nvalues, const char *rel, char ***urls,
                   size_t *nurls, struct err *e);

void acme_urls_free(char **urls, size_t n);

#endif
