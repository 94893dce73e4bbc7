/* notify: sd_notify(3) by hand. See notify.h. */
#include "daemon/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Fills `sa` from a $NOTIFY_SOCKET value. A path is passed with its terminating NUL (as
 * systemd does); an abstract name ('@' replaced by a NUL byte) is passed with exactly its own
 * length, since every byte of an abstract address is significant. Returns 0 or -EINVAL. */
static int notify_addr(const char *name, struct sockaddr_un *sa, socklen_t *salen)
{
    size_t len = strlen(name);

    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (name[0] == '/') {
        if (len + 1 > sizeof sa->sun_path)
            return -EINVAL;
        memcpy(sa->sun_path, name, len + 1);
        *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
        return 0;
    }
    if (name[0] == '@' && len > 1) {
        if (len > sizeof sa->sun_path)
            return -EINVAL;
        sa->sun_path[0] = '\0';
        memcpy(sa->sun_path + 1, name + 1, len - 1);
        *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        return 0;
    }
    return -EINVAL;
}

int notify_send(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen = 0;
    size_t len;
    ssize_t n;
    int fd = -1;
    int rc;

    if (!name)
        return 0;
    if (!state || !*state)
        return -EINVAL;
    rc = notify_addr(name, &sa, &salen);
    if (rc < 0)
        return rc;
    len = strlen(state);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    do
        n = sendto(fd, state, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        rc = -errno;
    else if ((size_t)n != len)
        rc = -EIO; /* a datagram goes whole or not at all; be safe anyway */
    else
        rc = 1;
    close(fd);
    return rc;
}

int notify_sendf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;
    int rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    s = malloc((size_t)n + 1);
    if (!s)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rc = notify_send(s);
    free(s);
    return rc;
}

/* Parses a plain unsigned decimal (digits only: no sign, space or suffix, as systemd writes
 * it). Returns 0 or -EINVAL (also on overflow). */
static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!s || !*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

uint64_t notify_watchdog_usec(void)
{
    const char *pid = getenv("WATCHDOG_PID");
    uint64_t usec = 0;
    uint64_t p = 0;

    /* The variables are inherited by children we spawn; a PID that is not ours means the
     * watchdog belongs to some other process. */
    if (pid) {
        if (parse_u64(pid, &p) < 0 || p != (uint64_t)getpid())
            return 0;
    }
    if (parse_u64(getenv("WATCHDOG_USEC"), &usec) < 0)
        return 0;
    return usec;
}
