/* Unit tests for util/child: the worker process as the keeper starts it. This binary is its
 * own worker: started with argv[1] "--child-echo" it echoes frames on descriptor 3. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "privsep/child.h"
#include "privsep/ipc.h"
#include "privsep/ipc_chan.h"

extern char **environ;

/* ---- the child side ---------------------------------------------------------------------- */

/* Echo mode: says hello on descriptor 4, reports whether 5 is open, then copies fd 3 back to
 * itself until end of stream. */
static int child_echo(void)
{
    char b[4096];
    ssize_t n;

    dprintf(4, "hello fd5=%s\n", fcntl(5, F_GETFD) < 0 && errno == EBADF ? "closed" : "open");
    close(4);
    while ((n = read(CHILD_CHAN_FD, b, sizeof b)) > 0)
        if (write(CHILD_CHAN_FD, b, (size_t)n) != n)
            return 2;
    return 0;
}

/* ---- the keeper side --------------------------------------------------------------------- */

struct ctx {
    uv_loop_t loop;
    struct child *c;
    struct ipc_chan *ch;
    int exited;
    int status;
    size_t echoed;
    bool chan_closed;
};

static void on_exit_cb(void *arg, int status)
{
    struct ctx *x = arg;

    x->exited++;
    x->status = status;
}

static void on_frame(void *arg, const uint8_t *frame, size_t len)
{
    struct ctx *x = arg;

    (void)frame;
    x->echoed += len;
}

static void on_chan_closed(void *arg, int rc, const struct err *e)
{
    struct ctx *x = arg;

    (void)rc;
    (void)e;
    x->chan_closed = true;
}

static void run_until(struct ctx *x, bool (*done)(struct ctx *))
{
    for (int i = 0; i < 3000 && !done(x); i++) {
        uv_run(&x->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static bool got_echo(struct ctx *x)
{
    return x->echoed > 0;
}
static bool has_exited(struct ctx *x)
{
    return x->exited > 0;
}

static struct child *start(struct ctx *x, const char *mode, int *extra, size_t nextra,
                           struct privdrop_id *id)
{
    static char name[] = "acmed: worker";
    char *argv[] = {name, (char *)mode, NULL};
    struct child_spec s = {
        .id = geteuid() == 0 ? id : NULL,
        .argv = argv,
        .envp = environ,
        .fds = extra,
        .nfds = nextra,
    };
    struct err e = {0};
    int chan = -1;
    struct child *c;

    assert_int_equal(privdrop_resolve("nobody", id, &e), 0);
    s.self_fd = privdrop_self_open(&e);
    assert_true(s.self_fd >= 0);
    c = child_start(&x->loop, &s, on_exit_cb, x, &chan, &e);
    close(s.self_fd);
    assert_non_null(c);
    x->ch = ipc_chan_open(&x->loop, chan, false, on_frame, on_chan_closed, x, &e);
    assert_non_null(x->ch);
    return c;
}

static void test_echo_and_exit(void **state)
{
    struct ctx x = {0};
    struct privdrop_id id;
    struct ipc_out o;
    struct err e = {0};
    int p[2], other[2];
    char hello[64] = "", path[64], cmd[64] = "";
    FILE *f;

    (void)state;
    uv_loop_init(&x.loop);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(pipe(other), 0); /* not handed down: must not reach the child */
    x.c = start(&x, "--child-echo", &p[1], 1, &id);
    close(p[1]);
    assert_true(read(p[0], hello, sizeof hello - 1) > 0);
    assert_string_equal(hello, "hello fd5=closed\n");

    ipc_out_begin(&o, 1);
    ipc_put_text(&o, 1, "ping");
    assert_int_equal(ipc_out_end(&o, &e), 0);
    assert_int_equal(ipc_chan_send(x.ch, &o.b, &e), 0);
    run_until(&x, got_echo);
    assert_int_equal(x.echoed, 4 + 2 + 6 + 4);

    /* The process name, and who it runs as. */
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)child_pid(x.c));
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(cmd, sizeof cmd, f));
    fclose(f);
    assert_string_equal(cmd, "acmed: worker");
    if (geteuid() == 0) {
        struct privdrop_facts pf;

        snprintf(path, sizeof path, "/proc/%d/status", (int)child_pid(x.c));
        assert_int_equal(privdrop_facts_read(path, &pf, &e), 0);
        assert_int_equal(pf.euid, id.uid);
        assert_int_equal(pf.cap_eff, 0);
        assert_int_equal(pf.no_new_privs, 1);
    }

    /* The keeper closes the channel: the worker sees end of stream and exits 0. */
    ipc_chan_free(x.ch);
    run_until(&x, has_exited);
    assert_int_equal(x.exited, 1);
    assert_true(WIFEXITED(x.status));
    assert_int_equal(WEXITSTATUS(x.status), 0);
    child_free(x.c);
    close(p[0]);
    close(other[0]);
    close(other[1]);
    uv_run(&x.loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&x.loop), 0);
}

static void test_killed(void **state)
{
    struct ctx x = {0};
    struct privdrop_id id;

    (void)state;
    uv_loop_init(&x.loop);
    x.c = start(&x, "--child-echo", NULL, 0, &id);
    child_kill(x.c, SIGKILL);
    run_until(&x, has_exited);
    assert_int_equal(x.exited, 1);
    assert_true(WIFSIGNALED(x.status));
    assert_int_equal(WTERMSIG(x.status), SIGKILL);
    ipc_chan_free(x.ch);
    child_free(x.c);
    uv_run(&x.loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&x.loop), 0);
}

/* A keeper that dies takes its worker with it, even one that does not read its channel. */
static void test_keeper_death(void **state)
{
    int p[2];
    pid_t keeper, worker = 0;
    char st[256];
    bool gone = false;

    (void)state;
    assert_int_equal(pipe(p), 0);
    keeper = fork();
    assert_true(keeper >= 0);
    if (keeper == 0) {
        struct ctx x = {0};
        struct privdrop_id id;
        pid_t w;

        int ready[2];
        char c;

        uv_loop_init(&x.loop);
        if (pipe(ready) < 0)
            _exit(1);
        x.c = start(&x, "--child-sleep", &ready[1], 1, &id);
        close(ready[1]);
        /* Wait until the worker runs (exec'd), so only the death signal can end it. */
        if (read(ready[0], &c, 1) != 1)
            _exit(1);
        w = child_pid(x.c);
        if (write(p[1], &w, sizeof w) != sizeof w)
            _exit(1);
        _exit(0); /* no cleanup: the keeper just dies */
    }
    close(p[1]);
    assert_int_equal(read(p[0], &worker, sizeof worker), (ssize_t)sizeof worker);
    close(p[0]);
    assert_int_equal(waitpid(keeper, NULL, 0), keeper);
    for (int i = 0; i < 2000 && !gone; i++) {
        FILE *f;
        char path[64];

        snprintf(path, sizeof path, "/proc/%d/stat", (int)worker);
        f = fopen(path, "r");
        if (!f) {
            gone = true;
            break;
        }
        /* A zombie waiting for its new parent counts as gone. */
        if (fgets(st, sizeof st, f) && strstr(st, ") Z "))
            gone = true;
        fclose(f);
        usleep(1000);
    }
    assert_true(gone);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_and_exit),
        cmocka_unit_test(test_killed),
        cmocka_unit_test(test_keeper_death),
    };

    if (argc == 2 && !strcmp(argv[1], "--child-echo"))
        return child_echo();
    if (argc == 2 && !strcmp(argv[1], "--child-sleep")) {
        if (write(4, "r", 1) != 1)
            return 4;
        sleep(30);
        return 3;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
