/* hooks: runs the hooks for one event, one after another, on the libuv loop.
 *
 * One `struct hooks_job` per hooks_run() call. It owns a timer (used first to defer the start
 * so the callback is never synchronous, then as each hook's timeout and kill grace) and, per
 * hook, a process handle and its stdin, stdout and stderr pipes. A hook is done when its
 * process has exited and, if it timed out, its group has been sent SIGKILL; its handles are
 * then closed, and the next hook starts from the last close callback, so the handle memory is
 * reused only once libuv is finished with it. The job is freed after the user callback, from
 * the timer's close callback.
 *
 * A hook's stdout and stderr come back through their pipes and are logged line by line at
 * info level as "hook NAME: line", so what a hook says ends up in the daemon's log (journald
 * under systemd) with the hook named. The hook is not waited for to close them: a service it
 * restarts may inherit them and keep them open for its whole life. When the hook is finished,
 * whatever is left in the pipes is read without blocking, any unterminated last line is
 * logged, and the pipes are closed; later output of its leftover children is lost.
 *
 * Every job is on one list while it runs, so that hooks_cancel can find those of a loop. */
#include "hooks/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks/hooks_env.h"
#include "util/log.h"
#include "util/proc.h"

#define DEFAULT_TIMEOUT_S 300

/* Hook output is logged a line at a time; a longer line is cut into pieces so that each log
 * message, "hook NAME: " included, stays within 4 KiB (log_msg's own limit). */
#define OUT_MSG_MAX 4096
/* At most this much is read from a pipe once the hook is finished, so a leftover child
 * writing without pause cannot hold up the loop. */
#define OUT_DRAIN_MAX (1u << 20)

/* One of the running hook's output streams. Its handle's data is the job, like the others. */
struct hook_out {
    uv_pipe_t pipe;
    bool eof;   /* nothing more will be read: EOF, a read error, or the hook is finished */
    size_t len; /* bytes of the current line in line[] */
    char line[OUT_MSG_MAX];
    char rbuf[OUT_MSG_MAX];
};

struct hooks_job {
    struct hooks_job *prev, *next_job; /* the running jobs (`running`) */
    bool cancelled;                    /* hooks_cancel: no further hook; the result -ECANCELED */
    uv_loop_t *loop;
    char **paths; /* from hooks_discover() */
    size_t npaths, next;
    char **argv; /* [hook, event, args..., NULL]; argv[0] borrows paths[cur] */
    size_t nargv;
    char **envp; /* NULL-terminated, each owned */
    char *in;    /* stdin copy */
    size_t inlen;
    uint64_t timeout_ms;
    hooks_cb cb;
    void *arg;
    int rc;
    unsigned nran;
    struct err err;

    /* The running hook. */
    const char *cur;  /* paths[next - 1] */
    const char *name; /* its file name, for the log */
    size_t line_cap;  /* longest piece of an output line logged as one message */
    uv_timer_t timer;
    uv_process_t proc;
    uv_pipe_t pipe;         /* the hook's stdin */
    struct hook_out out[2]; /* its stdout and stderr */
    uv_write_t wreq;
    unsigned open_handles; /* proc and pipe handles not yet through their close callback */
    bool done;             /* the hook is finished; handles are being closed */
    bool exited, timed_out, killed;
    bool terminating; /* SIGTERM sent (a timeout or hooks_cancel): SIGKILL follows */
    int64_t exit_status;
    int term_signal;
};

static void start_next(struct hooks_job *j);

/* The jobs between hooks_run and their callback, newest first. */
static struct hooks_job *running;

static void job_free(struct hooks_job *j)
{
    if (!j)
        return;
    hooks_paths_free(j->paths, j->npaths);
    if (j->argv)
        for (size_t i = 1; i < j->nargv; i++)
            free(j->argv[i]);
    free(j->argv);
    if (j->envp)
        for (size_t i = 0; j->envp[i]; i++)
            free(j->envp[i]);
    free(j->envp);
    free(j->in);
    free(j);
}

