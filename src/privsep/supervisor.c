/* supervisor: start, watch and restart the worker. */
#include "privsep/supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "privsep/ipc_chan.h"
#include "util/log.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
#define HEALTHY_MS 60000 /* a worker up this long resets the backoff */

struct supervisor {
    uv_loop_t *loop;
    struct child_spec spec;
    struct supervisor_cbs cbs;
    struct child *child;
    struct ipc_chan *chan;
    uv_timer_t restart;
    uint64_t started_ms;
    uint64_t backoff_ms;
    unsigned starts;
    bool freed;
};

static void start_worker(struct supervisor *s);

static void on_restart(uv_timer_t *t)
{
    start_worker(t->data);
}

static void schedule_restart(struct supervisor *s)
{
    uint64_t delay;

    if (uv_now(s->loop) - s->started_ms >= HEALTHY_MS)
        s->backoff_ms = 0;
    delay = s->backoff_ms;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (s->backoff_ms > BACKOFF_MAX_MS)
        s->backoff_ms = BACKOFF_MAX_MS;
    if (delay)
        log_info("worker: starting again in %llu s", (unsigned long long)(delay / 1000));
    uv_timer_start(&s->restart, on_restart, delay, 0);
}

static void on_exit_cb(void *arg, int status)
{
    struct supervisor *s = arg;
    struct err why = {0};

    if (WIFSIGNALED(status))
        err_set(&why, -ECHILD, "the worker was killed by signal %d", WTERMSIG(status));
    else
        err_set(&why, -ECHILD, "the worker exited with status %d", WEXITSTATUS(status));
    log_warn("%s", err_msg(&why));
    ipc_chan_free(s->chan);
    s->chan = NULL;
    child_free(s->child);
    s->child = NULL;
    s->cbs.down(s->cbs.arg, status, &why);
    if (!s->freed)
        schedule_restart(s);
}

static void on_frame(void *arg, const uint8_t *frame, size_t len)
{
    struct supervisor *s = arg;

    s->cbs.frame(s->cbs.arg, frame, len);
}

static void on_chan_closed(void *arg, int rc, const struct err *e)
{
    struct supervisor *s = arg;

    /* End of stream: the worker is exiting, its exit is reported by on_exit_cb. A broken
     * frame: the worker is not to be trusted any more. */
    if (rc < 0)
        supervisor_reject(s, e);
}

static void start_worker(struct supervisor *s)
{
    struct err e = {0};
    int fd = -1;

    s->starts++;
    s->started_ms = uv_now(s->loop);
    s->child = child_start(s->loop, &s->spec, on_exit_cb, s, &fd, &e);
    if (s->child)
        s->chan = ipc_chan_open(s->loop, fd, false, on_frame, on_chan_closed, s, &e);
    if (!s->child || !s->chan) {
        err_wrap(&e, "cannot start the worker");
        log_err("%s", err_msg(&e));
        if (s->child) {
            /* Its exit comes through on_exit_cb, which schedules the restart. */
            child_kill(s->child, SIGKILL);
            return;
        }
        s->cbs.down(s->cbs.arg, -1, &e);
        schedule_restart(s);
        return;
    }
    log_debug("worker: started (pid %d)", (int)child_pid(s->child));
    s->cbs.up(s->cbs.arg);
}

struct supervisor *supervisor_start(uv_loop_t *loop, const struct child_spec *spec,
                                    const struct supervisor_cbs *cbs, struct err *e)
{
    struct supervisor *s = calloc(1, sizeof *s);

    if (!s) {
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->spec = *spec;
    s->cbs = *cbs;
    uv_timer_init(loop, &s->restart);
    s->restart.data = s;
    /* From the loop, so that up never runs before the owner holds the supervisor. */
    uv_timer_start(&s->restart, on_restart, 0, 0);
    return s;
}

int supervisor_send(struct supervisor *s, struct buf *frame, struct err *e)
{
    if (!s->chan) {
        buf_clear(frame);
        return err_set(e, -EPIPE, "the worker is not running");
    }
    return ipc_chan_send(s->chan, frame, e);
}

int supervisor_send_fd(struct supervisor *s, struct buf *frame, int fd, struct err *e)
{
    if (!s->chan) {
        buf_clear(frame);
        return err_set(e, -EPIPE, "the worker is not running");
    }
    return ipc_chan_send_fd(s->chan, frame, fd, e);
}

void supervisor_reject(struct supervisor *s, const struct err *why)
{
    log_err("worker: %s: stopping it", err_msg(why));
    child_kill(s->child, SIGKILL);
}

void supervisor_kill(struct supervisor *s)
{
    if (s->child)
        child_kill(s->child, SIGKILL);
}

pid_t supervisor_pid(const struct supervisor *s)
{
    return s->child && s->chan ? child_pid(s->child) : 0;
}

unsigned supervisor_starts(const struct supervisor *s)
{
    return s->starts;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void supervisor_free(struct supervisor *s)
{
    if (!s || s->freed)
        return;
    s->freed = true;
    ipc_chan_free(s->chan);
    s->chan = NULL;
    child_free(s->child);
    s->child = NULL;
    uv_timer_stop(&s->restart);
    uv_close((uv_handle_t *)&s->restart, on_timer_closed);
}
