/* Unit tests for net/mgmt_url: a central certificate server's URL (mgmt+https://...) as a
 * desired file names it, and the plain-http rule applied to it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/mgmt_url.h"

static void test_http_url(void **state)
{
    (void)state;
    assert_string_equal(mgmt_url_http("mgmt+https://central.example:1313/sign"),
                        "https://central.example:1313/sign");
    assert_string_equal(mgmt_url_http("mgmt+http://127.0.0.1:1313/sign"),
                        "http://127.0.0.1:1313/sign");
    assert_string_equal(mgmt_url_http("MGMT+HTTPS://central.example"), "HTTPS://central.example");
    assert_string_equal(mgmt_url_http("mgmt+http://[::1]:1313/sign"), "http://[::1]:1313/sign");
    /* Not central servers' URLs. */
    assert_null(mgmt_url_http(NULL));
    assert_null(mgmt_url_http("https://acme.example/directory"));
    assert_null(mgmt_url_http("http://127.0.0.1/sign"));
    assert_null(mgmt_url_http("mgmt+ftp://central.example/sign"));
    assert_null(mgmt_url_http("mgmt+https://"));
    assert_null(mgmt_url_http("mgmt+https:///sign"));
    assert_null(mgmt_url_http("mgmt+central.example"));
    assert_null(mgmt_url_http("mgmt:https://central.example/sign"));
    assert_null(mgmt_url_http("letsencrypt"));
}

static void test_check(void **state)
{
    struct err e = {0};

    (void)state;
    assert_int_equal(mgmt_url_check("mgmt+https://central.example:1313/sign", false, &e), 0);
    /* Plain http: loopback only, unless allow-insecure-http. */
    assert_int_equal(mgmt_url_check("mgmt+http://127.0.0.1:1313/sign", false, &e), 0);
    assert_int_equal(mgmt_url_check("mgmt+http://[::1]:1313/sign", false, &e), 0);
    assert_int_equal(mgmt_url_check("mgmt+http://central.example:1313/sign", false, &e), -EPERM);
    assert_non_null(strstr(err_msg(&e), "allow-insecure-http"));
    assert_int_equal(mgmt_url_check("mgmt+http://192.0.2.13:1313/sign", false, &e), -EPERM);
    assert_int_equal(mgmt_url_check("mgmt+http://central.example:1313/sign", true, &e), 0);
    /* A user part would send the request elsewhere than the host it seems to name. */
    assert_int_equal(mgmt_url_check("mgmt+http://127.0.0.1@evil.example/sign", false, &e), -EINVAL);
    assert_int_equal(mgmt_url_check("mgmt+https://central.example/si gn", false, &e), -EINVAL);
    assert_int_equal(mgmt_url_check("mgmt+https://central.example/\r\nX: y", false, &e), -EINVAL);
    assert_int_equal(mgmt_url_check("https://central.example/sign", false, &e), -EINVAL);
    assert_non_null(strstr(err_msg(&e), "mgmt+https://"));
    assert_int_equal(mgmt_url_check(NULL, false, &e), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_url),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
