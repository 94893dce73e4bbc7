/* tu_http: a one-thread HTTP client for unit tests (see tu_http.h). */
#include "common/tu_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    sin.sin_port = htons((uint16_t)port);
    return sin;
}

int tu_http_send(int port, const char *method, const char *token)
{
    struct sockaddr_in sin = loopback(port);
    char req[512];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int n = snprintf(req, sizeof req,
                     "%s /.well-known/acme-challenge/%s HTTP/1.1\r\nHost: a.test\r\n\r\n", method,
                     token);

    if (fd < 0)
        return -1;
    if (n < 0 || (size_t)n >= sizeof req || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

int tu_http_wait(uv_loop_t *loop, int fd, uint64_t ms, char *body, size_t n)
{
    char resp[4096];
    size_t got = 0;
    uint64_t end = uv_hrtime() / 1000000 + ms;
    int status = -1;
    bool eof = false;
    char *p;

    while (!eof && uv_hrtime() / 1000000 < end && got < sizeof resp - 1) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (loop)
            uv_run(loop, UV_RUN_NOWAIT);
        if (poll(&pfd, 1, 2) <= 0)
            continue;
        r = read(fd, resp + got, sizeof resp - 1 - got);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            eof = true;
    }
    close(fd);
    resp[got] = '\0';
    if (!eof || sscanf(resp, "HTTP/1.1 %d", &status) != 1)
        return -1;
    p = strstr(resp, "\r\n\r\n");
    if (body && n)
        snprintf(body, n, "%s", p ? p + 4 : "");
    return status;
}

void tu_http_reset(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

void tu_http_pump(uv_loop_t *loop, unsigned ms)
{
    uint64_t end = uv_hrtime() / 1000000 + ms;

    while (uv_hrtime() / 1000000 < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

bool tu_http_pump_until(uv_loop_t *loop, const int *count, int n, unsigned ms)
{
    for (unsigned i = 0; i < ms && *count < n; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return *count == n;
}

int tu_http_free_port(void)
{
    struct sockaddr_in sin = loopback(0);
    socklen_t sl = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
        port = ntohs(sin.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}
