/* mgmt_url: the URL of a central certificate server (acme-mgmtserver's protocol; DESIGN.md §11)
 * as a desired file names it in request.provider: "mgmt+https://host:port/sign", or
 * "mgmt+http://..." (plain http, under net/url_policy.h's rule). Pure functions, no I/O. */
#ifndef ACMED_NET_MGMT_URL_H
#define ACMED_NET_MGMT_URL_H

#include <stdbool.h>

#include "util/err.h"

/* The http(s) URL that a mgmt URL stands for: a pointer into url just after "mgmt+". NULL when
 * url is not one: its scheme is not mgmt+http or mgmt+https (in any case), or no host follows
 * "://". url may be NULL. */
const char *mgmt_url_http(const char *url);

/* Checks url as the URL of a central server: a mgmt URL (mgmt_url_http) without spaces or
 * control characters, without user information ("user@host"), whose plain-http form passes
 * net/url_policy.h's rule (loopback, or allow_insecure, which is warned about). Returns 0, or
 * negative with e saying why (-EINVAL not such a URL, -EPERM refused plain http). */
int mgmt_url_check(const char *url, bool allow_insecure, struct err *e);

#endif