/* Keeps the first failure for the callback; the others would otherwise be lost, so they are
 * logged here. */
__attribute__((format(printf, 3, 4))) static void record_failure(struct hooks_job *j, int code,
                                                                 const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    struct err tmp;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(&tmp, code, "%s", msg);
    if (j->rc == 0) {
        j->rc = tmp.code;
        j->err = tmp;
    } else {
        log_warn("%s", tmp.msg);
    }
}

static void on_final_close(uv_handle_t *h)
{
    struct hooks_job *j = h->data;

    if (j->prev)
        j->prev->next_job = j->next_job;
    else
        running = j->next_job;
    if (j->next_job)
        j->next_job->prev = j->prev;
    j->cb(j->arg, j->rc, j->nran, &j->err);
    job_free(j);
}

static void on_hook_close(uv_handle_t *h)
{
    struct hooks_job *j = h->data;

    if (--j->open_handles == 0 && j->done)
        start_next(j);
}

static void close_hook_handle(struct hooks_job *j, uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_hook_close);
}

/* ---- the hook's output ---- */

/* The output stream whose pipe handle is h. */
static struct hook_out *out_of(void *h)
{
    return (struct hook_out *)(void *)((char *)h - offsetof(struct hook_out, pipe));
}

/* Logs one piece of an output line; the log's sanitiser (util/sanitize.h) shows control
 * characters (terminal escapes...) as '?'. Blank lines are left out. */
static void out_log(struct hooks_job *j, char *s, size_t n)
{
    if (n && s[n - 1] == '\r')
        n--;
    if (n == 0)
        return;
    log_info("hook %s: %.*s", j->name, (int)n, s);
}

static void out_feed(struct hooks_job *j, struct hook_out *o, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            out_log(j, o->line, o->len);
            o->len = 0;
            continue;
        }
        if (o->len == j->line_cap) {
            out_log(j, o->line, o->len);
            o->len = 0;
        }
        o->line[o->len++] = data[i];
    }
}

/* No more output will be read from o: logs an unterminated last line. */
static void out_finish(struct hooks_job *j, struct hook_out *o)
{
    if (o->eof)
        return;
    o->eof = true;
    uv_read_stop((uv_stream_t *)&o->pipe);
    if (o->len)
        out_log(j, o->line, o->len);
    o->len = 0;
}

static void on_out_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct hook_out *o = out_of(h);

    *buf = uv_buf_init(o->rbuf, sizeof o->rbuf);
}

static void on_out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct hook_out *o = out_of(s);
    struct hooks_job *j = s->data;

    if (n > 0) {
        out_feed(j, o, buf->base, (size_t)n);
    } else if (n < 0) {
        if (n != UV_EOF)
            log_debug("hook %s: reading its output: %s", j->cur, uv_strerror((int)n));
        out_finish(j, o);
    }
}

/* The hook is finished: takes what it wrote and is still in the pipe, without waiting for
 * children that may hold the other end open. */
