/* listen_addr: the addresses a built-in challenge listener binds (DESIGN.md §6).
 *
 * Specs are written as in acmetool's http-ports/tls-ports: "host:port" with an IPv4 literal,
 * ":port" for every address of both families (0.0.0.0 and [::]), "[v6]:port", or a bare port
 * "N" meaning 127.0.0.1:N and [::1]:N. Host names are rejected, never resolved: a listener
 * must not depend on DNS, and resolving would block the loop. Shared by http-01 and
 * tls-alpn-01. */
#ifndef ACMED_CHALLENGE_LISTEN_ADDR_H
#define ACMED_CHALLENGE_LISTEN_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "util/err.h"

/* One socket address to listen on. text is "127.0.0.1:80" or "[::1]:80", NUL-terminated. */
struct listen_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    char text[64];
};

/* Parses n specs (borrowed) into *out (caller frees; NULL when the result is empty) and
 * *nout. A spec may give two addresses (":80", "80"); duplicates are dropped, order is kept.
 * Ports must be 1..65535. Returns 0, or -EINVAL (e quotes the bad spec) or -ENOMEM; on
 * failure *out is NULL and *nout 0. */
int listen_addrs_parse(const char *const *specs, size_t n, struct listen_addr **out, size_t *nout,
                       struct err *e);

/* The default http-01 addresses: ":80" (0.0.0.0:80 and [::]:80), used only when free, then
 * 127.0.0.1:402 and [::1]:402 for a web server to proxy to. *required (caller frees, same
 * length) is false for the port 80 entries, so their bind failure is only logged. Returns 0
 * or -ENOMEM; on failure both outputs are NULL and *nout 0. */
int listen_addrs_default_http(struct listen_addr **out, bool **required, size_t *nout,
                              struct err *e);

/* Fills out (len and text) from an AF_INET or AF_INET6 socket address, e.g. the result of
 * getsockname. Returns 0, or -EAFNOSUPPORT for another family or a short len. */
int listen_addr_from_sockaddr(struct listen_addr *out, const struct sockaddr *sa, socklen_t len);

/* The port of a, in host byte order. */
int listen_addr_port(const struct listen_addr *a);

#endif
