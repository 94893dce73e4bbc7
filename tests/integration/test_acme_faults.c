/* The engine against a hostile network: what Pebble 2.4 cannot do (Retry-After, 429, 5xx,
 * dropped, stalled, truncated, huge and malformed answers, renewalInfo, profiles) is injected
 * by the fault proxy (tests/faultproxy) between the client and the real Pebble. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/ari.h"
#include "common/acme_flow.h"
#include "common/faultproxy.h"
#include "common/pebble_env.h"
#include "crypto/pem.h"
#include "crypto/x509.h"
#include "util/clock.h"

static struct faultproxy *fp;
static const char *http01[] = {"http-01"};

static int group_setup(void **state)
{
    return fp_start_pebble(&fp) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    fp_stop(fp);
    return 0;
}

static int reset(void **state)
{
    return fp_reset(fp) == 0 ? 0 : -1;
}

/* A policy with short backoffs so the tests stay quick. */
static struct acme_retry_policy quick_policy(void)
{
    struct acme_retry_policy p;

    acme_retry_policy_default(&p);
    p.base_backoff_ms = 40;
    p.max_backoff_ms = 400;
    p.max_total_ms = 20000;
    return p;
}

static void env_up(struct flow_env *fe, const struct acme_retry_policy *pol)
{
    struct err e;

    flow_env_init(fe, fp_url(fp, "/dir"), pe_get("PEBBLE_CA"), pol);
    if (flow_env_account(fe, NULL, &e) < 0)
        fail_msg("account: %s", err_msg(&e));
}

static void issue_ok(struct flow_env *fe, const char *name, struct flow_result *res)
{
    const char *names[] = {name};
    struct flow_req req = {.names = names, .nnames = 1, .key = {KEY_ECDSA, 256},
                           .prefs = http01, .nprefs = 1,
                           .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};

    if (flow_issue(fe, &req, res) < 0)
        fail_msg("issuance of %s: %s", name, err_msg(&res->e));
}

static void new_order(struct flow_env *fe, const char *name, const char *profile,
                      const char *replaces, struct flow_sync *s)
{
    struct acme_identifier id = {ACME_ID_DNS, (char *)name};
    struct acme_new_order o = {.ids = &id, .nids = 1, .profile = profile,
                               .replaces = replaces};
    struct err e;

    if (acme_order_new(fe->acme, &o, flow_sync_cb, s, &e) < 0)
        fail_msg("newOrder: %s", err_msg(&e));
    flow_sync_wait(fe, s);
}

/* 503 with Retry-After: 1 on newOrder: the order is retried after the server's delay. */
static void test_503_retry_after(void **state)
{
    struct acme_retry_policy pol = quick_policy();
    struct flow_env fe;
    struct flow_result res;
    uint64_t t0;

    env_up(&fe, &pol);
    assert_true(fp_add_rule(fp, "{\"method\":\"POST\",\"path\":\"^/order-plz$\","
                                "\"action\":\"status\",\"status\":503,\"retry_after\":1,"
                                "\"with_nonce\":true,\"times\":1}") >= 0);
    t0 = clock_mono_ms();
    issue_ok(&fe, "ra503.faults.test", &res);
    assert_true(clock_mono_ms() - t0 >= 1000);
    assert_int_equal(fp_count(fp, "POST", "^/order-plz$"), 2);
    flow_result_clear(&res);
    flow_env_fini(&fe);
}

/* rateLimited with a Retry-After longer than the engine waits in-process: the caller gets
 * the problem and the delay at once, without a retry. */
static void test_429_long_retry_after(void **state)
{
    struct acme_retry_policy pol = quick_policy();
    struct flow_env fe;
    struct flow_sync s = {0};
    uint64_t t0;

    env_up(&fe, &pol);
    assert_true(fp_add_rule(fp, "{\"method\":\"POST\",\"path\":\"^/order-plz$\","
                                "\"action\":\"status\",\"status\":429,\"retry_after\":3600,"
                                "\"with_nonce\":true,\"problem\":{\"type\":"
                                "\"urn:ietf:params:acme:error:rateLimited\","
                                "\"detail\":\"too many orders\"}}") >= 0);
    t0 = clock_mono_ms();
    new_order(&fe, "ra429.faults.test", NULL, NULL, &s);
    assert_true(clock_mono_ms() - t0 < 3000);
    assert_int_equal(s.rc, ACME_EPROBLEM);
    assert_true(acme_problem_is(s.problem, "rateLimited"));
    assert_int_equal(s.retry_after, 3600);
    assert_non_null(strstr(err_msg(&s.e), "too many orders"));
    assert_int_equal(fp_count(fp, "POST", "^/order-plz$"), 1);
    flow_sync_clear(&s);
    flow_env_fini(&fe);
}

