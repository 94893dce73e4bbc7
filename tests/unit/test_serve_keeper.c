/* Unit tests for serve/serve_keeper against a hostile worker (acmed serve under privilege
 * separation): this binary is its own worker, as in test_keeper.c (ACMED_TEST_WORKER says how
 * it behaves). The keeper hands it the endpoint's socket (WMSG_SERVE) without any HMAC key in
 * any frame; a request it forwards with a garbage body from an allowed peer is answered 415
 * (WMSG_ANSWER) and one from a stranger 403, decided in the keeper; a request whose peer is not
 * an IP address or whose body is over max-size is a breach: the keeper ends that worker and
 * starts another, which gets the socket again. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fake_worker.h"
#include "common/testutil.h"
#include "net/listen_sock.h"
#include "privsep/child.h"
#include "privsep/keeper.h"
#include "privsep/wmsg.h"
#include "serve/serve_back.h"
#include "serve/serve_conf.h"
#include "serve/serve_keeper.h"

#define KEY_TEXT "unit-test-hmac-key-8d1f"

/* ---- the worker side, by hand, blocking ---- */

/* One frame from the keeper (fw_next_msg); -2 when it holds the HMAC key's text. */
static int next_msg(uint8_t **buf, struct ipc_msg *m)
{
    int rc = fw_next_msg(buf, m);

    if (*buf && memmem(*buf, fw_last_len(), KEY_TEXT, strlen(KEY_TEXT)))
        return -2;
    return rc;
}

static void ask(uint64_t id, const struct sockaddr *peer, size_t plen, const char *body,
                size_t blen)
{
    struct ipc_out o;

    ipc_out_begin(&o, WMSG_ASK);
    ipc_put_u64(&o, WMSG_T_ID, id);
    ipc_put_bytes(&o, WMSG_T_PEER, peer, plen);
    ipc_put_bytes(&o, WMSG_T_BODY, body, blen);
    fw_send(&o);
}

/* Waits for the answer to id; its status, or -1. */
static int answer_of(uint64_t id, struct ipc_msg *m)
{
    for (;;) {
        uint8_t *buf = NULL;
        uint64_t got = 0, status = 0;
        int rc = next_msg(&buf, m);

        if (rc < 0) {
            free(buf);
            return -1;
        }
        if (m->type == WMSG_ANSWER) {
            ipc_get_u64(m, WMSG_T_ID, 0, &got);
            ipc_get_u64(m, WMSG_T_STATUS, 0, &status);
            free(buf);
            if (got == id)
                return (int)status;
            continue;
        }
        free(buf);
    }
}

/* The worker: takes the endpoint (no key in any frame), then in its first life asks twice
 * (allowed peer, stranger) and, when the answers are 415 and 403, commits the breach its mode
 * names; in later lives it only reads. */
static int fake_worker(void)
{
    const char *mode = getenv("ACMED_TEST_WORKER");
    const char *first = getenv("ACMED_TEST_FIRST");
    struct ipc_msg *m = malloc(sizeof *m);
    struct sockaddr_in ok = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    struct sockaddr_in stranger = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000009)};
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    static char big[5000];
    uint8_t *buf = NULL;
    int rc;

    if (!m || !mode)
        return 2;
    /* Up to the endpoint's socket. */
    do {
        free(buf);
        buf = NULL;
        if ((rc = next_msg(&buf, m)) < 0)
            return rc == -2 ? 9 : 0;
    } while (m->type != WMSG_SERVE);
    free(buf);
    /* Later workers: the file ACMED_TEST_FIRST exists once the first has run. */
    if (access(first, F_OK) == 0) {
        for (;;) {
            buf = NULL;
            if ((rc = next_msg(&buf, m)) < 0)
                return rc == -2 ? 9 : 0;
            free(buf);
        }
    }
    if (close(open(first, O_CREAT | O_WRONLY, 0600)) < 0)
        return 3;
    ask(1, (struct sockaddr *)&ok, sizeof ok, "garbage", 7);
    if (answer_of(1, m) != 415)
        return 4;
    ask(2, (struct sockaddr *)&stranger, sizeof stranger, "garbage", 7);
    if (answer_of(2, m) != 403)
        return 4;
    {
        char ok_path[600];

        snprintf(ok_path, sizeof ok_path, "%s.ok", first);
        if (close(open(ok_path, O_CREAT | O_WRONLY, 0600)) < 0)
            return 3;
    }
    if (!strcmp(mode, "unix-peer")) {
        ask(3, (struct sockaddr *)&un, sizeof un, "x", 1);
    } else if (!strcmp(mode, "big-body")) {
        memset(big, 'A', sizeof big);
        ask(3, (struct sockaddr *)&ok, sizeof ok, big, sizeof big);
    } else if (!strcmp(mode, "polite")) {
        /* nothing more */
    }
    for (;;) {
        buf = NULL;
        if ((rc = next_msg(&buf, m)) < 0)
            return rc == -2 ? 9 : 0;
        free(buf);
    }
}

/* ---- the keeper side ---- */

struct fx {
    uv_loop_t loop;
    struct keeper *k;
    struct privdrop_id id;
    struct serve_conf conf;
    struct serve_back *b;
    struct serve_keeper *sk;
    struct rec_opts ro;
    char *dir, first[512], ok[520], ca[512];
    int fd;
};

