/* signer_conn: a socket or a spawned command carrying the signer protocol's lines (see the
 * header). */
#include "signer/signer_conn.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "signer/signer_proto.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/sanitize.h"

#define STDERR_LINE_MAX 512
#define READ_MAX 65536

struct signer_conn {
    struct signer_conn_cbs cbs;
    const char *name;
    bool closed; /* by the owner: no more callbacks */
    bool ended;  /* the end callback ran */
    bool exec, exited, killed;
    int open;              /* handles not closed yet */
    uv_pipe_t rd, wr, err; /* socket: rd only (both ways); exec: child's stdout, stdin, stderr */
    uv_process_t proc;
    uv_connect_t creq;
    char *buf; /* bytes read, not yet a whole line */
    size_t len;
    char errline[STDERR_LINE_MAX];
    size_t errlen;
};

static void on_handle_closed(uv_handle_t *h)
{
    struct signer_conn *c = h->data;

    if (--c->open == 0) {
        free(c->buf);
        free(c);
    }
}

static void close_handle(struct signer_conn *c, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

/* Logs what the command wrote on stderr, one sanitised line at a time. */
static void stderr_flush(struct signer_conn *c)
{
    char clean[STDERR_LINE_MAX + 4];

    if (c->errlen == 0)
        return;
    sanitize_log_line(clean, sizeof clean, c->errline, c->errlen);
    log_debug("signer %s: %s", c->name, clean);
    c->errlen = 0;
}

/* Reports the end once, unless the owner has closed the connection already. */
static void end(struct signer_conn *c, int rc, const struct err *e)
{
    if (c->closed || c->ended)
        return;
    c->ended = true;
    uv_read_stop((uv_stream_t *)&c->rd);
    c->cbs.end(c->cbs.arg, rc, e);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig)
{
    struct signer_conn *c = p->data;

    c->exited = true;
    if (!c->closed)
        log_debug("signer %s: exited (status %lld, signal %d)", c->name, (long long)status, sig);
    close_handle(c, (uv_handle_t *)p);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    size_t n = suggested < READ_MAX ? suggested : READ_MAX;

    b->base = malloc(n);
    b->len = b->base ? n : 0;
}

/* Hands each whole line over while the owner keeps the connection. */
static void cut_lines(struct signer_conn *c)
{
    size_t len, used, off = 0;
    struct err e;
    int rc;

    err_clear(&e);
    while (!c->closed && !c->ended && off < c->len) {
        rc = signer_proto_line(c->buf + off, c->len - off, &len, &used, &e);
        if (rc == 0)
            break;
        if (rc < 0) {
            err_wrap(&e, "signer %s", c->name);
            end(c, rc, &e);
            return;
        }
        c->cbs.line(c->cbs.arg, c->buf + off, len);
        off += used;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct signer_conn *c = s->data;
    struct err e;
    char *grown;

    err_clear(&e);
    if (n < 0) {
        if (n != UV_EOF)
            err_set(&e, (int)n, "signer %s: %s", c->name, uv_strerror((int)n));
        end(c, (int)n, &e);
    } else if (n > 0 && !c->closed && !c->ended) {
        /* signer_proto_line refuses a line once SIGNER_LINE_MAX bytes have no end: the
         * buffer never holds more than that and one read. */
        if (!(grown = realloc(c->buf, c->len + (size_t)n))) {
            end(c, err_set(&e, -ENOMEM, "signer %s: out of memory", c->name), &e);
        } else {
            c->buf = grown;
            memcpy(c->buf + c->len, b->base, (size_t)n);
            c->len += (size_t)n;
            cut_lines(c);
        }
    }
    free(b->base);
}

/* The command's stderr: each line logged at debug level, a too long one in pieces. It is
 * read to its end whatever the protocol does, so the command never blocks on it. */
static void on_err_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct signer_conn *c = s->data;

    for (ssize_t i = 0; i < n; i++) {
        if (b->base[i] == '\n') {
            stderr_flush(c);
            continue;
        }
        if (c->errlen == sizeof c->errline)
            stderr_flush(c);
        c->errline[c->errlen++] = b->base[i];
    }
    if (n < 0) {
        stderr_flush(c);
        uv_read_stop(s);
    }
    free(b->base);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct signer_conn *c = req->data;
    struct err e;
    int rc;

    if (c->closed)
        return;
    if (status < 0) {
        err_set(&e, status, "signer %s: cannot connect: %s", c->name, uv_strerror(status));
        end(c, status, &e);
        return;
    }
    if ((rc = uv_read_start((uv_stream_t *)&c->rd, on_alloc, on_read)) < 0) {
        err_set(&e, rc, "signer %s: %s", c->name, uv_strerror(rc));
        end(c, rc, &e);
    }
}

static int spawn(uv_loop_t *loop, struct signer_conn *c, char *const *argv, struct err *e)
{
    uv_process_options_t o = {0};
    uv_stdio_container_t io[3];
    int rc;

    c->exec = true;
    uv_pipe_init(loop, &c->wr, 0);
    uv_pipe_init(loop, &c->err, 0);
    c->wr.data = c->err.data = c;
    c->open += 2;
    io[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    io[0].data.stream = (uv_stream_t *)&c->wr;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&c->rd;
    io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[2].data.stream = (uv_stream_t *)&c->err;
    o.file = argv[0];
    o.args = (char **)argv;
    o.stdio = io;
    o.stdio_count = 3;
    o.exit_cb = on_proc_exit;
    /* Nothing acmed holds (a connection to the CA, the lock) reaches the command. */
    if (proc_cloexec_all() < 0)
        log_warn("cannot mark descriptors close-on-exec before running signer %s", c->name);
    rc = uv_spawn(loop, &c->proc, &o);
    c->proc.data = c;
    c->open++; /* libuv initialises the handle even when spawning fails */
    if (rc < 0) {
        c->exited = true;
        return err_set(e, rc, "signer %s: cannot run %s: %s", c->name, argv[0], uv_strerror(rc));
    }
    if ((rc = uv_read_start((uv_stream_t *)&c->rd, on_alloc, on_read)) < 0 ||
        (rc = uv_read_start((uv_stream_t *)&c->err, on_alloc, on_err_read)) < 0)
        return err_set(e, rc, "signer %s: %s", c->name, uv_strerror(rc));
    return 0;
}

int signer_conn_open(uv_loop_t *loop, const char *path, char *const *argv, const char *name,
                     const struct signer_conn_cbs *cbs, struct signer_conn **out, struct err *e)
{
    struct signer_conn *c = calloc(1, sizeof *c);
    int rc;

    *out = NULL;
    if (!c)
        return err_set(e, -ENOMEM, "out of memory");
    c->cbs = *cbs;
    c->name = name;
    uv_pipe_init(loop, &c->rd, 0);
    c->rd.data = c;
    c->open = 1;
    if (argv) {
        if ((rc = spawn(loop, c, argv, e)) < 0) {
            c->ended = true;
            signer_conn_close(c);
            return rc;
        }
    } else {
        c->creq.data = c;
        uv_pipe_connect(&c->creq, &c->rd, path, on_connect);
    }
    *out = c;
    return 0;
}

struct wreq {
    uv_write_t w;
    struct signer_conn *c;
    char data[];
};

static void on_write(uv_write_t *w, int status)
{
    struct wreq *wr = (struct wreq *)w;
    struct signer_conn *c = wr->c;
    struct err e;

    free(wr);
    if (status < 0 && status != UV_ECANCELED) {
        err_set(&e, status, "signer %s: %s", c->name, uv_strerror(status));
        end(c, status, &e);
    }
}

int signer_conn_write(struct signer_conn *c, const char *data, size_t len, struct err *e)
{
    struct wreq *wr;
    uv_buf_t b;
    int rc;

    if (c->closed || c->ended)
        return err_set(e, -EPIPE, "signer %s: the connection has ended", c->name);
    if (!(wr = malloc(sizeof *wr + len)))
        return err_set(e, -ENOMEM, "out of memory");
    wr->c = c;
    memcpy(wr->data, data, len);
    b = uv_buf_init(wr->data, (unsigned int)len);
    if ((rc = uv_write(&wr->w, (uv_stream_t *)(c->exec ? &c->wr : &c->rd), &b, 1, on_write)) < 0) {
        free(wr);
        return err_set(e, rc, "signer %s: %s", c->name, uv_strerror(rc));
    }
    return 0;
}

void signer_conn_close(struct signer_conn *c)
{
    if (!c || c->closed)
        return;
    c->closed = true;
    stderr_flush(c);
    close_handle(c, (uv_handle_t *)&c->rd);
    if (!c->exec)
        return;
    close_handle(c, (uv_handle_t *)&c->wr);
    close_handle(c, (uv_handle_t *)&c->err);
    if (c->exited) {
        close_handle(c, (uv_handle_t *)&c->proc);
    } else if (!c->killed) {
        c->killed = true;
        uv_process_kill(&c->proc, SIGTERM);
    }
}
