/* Unit tests for whole reconcile passes (reconcile_start) against scripted CAs
 * (tests/common/fake_ca.h) on a real state directory: challenge answering and polling through
 * a webroot (an authorization pending, then valid; one that becomes invalid fails its target
 * while the others carry on), the account's contact update, revocation and renewal
 * information. Nothing touches the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fake_ca.h"
#include "common/testutil.h"
#include "reconcile/mgmt.h"
#include "reconcile/reconcile.h"
#include "reconcile/tstate.h"
#include "store/store.h"

#define CA_A "https://a.ca.test/dir"
#define CA_B "https://b.ca.test/dir"
#define CENTRAL "mgmt+https://central.test:1313/sign"

struct fx {
    char *dir;
    char www[1024], hooks[1024];
    uv_loop_t loop;
    struct rec_opts o;
    const char *hook_dirs[1];
    struct fake a, b, c; /* c: a central certificate server */
    int done, code;
    struct rec_summary sum;
};

static void write_file(struct fx *x, const char *rel, const char *text)
{
    char path[1200];

    snprintf(path, sizeof path, "%s/%s", x->dir, rel);
    tu_write_file(path, text);
}

/* conf/target: webroot answers, the contact given. */
static void conf_target(struct fx *x, const char *contact)
{
    char text[2048];

    snprintf(text, sizeof text,
             "request:\n  challenge:\n    webroot-paths: [\"%s\"]\n"
             "  account:\n    agree-tos: true\n    contact: [\"%s\"]\n",
             x->www, contact);
    write_file(x, "conf/target", text);
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    char path[1200];

    assert_non_null(x);
    assert_non_null(x->dir = tu_mkdtemp("pass"));
    snprintf(x->www, sizeof x->www, "%s/www", x->dir);
    snprintf(x->hooks, sizeof x->hooks, "%s/hooks", x->dir);
    assert_int_equal(mkdir(x->www, 0755), 0);
    assert_int_equal(mkdir(x->hooks, 0755), 0);
    snprintf(path, sizeof path, "%s/conf", x->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/desired", x->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    conf_target(x, "mailto:one@example.com");
    write_file(x, "desired/a.test",
               "satisfy:\n  names: [a.test]\nrequest:\n  provider: " CA_A "\n");
    assert_int_equal(uv_loop_init(&x->loop), 0);
    fake_init(&x->a, &x->loop, CA_A, "a.test");
    fake_init(&x->b, &x->loop, CA_B, "b.test");
    fake_init(&x->c, &x->loop, CENTRAL, "c.test");
    x->a.next = &x->b;
    x->b.next = &x->c;
    x->a.webroot = x->b.webroot = x->www;
    x->hook_dirs[0] = x->hooks; /* none: never the system's */
    x->o.state_dir = x->dir;
    x->o.hook_dirs = x->hook_dirs;
    x->o.nhook_dirs = 1;
    x->o.new_engine = fake_factory;
    x->o.new_engine_arg = &x->a;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;

    fake_clear(&x->a);
    fake_clear(&x->b);
    fake_clear(&x->c);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    tu_rmtree(x->dir);
    free(x->dir);
    free(x);
    return 0;
}

static void on_pass(void *arg, int code, const struct rec_summary *sum, const struct err *e)
{
    struct fx *x = arg;

    x->code = code;
    x->sum = *sum;
    x->done = 1;
}

/* One pass to its end; returns its exit code. The fakes' logs are cleared first. */
static int pass(struct fx *x)
{
    struct err e;

    x->a.log[0] = x->b.log[0] = x->c.log[0] = '\0';
    x->done = 0;
    assert_int_equal(reconcile_start(&x->loop, &x->o, on_pass, x, NULL, &e), 0);
    assert_true(tu_run_until(&x->loop, &x->done, 20000));
    return x->code;
}

static bool exists(struct fx *x, const char *rel)
{
    char path[1200];

    snprintf(path, sizeof path, "%s/%s", x->dir, rel);
    return access(path, F_OK) == 0;
}

static void saved(struct fx *x, const char *file, struct tstate *ts)
{
    struct store st;
    struct err e;

    assert_int_equal(store_open(x->dir, &st, &e), 0);
    assert_int_equal(tstate_load(&st, file, ts, &e), 0);
    store_close(&st);
}

/* The authorization is pending: the answer goes into the webroot, the CA is told, polling
 * finds it valid, the answer is withdrawn and the certificate issued. */
static void test_challenge_answered(void **state)
{
    struct fx *x = *state;
    char path[1200];

    x->a.authz_initial = EAUTHZ_PENDING;
    assert_int_equal(pass(x), REC_OK);
    assert_string_equal(x->a.log, "directory,account_new,order_new,authz_get,answer,authz_poll,"
                                  "poll_ready,finalize,poll_valid,download");
    assert_int_equal(x->a.answers, 1); /* the file was in place when the CA looked */
    assert_true(exists(x, "live/a.test/cert"));
    snprintf(path, sizeof path, "www/%s", x->a.token);
    assert_false(exists(x, path)); /* withdrawn */
    assert_int_equal(x->sum.issued, 1);
}

/* b.test's authorization ends invalid: b fails with the CA's problem, a.test is issued. */
static void test_invalid_authz_others_carry_on(void **state)
{
    struct fx *x = *state;
    struct tstate ts;
    char path[1200];

    write_file(x, "desired/b.test",
               "satisfy:\n  names: [b.test]\nrequest:\n  provider: " CA_B "\n");
    x->a.authz_initial = x->b.authz_initial = EAUTHZ_PENDING;
    x->b.authz_final = EAUTHZ_INVALID;
    assert_int_equal(pass(x), REC_FAILED);
    assert_true(exists(x, "live/a.test/cert"));
    assert_false(exists(x, "live/b.test"));
    assert_non_null(strstr(x->b.log, "answer,authz_poll"));
    assert_null(strstr(x->b.log, "finalize"));
    assert_int_equal(x->sum.issued, 1);
    assert_int_equal(x->sum.failed, 1);
    saved(x, "b.test", &ts);
    assert_int_equal(ts.failures, 1);
    assert_string_equal(ts.last_problem, "urn:ietf:params:acme:error:unauthorized");
    assert_non_null(strstr(ts.last_error, "wrong answer"));
    tstate_free(&ts);
    snprintf(path, sizeof path, "www/%s", x->a.token);
    assert_false(exists(x, path));
    snprintf(path, sizeof path, "www/%s", x->b.token);
    assert_false(exists(x, path));
}

/* conf/target's contact changes: the next pass tells the CA, though nothing is due. */
static void test_account_update(void **state)
{
    struct fx *x = *state;

    assert_int_equal(pass(x), REC_OK);
    assert_null(strstr(x->a.log, "account_update"));
    assert_int_equal(pass(x), REC_OK); /* nothing to do: nothing sent */
    assert_string_equal(x->a.log, "");
    conf_target(x, "mailto:two@example.com");
    assert_int_equal(pass(x), REC_OK);
    assert_non_null(strstr(x->a.log, "account_update"));
    assert_null(strstr(x->a.log, "order_new"));
    assert_string_equal(x->a.contact, "mailto:two@example.com");
}

/* `acmed revoke`'s marker: the pass revokes with the recorded reason, marks the certificate
 * and orders a new one for its target. */
static void test_revoke(void **state)
{
    struct fx *x = *state;
    char id[STORE_ID_LEN + 1], rel[200];
    struct store st;
    struct err e;

    assert_int_equal(pass(x), REC_OK);
    assert_int_equal(store_open(x->dir, &st, &e), 0);
    assert_int_equal(store_live_get(&st, "a.test", id, &e), 0);
    assert_int_equal(store_cert_ask_revoke(&st, id, 1, &e), 0);
    store_close(&st);
    assert_int_equal(pass(x), REC_OK);
    assert_int_equal(x->a.revoked, 1);
    assert_int_equal(x->a.revoke_reason, 1);
    assert_non_null(strstr(x->a.log, "revoke,"));
    assert_non_null(strstr(x->a.log, "download"));
    snprintf(rel, sizeof rel, "certs/%s/revoked", id);
    assert_true(exists(x, rel));
    assert_int_equal(x->sum.issued, 1);
}

/* Renewal information: a new certificate's window is asked for and kept; a window that has
 * passed makes the next pass renew a certificate that is otherwise far from due. */
static void test_renewal_info(void **state)
{
    struct fx *x = *state;
    time_t now = time(NULL);
    struct store_cert *certs = NULL;
    size_t n = 0;
    struct store st;
    struct err e;

    x->a.ari_start = now - 2 * 86400;
    x->a.ari_end = now - 86400;
    assert_int_equal(pass(x), REC_OK);
    assert_non_null(strstr(x->a.log, "download,renewal_info"));
    assert_int_equal(store_open(x->dir, &st, &e), 0);
    assert_int_equal(store_certs_load(&st, &certs, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(certs[0].ari_start, x->a.ari_start);
    assert_int_equal(certs[0].ari_end, x->a.ari_end);
    assert_true(certs[0].ari_chosen >= x->a.ari_start && certs[0].ari_chosen < x->a.ari_end);
    store_certs_free(certs, n);
    store_close(&st);
    assert_int_equal(pass(x), REC_OK);
    assert_non_null(strstr(x->a.log, "order_new"));
    assert_int_equal(x->sum.issued, 1);
}

/* A target whose provider is a central certificate server: no account, order or authorization
 * anywhere; one post of a CSR for its key with the key file's HMAC, the chain installed with no
 * account link; a 429 puts it in backoff until the server's Retry-After; a post lost with a
 * worker is made again. */
static void test_central_server(void **state)
{
    struct fx *x = *state;
    struct store_cert *certs = NULL;
    size_t n = 0;
    struct store st;
    struct tstate ts;
    struct err e;
    char path[1200], want[200], *key = NULL;
    time_t now = time(NULL);

    write_file(x, "desired/a.test", "");
    unlink(strcat(strcpy(path, x->dir), "/desired/a.test"));
    snprintf(path, sizeof path, "%s/secure.key", x->dir);
    tu_write_file(path, "fleet secret\n");
    snprintf(want, sizeof want,
             "satisfy:\n  names: [c.test]\nrequest:\n  provider: " CENTRAL "\n"
             "  mgmt:\n    hmac-key-file: %s\n",
             path);
    write_file(x, "desired/c.test", want);
    x->c.fail_op = "csr_post";
    x->c.fail_times = 1;
    x->c.fail_problem = "429";
    assert_int_equal(pass(x), REC_FAILED);
    assert_string_equal(x->c.log, "csr_post");
    assert_string_equal(x->a.log, "");
    saved(x, "c.test", &ts);
    assert_int_equal(ts.failures, 1);
    assert_true(ts.retry_until >= now + 600 && ts.retry_until <= time(NULL) + 600);
    assert_true(ts.next_attempt >= ts.retry_until);
    assert_non_null(strstr(ts.last_error, "https://central.test:1313/sign answered 429 (rate "
                                          "limited): over the rate; try again in 600 s"));
    tstate_free(&ts);
    /* --force skips the backoff, never the server's Retry-After. */
    x->o.force = true;
    assert_int_equal(pass(x), REC_FAILED);
    assert_string_equal(x->c.log, "");
    /* The backoff over (the checkpoint forgotten): a post lost with its worker is made again. */
    snprintf(path, sizeof path, "%s/state/c.test.json", x->dir);
    assert_int_equal(unlink(path), 0);
    x->c.fail_problem = NULL;
    x->c.fail_times = 1;
    assert_int_equal(pass(x), REC_OK);
    assert_string_equal(x->c.log, "csr_post,csr_post");
    assert_int_equal(x->sum.issued, 1);
    assert_int_equal(x->c.post_checks, 3); /* our key, the name, the system's anchors */
    /* The HMAC of exactly the body posted, the key file less its newline. */
    {
        char hex[MGMT_AUTH_MAX];

        key = "fleet secret";
        mgmt_auth_value((const uint8_t *)key, strlen(key), x->c.body, strlen(x->c.body), hex);
        assert_string_equal(x->c.auth, hex);
        assert_non_null(strstr(x->c.body, "-----BEGIN CERTIFICATE REQUEST-----"));
    }
    snprintf(path, sizeof path, "%s/accounts", x->dir);
    assert_true(access(path, F_OK) != 0 || rmdir(path) == 0); /* no account anywhere */
    assert_true(exists(x, "live/c.test"));
    assert_int_equal(store_open(x->dir, &st, &e), 0);
    assert_int_equal(store_certs_load(&st, &certs, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_null(certs[0].account_dir_id);
    assert_string_equal(certs[0].directory, CENTRAL);
    assert_int_equal(certs[0].ari_next_check, 0); /* no renewal information to ask for */
    snprintf(path, sizeof path, "%s/certs/%s/account", x->dir, certs[0].id);
    assert_int_equal(access(path, F_OK), -1);
    store_certs_free(certs, n);
    store_close(&st);
    /* Satisfied now: nothing more is asked of anyone. */
    assert_int_equal(pass(x), REC_OK);
    assert_string_equal(x->c.log, "");
}

/* Nothing is posted for a target whose central server is plain http elsewhere than on
 * loopback, nor for one whose HMAC key file is missing: each is the target's error. */
static void test_central_server_refused(void **state)
{
    struct fx *x = *state;
    struct tstate ts;
    char path[1200];

    snprintf(path, sizeof path, "%s/desired/a.test", x->dir);
    assert_int_equal(unlink(path), 0);
    write_file(x, "desired/c.test", "request:\n  provider: mgmt+http://192.0.2.13:1313/sign\n");
    snprintf(path, sizeof path,
             "satisfy:\n  names: [c.test]\nrequest:\n  provider: " CENTRAL "\n"
             "  mgmt:\n    hmac-key-file: %s/missing.key\n",
             x->dir);
    write_file(x, "desired/d.test", path);
    assert_int_equal(pass(x), REC_FAILED);
    assert_string_equal(x->c.log, "");
    assert_int_equal(x->sum.failed, 2);
    saved(x, "c.test", &ts);
    assert_non_null(strstr(ts.last_error, "plain http central certificate server "
                                          "http://192.0.2.13:1313/sign refused"));
    tstate_free(&ts);
    saved(x, "d.test", &ts);
    assert_non_null(strstr(ts.last_error, "request.mgmt.hmac-key-file"));
    assert_non_null(strstr(ts.last_error, "missing.key"));
    tstate_free(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_challenge_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_authz_others_carry_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_central_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_central_server_refused, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
