/* Unit tests for privsep/supervisor: the worker is restarted at once, then with a backoff;
 * a worker that breaks the channel's rules is killed and restarted. This binary is its own
 * worker (argv[1] picks what it does). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "privsep/ipc.h"
#include "privsep/supervisor.h"

extern char **environ;

struct obs {
    uv_loop_t loop;
    struct supervisor *s;
    unsigned ups, downs, frames;
    int last_status;
    uint64_t up_at[8];
};

static void up(void *arg)
{
    struct obs *o = arg;

    if (o->ups < 8)
        o->up_at[o->ups] = uv_now(&o->loop);
    o->ups++;
}

static void frame(void *arg, const uint8_t *f, size_t len)
{
    struct obs *o = arg;

    (void)f;
    (void)len;
    o->frames++;
}

static void down(void *arg, int status, const struct err *why)
{
    struct obs *o = arg;

    (void)why;
    o->downs++;
    o->last_status = status;
}

static void run_for(struct obs *o, unsigned ms)
{
    uint64_t end = uv_now(&o->loop) + ms;

    while (uv_now(&o->loop) < end) {
        uv_run(&o->loop, UV_RUN_NOWAIT);
        usleep(2000);
        uv_update_time(&o->loop);
    }
}

static struct supervisor *start(struct obs *o, const char *mode, struct privdrop_id *id)
{
    static char name[] = "acmed: worker";
    static char m[32];
    static char *argv[3];
    struct child_spec spec = {.envp = environ};
    struct supervisor_cbs cbs = {up, frame, down, o};
    struct err e = {0};
    struct supervisor *s;

    snprintf(m, sizeof m, "%s", mode);
    argv[0] = name;
    argv[1] = m;
    argv[2] = NULL;
    assert_int_equal(privdrop_resolve("nobody", id, &e), 0);
    spec.id = geteuid() == 0 ? id : NULL;
    spec.argv = argv;
    spec.self_fd = privdrop_self_open(&e);
    assert_true(spec.self_fd >= 0);
    s = supervisor_start(&o->loop, &spec, &cbs, &e);
    assert_non_null(s);
    return s;
}

/* A worker that dies at once: started, restarted at once, then after 1 s, then 2 s. */
static void test_backoff(void **state)
{
    struct obs o = {0};
    struct privdrop_id id;

    (void)state;
    uv_loop_init(&o.loop);
    o.s = start(&o, "--exit-3", &id);
    run_for(&o, 1600);
    assert_int_equal(o.ups, 3);
    assert_true(o.downs >= 2);
    assert_true(WIFEXITED(o.last_status));
    assert_int_equal(WEXITSTATUS(o.last_status), 3);
    /* at once, then about a second later */
    assert_true(o.up_at[1] - o.up_at[0] < 500);
    assert_true(o.up_at[2] - o.up_at[1] >= 900);
    supervisor_free(o.s);
    uv_run(&o.loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&o.loop), 0);
}

/* A worker that sends a frame with an impossible length is killed and restarted; a good one
 * reaches the owner. */
static void test_reject(void **state)
{
    struct obs o = {0};
    struct privdrop_id id;
    pid_t first;

    (void)state;
    uv_loop_init(&o.loop);
    o.s = start(&o, "--bad-frame", &id);
    assert_int_equal(supervisor_pid(o.s), 0); /* started from the loop */
    while (o.ups == 0)
        uv_run(&o.loop, UV_RUN_ONCE);
    first = supervisor_pid(o.s);
    assert_true(first > 0);
    run_for(&o, 400);
    /* Each worker's good frame reached the owner before its bad one got it killed. */
    assert_true(o.downs >= 1);
    assert_true(o.ups >= 2);
    assert_true(o.frames >= 1 && o.frames <= o.ups);
    assert_true(WIFSIGNALED(o.last_status) || WIFEXITED(o.last_status));
    if (WIFSIGNALED(o.last_status))
        assert_int_equal(WTERMSIG(o.last_status), SIGKILL);
    assert_true(supervisor_pid(o.s) != first);
    supervisor_free(o.s);
    uv_run(&o.loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&o.loop), 0);
}

/* Freeing the supervisor takes a live worker down with it. */
static void test_free_kills(void **state)
{
    struct obs o = {0};
    struct privdrop_id id;
    pid_t pid;

    (void)state;
    uv_loop_init(&o.loop);
    o.s = start(&o, "--sleep", &id);
    run_for(&o, 50);
    pid = supervisor_pid(o.s);
    assert_true(pid > 0);
    supervisor_free(o.s);
    uv_run(&o.loop, UV_RUN_NOWAIT);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(uv_loop_close(&o.loop), 0);
}

static int worker(const char *mode)
{
    if (!strcmp(mode, "--exit-3"))
        return 3;
    if (!strcmp(mode, "--sleep")) {
        sleep(30);
        return 0;
    }
    if (!strcmp(mode, "--bad-frame")) {
        struct ipc_out o;
        struct err e;
        uint8_t bad[6] = {0x7f, 0xff, 0xff, 0xff, 0, 1};

        ipc_out_begin(&o, 1);
        ipc_put_u64(&o, 1, 42);
        if (ipc_out_end(&o, &e) < 0 || write(3, o.b.data, o.b.len) != (ssize_t)o.b.len ||
            write(3, bad, sizeof bad) != (ssize_t)sizeof bad)
            return 1;
        sleep(30);
        return 0;
    }
    return 2;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_reject),
        cmocka_unit_test(test_free_kills),
    };

    if (argc == 2 && !strncmp(argv[0], "acmed: worker", 13))
        return worker(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