/* 500s without Retry-After are retried with backoff until one gets through... */
static void test_5xx_backoff(void **state)
{
    struct acme_retry_policy pol = quick_policy();
    struct flow_env fe;
    struct flow_sync s = {0};
    uint64_t t0;

    env_up(&fe, &pol);
    assert_true(fp_add_rule(fp, "{\"method\":\"POST\",\"path\":\"^/order-plz$\","
                                "\"action\":\"status\",\"status\":500,\"times\":2}") >= 0);
    t0 = clock_mono_ms();
    new_order(&fe, "backoff.faults.test", NULL, NULL, &s);
    if (s.rc < 0)
        fail_msg("newOrder: %s", err_msg(&s.e));
    /* Two waits with equal jitter: at least 20 + 40 ms. */
    assert_true(clock_mono_ms() - t0 >= 60);
    assert_int_equal(fp_count(fp, "POST", "^/order-plz$"), 3);
    flow_sync_clear(&s);
    flow_env_fini(&fe);
}

/* ...and given up on after max_attempts, with the server's problem. */
static void test_5xx_gives_up(void **state)
{
    struct acme_retry_policy pol = quick_policy();
    struct flow_env fe;
    struct flow_sync s = {0};

    pol.max_attempts = 3;
    env_up(&fe, &pol);
    assert_true(fp_add_rule(fp, "{\"method\":\"POST\",\"path\":\"^/order-plz$\","
                                "\"action\":\"status\",\"status\":503,\"problem\":"
                                "{\"detail\":\"down for maintenance\"}}") >= 0);
    new_order(&fe, "giveup.faults.test", NULL, NULL, &s);
    assert_int_equal(s.rc, ACME_EPROBLEM);
    assert_true(acme_problem_is(s.problem, "serverInternal"));
    assert_non_null(strstr(err_msg(&s.e), "down for maintenance"));
    assert_int_equal(fp_count(fp, "POST", "^/order-plz$"), 3);
    flow_sync_clear(&s);
    flow_env_fini(&fe);
}

/* A dropped connection, a truncated body and a stalled answer are all retried. */
static void test_network_faults_retried(void **state)
{
    struct acme_retry_policy pol = quick_policy();
    struct http_client_opts ho = {.ca_bundle = pe_get("PEBBLE_CA"), .total_timeout_ms = 600};
    struct flow_env fe;
    struct flow_result res;
    struct err e;

    if (flow_env_init_opts(&fe, fp_url(fp, "/dir"), &ho, &pol, &e) < 0)
        fail_msg("directory: %s", err_msg(&e));
    if (flow_env_account(&fe, NULL, &e) < 0)
        fail_msg("account: %s", err_msg(&e));
    assert_int_equal(fp_rules(fp, "["
                                  "{\"method\":\"POST\",\"path\":\"^/authZ/\",\"action\":\"drop\","
                                  "\"times\":1},"
                                  "{\"method\":\"POST\",\"path\":\"^/finalize-order/\","
                                  "\"action\":\"stall\",\"seconds\":5,\"times\":1},"
                                  "{\"method\":\"POST\",\"path\":\"^/certZ/\","
                                  "\"action\":\"truncate\",\"times\":1}"
                                  "]"),
                     0);
    issue_ok(&fe, "network.faults.test", &res);
    assert_true(fp_count(fp, "POST", "^/finalize-order/") >= 2);
    assert_true(fp_count(fp, "POST", "^/certZ/") >= 2);
    flow_result_clear(&res);
    flow_env_fini(&fe);
}

