/* serve_addr: the addresses of conf/serve.yaml (DESIGN.md §11) as pure parsers, and the test
 * of a peer against a client rule's address range.
 *
 * Listen addresses are "IPv4:port", "[IPv6]:port" or "[IPv6%zone]:port" (acme-mgmtserver's
 * "[fe80::80%eth0]:1380"). Host names are refused, never resolved. The zone is kept as text:
 * turning it into an interface index (if_nametoindex) is the listener's job, when it binds.
 * Ranges are an address (a /32 or /128) or CIDR "addr/len", IPv4 or IPv6; an IPv4-mapped IPv6
 * address ("::ffff:192.0.2.1", as a dual-stack socket reports an IPv4 peer) is the IPv4
 * address, in a range and in a peer alike. */
#ifndef ACMED_SERVE_SERVE_ADDR_H
#define ACMED_SERVE_SERVE_ADDR_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/err.h"

/* One listening address. sa holds the address and port (sin6_scope_id 0: the zone is not
 * resolved here); zone is "" or the zone text ("eth0", "2"); text is the canonical form,
 * "192.0.2.80:1380" or "[fe80::80%eth0]:1380". */
struct serve_listen {
    struct sockaddr_storage sa;
    socklen_t len;
    char zone[IF_NAMESIZE];
    char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 10];
};

/* An address range: family AF_INET (addr[0..4)) or AF_INET6 (addr[0..16)), prefix bits. */
struct serve_cidr {
    int family;
    uint8_t addr[16];
    unsigned prefix;
};

/* Parses a listen address (see above; port 1..65535) into *out. Returns 0, or -EINVAL with
 * a message saying what is wrong (without the location: the caller adds it). */
int serve_addr_parse_listen(const char *spec, struct serve_listen *out, struct err *e);

/* Parses "addr" or "addr/len" into *out. Bits set beyond the prefix are refused (they
 * usually mean a typo in the length), as is a zone. Returns 0 or -EINVAL with a message. */
int serve_addr_parse_cidr(const char *spec, struct serve_cidr *out, struct err *e);

/* The family and address bytes of a peer (AF_INET or AF_INET6 socket address of at least
 * its size), an IPv4-mapped IPv6 address given as AF_INET. Returns 0 or -EAFNOSUPPORT. */
int serve_addr_peer(const struct sockaddr *sa, socklen_t len, int *family, uint8_t addr[16]);

/* True when the peer (as serve_addr_peer gives it) is inside c. */
bool serve_cidr_contains(const struct serve_cidr *c, int family, const uint8_t addr[16]);

#endif
