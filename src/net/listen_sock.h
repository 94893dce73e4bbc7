/* listen_sock: the listening TCP sockets of the challenge listeners.
 *
 * One way to open them (both http-01 and tls-alpn-01), so that under privilege separation
 * the keeper opens exactly what the listeners would have, and hands the descriptors to its
 * worker, which checks what it was given before serving on it. */
#ifndef ACMED_NET_LISTEN_SOCK_H
#define ACMED_NET_LISTEN_SOCK_H

#include <sys/socket.h>

#include "util/err.h"

/* Opens a non-blocking, close-on-exec TCP socket listening on sa: SO_REUSEADDR (a restart
 * must not wait for TIME_WAIT) and, for IPv6, IPV6_V6ONLY ([::]:80 must leave 0.0.0.0:80 to
 * its own socket). Returns the descriptor, or a negative errno (e names the step and the
 * address as `what`). */
int listen_sock_open(const struct sockaddr *sa, socklen_t len, const char *what, struct err *e);

/* Checks that fd is a listening IPv4 or IPv6 TCP socket and gives its bound address in *ss
 * and *len. Returns 0, or -ENOTSOCK / -EINVAL with e saying what it is instead. */
int listen_sock_check(int fd, struct sockaddr_storage *ss, socklen_t *len, struct err *e);

#endif
