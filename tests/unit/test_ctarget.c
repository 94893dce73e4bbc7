/* Unit tests for cluster/ctarget: a desired target as fleet mode keeps it in etcd carries
 * names, request names, key, profile and challenge types only; what a node keeps to itself
 * (webroot paths, hook environment, CSR, key id, signer, central server) never goes out and
 * cannot come in; every hostile value is refused before the YAML schema sees it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/ctarget.h"
#include "store/desired.h"

static const char defaults[] = "request:\n"
                               "  challenge:\n"
                               "    webroot-paths: [/var/www/acme]\n"
                               "    env: {HOOK_ZONE: example.org}\n"
                               "  account:\n"
                               "    agree-tos: true\n";

static void parse(const char *file, const char *yaml, struct target *t)
{
    struct err e;

    if (desired_parse(file, yaml, strlen(yaml), NULL, 0, t, &e) < 0)
        fail_msg("%s", err_msg(&e));
}

static void test_round_trip(void **state)
{
    static const char yaml[] = "satisfy:\n  names: [www.example.org, example.org]\n"
                               "request:\n  names: [www.example.org, example.org, 192.0.2.7]\n"
                               "  key: {type: rsa, rsa-size: 3072}\n  profile: tlsserver\n"
                               "  challenge:\n    type: [dns-01, http-01]\n"
                               "    webroot-paths: [/srv/other]\n    env: {SECRET: \"1\"}\n";
    struct target t, d;
    char *json = NULL;
    size_t len = 0;
    struct err e;

    (void)state;
    parse("www", yaml, &t);
    assert_int_equal(ctarget_encode(&t, &json, &len, &e), 0);
    /* What is this node's never leaves it. */
    assert_null(strstr(json, "/srv/other"));
    assert_null(strstr(json, "SECRET"));
    assert_non_null(strstr(json, "\"tlsserver\""));
    assert_int_equal(ctarget_decode("www", json, len, defaults, strlen(defaults), &d, &e), 0);
    assert_int_equal(d.nnames, 2);
    assert_string_equal(d.names[0].name, "www.example.org");
    assert_int_equal(d.nreq_names, 3);
    assert_string_equal(d.req_names[2].name, "192.0.2.7");
    assert_int_equal(d.key.type, KEY_RSA);
    assert_int_equal(d.key.size, 3072);
    assert_string_equal(d.profile, "tlsserver");
    assert_int_equal(d.nchallenge_types, 2);
    assert_string_equal(d.challenge_types[0], "dns-01");
    /* ...and the receiving node's own settings apply. */
    assert_int_equal(d.nwebroot_paths, 1);
    assert_string_equal(d.webroot_paths[0], "/var/www/acme");
    assert_int_equal(d.nenv, 1);
    assert_string_equal(d.env[0], "HOOK_ZONE=example.org");
    target_clear(&t);
    target_clear(&d);
    free(json);
}

static void test_ecdsa_and_same_names(void **state)
{
    struct target t, d;
    char *json = NULL;
    size_t len = 0;
    struct err e;

    (void)state;
    parse("a.example.org", "request:\n  key: {ecdsa-curve: nistp384}\n", &t);
    assert_int_equal(ctarget_encode(&t, &json, &len, &e), 0);
    assert_null(strstr(json, "request-names")); /* the same as names: not repeated */
    assert_int_equal(ctarget_decode("a.example.org", json, len, NULL, 0, &d, &e), 0);
    assert_int_equal(d.key.type, KEY_ECDSA);
    assert_int_equal(d.key.size, 384);
    assert_int_equal(d.nreq_names, 1);
    target_clear(&t);
    target_clear(&d);
    free(json);
}

static void test_local_targets_stay_local(void **state)
{
    static const char *const yamls[] = {
        "request:\n  key: {id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n",
        "request:\n  provider: mgmt+https://192.0.2.1:1313/sign\n",
        "request:\n  account:\n    signer: unix:/run/acme/s.signer\n",
    };
    static const char *const why[] = {"request.key.id", "request.provider",
                                      "request.account.signer"};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        struct target t;
        char *json = NULL;
        size_t len;
        struct err e;

        parse("x.example.org", yamls[i], &t);
        assert_int_equal(ctarget_encode(&t, &json, &len, &e), -EINVAL);
        assert_null(json);
        assert_non_null(strstr(err_msg(&e), why[i]));
        target_clear(&t);
    }
}