static void fx_start(struct fx *x, const char *mode)
{
    struct keeper_opts ko = {0};
    struct serve_back_opts bo = {0};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    char key[512], *yaml = NULL;
    struct err e = {0};

    assert_non_null(x->dir = tu_mkdtemp("serve-keeper"));
    /* The worker (nobody, as root) leaves its marks in a directory of its own. */
    snprintf(x->first, sizeof x->first, "%s/marks", x->dir);
    assert_int_equal(mkdir(x->first, 0777), 0);
    assert_int_equal(chmod(x->first, 0777), 0);
    assert_int_equal(chmod(x->dir, 0755), 0);
    snprintf(x->first, sizeof x->first, "%s/marks/first", x->dir);
    snprintf(x->ok, sizeof x->ok, "%s/marks/first.ok", x->dir);
    snprintf(key, sizeof key, "%s/secure.key", x->dir);
    tu_write_file(key, KEY_TEXT "\n");
    assert_int_equal(chmod(key, 0600), 0);
    assert_true(asprintf(&yaml,
                         "listen: [\"127.0.0.1:1313\"]\n"
                         "clients:\n"
                         "  plain: {ip: [127.0.0.1], domains: [\"*.x.test\"]}\n"
                         "  secure: {ip: [127.0.0.2], hmac-key-file: %s, domains: [a.x.test]}\n",
                         key) > 0);
    assert_int_equal(serve_conf_parse("conf/serve.yaml", yaml, strlen(yaml), &x->conf, &e), 0);
    free(yaml);
    setenv("ACMED_TEST_WORKER", mode, 1);
    setenv("ACMED_TEST_FIRST", x->first, 1);
    assert_int_equal(uv_loop_init(&x->loop), 0);
    assert_int_equal(privdrop_resolve("nobody", &x->id, &e), 0);
    ko.id = geteuid() == 0 ? &x->id : NULL;
    snprintf(x->ca, sizeof x->ca, "%s/ca.pem", x->dir);
    tu_write_file(x->ca, "-----BEGIN CERTIFICATE-----\nnot used\n-----END CERTIFICATE-----\n");
    ko.ca_bundle = x->ca;
    assert_non_null(x->k = keeper_start(&x->loop, &ko, &e));
    x->ro.state_dir = x->dir;
    bo = (struct serve_back_opts){
        .loop = &x->loop, .conf = &x->conf, .state_dir = x->dir, .rec = &x->ro, .max_orders = 1};
    if (serve_back_new(&bo, &x->b, &e) < 0)
        fail_msg("serve_back_new: %s", err_msg(&e));
    x->fd = listen_sock_open((struct sockaddr *)&sa, sizeof sa, "127.0.0.1:0", &e);
    assert_true(x->fd >= 0);
    assert_int_equal(serve_keeper_start(x->k, x->b, &x->fd, 1, 4096, NULL, NULL, &x->sk, &e), 0);
}

static void on_stopped(void *arg)
{
    *(int *)arg = 1;
}

static void fx_stop(struct fx *x)
{
    int stopped = 0;

    serve_keeper_stop(x->sk);
    serve_back_stop(x->b, true, on_stopped, &stopped);
    assert_true(tu_run_until(&x->loop, &stopped, 10000));
    keeper_free(x->k);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    serve_conf_clear(&x->conf);
    tu_rmtree(x->dir);
    free(x->dir);
}

/* Runs the loop until path exists (bounded). */
static bool run_until_file(struct fx *x, const char *path)
{
    for (int i = 0; i < 500; i++) {
        uv_run(&x->loop, UV_RUN_NOWAIT);
        if (access(path, F_OK) == 0)
            return true;
        usleep(10000);
    }
    return false;
}

static bool run_until_starts(struct fx *x, unsigned n)
{
    for (int i = 0; i < 500; i++) {
        uv_run(&x->loop, UV_RUN_NOWAIT);
        if (keeper_worker_starts(x->k) >= n && keeper_worker_pid(x->k) > 0)
            return true;
        usleep(10000);
    }
    return false;
}

static void test_decided_in_the_keeper(void **state)
{
    struct fx x = {0};

    (void)state;
    fx_start(&x, "polite");
    /* 415 for the allowed peer's garbage, 403 for the stranger, no key in any frame. */
    assert_true(run_until_file(&x, x.ok));
    for (int i = 0; i < 50; i++) {
        uv_run(&x.loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    assert_int_equal(keeper_worker_starts(x.k), 1);
    fx_stop(&x);
}

static void test_breaches_end_the_worker(void **state)
{
    static const char *const modes[] = {"unix-peer", "big-body"};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct fx x = {0};

        fx_start(&x, modes[i]);
        assert_true(run_until_file(&x, x.ok));
        /* The breach ends that worker; the next one is started (and given the socket). */
        assert_true(run_until_starts(&x, 2));
        fx_stop(&x);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decided_in_the_keeper),
        cmocka_unit_test(test_breaches_end_the_worker),
    };

    if (argc == 2 && !strcmp(argv[1], "--privsep-worker"))
        return fake_worker();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
