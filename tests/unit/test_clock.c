/* Unit tests for util/clock: the injectable clock and RFC 3339. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/clock.h"

static void test_fake_now_runs_on(void **state)
{
    time_t t0;

    setenv("ACMED_FAKE_NOW", "2000000000", 1);
    assert_int_equal(clock_init(), 0);
    t0 = clock_now();
    assert_true(t0 >= 2000000000 && t0 <= 2000000001);
    usleep(1100 * 1000);
    assert_true(clock_now() >= 2000000001);
    assert_true(clock_now() <= 2000000003);
    setenv("ACMED_FAKE_NOW", "12abc", 1);
    assert_int_equal(clock_init(), -EINVAL);
    /* An invalid value leaves the real clock. */
    assert_true(llabs((long long)(clock_now() - time(NULL))) <= 1);
    unsetenv("ACMED_FAKE_NOW");
    assert_int_equal(clock_init(), 0);
    assert_true(llabs((long long)(clock_now() - time(NULL))) <= 1);
}

static void test_rfc3339(void **state)
{
    char buf[32];
    time_t t;

    assert_string_equal(clock_rfc3339(0, buf, sizeof buf), "1970-01-01T00:00:00Z");
    assert_string_equal(clock_rfc3339(1700000000, buf, sizeof buf), "2023-11-14T22:13:20Z");
    assert_int_equal(clock_parse_rfc3339("2023-11-14T22:13:20Z", &t), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(clock_parse_rfc3339("2023-11-14T22:13:20.123456Z", &t), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(clock_parse_rfc3339("2023-11-14T23:13:20+01:00", &t), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(clock_parse_rfc3339("2023-11-14T21:13:20-01:00", &t), 0);
    assert_int_equal(t, 1700000000);
    assert_int_equal(clock_parse_rfc3339("2023-11-14 22:13:20Z", &t), 0);
    assert_int_equal(clock_parse_rfc3339("2023-11-14T22:13:20", &t), -EINVAL);
    assert_int_equal(clock_parse_rfc3339("2023-02-31T00:00:00Z", &t), -EINVAL);
    assert_int_equal(clock_parse_rfc3339("2023-13-01T00:00:00Z", &t), -EINVAL);
    assert_int_equal(clock_parse_rfc3339("2023-11-14T22:13:20Zjunk", &t), -EINVAL);
    assert_int_equal(clock_parse_rfc3339("", &t), -EINVAL);
    assert_int_equal(clock_parse_rfc3339("2023-11-14T22:13:20.Z", &t), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_now_runs_on),
        cmocka_unit_test(test_rfc3339),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
