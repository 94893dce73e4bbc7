/* serve_addr: listen addresses and address ranges of conf/serve.yaml (see serve_addr.h). */
#include "serve/serve_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* A decimal number without sign or leading zeros beyond "0", at most `max`. */
static int parse_dec(const char *s, size_t n, unsigned max, unsigned *out)
{
    unsigned long v = 0;

    if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

/* Zone text: what an interface name or number may hold, nothing that would need quoting. */
static bool zone_ok(const char *z, size_t n)
{
    if (n == 0 || n >= IF_NAMESIZE)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = z[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int serve_addr_parse_listen(const char *spec, struct serve_listen *out, struct err *e)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *port_s, *pct;
    size_t hlen;
    unsigned port;

    memset(out, 0, sizeof *out);
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');

        if (!close || close[1] != ':')
            return err_set(e, -EINVAL, "expected \"[IPv6 address]:port\"");
        port_s = close + 2;
        pct = memchr(spec + 1, '%', (size_t)(close - spec - 1));
        hlen = (size_t)((pct ? pct : close) - spec - 1);
        if (hlen == 0 || hlen >= sizeof host)
            return err_set(e, -EINVAL, "expected an IPv6 address between [ and ]");
        memcpy(host, spec + 1, hlen);
        host[hlen] = '\0';
        if (pct) {
            size_t zlen = (size_t)(close - pct - 1);

            if (!zone_ok(pct + 1, zlen))
                return err_set(e, -EINVAL,
                               "a zone index is an interface name or number (letters, digits, "
                               "'.', '_', '-', at most %d)",
                               IF_NAMESIZE - 1);
            memcpy(out->zone, pct + 1, zlen);
            out->zone[zlen] = '\0';
        }
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->sa;

        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return err_set(e, -EINVAL, "\"%s\" is not an IPv6 address", host);
        s6->sin6_family = AF_INET6;
        out->len = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&out->sa;

        if (!(colon = strrchr(spec, ':')))
            return err_set(e, -EINVAL, "expected \"address:port\" (IPv6 as \"[address]:port\")");
        hlen = (size_t)(colon - spec);
        if (hlen == 0 || hlen >= sizeof host)
            return err_set(e, -EINVAL, "expected an IPv4 address before the port");
        memcpy(host, spec, hlen);
        host[hlen] = '\0';
        if (strchr(host, ':'))
            return err_set(e, -EINVAL, "an IPv6 address is written \"[address]:port\"");
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return err_set(e, -EINVAL,
                           "\"%s\" is not an IPv4 address (host names are not resolved)", host);
        s4->sin_family = AF_INET;
        out->len = sizeof *s4;
        port_s = colon + 1;
    }
    if (parse_dec(port_s, strlen(port_s), 65535, &port) < 0 || port == 0)
        return err_set(e, -EINVAL, "expected a port from 1 to 65535 after the ':'");
    if (out->sa.ss_family == AF_INET) {
        ((struct sockaddr_in *)&out->sa)->sin_port = htons((uint16_t)port);
        snprintf(out->text, sizeof out->text, "%s:%u", host, port);
    } else {
        char canon[INET6_ADDRSTRLEN];

        ((struct sockaddr_in6 *)&out->sa)->sin6_port = htons((uint16_t)port);
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&out->sa)->sin6_addr, canon, sizeof canon);
        snprintf(out->text, sizeof out->text, "[%s%s%s]:%u", canon, out->zone[0] ? "%" : "",
                 out->zone, port);
    }
    return 0;
}

/* An IPv4-mapped IPv6 range becomes the IPv4 range it maps (a prefix under 96 would span
 * more than the mapped space, so it stays IPv6 and only holds IPv6 peers). */
static void unmap(struct serve_cidr *c)
{
    if (c->family != AF_INET6 || c->prefix < 96 || memcmp(c->addr, v4mapped_prefix, 12) != 0)
        return;
    memmove(c->addr, c->addr + 12, 4);
    memset(c->addr + 4, 0, 12);
    c->family = AF_INET;
    c->prefix -= 96;
}

int serve_addr_parse_cidr(const char *spec, struct serve_cidr *out, struct err *e)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(spec, '/');
    size_t hlen = slash ? (size_t)(slash - spec) : strlen(spec);
    unsigned bits;

    memset(out, 0, sizeof *out);
    if (hlen == 0 || hlen >= sizeof host)
        return err_set(e, -EINVAL, "expected an IP address or a range \"address/length\"");
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    if (strchr(host, '%'))
        return err_set(e, -EINVAL, "a zone index has no place in an address range");
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        bits = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        bits = 128;
    } else {
        return err_set(e, -EINVAL, "\"%s\" is not an IPv4 or IPv6 address", host);
    }
    out->prefix = bits;
    if (slash && parse_dec(slash + 1, strlen(slash + 1), bits, &out->prefix) < 0)
        return err_set(e, -EINVAL, "expected a prefix length from 0 to %u after the '/'", bits);
    for (unsigned i = out->prefix; i < bits; i++)
        if (out->addr[i / 8] & (0x80u >> (i % 8)))
            return err_set(e, -EINVAL,
                           "\"%s\" has bits set beyond its /%u (a typo in the address or the "
                           "length?)",
                           spec, out->prefix);
    unmap(out);
    return 0;
}

int serve_addr_peer(const struct sockaddr *sa, socklen_t len, int *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        *family = AF_INET;
        return 0;
    }
    if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

        if (memcmp(a, v4mapped_prefix, 12) == 0) {
            memcpy(addr, a + 12, 4);
            *family = AF_INET;
        } else {
            memcpy(addr, a, 16);
            *family = AF_INET6;
        }
        return 0;
    }
    return -EAFNOSUPPORT;
}

bool serve_cidr_contains(const struct serve_cidr *c, int family, const uint8_t addr[16])
{
    unsigned full = c->prefix / 8, rest = c->prefix % 8;

    if (c->family != family)
        return false;
    if (memcmp(c->addr, addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));

    return (c->addr[full] & mask) == (addr[full] & mask);
}
