/* url: the checks every URL a CA hands out passes before acmed uses it (RFC 8555 §6.1). */
#ifndef ACMED_ACME_URL_H
#define ACMED_ACME_URL_H

#include <stdbool.h>

#include "util/err.h"

/* Longest URL accepted from a server, in bytes. */
#define ACME_URL_MAX 4096

/* True when s can be a URL: not empty, at most ACME_URL_MAX bytes, no space, control
 * character or byte above 0x7e (a URL in a request line or a log must be plain ASCII). */
bool acme_url_ok(const char *s);

/* True when s begins with "https://" (any case). */
bool acme_url_is_https(const char *s);

/* Checks a URL the CA returned (what names it in the error, e.g. "order.finalize"): it must
 * pass acme_url_ok and, when https_only (the directory itself is https), be https too.
 * Returns 0, or -EPROTO with e naming what and the (sanitised) URL. NULL url is 0. */
int acme_url_check(const char *url, bool https_only, const char *what, struct err *e);

#endif
