/* Account keys held by a signer (signer/signer_client.h) against the real Pebble: the account is
 * registered and a certificate issued with every account signature made by the real
 * lacme-accountd on a UNIX socket, then by `acmed signer --stdio` spawned per connection,
 * whose --allow-name policy refuses another name: that issuance fails naming the refusal
 * while the signer keeps serving the next one. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "common/pebble_env.h"
#include "common/testutil.h"
#include "signer/signer_client.h"

#define LACME_ACCOUNTD "/usr/bin/lacme-accountd"

static char *dir;

static int setup(void **state)
{
    char cmd[1024];

    signal(SIGPIPE, SIG_IGN);
    dir = tu_mkdtemp("acme_signer");
    chmod(dir, 0700);
    snprintf(cmd, sizeof cmd,
             "openssl genpkey -algorithm RSA -out '%s/rsa.pem' 2>/dev/null && "
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '%s/ec.pem' "
             "2>/dev/null",
             dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static void on_connected(void *arg, int rc, const struct err *e)
{
    if (rc < 0)
        fprintf(stderr, "signer: %s\n", err_msg(e));
    *(int *)arg = rc < 0 ? rc : 1;
}

/* The flow environment with its account key in the signer: connect, register, set. */
static struct signer_client *env_with_signer(struct flow_env *fe,
                                             const struct signer_client_opts *o)
{
    static const char *contact[] = {"mailto:signer@example.com"};
    struct acme_new_account req = {.agree_tos = true, .contact = contact, .ncontact = 1};
    struct signer_client *sc = NULL;
    struct flow_sync s = {0};
    struct err e;
    int connected = 0;

    flow_env_init(fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), NULL);
    assert_int_equal(signer_client_new(&fe->loop, o, &sc, &e), 0);
    assert_int_equal(signer_client_connect(sc, on_connected, &connected, &e), 0);
    for (int i = 0; i < 2000 && !connected; i++)
        uv_run(&fe->loop, UV_RUN_ONCE);
    assert_int_equal(connected, 1);
    assert_int_equal(signer_client_signer(sc, &fe->account, &e), 0);
    fe->thumbprint = strdup(signer_client_thumbprint(sc));
    req.key = &fe->account;
    assert_int_equal(acme_account_new(fe->acme, &req, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(fe, &s);
    if (s.rc != 0)
        fail_msg("newAccount through %s: %s", signer_client_name(sc), err_msg(&s.e));
    /* 201 for a new account, 200 when an earlier test registered this key */
    assert_true(s.status == 201 || s.status == 200);
    assert_int_equal(acme_client_set_account(fe->acme, &fe->account, s.location), 0);
    flow_sync_clear(&s);
    return sc;
}

static void env_down(struct flow_env *fe, struct signer_client *sc)
{
    acme_client_free(fe->acme);
    fe->acme = NULL;
    signer_client_close(sc);
    /* flow_env_fini frees acme (NULL now: nothing) and runs the loop until every handle,
     * the signer's included, is closed */
    flow_env_fini(fe);
}

static int issue(struct flow_env *fe, const char *name, struct flow_result *res)
{
    static const char *http01[] = {"http-01"};
    const char *names[] = {name};
    struct flow_req req = {.names = names,
                           .nnames = 1,
                           .key = {KEY_ECDSA, 256},
                           .prefs = http01,
                           .nprefs = 1,
                           .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};

    memset(res, 0, sizeof *res);
    return flow_issue(fe, &req, res);
}

static void test_lacme_accountd_socket(void **state)
{
    char sock[512], privkey[600], sockopt[600];
    struct signer_client_opts o = {.socket_path = sock};
    struct flow_env fe = {0};
    struct flow_result res;
    struct signer_client *sc;
    pid_t pid;
    int status;

    snprintf(sock, sizeof sock, "%s/S.lacme", dir);
    snprintf(privkey, sizeof privkey, "--privkey=file:%s/rsa.pem", dir);
    snprintf(sockopt, sizeof sockopt, "--socket=%s", sock);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1); /* not ctest's pipe, should the test fail before stopping it */
        dup2(null, 2);
        execl(LACME_ACCOUNTD, LACME_ACCOUNTD, "--config=/dev/null", privkey, sockopt, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 250 && access(sock, F_OK) != 0; i++)
        usleep(20000);
    if (!tu_wait_unix_listening(sock, 4000))
        fail_msg("lacme-accountd never listened on %s", sock);
    sc = env_with_signer(&fe, &o);
    assert_string_equal(fe.account.alg, "RS256");
    if (issue(&fe, "lacme-signer.example.test", &res) != 0)
        fail_msg("issuance: %s", err_msg(&res.e));
    assert_non_null(res.cert_pem);
    flow_result_clear(&res);
    env_down(&fe, sc);
    kill(pid, SIGTERM);
    for (int i = 0; i < 250 && waitpid(pid, &status, WNOHANG) != pid; i++)
        usleep(20000);
    kill(pid, SIGKILL);
    waitpid(pid, &status, WNOHANG);
}