/* A huge answer is cut off at the body cap, and the request fails after bounded retries. */
static void test_huge_body(void **state)
{
    struct acme_retry_policy pol = quick_policy();
    struct http_client_opts ho = {.ca_bundle = pe_get("PEBBLE_CA"), .max_body = 1 << 20};
    struct flow_env fe;
    struct err e;
    int rc;

    pol.max_attempts = 2;
    assert_true(fp_add_rule(fp, "{\"path\":\"^/dir$\",\"action\":\"huge\","
                                "\"size\":20971520}") >= 0);
    rc = flow_env_init_opts(&fe, fp_url(fp, "/dir"), &ho, &pol, &e);
    assert_int_equal(rc, -EFBIG);
    assert_int_equal(fp_count(fp, "GET", "^/dir$"), 2);
    flow_env_fini(&fe);
}

/* A 2xx answer whose body is not the object it should be fails cleanly, naming the URL. */
static void test_malformed_body(void **state)
{
    struct acme_retry_policy pol = quick_policy();
    struct flow_env fe;
    struct flow_sync s = {0};

    env_up(&fe, &pol);
    assert_true(fp_add_rule(fp, "{\"method\":\"POST\",\"path\":\"^/order-plz$\","
                                "\"action\":\"replace_body\",\"body\":\"{\\\"status\\\": 3\"}") >=
                0);
    new_order(&fe, "malformed.faults.test", NULL, NULL, &s);
    assert_int_equal(s.rc, -EPROTO);
    assert_non_null(strstr(err_msg(&s.e), "order-plz"));
    flow_sync_clear(&s);
    flow_env_fini(&fe);
}

/* Polling honours Retry-After: with "Retry-After: 1" on every authorization, a 2.5 s
 * deadline sees about one poll a second, not the quick doubling schedule; past the deadline
 * the poll fails with -ETIMEDOUT and the last state. */
static void test_poll_retry_after_and_deadline(void **state)
{
    struct acme_retry_policy pol = quick_policy();
    struct flow_env fe;
    struct flow_sync s = {0};
    char *authz;
    uint64_t t0;
    long polls;
    struct err e;

    env_up(&fe, &pol);
    new_order(&fe, "poll.faults.test", NULL, NULL, &s);
    assert_int_equal(s.rc, 0);
    authz = strdup(s.order->authorizations[0]);
    flow_sync_clear(&s);
    assert_true(fp_add_rule(fp, "{\"method\":\"POST\",\"path\":\"^/authZ/\","
                                "\"action\":\"header\",\"set\":{\"Retry-After\":\"1\"}}") >= 0);
    fp_clear_log(fp);
    t0 = clock_mono_ms();
    assert_int_equal(acme_authz_poll(fe.acme, authz, t0 + 2500, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, -ETIMEDOUT);
    assert_non_null(s.authz);
    assert_int_equal(s.authz->status, AUTHZ_PENDING);
    assert_true(clock_mono_ms() - t0 >= 2400);
    /* At 0, ~1 and ~2 s (and maybe at the deadline); on a loaded machine (a sanitizer build
     * beside other tests) a poll's own round trip can push the third past the deadline. The
     * quick schedule without Retry-After would make 6 or more. */
    polls = fp_count(fp, "POST", "^/authZ/");
    assert_true(polls >= 2 && polls <= 4);
    flow_sync_clear(&s);
    free(authz);
    flow_env_fini(&fe);
}

/* The ARI certID of the leaf of a PEM chain. Caller frees. */
static char *cert_id_of(const char *pem, size_t len)
{
    struct pem_chain c = {0};
    struct x509_info *x = NULL;
    char *id;
    struct err e;

    assert_int_equal(pem_split_chain(pem, len, &c, &e), 0);
    assert_int_equal(x509_parse(c.certs[0].der, c.certs[0].len, &x, &e), 0);
    id = x509_ari_cert_id(x->aki, x->aki_len, x->serial, x->serial_len);
    assert_non_null(id);
    x509_info_free(x);
    pem_chain_clear(&c);
    return id;
}

/* renewalInfo (RFC 9773): the window and Retry-After come back for our certID; an invalid
 * window is no answer; newOrder carries `replaces` and `profile`, which Pebble (-strict)
 * accepts. */
static void test_ari_and_profiles(void **state)
{
    struct acme_retry_policy pol = quick_policy();
    struct acme_renewal_info ri = {0};
    struct flow_env fe;
    struct flow_result res;
    struct flow_sync s = {0};
    char *id, body[512];
    json_t *log, *last;
    time_t now;
    struct err e;

    assert_int_equal(fp_set_ari(fp, "{\"window\":{\"start\":-60,\"end\":3600},"
                                    "\"retry_after\":21600}"),
                     0);
    assert_int_equal(fp_set_profiles(fp, "{\"classic\":\"90 days\",\"shortlived\":\"6 days\"}"),
                     0);
    env_up(&fe, &pol);
    assert_non_null(acme_client_directory(fe.acme)->renewal_info);
    assert_int_equal(acme_client_directory(fe.acme)->meta.nprofiles, 2);
    issue_ok(&fe, "ari.faults.test", &res);
    id = cert_id_of(res.cert_pem, res.cert_len);
    assert_int_equal(acme_renewal_info_get(fe.acme, id, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, 0);
    assert_int_equal(s.retry_after, 21600);
    assert_int_equal(acme_renewal_info_parse(s.body, s.body_len, &ri, &e), 0);
    now = clock_now();
    assert_true(ri.start <= now && ri.start >= now - 120);
    assert_true(ri.end >= now + 3500 && ri.end <= now + 3700);
    acme_renewal_info_clear(&ri);
    flow_sync_clear(&s);
    assert_int_equal(fp_count(fp, "GET", "^/renewal-info/"), 1);

    /* An inverted window is no answer. */
    snprintf(body, sizeof body,
             "{\"certs\":{\"%s\":{\"window\":{\"start\":3600,\"end\":60}}}}", id);
    assert_int_equal(fp_set_ari(fp, body), 0);
    assert_int_equal(acme_renewal_info_get(fe.acme, id, flow_sync_cb, &s, &e), 0);
    flow_sync_wait(&fe, &s);
    assert_int_equal(s.rc, 0);
    assert_int_equal(acme_renewal_info_parse(s.body, s.body_len, &ri, &e), -EINVAL);
    flow_sync_clear(&s);

    /* The replacement order names the old certificate and the profile. */
    fp_clear_log(fp);
    new_order(&fe, "ari.faults.test", "shortlived", id, &s);
    if (s.rc < 0)
        fail_msg("replacement order: %s", err_msg(&s.e));
    flow_sync_clear(&s);
    log = fp_log(fp);
    assert_non_null(log);
    last = json_array_get(log, json_array_size(log) - 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(last, "payload"),
                                                          "replaces")),
                        id);
    assert_string_equal(json_string_value(json_object_get(json_object_get(last, "payload"),
                                                          "profile")),
                        "shortlived");
    json_decref(log);
    /* A profile the CA does not list is refused before any request. */
    assert_int_equal(acme_order_new(fe.acme,
                                    &(struct acme_new_order){
                                        .ids = &(struct acme_identifier){ACME_ID_DNS, "x.test"},
                                        .nids = 1, .profile = "nonesuch"},
                                    flow_sync_cb, &s, &e),
                     -EINVAL);
    free(id);
    flow_result_clear(&res);
    flow_env_fini(&fe);
}