static void out_drain(struct hooks_job *j, struct hook_out *o)
{
    uv_os_fd_t fd;
    size_t total = 0;
    ssize_t n;
    int fl;

    if (o->eof)
        return;
    uv_read_stop((uv_stream_t *)&o->pipe);
    if (uv_fileno((uv_handle_t *)&o->pipe, &fd) == 0 && (fl = fcntl(fd, F_GETFL)) >= 0 &&
        ((fl & O_NONBLOCK) || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)) {
        while (total < OUT_DRAIN_MAX) {
            n = read(fd, o->rbuf, sizeof o->rbuf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            out_feed(j, o, o->rbuf, (size_t)n);
            total += (size_t)n;
        }
    }
    out_finish(j, o);
}

static void out_start(struct hooks_job *j, struct hook_out *o)
{
    int rc = uv_read_start((uv_stream_t *)&o->pipe, on_out_alloc, on_out_read);

    if (rc < 0) {
        log_debug("hook %s: cannot read its output: %s", j->cur, uv_strerror(rc));
        o->eof = true;
    }
}

/* ---- one hook ---- */

/* The hook is finished: judge its outcome and close its handles. */
static void hook_done(struct hooks_job *j)
{
    const char *hook = j->cur, *event = j->argv[1];

    j->done = true;
    uv_timer_stop(&j->timer);
    for (int i = 0; i < 2; i++)
        out_drain(j, &j->out[i]);
    if (j->cancelled)
        log_notice("hook %s (%s) stopped: acmed is stopping", hook, event);
    else if (j->timed_out)
        record_failure(j, -ETIMEDOUT,
                       "hook %s (%s) timed out after %llu s; its process group was killed", hook,
                       event, (unsigned long long)(j->timeout_ms / 1000));
    else if (j->term_signal)
        record_failure(j, -EIO, "hook %s (%s) was killed by signal %d (%s)", hook, event,
                       j->term_signal, strsignal(j->term_signal));
    else if (j->exit_status == HOOKS_EXIT_NOT_MINE)
        log_debug("hook %s (%s): not mine", hook, event);
    else if (j->exit_status != 0)
        record_failure(j, -EIO, "hook %s (%s) exited with status %lld", hook, event,
                       (long long)j->exit_status);
    else {
        j->nran++;
        log_debug("hook %s (%s) succeeded", hook, event);
    }
    close_hook_handle(j, (uv_handle_t *)&j->pipe);
    for (int i = 0; i < 2; i++)
        close_hook_handle(j, (uv_handle_t *)&j->out[i].pipe);
    close_hook_handle(j, (uv_handle_t *)&j->proc);
}

static void on_proc_exit(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct hooks_job *j = p->data;

    j->exited = true;
    j->exit_status = exit_status;
    j->term_signal = term_signal;
    /* A terminated hook whose leader died on SIGTERM may have left children behind: wait for
     * the grace timer, which sends SIGKILL to the group, before moving on. */
    if (j->terminating && !j->killed)
        return;
    hook_done(j);
}

static void on_grace(uv_timer_t *t)
{
    struct hooks_job *j = t->data;

    /* While the leader is unreaped, its pid (the group id) cannot be reused, and while any
     * member lives, neither can the group id: the signal reaches only the hook's group. */
    if (kill(-j->proc.pid, SIGKILL) < 0 && errno != ESRCH)
        log_warn("cannot kill hook %s: %s", j->cur, strerror(errno));
    j->killed = true;
    if (j->exited)
        hook_done(j);
}

/* SIGTERM to the running hook's process group, SIGKILL after HOOKS_KILL_GRACE_MS. */
static void terminate(struct hooks_job *j)
{
    j->terminating = true;
    if (kill(-j->proc.pid, SIGTERM) < 0 && errno != ESRCH)
        log_warn("cannot terminate hook %s: %s", j->cur, strerror(errno));
    uv_timer_start(&j->timer, on_grace, HOOKS_KILL_GRACE_MS, 0);
}

static void on_timeout(uv_timer_t *t)
{
    struct hooks_job *j = t->data;

    log_warn("hook %s (%s) timed out; terminating its process group", j->cur, j->argv[1]);
    j->timed_out = true;
    terminate(j);
}

void hooks_cancel(uv_loop_t *loop)
{
    for (struct hooks_job *j = running; j; j = j->next_job) {
        if (j->loop != loop || j->cancelled)
            continue;
        j->cancelled = true;
        if (j->rc != 0)
            log_warn("%s", j->err.msg);
        j->rc =
            err_set(&j->err, -ECANCELED, "hook event %s cancelled: acmed is stopping", j->argv[1]);
        j->next = j->npaths; /* no further hook */
        /* A hook running and not yet terminated; otherwise the job ends from the close
         * callbacks under way, or from its start timer. */
        if (j->cur && !j->done && !j->exited && !j->terminating) {
            log_notice("hook %s (%s): acmed is stopping; terminating its process group", j->cur,
                       j->argv[1]);
            terminate(j);
        }
    }
}

static void on_written(uv_write_t *req, int status)
{
    struct hooks_job *j = req->data;

    /* A hook need not read its stdin; closing gives it EOF. */
    if (status < 0 && status != UV_ECANCELED && status != UV_EPIPE)
        log_debug("hook %s: writing stdin: %s", j->cur, uv_strerror(status));
    close_hook_handle(j, (uv_handle_t *)&j->pipe);
}

/* Feeds stdin to the hook just spawned, then closes the pipe. */
static void feed_stdin(struct hooks_job *j)
{
    uv_buf_t buf = uv_buf_init(j->in, (unsigned)j->inlen);
    int rc;

    if (j->inlen == 0) {
        close_hook_handle(j, (uv_handle_t *)&j->pipe);
        return;
    }
    j->wreq.data = j;
    rc = uv_write(&j->wreq, (uv_stream_t *)&j->pipe, &buf, 1, on_written);
    if (rc < 0) {
        log_debug("hook %s: writing stdin: %s", j->cur, uv_strerror(rc));
        close_hook_handle(j, (uv_handle_t *)&j->pipe);
    }
}

/* Starts hook paths[next++]. A failure to start is that hook's outcome: its handles are
 * closed and the run goes on from the close callbacks. */
static void spawn_one(struct hooks_job *j)
{
    uv_stdio_container_t stdio[3];
    uv_process_options_t po;
    const char *slash;
    size_t prefix;
    int rc;

    j->cur = j->paths[j->next++];
    j->argv[0] = (char *)j->cur;
    slash = strrchr(j->cur, '/');
    j->name = slash ? slash + 1 : j->cur;
    /* "hook NAME: " and log_msg's terminating NUL; hook names are at most NAME_MAX long. */
    prefix = strlen("hook : ") + strlen(j->name) + 1;
    j->line_cap = prefix < OUT_MSG_MAX / 2 ? OUT_MSG_MAX - prefix : OUT_MSG_MAX / 2;
    j->done = j->exited = j->timed_out = j->killed = j->terminating = false;
    j->exit_status = 0;
    j->term_signal = 0;
    uv_pipe_init(j->loop, &j->pipe, 0);
    j->pipe.data = j;
    for (int i = 0; i < 2; i++) {
        uv_pipe_init(j->loop, &j->out[i].pipe, 0);
        j->out[i].pipe.data = j;
        j->out[i].eof = false;
        j->out[i].len = 0;
    }
    j->open_handles = 3;

    memset(stdio, 0, sizeof stdio);
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&j->pipe;
    for (int i = 0; i < 2; i++) {
        stdio[1 + i].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[1 + i].data.stream = (uv_stream_t *)&j->out[i].pipe;
    }
    memset(&po, 0, sizeof po);
    po.exit_cb = on_proc_exit;
    po.file = j->cur;
    po.args = j->argv;
    po.env = j->envp;
    po.cwd = "/";
    /* Own session and process group, so a timeout can kill everything the hook started. */
    po.flags = UV_PROCESS_DETACHED;
    po.stdio_count = 3;
    po.stdio = stdio;

    log_debug("running hook %s (%s)", j->cur, j->argv[1]);
    /* Nothing acmed holds (a connection to the CA, the lock, a listener) reaches the hook. */
    if (proc_cloexec_all() < 0)
        log_warn("cannot mark descriptors close-on-exec before running hook %s", j->cur);
    rc = uv_spawn(j->loop, &j->proc, &po);
    j->proc.data = j;
    /* libuv initialises the process handle even when spawning fails; it must be closed. */
    j->open_handles++;
    if (rc < 0) {
        j->done = true;
        record_failure(j, rc, "cannot run hook %s (%s): %s", j->cur, j->argv[1], uv_strerror(rc));
        close_hook_handle(j, (uv_handle_t *)&j->pipe);
        for (int i = 0; i < 2; i++)
            close_hook_handle(j, (uv_handle_t *)&j->out[i].pipe);
        close_hook_handle(j, (uv_handle_t *)&j->proc);
        return;
    }
    uv_timer_start(&j->timer, on_timeout, j->timeout_ms, 0);
    for (int i = 0; i < 2; i++)
        out_start(j, &j->out[i]);
    feed_stdin(j);
}

static void start_next(struct hooks_job *j)
{
    if (j->next < j->npaths) {
        spawn_one(j);
        return;
    }
    if (j->rc == 0)
        err_clear(&j->err);
    uv_close((uv_handle_t *)&j->timer, on_final_close);
}

static void on_start(uv_timer_t *t)
{
    start_next(t->data);
}

/* See hooks.h: a hook that does not read its stdin must not kill the daemon. */
static void ignore_sigpipe(void)
{
    struct sigaction sa;

    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
        !(sa.sa_flags & SA_SIGINFO))
        signal(SIGPIPE, SIG_IGN);
}

