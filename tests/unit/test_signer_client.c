/* Unit tests for signer/signer_client against the real lacme-accountd (Debian's 0.8.2, the
 * reference implementation of the signer protocol), over --socket and over --stdio through
 * exec, with and without a kid. */
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "crypto/b64.h"
#include "crypto/jwk.h"
#include "crypto/jws.h"
#include "crypto/key.h"
#include "signer/signer_client.h"
#include "util/log.h"

#define LACME_ACCOUNTD "/usr/bin/lacme-accountd"
#define KID "https://ca.test/acme/acct/42"

static char *dir, *keyfile, *kidconf;
static json_t *pubjwk; /* the key's public JWK, computed here from the PEM */
static char *pubtp;

static int group_setup(void **state)
{
    char cmd[1024], *pem, *text;
    struct ckey *key = NULL;
    struct err e = {0};
    size_t len;

    signal(SIGPIPE, SIG_IGN);
    if (access(LACME_ACCOUNTD, X_OK) != 0) {
        fprintf(stderr, "%s missing: apt-get install lacme-accountd\n", LACME_ACCOUNTD);
        return -1;
    }
    dir = tu_mkdtemp("signer_client");
    chmod(dir, 0700);
    assert_true(asprintf(&keyfile, "%s/account.pem", dir) > 0);
    snprintf(cmd, sizeof cmd, "openssl genpkey -algorithm RSA -out '%s' 2>/dev/null", keyfile);
    assert_int_equal(system(cmd), 0);
    assert_true(asprintf(&kidconf, "%s/kid.conf", dir) > 0);
    assert_true(asprintf(&text, "privkey = file:%s\nkeyid = %s\n", keyfile, KID) > 0);
    tu_write_file(kidconf, text);
    free(text);
    pem = tu_read_file(keyfile, &len);
    assert_int_equal(key_from_pem(pem, len, &key, &e), 0);
    pubjwk = jwk_public(key, &e);
    assert_int_equal(jwk_thumbprint(pubjwk, &pubtp, &e), 0);
    key_free(key);
    free(pem);
    return 0;
}

static int group_teardown(void **state)
{
    tu_rmtree(dir);
    free(dir);
    free(keyfile);
    free(kidconf);
    free(pubtp);
    json_decref(pubjwk);
    return 0;
}

