/* listen_addr: parsing acmetool-style listen address specs into socket addresses. */
#include "challenge/listen_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing list that parse helpers append to; cap is always enough (two per spec). */
struct addr_list {
    struct listen_addr *v;
    size_t n;
};

int listen_addr_from_sockaddr(struct listen_addr *out, const struct sockaddr *sa, socklen_t len)
{
    char host[INET6_ADDRSTRLEN];

    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        memcpy(&out->sa, in, sizeof *in);
        out->len = sizeof *in;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out->text, sizeof out->text, "%s:%u", host, (unsigned)ntohs(in->sin_port));
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        memcpy(&out->sa, in6, sizeof *in6);
        out->len = sizeof *in6;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out->text, sizeof out->text, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
        return 0;
    }
    return -EAFNOSUPPORT;
}

int listen_addr_port(const struct listen_addr *a)
{
    if (a->sa.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    if (a->sa.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
    return -EAFNOSUPPORT;
}

static bool same_addr(const struct listen_addr *a, const struct listen_addr *b)
{
    return a->len == b->len && strcmp(a->text, b->text) == 0;
}

/* Appends the address `host` (a literal of `family`, already checked) unless it is there. */
static void add_addr(struct addr_list *l, int family, const void *host, unsigned port)
{
    struct sockaddr_storage ss;
    struct listen_addr a;

    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;

        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        memcpy(&in->sin_addr, host, sizeof in->sin_addr);
        listen_addr_from_sockaddr(&a, (struct sockaddr *)&ss, sizeof *in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        memcpy(&in6->sin6_addr, host, sizeof in6->sin6_addr);
        listen_addr_from_sockaddr(&a, (struct sockaddr *)&ss, sizeof *in6);
    }
    for (size_t i = 0; i < l->n; i++)
        if (same_addr(&l->v[i], &a))
            return;
    l->v[l->n++] = a;
}

/* Parses a decimal port 1..65535 from s[0..len). Returns the port or -1. */
static int parse_port(const char *s, size_t len)
{
    unsigned long v = 0;

    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? (int)v : -1;
}

/* Parses one spec and appends its one or two addresses. */
static int parse_one(struct addr_list *l, const char *spec, struct err *e)
{
    const struct in_addr any4 = {.s_addr = htonl(INADDR_ANY)};
    const struct in_addr lo4 = {.s_addr = htonl(INADDR_LOOPBACK)};
    size_t len = spec ? strlen(spec) : 0;
    const char *colon;
    struct in_addr a4;
    char host[INET6_ADDRSTRLEN + 1];
    size_t hlen;
    int port;

    if (len == 0)
        return err_set(e, -EINVAL, "empty listen address");
    if (strspn(spec, "0123456789") == len) {
        port = parse_port(spec, len);
        if (port < 0)
            goto bad_port;
        add_addr(l, AF_INET, &lo4, (unsigned)port);
        add_addr(l, AF_INET6, &in6addr_loopback, (unsigned)port);
        return 0;
    }
    if (spec[0] == '[') {
        struct in6_addr a6;
        const char *close = strchr(spec, ']');

        if (!close || close[1] != ':')
            return err_set(e, -EINVAL, "invalid listen address \"%.100s\": expected [v6]:port",
                           spec);
        hlen = (size_t)(close - spec - 1);
        if (memchr(spec + 1, '%', hlen))
            return err_set(e, -EINVAL,
                           "invalid listen address \"%.100s\": zone indices are not supported",
                           spec);
        if (hlen == 0 || hlen >= sizeof host)
            goto bad_host;
        memcpy(host, spec + 1, hlen);
        host[hlen] = '\0';
        if (inet_pton(AF_INET6, host, &a6) != 1)
            goto bad_host;
        port = parse_port(close + 2, strlen(close + 2));
        if (port < 0)
            goto bad_port;
        add_addr(l, AF_INET6, &a6, (unsigned)port);
        return 0;
    }
    colon = strrchr(spec, ':');
    if (!colon)
        return err_set(e, -EINVAL, "invalid listen address \"%.100s\": missing port", spec);
    hlen = (size_t)(colon - spec);
    if (memchr(spec, ':', hlen))
        return err_set(e, -EINVAL,
                       "invalid listen address \"%.100s\": IPv6 addresses need brackets "
                       "([v6]:port)",
                       spec);
    port = parse_port(colon + 1, strlen(colon + 1));
    if (port < 0)
        goto bad_port;
    if (hlen == 0) {
        add_addr(l, AF_INET, &any4, (unsigned)port);
        add_addr(l, AF_INET6, &in6addr_any, (unsigned)port);
        return 0;
    }
    if (hlen >= sizeof host)
        goto bad_host;
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, &a4) != 1)
        goto bad_host;
    add_addr(l, AF_INET, &a4, (unsigned)port);
    return 0;
bad_port:
    return err_set(e, -EINVAL, "invalid listen address \"%.100s\": the port must be 1-65535", spec);
bad_host:
    return err_set(e, -EINVAL,
                   "invalid listen address \"%.100s\": not an IP address literal (host names "
                   "are not resolved)",
                   spec);
}

int listen_addrs_parse(const char *const *specs, size_t n, struct listen_addr **out, size_t *nout,
                       struct err *e)
{
    struct addr_list l = {NULL, 0};
    int rc = 0;

    *out = NULL;
    *nout = 0;
    if (n == 0)
        goto out;
    if (!specs) {
        rc = err_set(e, -EINVAL, "no listen addresses");
        goto out;
    }
    l.v = calloc(2 * n, sizeof *l.v);
    if (!l.v) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rc = parse_one(&l, specs[i], e);
        if (rc < 0)
            goto out;
    }
    *out = l.v;
    *nout = l.n;
    l.v = NULL;
out:
    free(l.v);
    return rc;
}

int listen_addrs_default_http(struct listen_addr **out, bool **required, size_t *nout,
                              struct err *e)
{
    static const char *const specs[] = {":80", "402"};
    struct listen_addr *v = NULL;
    bool *req = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    *required = NULL;
    *nout = 0;
    rc = listen_addrs_parse(specs, 2, &v, &n, e);
    if (rc < 0)
        goto out;
    req = calloc(n, sizeof *req);
    if (!req) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    /* Port 80 belongs to the web server when one runs; 402 is ours to proxy to. */
    for (size_t i = 0; i < n; i++)
        req[i] = listen_addr_port(&v[i]) != 80;
    *out = v;
    *required = req;
    *nout = n;
    v = NULL;
    req = NULL;
out:
    free(v);
    free(req);
    return rc;
}
