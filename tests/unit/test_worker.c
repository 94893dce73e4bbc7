/* Tests of the worker (src/daemon/worker.c) as the keeper runs it: the real acmed binary
 * (ACMED_BINARY), started through privsep/supervisor as nobody when we are root. The keeper's
 * side is played here: settings, a listening socket it bound, tokens to answer; an HTTP client
 * then asks the worker. A message that breaks the schema ends the worker, which is restarted. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/listen_sock.h"
#include "privsep/supervisor.h"
#include "privsep/wmsg.h"

extern char **environ;

struct keeper {
    uv_loop_t loop;
    struct supervisor *s;
    unsigned ups, downs, listening;
    char listen_error[256];
    int last_status;
};

static void k_up(void *arg)
{
    struct keeper *k = arg;
    struct ipc_out o;
    struct err e = {0};
    static const char ca[] = "-----BEGIN CERTIFICATE-----\nnot used here\n";

    k->ups++;
    ipc_out_begin(&o, WMSG_CONFIG);
    ipc_put_bytes(&o, WMSG_T_CA, ca, sizeof ca - 1);
    ipc_put_u64(&o, WMSG_T_INSECURE, 0);
    ipc_put_u64(&o, WMSG_T_VERBOSE, 0);
    assert_int_equal(ipc_out_end(&o, &e), 0);
    assert_int_equal(supervisor_send(k->s, &o.b, &e), 0);
}

static void k_frame(void *arg, const uint8_t *frame, size_t len)
{
    struct keeper *k = arg;
    struct ipc_msg m;
    struct err e = {0};
    char *why;

    assert_int_equal(ipc_decode(&wmsg_to_keeper, frame, len, &m, &e), 0);
    assert_int_equal(m.type, WMSG_LISTENING);
    k->listening++;
    why = ipc_get_text(&m, WMSG_T_ERROR, 0);
    snprintf(k->listen_error, sizeof k->listen_error, "%s", why ? why : "");
    free(why);
}

static void k_down(void *arg, int status, const struct err *why)
{
    struct keeper *k = arg;

    (void)why;
    k->downs++;
    k->last_status = status;
}

static void run_until(struct keeper *k, unsigned *counter, unsigned want)
{
    for (int i = 0; i < 3000 && *counter < want; i++) {
        uv_run(&k->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_true(*counter >= want);
}

static void send_msg(struct keeper *k, struct ipc_out *o, int fd)
{
    struct err e = {0};

    assert_int_equal(ipc_out_end(o, &e), 0);
    if (fd >= 0) {
        /* Through the supervisor's channel: a test-only path sends the descriptor. */
        assert_int_equal(supervisor_send_fd(k->s, &o->b, fd, &e), 0);
    } else {
        assert_int_equal(supervisor_send(k->s, &o->b, &e), 0);
    }
}

/* A blocking GET to the worker's listener; returns the status code or -1. */
static int get(int port, const char *path, char *body, size_t n)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    char req[256], resp[2048] = "";
    size_t got = 0;
    ssize_t r;
    int c = socket(AF_INET, SOCK_STREAM, 0), status = -1;
    char *p;

    sin.sin_port = htons((uint16_t)port);
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: a.example.test\r\n\r\n", path);
    if (connect(c, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        write(c, req, strlen(req)) == (ssize_t)strlen(req)) {
        while ((r = read(c, resp + got, sizeof resp - 1 - got)) > 0)
            got += (size_t)r;
    }
    close(c);
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
        return -1;
    p = strstr(resp, "\r\n\r\n");
    snprintf(body, n, "%s", p ? p + 4 : "");
    return status;
}