/* lacme-accountd --socket, started here; killed by its PID. */
static pid_t start_socket_signer(const char *sock, const char *conf)
{
    char privkey[512], socket_opt[512], config[512];
    pid_t pid;

    snprintf(privkey, sizeof privkey, "--privkey=file:%s", keyfile);
    snprintf(socket_opt, sizeof socket_opt, "--socket=%s", sock);
    snprintf(config, sizeof config, "--config=%s", conf ? conf : "/dev/null");
    unlink(sock);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        /* Not ctest's pipe: a test that fails before stopping it must not keep ctest waiting. */
        dup2(null, 1);
        dup2(null, 2);
        if (conf)
            execl(LACME_ACCOUNTD, LACME_ACCOUNTD, config, socket_opt, (char *)NULL);
        else
            execl(LACME_ACCOUNTD, LACME_ACCOUNTD, config, privkey, socket_opt, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
        usleep(20000);
    assert_int_equal(access(sock, F_OK), 0);
    /* The file exists once it is bound, a moment before it listens: wait for that too. */
    if (!tu_wait_unix_listening(sock, 4000))
        fail_msg("lacme-accountd never listened on %s", sock);
    return pid;
}

/* SIGTERM, then SIGKILL if it is still there after 5 s: a test never waits unbounded. */
static void stop_signer(pid_t pid)
{
    int status;

    kill(pid, SIGTERM);
    for (int i = 0; i < 250; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return;
        usleep(20000);
    }
    fprintf(stderr, "lacme-accountd %d ignored SIGTERM: killed\n", (int)pid);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

/* ---- what the callbacks saw ---- */

struct conn_res {
    int done, rc;
};

static void on_connected(void *arg, int rc, const struct err *e)
{
    struct conn_res *r = arg;

    r->done = 1;
    r->rc = rc;
}

struct sig_res {
    int done, rc;
    char *jws;
    char msg[ERR_MSG_MAX];
    int *count;
};

static void on_jws(void *arg, int rc, const char *jws, const struct err *e)
{
    struct sig_res *r = arg;

    r->done = 1;
    r->rc = rc;
    if (rc == 0)
        r->jws = strdup(jws);
    else
        snprintf(r->msg, sizeof r->msg, "%s", err_msg(e));
    if (r->count)
        (*r->count)++;
}

static void on_raw_sig(void *arg, int rc, const uint8_t *sig, size_t len, const struct err *e)
{
    struct sig_res *r = arg;

    r->done = 1;
    r->rc = rc;
    if (rc < 0)
        snprintf(r->msg, sizeof r->msg, "%s", err_msg(e));
    if (r->count)
        (*r->count)++;
}

static struct signer_client *connect_client(uv_loop_t *loop, const struct signer_client_opts *o,
                                            struct signer *s)
{
    struct signer_client *sc = NULL;
    struct conn_res cr = {0};
    struct err e = {0};

    assert_int_equal(signer_client_new(loop, o, &sc, &e), 0);
    assert_int_equal(signer_client_signer(sc, s, &e), -ENOTCONN);
    assert_int_equal(signer_client_connect(sc, on_connected, &cr, &e), 0);
    assert_int_equal(cr.done, 0); /* never inside the call */
    assert_true(tu_run_until(loop, &cr.done, 20000));
    if (cr.rc != 0)
        fail_msg("connecting to %s: %d", signer_client_name(sc), cr.rc);
    assert_int_equal(signer_client_signer(sc, s, &e), 0);
    assert_string_equal(s->alg, "RS256");
    assert_string_equal(signer_client_thumbprint(sc), pubtp);
    return sc;
}

/* Closes the client and runs the loop until its handles are gone (bounded). */
static void close_client(uv_loop_t *loop, struct signer_client *sc)
{
    signer_client_close(sc);
    for (int i = 0; i < 500 && uv_loop_alive(loop); i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    if (uv_loop_alive(loop))
        fail_msg("the loop still has live handles 5 s after signer_client_close");
}

/* Queues n signatures at once and checks each verifies against the key. */
static void sign_and_verify(uv_loop_t *loop, struct signer *s, const char *kid, int n)
{
    struct sig_res *res = calloc((size_t)n, sizeof *res);
    struct err e = {0};
    int count = 0;

    for (int i = 0; i < n; i++) {
        char nonce[32], payload[64];

        snprintf(nonce, sizeof nonce, "nonce-%d", i);
        snprintf(payload, sizeof payload, "{\"n\":%d}", i);
        res[i].count = &count;
        assert_int_equal(jws_sign_acme_start(s, kid, nonce, "https://ca.test/acme/new-order",
                                             payload, on_jws, &res[i], &e),
                         0);
    }
    /* The remote signer answers from the loop, never inside the call. */
    assert_int_equal(count, 0);
    while (count < n)
        assert_true(tu_run_until(loop, &res[count].done, 20000));
    for (int i = 0; i < n; i++) {
        if (res[i].rc != 0)
            fail_msg("request %d: %s", i, res[i].msg);
        assert_int_equal(jws_verify_flattened(res[i].jws, pubjwk, &e), 0);
        free(res[i].jws);
    }
    free(res);
}

/* A signing input whose header lacks "nonce": lacme-accountd refuses it by closing. */
static char *input_without_nonce(void)
{
    const char *hdr = "{\"alg\":\"RS256\",\"url\":\"https://ca.test/x\",\"kid\":\"k\"}";
    char *h = b64url_encode(hdr, strlen(hdr)), *out;

    assert_true(asprintf(&out, "%s.e30", h) > 0);
    free(h);
    return out;
}

/* The refused request fails with the signer's name and "refused"; the one queued behind it
 * goes on a fresh connection and succeeds. */
static void refusal_then_success(uv_loop_t *loop, struct signer_client *sc, struct signer *s,
                                 const char *kid)
{
    struct sig_res bad = {0}, good = {0};
    struct err e = {0};
    char *in = input_without_nonce();
    unsigned before = signer_client_connections(sc);

    assert_int_equal(signer_client_sign(sc, (const uint8_t *)in, strlen(in), on_raw_sig, &bad, &e),
                     0);
    assert_int_equal(jws_sign_acme_start(s, kid, "n", "https://ca.test/y", "{}", on_jws, &good, &e),
                     0);
    assert_true(tu_run_until(loop, &good.done, 20000));
    assert_true(bad.done);
    assert_int_equal(bad.rc, -EPERM);
    assert_non_null(strstr(bad.msg, "refused"));
    assert_non_null(strstr(bad.msg, signer_client_name(sc)));
    assert_int_equal(good.rc, 0);
    assert_int_equal(jws_verify_flattened(good.jws, pubjwk, &e), 0);
    /* the request behind the refused one went on a fresh connection */
    assert_int_equal(signer_client_connections(sc), before + 1);
    free(good.jws);
    free(in);
}

static void test_socket(void **state)
{
    char *sock;
    uv_loop_t loop;
    struct signer s;
    struct signer_client *sc;
    struct signer_client_opts o = {.idle_ms = 60000};
    json_t *jwk;
    struct err e = {0};
    pid_t pid;

    assert_true(asprintf(&sock, "%s/S.lacme", dir) > 0);
    pid = start_socket_signer(sock, NULL);
    uv_loop_init(&loop);
    o.socket_path = sock;
    sc = connect_client(&loop, &o, &s);
    assert_null(signer_client_kid(sc));
    jwk = s.jwk(s.ctx, &e);
    assert_true(json_equal(jwk, pubjwk));
    json_decref(jwk);
    sign_and_verify(&loop, &s, NULL, 5);
    sign_and_verify(&loop, &s, KID, 3);
    refusal_then_success(&loop, sc, &s, KID);
    close_client(&loop, sc);
    uv_loop_close(&loop);
    stop_signer(pid);
    free(sock);
}

static void test_socket_kid(void **state)
{
    char *sock;
    uv_loop_t loop;
    struct signer s;
    struct signer_client *sc;
    struct signer_client_opts o = {0};
    struct err e = {0};
    pid_t pid;

    assert_true(asprintf(&sock, "%s/S.kid", dir) > 0);
    pid = start_socket_signer(sock, kidconf);
    uv_loop_init(&loop);
    o.socket_path = sock;
    sc = connect_client(&loop, &o, &s);
    /* A signer with a kid sends {}: no JWK, the thumbprint still names the key. */
    assert_string_equal(signer_client_kid(sc), KID);
    assert_null(signer_client_jwk(sc));
    assert_null(s.jwk(s.ctx, &e));
    sign_and_verify(&loop, &s, KID, 4);
    close_client(&loop, sc);
    uv_loop_close(&loop);
    stop_signer(pid);
    free(sock);
}

static void test_stdio(void **state)
{
    char privkey[512];
    char *argv[] = {"lacme-accountd", "--config=/dev/null", privkey, "--stdio", NULL};
    uv_loop_t loop;
    struct signer s;
    struct signer_client *sc;
    struct signer_client_opts o = {.argv = argv, .idle_ms = 60000};

    snprintf(privkey, sizeof privkey, "--privkey=file:%s", keyfile);
    uv_loop_init(&loop);
    sc = connect_client(&loop, &o, &s);
    assert_null(signer_client_kid(sc));
    sign_and_verify(&loop, &s, NULL, 4);
    refusal_then_success(&loop, sc, &s, "https://ca.test/acct/1");
    close_client(&loop, sc);
    uv_loop_close(&loop);
}

static void test_stdio_kid(void **state)
{
    char config[512];
    char *argv[] = {LACME_ACCOUNTD, config, "--stdio", NULL};
    uv_loop_t loop;
    struct signer s;
    struct signer_client *sc;
    struct signer_client_opts o = {.argv = argv};

    snprintf(config, sizeof config, "--config=%s", kidconf);
    uv_loop_init(&loop);
    sc = connect_client(&loop, &o, &s);
    assert_string_equal(signer_client_kid(sc), KID);
    sign_and_verify(&loop, &s, KID, 3);
    close_client(&loop, sc);
    uv_loop_close(&loop);
}

/* lacme-accountd logs every signature (header and payload) on stderr: 200 requests with
 * 2 KiB payloads write far more than a pipe holds, so they complete only if stderr is read.
 * The idle timeout is long, so one connection serves them all. */
static void test_stdio_drains_stderr(void **state)
{
    char privkey[512];
    char *argv[] = {"lacme-accountd", "--config=/dev/null", privkey, "--stdio", NULL};
    char payload[2100];
    uv_loop_t loop;
    struct signer s;
    struct signer_client *sc;
    struct signer_client_opts o = {.argv = argv, .idle_ms = 60000};
    struct sig_res res[200];
    struct err e = {0};
    int count = 0;

    snprintf(privkey, sizeof privkey, "--privkey=file:%s", keyfile);
    memset(res, 0, sizeof res);
    uv_loop_init(&loop);
    sc = connect_client(&loop, &o, &s);
    for (int i = 0; i < 200; i++) {
        snprintf(payload, sizeof payload, "{\"pad\":\"%02000d\",\"i\":%d}", i, i);
        res[i].count = &count;
        assert_int_equal(
            jws_sign_acme_start(&s, KID, "n", "https://ca.test/z", payload, on_jws, &res[i], &e),
            0);
    }
    assert_true(tu_run_until(&loop, &res[199].done, 60000));
    assert_int_equal(count, 200);
    assert_int_equal(signer_client_connections(sc), 1); /* one --stdio process served all */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(res[i].rc, 0);
        if (i % 50 == 0)
            assert_int_equal(jws_verify_flattened(res[i].jws, pubjwk, &e), 0);
        free(res[i].jws);
    }
    close_client(&loop, sc);
    uv_loop_close(&loop);
}

static void on_waited(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* An idle connection is closed (lacme-accountd serves one client at a time); the next
 * request opens a new one. */
static void test_idle_close(void **state)
{
    char privkey[512];
    char *argv[] = {"lacme-accountd", "--config=/dev/null", privkey, "--stdio", NULL};
    uv_loop_t loop;
    uv_timer_t t;
    int waited = 0;
    struct signer s;
    struct signer_client *sc;
    struct signer_client_opts o = {.argv = argv, .idle_ms = 100};

    snprintf(privkey, sizeof privkey, "--privkey=file:%s", keyfile);
    uv_loop_init(&loop);
    sc = connect_client(&loop, &o, &s);
    sign_and_verify(&loop, &s, KID, 1);
    assert_int_equal(signer_client_connections(sc), 1);
    uv_timer_init(&loop, &t);
    t.data = &waited;
    uv_timer_start(&t, on_waited, 400, 0);
    assert_true(tu_run_until(&loop, &waited, 5000));
    uv_close((uv_handle_t *)&t, NULL);
    sign_and_verify(&loop, &s, KID, 1);
    assert_int_equal(signer_client_connections(sc), 2);
    close_client(&loop, sc);
    uv_loop_close(&loop);
}

/* Closing with requests pending calls each back with -ECANCELED. */
static void test_close_cancels(void **state)
{
    char privkey[512];
    char *argv[] = {"lacme-accountd", "--config=/dev/null", privkey, "--stdio", NULL};
    uv_loop_t loop;
    struct signer s;
    struct signer_client *sc;
    struct signer_client_opts o = {.argv = argv};
    struct sig_res res[3];
    struct err e = {0};

    snprintf(privkey, sizeof privkey, "--privkey=file:%s", keyfile);
    memset(res, 0, sizeof res);
    uv_loop_init(&loop);
    sc = connect_client(&loop, &o, &s);
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            jws_sign_acme_start(&s, KID, "n", "https://ca.test/z", "{}", on_jws, &res[i], &e), 0);
    signer_client_close(sc);
    for (int i = 0; i < 3; i++) {
        assert_true(res[i].done);
        assert_int_equal(res[i].rc, -ECANCELED);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A signer that never greets times out; one that cannot run, or a socket nobody listens
 * on, fails at once with the reason. */
static void test_failures(void **state)
{
    char *silent[] = {"sleep", "30", NULL}, *missing[] = {"/nonexistent/signer", NULL};
    char *sock;
    uv_loop_t loop;
    struct signer_client *sc;
    struct signer_client_opts o = {.argv = silent, .timeout_ms = 300};
    struct conn_res cr = {0};
    struct sig_res r = {0};
    struct err e = {0};

    uv_loop_init(&loop);
    assert_int_equal(signer_client_new(&loop, &o, &sc, &e), 0);
    assert_int_equal(signer_client_connect(sc, on_connected, &cr, &e), 0);
    assert_int_equal(signer_client_sign(sc, (const uint8_t *)"e30.e30", 7, on_raw_sig, &r, &e), 0);
    assert_true(tu_run_until(&loop, &r.done, 5000));
    assert_int_equal(cr.rc, -ETIMEDOUT);
    assert_int_equal(r.rc, -ETIMEDOUT);
    assert_non_null(strstr(r.msg, "exec:sleep"));
    close_client(&loop, sc);

    o.argv = missing;
    memset(&r, 0, sizeof r);
    assert_int_equal(signer_client_new(&loop, &o, &sc, &e), 0);
    assert_int_equal(signer_client_sign(sc, (const uint8_t *)"e30.e30", 7, on_raw_sig, &r, &e), 0);
    assert_true(tu_run_until(&loop, &r.done, 5000));
    assert_int_equal(r.rc, -ENOENT);
    close_client(&loop, sc);

    assert_true(asprintf(&sock, "%s/S.nobody", dir) > 0);
    o.argv = NULL;
    o.socket_path = sock;
    memset(&r, 0, sizeof r);
    assert_int_equal(signer_client_new(&loop, &o, &sc, &e), 0);
    assert_int_equal(signer_client_sign(sc, (const uint8_t *)"e30.e30", 7, on_raw_sig, &r, &e), 0);
    assert_true(tu_run_until(&loop, &r.done, 5000));
    assert_int_equal(r.rc, -ENOENT);
    assert_non_null(strstr(r.msg, sock));
    close_client(&loop, sc);
    free(sock);

    /* Neither or both of a socket and a command. */
    o.argv = silent;
    assert_int_equal(signer_client_new(&loop, &o, &sc, &e), -EINVAL);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket),
        cmocka_unit_test(test_socket_kid),
        cmocka_unit_test(test_stdio),
        cmocka_unit_test(test_stdio_kid),
        cmocka_unit_test(test_stdio_drains_stderr),
        cmocka_unit_test(test_close_cancels),
        cmocka_unit_test(test_idle_close),
        cmocka_unit_test(test_failures),
    };

    log_init();
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
