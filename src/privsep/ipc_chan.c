/* ipc_chan: frames over a libuv pipe handle. */
#include "privsep/ipc_chan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privsep/ipc.h"

struct ipc_chan {
    uv_pipe_t pipe;
    ipc_frame_cb on_frame;
    ipc_closed_cb on_closed;
    void *arg;
    struct buf in;
    bool ended; /* on_closed called, or freed: no more callbacks */
    bool freed;
    unsigned writes; /* uv_write requests in flight (each holds a reference) */
    bool handle_closed;
    bool accept_fds;
    int fds[IPC_CHAN_FDS_MAX]; /* received, not yet taken, oldest first */
    unsigned nfds;
};

struct chan_write {
    uv_write_t req;
    struct ipc_chan *c;
    char *data;
    uv_tcp_t *carrier; /* wraps the passed descriptor's copy; closed once written */
};

static void maybe_release(struct ipc_chan *c)
{
    if (c->freed && c->handle_closed && c->writes == 0) {
        for (unsigned i = 0; i < c->nfds; i++)
            close(c->fds[i]);
        buf_clear(&c->in);
        free(c);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct ipc_chan *c = h->data;

    c->handle_closed = true;
    maybe_release(c);
}

static void end(struct ipc_chan *c, int rc, const struct err *e)
{
    if (c->ended)
        return;
    c->ended = true;
    uv_read_stop((uv_stream_t *)&c->pipe);
    c->on_closed(c->arg, rc, e);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *out)
{
    static char scratch[64 * 1024];

    (void)h;
    (void)hint;
    /* Read into a scratch buffer, then append: the accumulator grows only by what came. */
    *out = uv_buf_init(scratch, sizeof scratch);
}

static void on_carrier_closed(uv_handle_t *h)
{
    free(h);
}

/* Adopts every descriptor libuv received with the bytes so far. Returns 0, or negative with e
 * when one was not wanted or too many wait. */
static int collect_fds(struct ipc_chan *c, struct err *e)
{
    while (uv_pipe_pending_count(&c->pipe) > 0) {
        uv_handle_type type = uv_pipe_pending_type(&c->pipe);
        uv_tcp_t *t = calloc(1, sizeof *t);
        uv_os_fd_t fd = -1;
        int copy = -1;

        if (!t)
            return err_set(e, -ENOMEM, "out of memory");
        if (type != UV_TCP || uv_tcp_init(c->pipe.loop, t) < 0) {
            free(t);
            return err_set(e, -EPROTO, "worker channel: a passed descriptor is not a TCP socket");
        }
        if (uv_accept((uv_stream_t *)&c->pipe, (uv_stream_t *)t) == 0 &&
            uv_fileno((uv_handle_t *)t, &fd) == 0)
            copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        uv_close((uv_handle_t *)t, on_carrier_closed);
        if (copy < 0)
            return err_set(e, -EIO, "worker channel: cannot take a passed descriptor");
        if (!c->accept_fds || c->nfds == IPC_CHAN_FDS_MAX) {
            close(copy);
            return err_set(e, -EPROTO, "worker channel: %s",
                           c->accept_fds ? "too many descriptors passed"
                                         : "a descriptor was passed where none may be");
        }
        c->fds[c->nfds++] = copy;
    }
    return 0;
}

int ipc_chan_take_fd(struct ipc_chan *c)
{
    int fd;

    if (c->nfds == 0)
        return -1;
    fd = c->fds[0];
    memmove(c->fds, c->fds + 1, (c->nfds - 1) * sizeof c->fds[0]);
    c->nfds--;
    return fd;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct ipc_chan *c = s->data;
    struct err e = {0};
    size_t off = 0;

    if (c->ended)
        return;
    if (collect_fds(c, &e) < 0) {
        end(c, e.code, &e);
        return;
    }
    if (n < 0) {
        if (n == UV_EOF)
            end(c, 0, NULL);
        else {
            err_set(&e, -EIO, "worker channel: %s", uv_strerror((int)n));
            end(c, -EIO, &e);
        }
        return;
    }
    if (n == 0)
        return;
    if (buf_append(&c->in, b->base, (size_t)n) < 0) {
        err_set(&e, -ENOMEM, "worker channel: out of memory");
        end(c, -ENOMEM, &e);
        return;
    }
    while (!c->ended) {
        long flen = ipc_frame_len((uint8_t *)c->in.data + off, c->in.len - off);

        if (flen < 0) {
            err_set(&e, -EPROTO, "worker channel: a frame announces a bad length");
            end(c, -EPROTO, &e);
            return;
        }
        if (flen == 0)
            break;
        c->on_frame(c->arg, (uint8_t *)c->in.data + off, (size_t)flen);
        off += (size_t)flen;
    }
    if (c->ended)
        return;
    if (off == c->in.len) {
        c->in.len = 0;
    } else if (off) {
        memmove(c->in.data, c->in.data + off, c->in.len - off);
        c->in.len -= off;
    }
    /* A long quiet channel with a large buffer behind it gives the memory back. */
    if (c->in.len == 0 && c->in.cap > 256 * 1024)
        buf_clear(&c->in);
}

struct ipc_chan *ipc_chan_open(uv_loop_t *loop, int fd, bool accept_fds, ipc_frame_cb on_frame,
                               ipc_closed_cb on_closed, void *arg, struct err *e)
{
    struct ipc_chan *c = calloc(1, sizeof *c);
    int rc;

    if (!c) {
        close(fd);
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    c->on_frame = on_frame;
    c->on_closed = on_closed;
    c->arg = arg;
    c->accept_fds = accept_fds;
    /* An IPC pipe: libuv passes descriptors with SCM_RIGHTS, the bytes stay ours. */
    uv_pipe_init(loop, &c->pipe, 1);
    c->pipe.data = c;
    if ((rc = uv_pipe_open(&c->pipe, fd)) < 0 ||
        (rc = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read)) < 0) {
        err_set(e, -EIO, "worker channel: %s", uv_strerror(rc));
        c->freed = true;
        uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
        return NULL;
    }
    return c;
}

static void on_written(uv_write_t *req, int status)
{
    struct chan_write *w = (struct chan_write *)req;
    struct ipc_chan *c = w->c;
    struct err e = {0};

    free(w->data);
    if (w->carrier)
        uv_close((uv_handle_t *)w->carrier, on_carrier_closed);
    free(w);
    c->writes--;
    if (status < 0 && status != UV_ECANCELED && !c->freed) {
        err_set(&e, -EIO, "worker channel: %s", uv_strerror(status));
        end(c, -EIO, &e);
    }
    maybe_release(c);
}

static int send_frame(struct ipc_chan *c, struct buf *frame, int fd, struct err *e)
{
    struct chan_write *w;
    uv_buf_t b;
    int rc, copy = -1;

    if (c->ended || c->freed) {
        buf_clear(frame);
        return err_set(e, -EPIPE, "the worker channel has ended");
    }
    if (!(w = calloc(1, sizeof *w))) {
        buf_clear(frame);
        return err_set(e, -ENOMEM, "out of memory");
    }
    w->c = c;
    w->data = frame->data;
    b = uv_buf_init(frame->data, (unsigned)frame->len);
    frame->data = NULL;
    frame->len = frame->cap = 0;
    if (fd >= 0) {
        /* libuv passes handles, not descriptors: a TCP handle over a copy carries it. */
        if (!(w->carrier = calloc(1, sizeof *w->carrier)) ||
            (copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
            free(w->carrier);
            free(w->data);
            free(w);
            return err_set(e, -EMFILE, "worker channel: cannot copy a descriptor to pass");
        }
        uv_tcp_init(c->pipe.loop, w->carrier);
        if ((rc = uv_tcp_open(w->carrier, copy)) < 0) {
            close(copy);
            uv_close((uv_handle_t *)w->carrier, on_carrier_closed);
            free(w->data);
            free(w);
            return err_set(e, -EIO, "worker channel: %s", uv_strerror(rc));
        }
        rc = uv_write2(&w->req, (uv_stream_t *)&c->pipe, &b, 1, (uv_stream_t *)w->carrier,
                       on_written);
    } else {
        rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written);
    }
    if (rc < 0) {
        if (w->carrier)
            uv_close((uv_handle_t *)w->carrier, on_carrier_closed);
        free(w->data);
        free(w);
        return err_set(e, -EIO, "worker channel: %s", uv_strerror(rc));
    }
    c->writes++;
    return 0;
}

int ipc_chan_send(struct ipc_chan *c, struct buf *frame, struct err *e)
{
    return send_frame(c, frame, -1, e);
}

int ipc_chan_send_fd(struct ipc_chan *c, struct buf *frame, int fd, struct err *e)
{
    if (fd < 0) {
        buf_clear(frame);
        return err_set(e, -EBADF, "no descriptor to pass");
    }
    return send_frame(c, frame, fd, e);
}

void ipc_chan_free(struct ipc_chan *c)
{
    if (!c || c->freed)
        return;
    c->freed = true;
    c->ended = true;
    uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
}