static void test_acmed_signer_stdio_policy(void **state)
{
    char key[512];
    const char *acmed = getenv("ACMED_BINARY");
    char *argv[] = {(char *)acmed, "signer",       "--key",          key,
                    "--stdio",     "--allow-name", "*.example.test", NULL};
    struct signer_client_opts o = {.argv = argv};
    struct flow_env fe = {0};
    struct flow_result res;
    struct signer_client *sc;

    assert_non_null(acmed);
    snprintf(key, sizeof key, "%s/ec.pem", dir);
    sc = env_with_signer(&fe, &o);
    assert_string_equal(fe.account.alg, "ES256");
    if (issue(&fe, "a.example.test", &res) != 0)
        fail_msg("issuance of a.example.test: %s", err_msg(&res.e));
    flow_result_clear(&res);
    /* b.example.org: the newOrder is refused by the signer, and the error says so */
    assert_true(issue(&fe, "b.example.org", &res) < 0);
    if (!strstr(res.e.msg, "refused"))
        fail_msg("the failure does not name the refusal: %s", res.e.msg);
    flow_result_clear(&res);
    /* the signer still serves: another allowed name goes through */
    if (issue(&fe, "c.example.test", &res) != 0)
        fail_msg("issuance after a refusal: %s", err_msg(&res.e));
    flow_result_clear(&res);
    env_down(&fe, sc);
}

/* A key rollover signs its outer JWS with the current key (in the signer) over a payload
 * that is a JWS: acmed signer refuses it without --allow-account-change, signs it with. */
static void rollover(const char *key, bool allow, bool want_ok)
{
    const char *acmed = getenv("ACMED_BINARY");
    char *argv[] = {(char *)acmed, "signer",  "--key",
                    (char *)key,   "--stdio", allow ? "--allow-account-change" : NULL,
                    NULL};
    struct signer_client_opts o = {.argv = argv};
    struct key_spec ks = {KEY_ECDSA, 256};
    struct flow_env fe = {0};
    struct flow_sync s = {0};
    struct ckey *nk = NULL;
    struct signer ns;
    struct signer_client *sc;
    struct err e;

    sc = env_with_signer(&fe, &o);
    assert_int_equal(key_generate(&ks, &nk, &e), 0);
    jws_signer_from_key(nk, &ns);
    assert_int_equal(acme_account_key_change(fe.acme, &ns, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    if (want_ok && s.rc != 0)
        fail_msg("keyChange with --allow-account-change: %s", err_msg(&s.e));
    if (!want_ok && (s.rc == 0 || !strstr(s.e.msg, "refused")))
        fail_msg("keyChange without --allow-account-change: rc %d, %s", s.rc, s.e.msg);
    flow_sync_clear(&s);
    env_down(&fe, sc);
    key_free(nk);
}

static void test_rollover_policy(void **state)
{
    char key[512];

    assert_non_null(getenv("ACMED_BINARY"));
    snprintf(key, sizeof key, "%s/ec.pem", dir);
    rollover(key, false, false);
    snprintf(key, sizeof key, "%s/rsa.pem", dir);
    rollover(key, true, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lacme_accountd_socket),
        cmocka_unit_test(test_acmed_signer_stdio_policy),
        cmocka_unit_test(test_rollover_policy),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
