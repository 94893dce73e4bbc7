/* hooks: runs the hooks for one event, one after another, on the libuv loop.
 *
 * One `struct hooks_job` per hooks_run() call. It owns a timer (used first to defer the start
 * so the callback is never synchronous, then as each hook's timeout and kill grace) and, per
 * hook, a process handle and the stdin pipe. A hook is done when its process has exited and,
 * if it timed out, its group has been sent SIGKILL; its handles are then closed, and the next
 * hook starts from the last close callback, so the handle memory is reused only once libuv is
 * finished with it. The job is freed after the user callback, from the timer's close
 * callback. */
#include "hooks/hooks.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define DEFAULT_TIMEOUT_S 300

extern char **environ;

struct hooks_job {
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
    const char *cur; /* paths[next - 1] */
    uv_timer_t timer;
    uv_process_t proc;
    uv_pipe_t pipe;
    uv_write_t wreq;
    unsigned open_handles; /* proc and pipe handles not yet through their close callback */
    bool done;             /* the hook is finished; handles are being closed */
    bool exited, timed_out, killed;
    int64_t exit_status;
    int term_signal;
};

static void start_next(struct hooks_job *j);

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

/* The hook is finished: judge its outcome and close its handles. */
static void hook_done(struct hooks_job *j)
{
    const char *hook = j->cur, *event = j->argv[1];

    j->done = true;
    uv_timer_stop(&j->timer);
    if (j->timed_out)
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
    close_hook_handle(j, (uv_handle_t *)&j->proc);
}

static void on_proc_exit(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct hooks_job *j = p->data;

    j->exited = true;
    j->exit_status = exit_status;
    j->term_signal = term_signal;
    /* A timed-out hook whose leader died on SIGTERM may have left children behind: wait for
     * the grace timer, which sends SIGKILL to the group, before moving on. */
    if (j->timed_out && !j->killed)
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

static void on_timeout(uv_timer_t *t)
{
    struct hooks_job *j = t->data;

    log_warn("hook %s (%s) timed out; terminating its process group", j->cur, j->argv[1]);
    j->timed_out = true;
    if (kill(-j->proc.pid, SIGTERM) < 0 && errno != ESRCH)
        log_warn("cannot terminate hook %s: %s", j->cur, strerror(errno));
    uv_timer_start(&j->timer, on_grace, HOOKS_KILL_GRACE_MS, 0);
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
    int rc;

    j->cur = j->paths[j->next++];
    j->argv[0] = (char *)j->cur;
    j->done = j->exited = j->timed_out = j->killed = false;
    j->exit_status = 0;
    j->term_signal = 0;
    uv_pipe_init(j->loop, &j->pipe, 0);
    j->pipe.data = j;
    j->open_handles = 1;

    memset(stdio, 0, sizeof stdio);
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&j->pipe;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
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
    rc = uv_spawn(j->loop, &j->proc, &po);
    j->proc.data = j;
    /* libuv initialises the process handle even when spawning fails; it must be closed. */
    j->open_handles++;
    if (rc < 0) {
        j->done = true;
        record_failure(j, rc, "cannot run hook %s (%s): %s", j->cur, j->argv[1], uv_strerror(rc));
        close_hook_handle(j, (uv_handle_t *)&j->pipe);
        close_hook_handle(j, (uv_handle_t *)&j->proc);
        return;
    }
    uv_timer_start(&j->timer, on_timeout, j->timeout_ms, 0);
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

static bool env_key_eq(const char *a, const char *b)
{
    size_t la = strcspn(a, "="), lb = strcspn(b, "=");

    return la == lb && memcmp(a, b, la) == 0;
}

/* The hook environment: ours, then the target's challenge.env, then ACME_STATE_DIR, a later
 * entry replacing an earlier one of the same name. */
static int build_env(struct hooks_job *j, const struct hooks_opts *o, struct err *e)
{
    size_t nenv = 0, nall = 0, n = 0;
    const char **all = NULL;
    char *statedir = NULL;
    int rc = 0;

    while (environ && environ[nenv])
        nenv++;
    all = calloc(nenv + (o ? o->nenv : 0) + 1, sizeof *all);
    if (!all) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nenv; i++)
        all[nall++] = environ[i];
    for (size_t i = 0; o && i < o->nenv; i++) {
        const char *kv = o->env[i];

        if (!kv || kv[0] == '=' || !strchr(kv, '=')) {
            rc = err_set(e, -EINVAL, "invalid hook environment entry \"%s\"", kv ? kv : "");
            goto out;
        }
        all[nall++] = kv;
    }
    if (o && o->state_dir) {
        size_t len = strlen(o->state_dir) + sizeof "ACME_STATE_DIR=";

        if (!(statedir = malloc(len))) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
        snprintf(statedir, len, "ACME_STATE_DIR=%s", o->state_dir);
        all[nall++] = statedir;
    }
    j->envp = calloc(nall + 1, sizeof *j->envp);
    if (!j->envp) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nall; i++) {
        bool replaced = false;

        for (size_t k = i + 1; k < nall && !replaced; k++)
            replaced = env_key_eq(all[i], all[k]);
        if (replaced)
            continue;
        if (!(j->envp[n++] = strdup(all[i]))) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
    }
out:
    free(statedir);
    free(all);
    return rc;
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
    rc = build_env(j, o, e);
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
    j = NULL;
out:
    job_free(j);
    return rc;
}
