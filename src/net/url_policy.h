/* url_policy: which plain-http URLs acmed may talk to (DESIGN.md §8).
 *
 * Everything acmed fetches goes over https, but for two exceptions: a URL whose host is a
 * loopback address literal (a local test CA, a local signer), and any plain-http URL when the
 * operator set `allow-insecure-http: true` in conf/acmed.yaml. The http-01 self-test, plain
 * http by nature, is exempt (http_request.plain_http). */
#ifndef ACMED_NET_URL_POLICY_H
#define ACMED_NET_URL_POLICY_H

#include <stdbool.h>

#include "util/err.h"

enum url_policy_verdict {
    URL_POLICY_TLS = 0,      /* https (or another scheme curl will refuse on its own) */
    URL_POLICY_LOOPBACK = 1, /* plain http to a loopback address literal */
    URL_POLICY_ALLOWED = 2,  /* plain http allowed only by allow-insecure-http */
};

/* Applies the rule to url: what names the URL's role in the error ("provider", ...).
 * Returns a verdict (>= 0) or -EPERM with e saying "plain http <what> <url> refused; set
 * allow-insecure-http: true in conf/acmed.yaml to allow it". Does no I/O, no name lookup. */
int url_policy_check(const char *url, bool allow_insecure, const char *what, struct err *e);

/* url_policy_check for a provider's directory URL, which also warns, every time, when only
 * allow-insecure-http lets it through. Returns 0 when allowed, or negative with e set. */
int url_policy_check_provider(const char *url, bool allow_insecure, struct err *e);

/* True when host (len bytes, brackets of an IPv6 literal removed) is a loopback address
 * literal: 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
bool url_policy_host_is_loopback(const char *host, size_t len);

#endif
