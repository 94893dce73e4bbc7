/* url_policy: the plain-http rule (see url_policy.h). */
#include "net/url_policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "util/log.h"

bool url_policy_host_is_loopback(const char *host, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char a[16];

    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, host, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, buf, a) != 1)
        return false;
    if (!memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16))
        return true;
    return !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) && a[12] == 127;
}

/* The host of an http URL after "http://": a bracketed IPv6 literal, or what runs up to the
 * port, path, query or fragment. A URL with userinfo ('@' before the path) is never treated
 * as loopback: "http://127.0.0.1@example.com/" goes to example.com. */
static bool plain_host_is_loopback(const char *rest)
{
    size_t n = strcspn(rest, "/?#");

    if (memchr(rest, '@', n))
        return false;
    if (rest[0] == '[') {
        const char *end = memchr(rest, ']', n);

        if (!end ||
            (end[1] != '\0' && end[1] != ':' && end[1] != '/' && end[1] != '?' && end[1] != '#'))
            return false;
        return url_policy_host_is_loopback(rest + 1, (size_t)(end - rest - 1));
    }
    return url_policy_host_is_loopback(rest, strcspn(rest, ":/?#"));
}

int url_policy_check(const char *url, bool allow_insecure, const char *what, struct err *e)
{
    if (!url || strncasecmp(url, "http://", 7) != 0)
        return URL_POLICY_TLS;
    if (plain_host_is_loopback(url + 7))
        return URL_POLICY_LOOPBACK;
    if (allow_insecure)
        return URL_POLICY_ALLOWED;
    return err_set(e, -EPERM,
                   "plain http %s %s refused; set allow-insecure-http: true in conf/acmed.yaml "
                   "to allow it",
                   what, url);
}

int url_policy_check_provider(const char *url, bool allow_insecure, struct err *e)
{
    int rc = url_policy_check(url, allow_insecure, "provider", e);

    if (rc == URL_POLICY_ALLOWED)
        log_warn("plain http provider %s: allowed by allow-insecure-http in conf/acmed.yaml; "
                 "anyone on the path can read and change what acmed and the CA say",
                 url);
    return rc < 0 ? rc : 0;
}
