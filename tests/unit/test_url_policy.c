/* Unit tests for net/url_policy: plain http only to loopback literals, or when allowed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/url_policy.h"

static void test_https_and_loopback(void **state)
{
    struct err e = {0};

    (void)state;
    assert_int_equal(url_policy_check("https://acme.example/dir", false, "provider", &e),
                     URL_POLICY_TLS);
    assert_int_equal(url_policy_check("http://127.0.0.1:14000/dir", false, "provider", &e),
                     URL_POLICY_LOOPBACK);
    assert_int_equal(url_policy_check("HTTP://127.8.9.10/dir", false, "provider", &e),
                     URL_POLICY_LOOPBACK);
    assert_int_equal(url_policy_check("http://[::1]:80/dir", false, "provider", &e),
                     URL_POLICY_LOOPBACK);
    assert_int_equal(url_policy_check("http://[::ffff:127.0.0.1]/dir", false, "provider", &e),
                     URL_POLICY_LOOPBACK);
    assert_int_equal(url_policy_check("http://127.0.0.1", false, "provider", &e),
                     URL_POLICY_LOOPBACK);
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "http://acme.example/dir",
        "http://localhost/dir",            /* a name, resolved elsewhere: not a literal */
        "http://127.0.0.1@evil.example/",  /* userinfo: the host is evil.example */
        "http://127.0.0.1.evil.example/",
        "http://[::2]/dir",
        "http://[::1/dir",
        "http://0.0.0.0:1/dir",
        "http://10.0.0.1/dir",
    };
    struct err e = {0};

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("%s\n", bad[i]);
        assert_int_equal(url_policy_check(bad[i], false, "provider", &e), -EPERM);
        assert_non_null(strstr(e.msg, "plain http provider "));
        assert_non_null(strstr(e.msg, bad[i]));
        assert_non_null(strstr(e.msg, "refused; set allow-insecure-http: true in "
                                      "conf/acmed.yaml to allow it"));
        assert_int_equal(url_policy_check(bad[i], true, "provider", &e), URL_POLICY_ALLOWED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_and_loopback),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