/* Without renewalInfo in the directory, `replaces` is not sent. */
static void test_no_ari_no_replaces(void **state)
{
    struct acme_retry_policy pol = quick_policy();
    struct flow_env fe;
    struct flow_sync s = {0};
    json_t *log, *last;

    env_up(&fe, &pol);
    assert_null(acme_client_directory(fe.acme)->renewal_info);
    fp_clear_log(fp);
    new_order(&fe, "noari.faults.test", NULL, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", &s);
    assert_int_equal(s.rc, 0);
    flow_sync_clear(&s);
    log = fp_log(fp);
    last = json_array_get(log, json_array_size(log) - 1);
    assert_null(json_object_get(json_object_get(last, "payload"), "replaces"));
    assert_non_null(json_object_get(json_object_get(last, "payload"), "identifiers"));
    json_decref(log);
    flow_env_fini(&fe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_503_retry_after, reset),
        cmocka_unit_test_setup(test_429_long_retry_after, reset),
        cmocka_unit_test_setup(test_5xx_backoff, reset),
        cmocka_unit_test_setup(test_5xx_gives_up, reset),
        cmocka_unit_test_setup(test_network_faults_retried, reset),
        cmocka_unit_test_setup(test_huge_body, reset),
        cmocka_unit_test_setup(test_malformed_body, reset),
        cmocka_unit_test_setup(test_poll_retry_after_and_deadline, reset),
        cmocka_unit_test_setup(test_ari_and_profiles, reset),
        cmocka_unit_test_setup(test_no_ari_no_replaces, reset),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
