/* Unit tests for hooks: discovery, the acmetool calling convention, failures and timeouts,
 * with real hook scripts on a real libuv loop; cancelling a run (hooks_cancel). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "common/testutil.h"
#include "hooks/hooks.h"
#include "util/fsio.h"
#include "util/log.h"

struct result {
    int calls;
    int rc;
    unsigned nran;
    char msg[ERR_MSG_MAX];
};

static void on_done(void *arg, int rc, unsigned nran, const struct err *e)
{
    struct result *r = arg;

    r->calls++;
    r->rc = rc;
    r->nran = nran;
    snprintf(r->msg, sizeof r->msg, "%s", e ? e->msg : "(null)");
}

/* Runs the hooks for `event` on a fresh loop until nothing is left, checking that the callback
 * comes exactly once, never synchronously, and that every handle was closed. */
static void run(const struct hooks_opts *o, const char *event, const char *const *args,
                size_t nargs, const char *in, size_t inlen, struct result *r)
{
    uv_loop_t loop;
    struct err e;

    memset(r, 0, sizeof *r);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(hooks_run(&loop, o, event, args, nargs, in, inlen, on_done, r, &e), 0);
    assert_int_equal(r->calls, 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r->calls, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Writes an executable shell script `name` in dir; returns its path (caller frees). */
static char *hook(const char *dir, const char *name, const char *body)
{
    char *path = fsio_join(dir, name);
    char *text = NULL;

    assert_non_null(path);
    assert_true(asprintf(&text, "#!/bin/sh\n%s\n", body) > 0);
    tu_write_file(path, text);
    assert_int_equal(chmod(path, 0755), 0);
    free(text);
    return path;
}

static void add_hook(const char *dir, const char *name, const char *body)
{
    free(hook(dir, name, body));
}

/* A hook that appends "<tag>" to $LOG. */
static void log_hook(const char *dir, const char *name, const char *tag)
{
    char body[256];

    snprintf(body, sizeof body, "echo %s >> \"$LOG\"", tag);
    add_hook(dir, name, body);
}

static char *subdir(const char *dir, const char *name)
{
    char *p = fsio_join(dir, name);

    assert_int_equal(mkdir(p, 0755), 0);
    return p;
}

static void test_calling_convention(void **state)
{
    char *dir = tu_mkdtemp("hooks");
    char *hd = subdir(dir, "hooks");
    char *out = fsio_join(dir, "out");
    char *outenv = NULL;
    const char *dirs[] = {hd};
    const char *args[] = {"example.com", "/var/lib/acme/desired/x", "a b", ""};
    const char *env[] = {"FOO=bar baz", NULL, "EMPTY="};
    struct hooks_opts o = {
        .dirs = dirs, .ndirs = 1, .state_dir = "/srv/acme state", .env = env, .nenv = 3};
    struct result r;
    char *got;

    assert_true(asprintf(&outenv, "OUT=%s", out) > 0);
    env[1] = outenv;
    add_hook(hd, "record",
             "{\n"
             "  printf 'argc=%s\\n' \"$#\"\n"
             "  printf 'arg=[%s]\\n' \"$0\" \"$@\"\n"
             "  printf 'state=%s\\n' \"$ACME_STATE_DIR\"\n"
             "  printf 'foo=%s empty=%s\\n' \"$FOO\" \"${EMPTY-unset}\"\n"
             "  printf 'pass=%s\\n' \"$ACMED_TEST_PASS\"\n"
             "  printf 'notify=%s\\n' \"${NOTIFY_SOCKET-unset}${WATCHDOG_USEC-unset}\"\n"
             "  printf 'cwd=%s\\n' \"$(pwd -P)\"\n"
             "  printf 'stdin='; cat\n"
             "} > \"$OUT\"");
    /* Ours pass through, but the target's env and the state directory win. */
    setenv("ACMED_TEST_PASS", "yes", 1);
    setenv("FOO", "daemon", 1);
    setenv("ACME_STATE_DIR", "/wrong", 1);
    /* systemd's hand-over to the daemon is not the hooks'. */
    setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
    setenv("WATCHDOG_USEC", "300000000", 1);
    run(&o, "challenge-http-start", args, 4, "keyauth\nline2", 13, &r);
    unsetenv("FOO");
    unsetenv("ACME_STATE_DIR");
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.nran, 1);
    got = tu_read_file(out, NULL);
    assert_non_null(got);
    char *expect = NULL;

    assert_true(asprintf(&expect,
                         "argc=5\n"
                         "arg=[%s/record]\n"
                         "arg=[challenge-http-start]\n"
                         "arg=[example.com]\n"
                         "arg=[/var/lib/acme/desired/x]\n"
                         "arg=[a b]\n"
                         "arg=[]\n"
                         "state=/srv/acme state\n"
                         "foo=bar baz empty=\n"
                         "pass=yes\n"
                         "notify=unsetunset\n"
                         "cwd=/\n"
                         "stdin=keyauth\nline2",
                         hd) > 0);
    assert_string_equal(got, expect);
    free(expect);
    free(got);

    /* No stdin at all: the hook reads EOF at once. */
    run(&o, "live-updated", NULL, 0, NULL, 0, &r);
    assert_int_equal(r.rc, 0);
    got = tu_read_file(out, NULL);
    assert_non_null(strstr(got, "argc=1\n"));
    assert_non_null(strstr(got, "stdin="));
    assert_string_equal(strstr(got, "stdin="), "stdin=");
    free(got);
    free(outenv);
    free(out);
    free(hd);
    tu_rmtree(dir);
    free(dir);
}

static void test_order_masking_disabling(void **state)
{
    char *dir = tu_mkdtemp("hooks");
    char *d1 = subdir(dir, "d1");
    char *d2 = subdir(dir, "d2");
    char *d3 = fsio_join(dir, "missing");
    char *log = fsio_join(dir, "log");
    char *p;
    const char *dirs[] = {d1, d3, d2};
    struct hooks_opts o = {.dirs = dirs, .ndirs = 3};
    struct result r;
    char **paths = NULL;
    size_t n = 0;
    struct err e;

    setenv("LOG", log, 1);
    log_hook(d1, "20-b", "d1-20");
    log_hook(d1, "10-both", "d1-10");
    log_hook(d2, "10-both", "d2-10");
    log_hook(d2, "05-a", "d2-05");
    log_hook(d2, "50-e", "d2-50");
    /* Disabled in d1 by an empty file and by a link to /dev/null. */
    p = fsio_join(d1, "30-empty");
    tu_write_file(p, "");
    assert_int_equal(chmod(p, 0755), 0);
    free(p);
    log_hook(d2, "30-empty", "d2-30");
    p = fsio_join(d1, "40-null");
    assert_int_equal(symlink("/dev/null", p), 0);
    free(p);
    log_hook(d2, "40-null", "d2-40");
    /* Dotfiles never run, nor mask. */
    log_hook(d1, ".hidden", "d1-hidden");
    log_hook(d1, ".60-dot", "d1-dot");
    log_hook(d2, "60-dot", "d2-60");
    /* A symlink to a hook elsewhere is followed. */
    p = fsio_join(d1, "70-link");
    assert_int_equal(symlink("../d2/05-a", p), 0);
    free(p);

    run(&o, "live-updated", NULL, 0, NULL, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.nran, 6);
    char *got = tu_read_file(log, NULL);

    assert_non_null(got);
    assert_string_equal(got, "d2-05\nd1-10\nd1-20\nd2-50\nd2-60\nd2-05\n");
    free(got);

    assert_int_equal(hooks_discover(&o, &paths, &n, &e), 0);
    assert_int_equal(n, 6);
    p = fsio_join(d1, "10-both");
    assert_string_equal(paths[1], p);
    free(p);
    for (size_t i = 0; i < n; i++)
        assert_true(paths[i][0] == '/');
    hooks_paths_free(paths, n);

    /* A relative directory is anchored to our working directory. */
    char cwd[4096];
    const char *rel[] = {"d2"};
    struct hooks_opts ro = {.dirs = rel, .ndirs = 1};

    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(hooks_discover(&ro, &paths, &n, &e), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(n, 6);
    p = fsio_join(d2, "05-a");
    assert_string_equal(paths[0], p);
    free(p);
    hooks_paths_free(paths, n);

    unsetenv("LOG");
    free(log);
    free(d1);
    free(d2);
    free(d3);
    tu_rmtree(dir);
    free(dir);
}

static void test_refused(void **state)
{
    char *dir = tu_mkdtemp("hooks");
    char *d1 = subdir(dir, "d1");
    char *ww = subdir(dir, "ww");
    char *d2 = subdir(dir, "d2");
    char *log = fsio_join(dir, "log");
    char *p;
    const char *dirs[] = {d1, ww, d2};
    struct hooks_opts o = {.dirs = dirs, .ndirs = 3};
    struct result r;

    setenv("LOG", log, 1);
    p = hook(d1, "10-ww", "echo d1-10 >> \"$LOG\"");
    assert_int_equal(chmod(p, 0757), 0);
    free(p);
    p = hook(d1, "20-noexec", "echo d1-20 >> \"$LOG\"");
    assert_int_equal(chmod(p, 0644), 0);
    free(p);
    free(subdir(d1, "30-dir"));
    log_hook(d1, "40-ok", "d1-40");
    /* A refused hook still masks its name: d2's copy does not stand in for it. */
    log_hook(d2, "10-ww", "d2-10");
    /* Nothing in a world-writable directory runs, and nothing there masks d2. */
    log_hook(ww, "50-ww", "ww-50");
    log_hook(ww, "60-x", "ww-60");
    log_hook(d2, "60-x", "d2-60");
    assert_int_equal(chmod(ww, 0777), 0);

    run(&o, "live-updated", NULL, 0, NULL, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.nran, 2);
    char *got = tu_read_file(log, NULL);

    assert_non_null(got);
    assert_string_equal(got, "d1-40\nd2-60\n");
    free(got);
    unsetenv("LOG");
    free(log);
    free(d1);
    free(d2);
    free(ww);
    tu_rmtree(dir);
    free(dir);
}

static void test_exit_statuses(void **state)
{
    char *dir = tu_mkdtemp("hooks");
    char *hd = subdir(dir, "hooks");
    char *log = fsio_join(dir, "log");
    const char *dirs[] = {hd};
    struct hooks_opts o = {.dirs = dirs, .ndirs = 1};
    struct result r;

    setenv("LOG", log, 1);
    add_hook(hd, "10-notmine", "echo 10 >> \"$LOG\"; exit 42");
    run(&o, "challenge-dns-start", NULL, 0, NULL, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.nran, 0);

    /* A failure does not stop the others; the first one is reported. */
    add_hook(hd, "20-fail", "echo 20 >> \"$LOG\"; exit 1");
    add_hook(hd, "30-ok", "echo 30 >> \"$LOG\"; exit 0");
    add_hook(hd, "40-fail", "echo 40 >> \"$LOG\"; exit 3");
    add_hook(hd, "50-ok", "echo 50 >> \"$LOG\"");
    unlink(log);
    run(&o, "challenge-dns-start", NULL, 0, NULL, 0, &r);
    assert_int_equal(r.rc, -EIO);
    assert_int_equal(r.nran, 2);
    assert_non_null(strstr(r.msg, "20-fail"));
    assert_non_null(strstr(r.msg, "status 1"));
    assert_non_null(strstr(r.msg, "challenge-dns-start"));
    char *got = tu_read_file(log, NULL);

    assert_string_equal(got, "10\n20\n30\n40\n50\n");
    free(got);
    unsetenv("LOG");
    tu_rmtree(hd);
    assert_int_equal(mkdir(hd, 0755), 0);

    /* Killed by a signal. */
    add_hook(hd, "10-sig", "kill -KILL $$");
    run(&o, "live-updated", NULL, 0, NULL, 0, &r);
    assert_int_equal(r.rc, -EIO);
    assert_non_null(strstr(r.msg, "10-sig"));
    assert_non_null(strstr(r.msg, "signal 9"));

    /* Cannot be executed at all (no such interpreter): a failure naming the hook, and the
     * next hook still runs. */
    add_hook(hd, "00-badinterp", "");
    char *p = fsio_join(hd, "00-badinterp");

    tu_write_file(p, "#!/nonexistent/interpreter\n");
    free(p);
    run(&o, "live-updated", NULL, 0, NULL, 0, &r);
    assert_true(r.rc < 0);
    assert_non_null(strstr(r.msg, "00-badinterp"));
    free(log);
    free(hd);
    tu_rmtree(dir);
    free(dir);
}

/* True when pid is gone: no such process, or a zombie waiting for a parent that does not reap
 * (PID 1 in a container may not). */
static int pid_gone(pid_t pid)
{
    char path[64], buf[512];
    FILE *f;
    char *rp;

    if (kill(pid, 0) < 0 && errno == ESRCH)
        return 1;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return 1;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    fclose(f);
    rp = strrchr(buf, ')');
    return rp && (rp[2] == 'Z' || rp[2] == 'X');
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_timeout_kills_group(void **state)
{
    char *dir = tu_mkdtemp("hooks");
    char *hd = subdir(dir, "hooks");
    char *pids = fsio_join(dir, "pids");
    const char *dirs[] = {hd};
    struct hooks_opts o = {.dirs = dirs, .ndirs = 1, .timeout_s = 1};
    struct result r;
    long pid[3];
    double t0, elapsed;

    setenv("PIDS", pids, 1);
    /* The hook, a child, and a child that ignores SIGTERM (only SIGKILL ends it). */
    add_hook(hd, "10-slow",
             "echo $$ > \"$PIDS\"\n"
             "sleep 30 >/dev/null 2>&1 &\n"
             "echo $! >> \"$PIDS\"\n"
             "(trap '' TERM; exec sleep 30 >/dev/null 2>&1) &\n"
             "echo $! >> \"$PIDS\"\n"
             "wait");
    log_hook(hd, "20-next", "next");
    setenv("LOG", pids, 1); /* 20-next appends "next" after the pids */
    t0 = now_s();
    run(&o, "challenge-http-start", NULL, 0, NULL, 0, &r);
    elapsed = now_s() - t0;
    assert_int_equal(r.rc, -ETIMEDOUT);
    assert_int_equal(r.nran, 1);
    assert_non_null(strstr(r.msg, "10-slow"));
    assert_non_null(strstr(r.msg, "timed out"));
    assert_true(elapsed >= 1.0);
    assert_true(elapsed < 4.0);

    char *got = tu_read_file(pids, NULL);

    assert_non_null(got);
    assert_int_equal(sscanf(got, "%ld %ld %ld", &pid[0], &pid[1], &pid[2]), 3);
    assert_non_null(strstr(got, "next\n"));
    free(got);
    /* SIGKILL was sent before the callback; give the kernel a moment to finish them. */
    for (int i = 0; i < 3; i++) {
        int gone = 0;

        for (int k = 0; k < 100 && !(gone = pid_gone((pid_t)pid[i])); k++)
            usleep(10000);
        assert_true(gone);
    }
    unsetenv("PIDS");
    unsetenv("LOG");
    free(pids);
    free(hd);
    tu_rmtree(dir);
    free(dir);
}

/* hooks_cancel (a forced stop): the running hook's whole group is ended, by SIGKILL for what
 * ignores SIGTERM, the hooks after it do not run, and the callback comes once with
 * -ECANCELED, HOOKS_KILL_GRACE_MS after the cancel at most (and a bit). A run on another loop
 * is left alone. */
struct cancel_at {
    uv_timer_t timer;
    const char *pids;
    double t0;
};

static void on_cancel_poll(uv_timer_t *t)
{
    struct cancel_at *c = t->data;
    char *got = tu_read_file(c->pids, NULL);
    int lines = 0;

    for (const char *p = got; p && *p; p++)
        lines += *p == '\n';
    free(got);
    if (lines < 3)
        return;
    uv_timer_stop(t);
    c->t0 = now_s();
    hooks_cancel(t->loop);
}

static void test_cancel_kills_group(void **state)
{
    char *dir = tu_mkdtemp("hooks");
    char *hd = subdir(dir, "hooks");
    char *pids = fsio_join(dir, "pids");
    const char *dirs[] = {hd};
    struct hooks_opts o = {.dirs = dirs, .ndirs = 1, .timeout_s = 60};
    struct cancel_at c = {.pids = pids};
    struct result r, other;
    uv_loop_t loop, loop2;
    struct err e;
    long pid[3];
    double elapsed;

    setenv("PIDS", pids, 1);
    setenv("LOG", pids, 1);
    /* The hook ignores SIGTERM, and so do its children (inherited across exec). */
    add_hook(hd, "10-slow",
             "[ \"$1\" = challenge-http-start ] || exit 0\n"
             "trap '' TERM\n"
             "echo $$ >> \"$PIDS\"\n"
             "sleep 30 >/dev/null 2>&1 &\n"
             "echo $! >> \"$PIDS\"\n"
             "sleep 30 >/dev/null 2>&1 &\n"
             "echo $! >> \"$PIDS\"\n"
             "wait\n"
             "echo ended >> \"$PIDS\"");
    log_hook(hd, "20-next", "next");
    memset(&r, 0, sizeof r);
    memset(&other, 0, sizeof other);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(uv_loop_init(&loop2), 0);
    /* A run on another loop, not yet started (its loop does not run): not cancelled. */
    assert_int_equal(hooks_run(&loop2, &o, "other", NULL, 0, NULL, 0, on_done, &other, &e), 0);
    assert_int_equal(
        hooks_run(&loop, &o, "challenge-http-start", NULL, 0, NULL, 0, on_done, &r, &e), 0);
    uv_timer_init(&loop, &c.timer);
    c.timer.data = &c;
    uv_timer_start(&c.timer, on_cancel_poll, 20, 20);
    assert_true(tu_run_until(&loop, &r.calls, 10000));
    elapsed = now_s() - c.t0;
    uv_close((uv_handle_t *)&c.timer, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, -ECANCELED);
    assert_int_equal(r.nran, 0);
    assert_non_null(strstr(r.msg, "cancelled"));
    assert_true(elapsed >= HOOKS_KILL_GRACE_MS / 1000.0 - 0.05);
    assert_true(elapsed < HOOKS_KILL_GRACE_MS / 1000.0 + 2.0);

    char *got = tu_read_file(pids, NULL);

    assert_non_null(got);
    assert_int_equal(sscanf(got, "%ld %ld %ld", &pid[0], &pid[1], &pid[2]), 3);
    assert_null(strstr(got, "next")); /* no hook after the cancelled one */
    assert_null(strstr(got, "ended"));
    free(got);
    for (int i = 0; i < 3; i++) {
        int gone = 0;

        for (int k = 0; k < 100 && !(gone = pid_gone((pid_t)pid[i])); k++)
            usleep(10000);
        assert_true(gone);
    }
    /* The other loop's run goes on as usual. */
    assert_int_equal(uv_run(&loop2, UV_RUN_DEFAULT), 0);
    assert_int_equal(other.calls, 1);
    assert_int_equal(other.rc, 0);
    assert_int_equal(other.nran, 2);
    assert_int_equal(uv_loop_close(&loop2), 0);
    unsetenv("PIDS");
    unsetenv("LOG");
    free(pids);
    free(hd);
    tu_rmtree(dir);
    free(dir);
}

static void test_unread_stdin(void **state)
{
    char *dir = tu_mkdtemp("hooks");
    char *hd = subdir(dir, "hooks");
    const char *dirs[] = {hd};
    struct hooks_opts o = {.dirs = dirs, .ndirs = 1, .timeout_s = 10};
    size_t len = 4 << 20;
    char *big = malloc(len);
    struct result r;
    double t0;

    assert_non_null(big);
    memset(big, 'x', len);
    /* Exits without reading, while a child keeps stdin open: our write can neither finish
     * nor fail, and must be abandoned when the hook exits. */
    add_hook(hd, "10-ignore", "sleep 2 >/dev/null 2>&1 &\nexit 0");
    add_hook(hd, "20-closed", "exec 0<&-; exit 0");
    t0 = now_s();
    run(&o, "live-updated", NULL, 0, big, len, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.nran, 2);
    assert_true(now_s() - t0 < 1.5);
    free(big);
    free(hd);
    tu_rmtree(dir);
    free(dir);
}

static void test_no_hooks_and_bad_args(void **state)
{
    char *dir = tu_mkdtemp("hooks");
    char *missing = fsio_join(dir, "missing");
    const char *dirs[] = {dir, missing};
    struct hooks_opts o = {.dirs = dirs, .ndirs = 2};
    const char *badenv[] = {"NOEQUALS"};
    struct hooks_opts bo = {.dirs = dirs, .ndirs = 2, .env = badenv, .nenv = 1};
    struct result r;
    struct err e;
    uv_loop_t loop;

    run(&o, "live-updated", NULL, 0, "a\n", 2, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.nran, 0);
    assert_int_equal(o.ndirs, 2);

    /* Refused calls never call back and leave nothing on the loop. */
    memset(&r, 0, sizeof r);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(hooks_run(&loop, &o, "../x", NULL, 0, NULL, 0, on_done, &r, &e), -EINVAL);
    assert_int_equal(hooks_run(&loop, &o, "", NULL, 0, NULL, 0, on_done, &r, &e), -EINVAL);
    assert_int_equal(hooks_run(&loop, &bo, "live-updated", NULL, 0, NULL, 0, on_done, &r, &e),
                     -EINVAL);
    assert_non_null(strstr(e.msg, "NOEQUALS"));
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(missing);
    tu_rmtree(dir);
    free(dir);
}

/* Runs the hooks like run(), with our stderr (where the log goes) sent to the file `path`. */
static void run_logged(const char *path, const struct hooks_opts *o, const char *event,
                       struct result *r)
{
    int saved, fd;

    fflush(stderr);
    saved = dup(2);
    assert_true(saved >= 0);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);
    run(o, event, NULL, 0, NULL, 0, r);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
}

static void test_output_logged(void **state)
{
    char *dir = tu_mkdtemp("hooks");
    char *hd = subdir(dir, "hooks");
    char *logf = fsio_join(dir, "log");
    const char *dirs[] = {hd};
    struct hooks_opts o = {.dirs = dirs, .ndirs = 1, .timeout_s = 10};
    struct result r;
    size_t xs = 0, pieces = 0;
    double t0;
    char *got, *line, *save = NULL;

    unsetenv("JOURNAL_STREAM");
    log_init();
    add_hook(hd, "10-talk",
             "echo 'to stdout'\n"
             "echo 'to stderr' >&2\n"
             "printf '\\n\\r\\n'\n"
             "printf 'esc\\033[31m red\\r\\n'\n"
             "head -c 10000 /dev/zero | tr '\\0' x; echo\n"
             "printf 'no newline at end'");
    /* A child keeps stdout open long after the hook is gone (as a restarted daemon may):
     * what the hook wrote is logged, and nobody waits for the child. */
    add_hook(hd, "20-linger", "echo before; (sleep 5; echo late) & echo after; exit 3");
    t0 = now_s();
    run_logged(logf, &o, "live-updated", &r);
    assert_true(now_s() - t0 < 4.0);
    assert_int_equal(r.rc, -EIO);
    assert_int_equal(r.nran, 1);
    got = tu_read_file(logf, NULL);
    assert_non_null(got);
    assert_non_null(strstr(got, "acmed: hook 10-talk: to stdout\n"));
    assert_non_null(strstr(got, "acmed: hook 10-talk: to stderr\n"));
    assert_non_null(strstr(got, "acmed: hook 10-talk: esc?[31m red\n"));
    assert_non_null(strstr(got, "acmed: hook 10-talk: no newline at end\n"));
    assert_true(strstr(got, "to stdout") < strstr(got, "no newline at end"));
    assert_non_null(strstr(got, "acmed: hook 20-linger: before\n"));
    assert_non_null(strstr(got, "acmed: hook 20-linger: after\n"));
    assert_null(strstr(got, "late"));
    assert_null(strstr(got, "hook 10-talk: \n"));
    /* The 10,000-character line arrives whole, in pieces that each fit one log message. */
    for (line = strtok_r(got, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *p = "acmed: hook 10-talk: x";

        if (strncmp(line, p, strlen(p)) != 0)
            continue;
        line += strlen(p) - 1;
        assert_int_equal(strspn(line, "x"), strlen(line));
        assert_true(strlen("hook 10-talk: ") + strlen(line) < 4096);
        xs += strlen(line);
        pieces++;
    }
    assert_int_equal(xs, 10000);
    assert_int_equal(pieces, 3);
    free(got);
    free(logf);
    free(hd);
    tu_rmtree(dir);
    free(dir);
}

static void chown_path(const char *path, uid_t uid)
{
    assert_int_equal(lchown(path, uid, (gid_t)-1), 0);
}

/* Hooks run as root: one that another user owns or could have changed does not run. Needs
 * root, to give files to uid 65534. */
static void test_ownership(void **state)
{
    char *dir, *d1, *gw, *st, *d2, *other, *log, *logf, *p, *want = NULL;
    const char *dirs[4];
    struct hooks_opts o = {.dirs = dirs, .ndirs = 4};
    struct result r;
    char *got;

    if (geteuid() != 0)
        skip();
    dir = tu_mkdtemp("hooks");
    d1 = subdir(dir, "d1");
    gw = subdir(dir, "gw");
    st = subdir(dir, "sticky");
    d2 = subdir(dir, "d2");
    other = subdir(dir, "other");
    log = fsio_join(dir, "log");
    logf = fsio_join(dir, "stderr");
    dirs[0] = d1;
    dirs[1] = gw;
    dirs[2] = st;
    dirs[3] = d2;
    setenv("LOG", log, 1);
    /* A good hook runs. */
    log_hook(d1, "10-good", "d1-10");
    /* A hook owned by someone else does not, and still masks its name (d2's copy). */
    p = hook(d1, "20-theirs", "echo d1-20 >> \"$LOG\"");
    chown_path(p, 65534);
    free(p);
    log_hook(d2, "20-theirs", "d2-20");
    /* Nothing in a group-writable directory runs, nor masks. */
    log_hook(gw, "30-gw", "gw-30");
    log_hook(gw, "35-gw", "gw-35");
    log_hook(d2, "35-gw", "d2-35");
    assert_int_equal(chmod(gw, 0775), 0);
    /* A root-owned hook in a sticky directory anyone can write to (as /tmp) runs... */
    assert_int_equal(chmod(st, 01777), 0);
    log_hook(st, "40-sticky", "st-40");
    /* ...and what someone else put there neither runs nor masks d2's hook. */
    p = hook(st, "50-planted", "echo st-50 >> \"$LOG\"");
    chown_path(p, 65534);
    free(p);
    log_hook(d2, "50-planted", "d2-50");
    /* A link is followed only to a target that passes too: here a root-owned hook in a
     * directory another user owns. */
    log_hook(other, "x", "other-x");
    chown_path(other, 65534);
    p = fsio_join(d1, "60-link");
    assert_int_equal(symlink("../other/x", p), 0);
    free(p);
    log_hook(d2, "60-link", "d2-60");
    /* A link to a good hook runs. */
    p = fsio_join(d1, "70-goodlink");
    assert_int_equal(symlink("10-good", p), 0);
    free(p);

    run_logged(logf, &o, "live-updated", &r);
    got = tu_read_file(log, NULL);
    assert_non_null(got);
    /* Refusals are warnings, not failures of the event. */
    assert_int_equal(r.rc, 0);
    assert_string_equal(got, "d1-10\nd2-35\nst-40\nd2-50\nd1-10\n");
    assert_int_equal(r.nran, 5);
    free(got);
    got = tu_read_file(logf, NULL);
    assert_non_null(got);
    assert_true(asprintf(&want,
                         "refusing hook %s/20-theirs: %s/20-theirs is not owned by root "
                         "(owner uid 65534",
                         d1, d1) > 0);
    assert_non_null(strstr(got, want));
    free(want);
    assert_true(asprintf(&want, "refusing hook directory %s: %s is writable by group", gw, gw) > 0);
    assert_non_null(strstr(got, want));
    free(want);
    assert_true(asprintf(&want, "ignoring hook %s/50-planted: owned by uid 65534", st) > 0);
    assert_non_null(strstr(got, want));
    free(want);
    assert_true(asprintf(&want, "refusing hook %s/60-link: %s is not owned by root", d1, other) >
                0);
    assert_non_null(strstr(got, want));
    free(want);
    free(got);

    /* hooks_discover agrees. */
    char **paths = NULL;
    size_t n = 0;
    struct err e;

    assert_int_equal(hooks_discover(&o, &paths, &n, &e), 0);
    assert_int_equal(n, 5);
    p = fsio_join(st, "40-sticky");
    assert_string_equal(paths[2], p);
    free(p);
    hooks_paths_free(paths, n);
    unsetenv("LOG");
    free(log);
    free(logf);
    free(d1);
    free(gw);
    free(st);
    free(d2);
    free(other);
    tu_rmtree(dir);
    free(dir);
}

/* challenge.env cannot reach past what the schema allows, even when handed to hooks_run
 * directly: the daemon's own PATH stays, LD_PRELOAD and friends never arrive. */
static void test_env_filtered(void **state)
{
    char *dir = tu_mkdtemp("hooks");
    char *hd = subdir(dir, "hooks");
    char *out = fsio_join(dir, "out");
    char *outenv = NULL, *got, *want = NULL;
    const char *dirs[] = {hd};
    /* clang-format off */
    const char *env[] = {"LD_PRELOAD=/nonexistent/evil.so", "PATH=/evil", "BASH_ENV=/evil/rc",
                         "IFS=x", "PYTHONPATH=/evil", "ZONE=example", NULL,
                         "BASH_FUNC_f%%=() { id; }"};
    /* clang-format on */
    struct hooks_opts o = {.dirs = dirs, .ndirs = 1, .env = env, .nenv = 8};
    struct result r;

    assert_true(asprintf(&outenv, "OUT=%s", out) > 0);
    env[6] = outenv;
    unsetenv("LD_PRELOAD");
    unsetenv("BASH_ENV");
    unsetenv("PYTHONPATH");
    add_hook(hd, "record",
             "printf '%s|%s|%s|%s|%s\\n' \"${LD_PRELOAD-unset}\" \"$PATH\" "
             "\"${BASH_ENV-unset}\" \"${PYTHONPATH-unset}\" \"$ZONE\" > \"$OUT\"\n"
             "env | grep -c '^BASH_FUNC_' >> \"$OUT\"; exit 0");
    run(&o, "live-updated", NULL, 0, NULL, 0, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.nran, 1);
    got = tu_read_file(out, NULL);
    assert_non_null(got);
    assert_true(asprintf(&want, "unset|%s|unset|unset|example\n0\n", getenv("PATH")) > 0);
    assert_string_equal(got, want);
    free(want);
    free(got);
    free(outenv);
    free(out);
    free(hd);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calling_convention),
        cmocka_unit_test(test_order_masking_disabling),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_exit_statuses),
        cmocka_unit_test(test_timeout_kills_group),
        cmocka_unit_test(test_cancel_kills_group),
        cmocka_unit_test(test_unread_stdin),
        cmocka_unit_test(test_no_hooks_and_bad_args),
        cmocka_unit_test(test_output_logged),
        cmocka_unit_test(test_ownership),
        cmocka_unit_test(test_env_filtered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
