/* listen_sock: open and check listening TCP sockets. */
#include "net/listen_sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

int listen_sock_open(const struct sockaddr *sa, socklen_t len, const char *what, struct err *e)
{
    int one = 1, fd;

    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return err_set(e, -EAFNOSUPPORT, "%s: not an IP address", what);
    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_sys(e, -errno, "cannot open a socket for %s", what);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (sa->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)) {
        int rc = -errno;

        close(fd);
        return err_sys(e, rc, "cannot set socket options for %s", what);
    }
    if (bind(fd, sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
        int rc = -errno;

        close(fd);
        return err_sys(e, rc, "cannot listen on %s", what);
    }
    return fd;
}

int listen_sock_check(int fd, struct sockaddr_storage *ss, socklen_t *len, struct err *e)
{
    int type = 0, acc = 0;
    socklen_t tl = sizeof type, al = sizeof acc;

    *len = sizeof *ss;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
        return err_sys(e, -errno, "descriptor %d is not a socket", fd);
    if (type != SOCK_STREAM || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) < 0 || !acc)
        return err_set(e, -EINVAL, "descriptor %d is not a listening stream socket", fd);
    if (getsockname(fd, (struct sockaddr *)ss, len) < 0)
        return err_sys(e, -errno, "cannot read the address of descriptor %d", fd);
    if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
        return err_set(e, -EINVAL, "descriptor %d is not an IP socket", fd);
    return 0;
}