static bool valid_event(const char *event)
{
    if (!event || !*event)
        return false;
    for (const char *p = event; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-'))
            return false;
    return true;
}

int hooks_run(uv_loop_t *loop, const struct hooks_opts *o, const char *event,
              const char *const *args, size_t nargs, const char *stdin_data, size_t stdin_len,
              hooks_cb cb, void *arg, struct err *e)
{
    struct hooks_job *j = NULL;
    int rc = 0;

    if (!loop || !cb || !valid_event(event) || (nargs && !args) || (stdin_len && !stdin_data)) {
        rc = err_set(e, -EINVAL, "invalid hook event \"%s\" or arguments", event ? event : "");
        goto out;
    }
    /* uv_buf_t lengths are unsigned int. */
    if (stdin_len > UINT32_MAX) {
        rc = err_set(e, -E2BIG, "hook event %s: stdin too large", event);
        goto out;
    }
    for (size_t i = 0; i < nargs; i++) {
        if (!args[i]) {
            rc = err_set(e, -EINVAL, "hook event %s: argument %zu is NULL", event, i + 1);
            goto out;
        }
    }
    j = calloc(1, sizeof *j);
    if (!j || !(j->argv = calloc(nargs + 3, sizeof *j->argv)) ||
        !(j->in = malloc(stdin_len ? stdin_len : 1))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    j->nargv = nargs + 2;
    if (!(j->argv[1] = strdup(event))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nargs; i++) {
        if (!(j->argv[i + 2] = strdup(args[i]))) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
    }
    if (stdin_len)
        memcpy(j->in, stdin_data, stdin_len);
    j->inlen = stdin_len;
    rc = hooks_env_build(o ? o->env : NULL, o ? o->nenv : 0, o ? o->state_dir : NULL, &j->envp, e);
    if (rc < 0)
        goto out;
    rc = hooks_discover(o, &j->paths, &j->npaths, e);
    if (rc < 0)
        goto out;
    ignore_sigpipe();
    j->loop = loop;
    j->timeout_ms = (uint64_t)(o && o->timeout_s ? o->timeout_s : DEFAULT_TIMEOUT_S) * 1000;
    j->cb = cb;
    j->arg = arg;
    uv_timer_init(loop, &j->timer);
    j->timer.data = j;
    /* Start from the loop: the callback must never run before hooks_run() has returned. */
    uv_timer_start(&j->timer, on_start, 0, 0);
    j->next_job = running;
    if (running)
        running->prev = j;
    running = j;
    j = NULL;
out:
    job_free(j);
    return rc;
}