static void test_worker_serves(void **state)
{
    const char *bin = getenv("ACMED_BINARY");
    static char name[] = "acmed: worker", arg[] = "--privsep-worker";
    char *argv[] = {name, arg, NULL};
    struct privdrop_id id;
    struct child_spec spec = {.argv = argv, .envp = environ};
    struct supervisor_cbs cbs;
    struct keeper k = {0};
    struct err e = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_storage ss;
    socklen_t sl;
    struct ipc_out o;
    char body[256], path[64];
    int lfd, port;
    pid_t pid;

    (void)state;
    assert_non_null(bin);
    uv_loop_init(&k.loop);
    assert_int_equal(privdrop_resolve("nobody", &id, &e), 0);
    spec.id = geteuid() == 0 ? &id : NULL;
    spec.self_fd = open(bin, O_PATH | O_CLOEXEC);
    assert_true(spec.self_fd >= 0);
    cbs = (struct supervisor_cbs){k_up, k_frame, k_down, &k};
    k.s = supervisor_start(&k.loop, &spec, &cbs, &e);
    assert_non_null(k.s);
    run_until(&k, &k.ups, 1);

    /* The keeper binds, the worker serves. */
    lfd = listen_sock_open((struct sockaddr *)&sin, sizeof sin, "127.0.0.1:0", &e);
    assert_true(lfd >= 0);
    assert_int_equal(listen_sock_check(lfd, &ss, &sl, &e), 0);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    ipc_out_begin(&o, WMSG_LISTEN);
    ipc_put_u64(&o, WMSG_T_RESPONDER, 7);
    ipc_put_u64(&o, WMSG_T_KIND, WMSG_KIND_HTTP01);
    ipc_put_u64(&o, WMSG_T_INDEX, 0);
    ipc_put_u64(&o, WMSG_T_TOTAL, 1);
    send_msg(&k, &o, lfd);
    close(lfd); /* the worker has its own copy */
    run_until(&k, &k.listening, 1);
    assert_string_equal(k.listen_error, "");

    ipc_out_begin(&o, WMSG_PUBLISH);
    ipc_put_u64(&o, WMSG_T_RESPONDER, 7);
    ipc_put_text(&o, WMSG_T_KEY, "tok-A_1");
    ipc_put_text(&o, WMSG_T_KEYAUTH, "tok-A_1.thumbprint");
    send_msg(&k, &o, -1);
    for (int i = 0; i < 50; i++)
        uv_run(&k.loop, UV_RUN_NOWAIT);
    snprintf(path, sizeof path, "/.well-known/acme-challenge/%s", "tok-A_1");
    assert_int_equal(get(port, path, body, sizeof body), 200);
    assert_string_equal(body, "tok-A_1.thumbprint");
    assert_int_equal(get(port, "/.well-known/acme-challenge/other", body, sizeof body), 404);

    /* Who serves: nobody, no capability, no way to gain one. */
    pid = supervisor_pid(k.s);
    if (geteuid() == 0) {
        struct privdrop_facts f;
        char st[64];

        snprintf(st, sizeof st, "/proc/%d/status", (int)pid);
        assert_int_equal(privdrop_facts_read(st, &f, &e), 0);
        assert_int_equal(f.euid, id.uid);
        assert_int_equal(f.cap_eff, 0);
        assert_int_equal(f.cap_prm, 0);
        assert_int_equal(f.no_new_privs, 1);
    }

    ipc_out_begin(&o, WMSG_WITHDRAW);
    ipc_put_u64(&o, WMSG_T_RESPONDER, 7);
    ipc_put_text(&o, WMSG_T_KEY, "tok-A_1");
    send_msg(&k, &o, -1);
    for (int i = 0; i < 50; i++)
        uv_run(&k.loop, UV_RUN_NOWAIT);
    assert_int_equal(get(port, path, body, sizeof body), 404);

    /* A message the worker's schema does not allow (a keeper-bound type): it stops, exit 1,
     * and is started again. */
    ipc_out_begin(&o, WMSG_LISTENING);
    ipc_put_u64(&o, WMSG_T_RESPONDER, 7);
    send_msg(&k, &o, -1);
    run_until(&k, &k.downs, 1);
    assert_true(WIFEXITED(k.last_status));
    assert_int_equal(WEXITSTATUS(k.last_status), 1);
    run_until(&k, &k.ups, 2);
    assert_true(supervisor_pid(k.s) != pid);

    supervisor_free(k.s);
    close(spec.self_fd);
    uv_run(&k.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&k.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_serves),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
