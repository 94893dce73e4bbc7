/* child: fork, drop, exec; then reap on SIGCHLD. */
#include "privsep/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct child {
    uv_signal_t sig;
    pid_t pid;
    bool reaped;
    bool freed;
    child_exit_cb on_exit;
    void *arg;
};

/* In the child: puts the channel at 3 and the handed-down descriptors from 4, closes the
 * rest. Every descriptor is first moved above the target range so no dup2 overwrites one
 * that is still to be moved. */
static int arrange_fds(int chan, const int *fds, size_t nfds, int *self_fd)
{
    int high[64];
    int base = CHILD_FIRST_FD + (int)nfds + 16;

    if (nfds > 63)
        return -1;
    if ((high[0] = fcntl(chan, F_DUPFD, base)) < 0 ||
        (*self_fd = fcntl(*self_fd, F_DUPFD, base)) < 0)
        return -1;
    for (size_t i = 0; i < nfds; i++)
        if ((high[i + 1] = fcntl(fds[i], F_DUPFD, base)) < 0)
            return -1;
    if (dup2(high[0], CHILD_CHAN_FD) < 0)
        return -1;
    for (size_t i = 0; i < nfds; i++)
        if (dup2(high[i + 1], CHILD_FIRST_FD + (int)i) < 0)
            return -1;
    /* Our binary's descriptor next, closed by the exec itself. */
    if (dup2(*self_fd, CHILD_FIRST_FD + (int)nfds) < 0)
        return -1;
    *self_fd = CHILD_FIRST_FD + (int)nfds;
    if (fcntl(*self_fd, F_SETFD, FD_CLOEXEC) < 0)
        return -1;
    /* Everything above goes, including the high copies. */
    if (close_range((unsigned)*self_fd + 1, ~0u, 0) < 0) {
        long max = sysconf(_SC_OPEN_MAX);

        for (long fd = *self_fd + 1; fd < (max > 0 ? max : 65536); fd++)
            close((int)fd);
    }
    return 0;
}

static void child_main(const struct child_spec *s, int chan, pid_t keeper)
{
    struct err e = {0};
    sigset_t none;
    int devnull, self_fd = s->self_fd;

    /* Signals were blocked across the fork: libuv's handlers (which write to the keeper's
     * signal pipe) go before anything is let through. */
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if ((devnull = open("/dev/null", O_RDONLY)) >= 0) {
        dup2(devnull, 0);
        if (devnull > 2)
            close(devnull);
    }
    if (arrange_fds(chan, s->fds, s->nfds, &self_fd) < 0) {
        dprintf(2, "acmed: worker: cannot arrange descriptors: %s\n", strerror(errno));
        _exit(127);
    }
    if (s->id && privdrop_apply(s->id, &e) < 0) {
        dprintf(2, "acmed: worker: %s\n", err_msg(&e));
        _exit(127);
    }
    /* After the drop: a change of credentials clears the parent-death signal. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != keeper)
        _exit(127); /* the keeper is already gone */
    privdrop_exec_self(self_fd, s->argv, s->envp, &e);
    dprintf(2, "acmed: worker: %s\n", err_msg(&e));
    _exit(127);
}

static void reap(struct child *c)
{
    int status;
    pid_t r;

    if (c->reaped)
        return;
    r = waitpid(c->pid, &status, WNOHANG);
    if (r != c->pid)
        return;
    c->reaped = true;
    if (!c->freed)
        c->on_exit(c->arg, status);
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    (void)signum;
    reap(h->data);
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

struct child *child_start(uv_loop_t *loop, const struct child_spec *s, child_exit_cb on_exit,
                          void *arg, int *chan_fd, struct err *e)
{
    struct child *c;
    int sv[2];
    pid_t pid, keeper;
    sigset_t all, old;

    if (!s->id && geteuid() == 0) {
        err_set(e, -EPERM, "refusing to start the worker as root");
        return NULL;
    }
    if (!(c = calloc(1, sizeof *c))) {
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        err_sys(e, -errno, "cannot make the worker's channel");
        free(c);
        return NULL;
    }
    c->on_exit = on_exit;
    c->arg = arg;
    uv_signal_init(loop, &c->sig);
    c->sig.data = c;
    /* Watch before forking: a child that dies at once is still seen. */
    uv_signal_start(&c->sig, on_sigchld, SIGCHLD);
    fflush(NULL);
    keeper = getpid();
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid != 0)
        sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        err_sys(e, -errno, "cannot fork the worker");
        close(sv[0]);
        close(sv[1]);
        c->freed = true;
        uv_close((uv_handle_t *)&c->sig, on_closed);
        return NULL;
    }
    if (pid == 0) {
        close(sv[0]);
        child_main(s, sv[1], keeper);
    }
    close(sv[1]);
    c->pid = pid;
    *chan_fd = sv[0];
    return c;
}

pid_t child_pid(const struct child *c)
{
    return c->pid;
}

void child_kill(struct child *c, int sig)
{
    if (c && !c->reaped)
        kill(c->pid, sig);
}

void child_free(struct child *c)
{
    if (!c || c->freed)
        return;
    c->freed = true;
    if (!c->reaped) {
        kill(c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        c->reaped = true;
    }
    uv_close((uv_handle_t *)&c->sig, on_closed);
}