static void test_hostile_values(void **state)
{
    static const struct {
        const char *file, *json, *why;
    } bad[] = {
        {"x",
         "{\"v\":1,\"names\":[\"a.example\"],\"key\":{\"type\":\"ecdsa\",\"curve\":\"nistp256\"},"
         "\"challenge\":[\"http-01\"],\"webroot-paths\":[\"/etc\"]}",
         "unknown field"},
        {"x", "{\"v\":2,\"names\":[\"a.example\"]}", "version"},
        {"x",
         "{\"v\":1,\"names\":[\"a.example\\\"]\\nrequest: {challenge: {env: [LD_PRELOAD=/x]}}\"],"
         "\"key\":{\"type\":\"ecdsa\",\"curve\":\"nistp256\"},\"challenge\":[\"http-01\"]}",
         "names[0]"},
        {"x",
         "{\"v\":1,\"names\":\"a.example\",\"key\":{\"type\":\"ecdsa\",\"curve\":\"nistp256\"},"
         "\"challenge\":[\"http-01\"]}",
         "names"},
        {"x",
         "{\"v\":1,\"names\":[],\"key\":{\"type\":\"ecdsa\",\"curve\":\"nistp256\"},"
         "\"challenge\":[\"http-01\"]}",
         "names"},
        {"x",
         "{\"v\":1,\"names\":[\"a.example\"],\"key\":{\"type\":\"ecdsa\",\"curve\":\"p192\"},"
         "\"challenge\":[\"http-01\"]}",
         "curve"},
        {"x",
         "{\"v\":1,\"names\":[\"a.example\"],\"key\":{\"type\":\"rsa\",\"bits\":1024},"
         "\"challenge\":[\"http-01\"]}",
         "key"},
        {"x",
         "{\"v\":1,\"names\":[\"a.example\"],\"key\":{\"type\":\"ecdsa\",\"curve\":\"nistp256\","
         "\"id\":\"k\"},\"challenge\":[\"http-01\"]}",
         "key"},
        {"x",
         "{\"v\":1,\"names\":[\"a.example\"],\"key\":{\"type\":\"ecdsa\",\"curve\":\"nistp256\"},"
         "\"profile\":\"a b\",\"challenge\":[\"http-01\"]}",
         "profile"},
        {"x",
         "{\"v\":1,\"names\":[\"a.example\"],\"key\":{\"type\":\"ecdsa\",\"curve\":\"nistp256\"},"
         "\"challenge\":[\"http-01\",\"http-01\"]}",
         "challenge[1]"},
        {"x",
         "{\"v\":1,\"names\":[\"a.example\"],\"key\":{\"type\":\"ecdsa\",\"curve\":\"nistp256\"},"
         "\"challenge\":[\"tls-sni-01\"]}",
         "challenge[0]"},
        {"x", "{\"v\":1,\"v\":1}", "not JSON"},
        {"x", "[1, 2]", "object"},
        {".hidden", "{}", "file name"},
        {"a/b", "{}", "file name"},
        {"x",
         "{\"v\":1,\"names\":[\"-bad-.example\"],\"key\":{\"type\":\"ecdsa\","
         "\"curve\":\"nistp256\"},\"challenge\":[\"http-01\"]}",
         "from etcd"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct target t;
        struct err e;

        if (ctarget_decode(bad[i].file, bad[i].json, strlen(bad[i].json), defaults,
                           strlen(defaults), &t, &e) != -EINVAL)
            fail_msg("case %zu accepted", i);
        if (!strstr(err_msg(&e), bad[i].why))
            fail_msg("case %zu: \"%s\" does not say %s", i, err_msg(&e), bad[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_ecdsa_and_same_names),
        cmocka_unit_test(test_local_targets_stay_local),
        cmocka_unit_test(test_hostile_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
