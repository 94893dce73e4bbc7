/* Unit tests for net/listen_sock and the listeners adopting sockets opened elsewhere (the
 * keeper binds, the worker serves: http01_adopt, tls_alpn_adopt). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "challenge/http01.h"
#include "net/listen_sock.h"
#include "net/tls_alpn.h"

static int open_loopback(int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_storage ss;
    socklen_t sl;
    struct err e = {0};
    int fd = listen_sock_open((struct sockaddr *)&sin, sizeof sin, "127.0.0.1:0", &e);

    assert_true(fd >= 0);
    assert_int_equal(listen_sock_check(fd, &ss, &sl, &e), 0);
    *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    assert_true(*port > 0);
    return fd;
}

static void test_check(void **state)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    struct err e = {0};
    int port, fd = open_loopback(&port), udp, tcp, p[2];

    (void)state;
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    close(fd);
    udp = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(listen_sock_check(udp, &ss, &sl, &e), -EINVAL);
    tcp = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(listen_sock_check(tcp, &ss, &sl, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "not a listening"));
    assert_int_equal(pipe(p), 0);
    assert_int_equal(listen_sock_check(p[0], &ss, &sl, &e), -ENOTSOCK);
    close(udp);
    close(tcp);
    close(p[0]);
    close(p[1]);
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* The worker's http-01 responder on the keeper's socket answers a published token. */
static void test_http01_adopt(void **state)
{
    uv_loop_t loop;
    struct http01 *h = NULL;
    struct err e = {0};
    int port, fd = open_loopback(&port), c, closed = 0;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    const char req[] = "GET /.well-known/acme-challenge/tok_1 HTTP/1.1\r\nHost: x\r\n\r\n";
    char resp[1024] = "";
    size_t got = 0;

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(http01_adopt(&loop, &fd, 1, &h, &e), 0);
    assert_int_equal(http01_bound_port(h, 0), port);
    assert_int_equal(http01_add(h, "tok_1", "tok_1.thumb", &e), 0);
    sin.sin_port = htons((uint16_t)port);
    c = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(write(c, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    for (int i = 0; i < 2000 && !strstr(resp, "tok_1.thumb"); i++) {
        ssize_t n;

        uv_run(&loop, UV_RUN_NOWAIT);
        n = recv(c, resp + got, sizeof resp - 1 - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        else
            usleep(1000);
    }
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
    assert_non_null(strstr(resp, "tok_1.thumb"));
    close(c);
    http01_close(h, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);

    /* Not a listening socket: refused, and the descriptor is not left open. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(http01_adopt(&loop, &fd, 1, &h, &e), -EINVAL);
    assert_null(h);
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_tls_alpn_adopt(void **state)
{
    uv_loop_t loop;
    struct tls_alpn *t = NULL;
    struct err e = {0};
    int port, fd = open_loopback(&port), closed = 0;

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(tls_alpn_adopt(&loop, &fd, 1, &t, &e), 0);
    assert_int_equal(tls_alpn_bound_port(t, 0), port);
    tls_alpn_close(t, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(tls_alpn_adopt(&loop, &fd, 1, &t, &e), -EINVAL);
    assert_null(t);
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_http01_adopt),
        cmocka_unit_test(test_tls_alpn_adopt),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
