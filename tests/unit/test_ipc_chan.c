/* Unit tests for util/ipc_chan: frames across a socketpair on a real libuv loop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "privsep/ipc.h"
#include "privsep/ipc_chan.h"

struct rx {
    struct ipc_chan *c;
    int fd_of[8]; /* the descriptor taken while handling frame i, or -1 */
    bool take_on_type2;
    size_t nframes;
    size_t sizes[8];
    uint16_t types[8];
    int closed_rc;
    int closed;
    char why[256];
    bool free_in_frame;
};

static void on_frame(void *arg, const uint8_t *frame, size_t len)
{
    struct rx *r = arg;

    if (r->nframes < 8) {
        r->sizes[r->nframes] = len;
        r->types[r->nframes] = (uint16_t)(frame[4] << 8 | frame[5]);
        /* Type 2 frames announce a descriptor. */
        r->fd_of[r->nframes] =
            r->take_on_type2 && r->types[r->nframes] == 2 ? ipc_chan_take_fd(r->c) : -1;
    }
    r->nframes++;
    if (r->free_in_frame) {
        ipc_chan_free(r->c);
        r->c = NULL;
    }
}

static void on_closed(void *arg, int rc, const struct err *e)
{
    struct rx *r = arg;

    r->closed++;
    r->closed_rc = rc;
    snprintf(r->why, sizeof r->why, "%s", e ? err_msg(e) : "");
}

static struct buf frame_of(uint16_t type, size_t payload)
{
    struct ipc_out o;
    struct err e;
    uint8_t *p = calloc(1, payload ? payload : 1);

    ipc_out_begin(&o, type);
    ipc_put_bytes(&o, 1, p, payload);
    free(p);
    assert_int_equal(ipc_out_end(&o, &e), 0);
    return o.b;
}

static void run(uv_loop_t *loop)
{
    for (int i = 0; i < 200 && uv_run(loop, UV_RUN_NOWAIT); i++)
        usleep(1000);
}

