/* Unit tests for challenge/listen_addr: acmetool-style listen address specs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "challenge/listen_addr.h"

/* Parses one spec and checks the texts of the resulting addresses (NULL-terminated). */
static void check_spec(const char *spec, const char *const *want)
{
    struct listen_addr *v = NULL;
    size_t n = 0, nwant = 0;
    struct err e;

    assert_int_equal(listen_addrs_parse(&spec, 1, &v, &n, &e), 0);
    while (want[nwant])
        nwant++;
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i].text, want[i]);
        assert_int_equal(v[i].len, v[i].sa.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                                : sizeof(struct sockaddr_in6));
    }
    free(v);
}

static void check_bad(const char *spec, const char *needle)
{
    struct listen_addr *v = (struct listen_addr *)1;
    size_t n = 99;
    struct err e;

    err_clear(&e);
    assert_int_equal(listen_addrs_parse(&spec, 1, &v, &n, &e), -EINVAL);
    assert_null(v);
    assert_int_equal(n, 0);
    if (!strstr(e.msg, needle))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", spec ? spec : "(null)", e.msg, needle);
}

static void test_forms(void **state)
{
    check_spec("127.0.0.1:402", (const char *[]){"127.0.0.1:402", NULL});
    check_spec("192.0.2.7:8080", (const char *[]){"192.0.2.7:8080", NULL});
    check_spec(":80", (const char *[]){"0.0.0.0:80", "[::]:80", NULL});
    check_spec("[::1]:402", (const char *[]){"[::1]:402", NULL});
    check_spec("[2001:db8::1]:65535", (const char *[]){"[2001:db8::1]:65535", NULL});
    check_spec("[::]:1", (const char *[]){"[::]:1", NULL});
    /* A bare port is loopback only, as in acmetool. */
    check_spec("402", (const char *[]){"127.0.0.1:402", "[::1]:402", NULL});
    check_spec("0.0.0.0:80", (const char *[]){"0.0.0.0:80", NULL});
}

static void test_ports(void **state)
{
    struct listen_addr *v = NULL;
    size_t n = 0;
    const char *spec = "[::1]:443";

    assert_int_equal(listen_addrs_parse(&spec, 1, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(listen_addr_port(&v[0]), 443);
    assert_int_equal(v[0].sa.ss_family, AF_INET6);
    free(v);
    check_bad("0", "1-65535");
    check_bad(":0", "1-65535");
    check_bad("65536", "1-65535");
    check_bad("127.0.0.1:65536", "1-65535");
    check_bad("127.0.0.1:", "1-65535");
    check_bad("127.0.0.1:8o", "1-65535");
    check_bad("127.0.0.1:-1", "1-65535");
    check_bad("127.0.0.1:+80", "1-65535");
    check_bad("[::1]:", "1-65535");
    check_bad("99999999999999999999", "1-65535");
}

static void test_rejected(void **state)
{
    check_bad("localhost:80", "host names are not resolved");
    check_bad("example.com:443", "host names are not resolved");
    check_bad("*:80", "not an IP address literal");
    check_bad("1.2.3:80", "not an IP address literal");
    check_bad("256.1.1.1:80", "not an IP address literal");
    check_bad("[127.0.0.1]:80", "not an IP address literal");
    check_bad("[]:80", "not an IP address literal");
    check_bad("[fe80::1%eth0]:80", "zone");
    check_bad("::1:80", "brackets");
    check_bad("[::1]80", "[v6]:port");
    check_bad("[::1", "[v6]:port");
    check_bad("127.0.0.1", "missing port");
    check_bad("", "empty");
    check_bad(NULL, "empty");
}

static void test_list_dedup_and_failure(void **state)
{
    const char *specs[] = {"80", "127.0.0.1:80", "[::1]:443", ":80"};
    const char *bad[] = {"80", "nope:1"};
    struct listen_addr *v = NULL;
    size_t n = 0;
    struct err e;

    assert_int_equal(listen_addrs_parse(specs, 4, &v, &n, &e), 0);
    assert_int_equal(n, 5);
    assert_string_equal(v[0].text, "127.0.0.1:80");
    assert_string_equal(v[1].text, "[::1]:80");
    assert_string_equal(v[2].text, "[::1]:443");
    assert_string_equal(v[3].text, "0.0.0.0:80");
    assert_string_equal(v[4].text, "[::]:80");
    free(v);
    assert_int_equal(listen_addrs_parse(bad, 2, &v, &n, &e), -EINVAL);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_non_null(strstr(e.msg, "\"nope:1\""));
    assert_int_equal(listen_addrs_parse(NULL, 0, &v, &n, &e), 0);
    assert_null(v);
    assert_int_equal(n, 0);
}

static void test_default_http(void **state)
{
    struct listen_addr *v = NULL;
    bool *req = NULL;
    size_t n = 0;
    struct err e;

    assert_int_equal(listen_addrs_default_http(&v, &req, &n, &e), 0);
    assert_int_equal(n, 4);
    assert_string_equal(v[0].text, "0.0.0.0:80");
    assert_string_equal(v[1].text, "[::]:80");
    assert_string_equal(v[2].text, "127.0.0.1:402");
    assert_string_equal(v[3].text, "[::1]:402");
    assert_false(req[0]);
    assert_false(req[1]);
    assert_true(req[2]);
    assert_true(req[3]);
    free(v);
    free(req);
}

static void test_from_sockaddr(void **state)
{
    struct sockaddr_in6 in6;
    struct sockaddr sa;
    struct listen_addr a;

    memset(&in6, 0, sizeof in6);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(12345);
    in6.sin6_addr = in6addr_loopback;
    assert_int_equal(listen_addr_from_sockaddr(&a, (struct sockaddr *)&in6, sizeof in6), 0);
    assert_string_equal(a.text, "[::1]:12345");
    assert_int_equal(listen_addr_port(&a), 12345);
    assert_int_equal(listen_addr_from_sockaddr(&a, (struct sockaddr *)&in6, 8), -EAFNOSUPPORT);
    memset(&sa, 0, sizeof sa);
    sa.sa_family = AF_UNIX;
    assert_int_equal(listen_addr_from_sockaddr(&a, &sa, sizeof sa), -EAFNOSUPPORT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_rejected),     cmocka_unit_test(test_list_dedup_and_failure),
        cmocka_unit_test(test_default_http), cmocka_unit_test(test_from_sockaddr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
