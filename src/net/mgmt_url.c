/* mgmt_url: a central certificate server's URL (see mgmt_url.h). */
#include "net/mgmt_url.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "net/url_policy.h"
#include "util/log.h"

const char *mgmt_url_http(const char *url)
{
    const char *rest;

    if (!url || strncasecmp(url, "mgmt+", 5) != 0)
        return NULL;
    if (!strncasecmp(url + 5, "https://", 8))
        rest = url + 13;
    else if (!strncasecmp(url + 5, "http://", 7))
        rest = url + 12;
    else
        return NULL;
    /* A host, however short, before any path, query or fragment. */
    if (strcspn(rest, "/?#") == 0)
        return NULL;
    return url + 5;
}

int mgmt_url_check(const char *url, bool allow_insecure, struct err *e)
{
    const char *http = mgmt_url_http(url), *host;
    int rc;

    if (!http)
        return err_set(e, -EINVAL,
                       "\"%.200s\" is not a central server's URL (mgmt+https://host:port/path)",
                       url ? url : "");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return err_set(e, -EINVAL, "central server URL %.200s: a space or control character",
                           url);
    host = strstr(http, "://") + 3;
    if (memchr(host, '@', strcspn(host, "/?#")))
        return err_set(e, -EINVAL, "central server URL %.200s: no user@ part is allowed", url);
    rc = url_policy_check(http, allow_insecure, "central certificate server", e);
    if (rc == URL_POLICY_ALLOWED)
        log_warn("plain http central certificate server %s: allowed by allow-insecure-http in "
                 "conf/acmed.yaml; anyone on the path can read and change the chains it sends",
                 url);
    return rc < 0 ? rc : 0;
}