static void test_frames_in_order(void **state)
{
    uv_loop_t loop;
    int sv[2];
    struct rx a = {0}, b = {0};
    struct ipc_chan *ca;
    struct err e = {0};
    struct buf f;

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ca = ipc_chan_open(&loop, sv[0], true, on_frame, on_closed, &a, &e);
    b.c = ipc_chan_open(&loop, sv[1], true, on_frame, on_closed, &b, &e);
    assert_non_null(ca);
    assert_non_null(b.c);
    f = frame_of(1, 10);
    assert_int_equal(ipc_chan_send(ca, &f, &e), 0);
    assert_null(f.data);
    f = frame_of(2, 900 * 1024); /* many reads' worth */
    assert_int_equal(ipc_chan_send(ca, &f, &e), 0);
    f = frame_of(3, 0);
    assert_int_equal(ipc_chan_send(ca, &f, &e), 0);
    run(&loop);
    assert_int_equal(b.nframes, 3);
    assert_int_equal(b.types[0], 1);
    assert_int_equal(b.sizes[0], 4 + 2 + 6 + 10);
    assert_int_equal(b.types[1], 2);
    assert_int_equal(b.sizes[1], 4 + 2 + 6 + 900 * 1024);
    assert_int_equal(b.types[2], 3);
    assert_int_equal(b.closed, 0);

    /* The peer goes away: end of stream, rc 0, once; sending then fails. */
    ipc_chan_free(ca);
    run(&loop);
    assert_int_equal(b.closed, 1);
    assert_int_equal(b.closed_rc, 0);
    f = frame_of(1, 1);
    assert_int_equal(ipc_chan_send(b.c, &f, &e), -EPIPE);
    ipc_chan_free(b.c);
    run(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bad_length(void **state)
{
    uv_loop_t loop;
    int sv[2];
    struct rx b = {0};
    struct err e = {0};
    uint8_t huge[6] = {0x7f, 0xff, 0xff, 0xff, 0, 1};

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    b.c = ipc_chan_open(&loop, sv[1], true, on_frame, on_closed, &b, &e);
    assert_non_null(b.c);
    assert_int_equal(write(sv[0], huge, sizeof huge), (ssize_t)sizeof huge);
    run(&loop);
    assert_int_equal(b.closed, 1);
    assert_int_equal(b.closed_rc, -EPROTO);
    assert_non_null(strstr(b.why, "bad length"));
    assert_int_equal(b.nframes, 0);
    ipc_chan_free(b.c);
    close(sv[0]);
    run(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* The owner frees the channel from within a frame callback: the frames behind it are not
 * delivered and nothing is touched after the free. */
static void test_free_in_callback(void **state)
{
    uv_loop_t loop;
    int sv[2];
    struct rx b = {.free_in_frame = true};
    struct err e = {0};
    struct buf f1 = frame_of(1, 3), f2 = frame_of(2, 3);

    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    b.c = ipc_chan_open(&loop, sv[1], true, on_frame, on_closed, &b, &e);
    assert_non_null(b.c);
    assert_int_equal(write(sv[0], f1.data, f1.len), (ssize_t)f1.len);
    assert_int_equal(write(sv[0], f2.data, f2.len), (ssize_t)f2.len);
    run(&loop);
    assert_int_equal(b.nframes, 1);
    assert_int_equal(b.closed, 0);
    buf_clear(&f1);
    buf_clear(&f2);
    close(sv[0]);
    run(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A listening socket passed with the frame announcing it, between two frames without. */
static void test_pass_fd(void **state)
{
    uv_loop_t loop;
    int sv[2], lfd, got;
    struct rx a = {0}, b = {.take_on_type2 = true};
    struct ipc_chan *ca;
    struct err e = {0};
    struct buf f;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in got_sin;
    socklen_t sl = sizeof sin;
    int acc = 0;
    socklen_t al = sizeof acc;

    (void)state;
    uv_loop_init(&loop);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ca = ipc_chan_open(&loop, sv[0], false, on_frame, on_closed, &a, &e);
    b.c = ipc_chan_open(&loop, sv[1], true, on_frame, on_closed, &b, &e);
    f = frame_of(1, 100);
    assert_int_equal(ipc_chan_send(ca, &f, &e), 0);
    f = frame_of(2, 10);
    assert_int_equal(ipc_chan_send_fd(ca, &f, lfd, &e), 0);
    f = frame_of(3, 10);
    assert_int_equal(ipc_chan_send(ca, &f, &e), 0);
    run(&loop);
    assert_int_equal(b.nframes, 3);
    assert_int_equal(b.fd_of[0], -1);
    assert_int_equal(b.fd_of[2], -1);
    got = b.fd_of[1];
    assert_true(got > 2);
    assert_true(got != lfd);
    /* The same listening socket: same port, still listening. */
    sl = sizeof got_sin;
    assert_int_equal(getsockname(got, (struct sockaddr *)&got_sin, &sl), 0);
    assert_int_equal(got_sin.sin_port, sin.sin_port);
    assert_int_equal(getsockopt(got, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al), 0);
    assert_int_equal(acc, 1);
    assert_int_equal(ipc_chan_take_fd(b.c), -1);
    close(got);

    /* The keeper's end takes no descriptor from its worker: one passed ends the channel. */
    f = frame_of(2, 1);
    assert_int_equal(ipc_chan_send_fd(b.c, &f, lfd, &e), 0);
    run(&loop);
    assert_int_equal(a.closed, 1);
    assert_int_equal(a.closed_rc, -EPROTO);
    assert_non_null(strstr(a.why, "none may be"));
    ipc_chan_free(ca);
    ipc_chan_free(b.c);
    close(lfd);
    run(&loop);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_in_order),
        cmocka_unit_test(test_bad_length),
        cmocka_unit_test(test_free_in_callback),
        cmocka_unit_test(test_pass_fd),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
