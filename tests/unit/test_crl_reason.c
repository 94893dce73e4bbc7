/* Unit tests for crypto/crl_reason: revocation reasons by name or RFC 5280 §5.3.1 code. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "crypto/crl_reason.h"

/* The names and their codes as RFC 5280 §5.3.1 numbers them (CRLReason ::= ENUMERATED). */
static void test_names(void **state)
{
    static const struct {
        const char *s;
        int code;
    } ok[] = {
        {"unspecified", 0},          {"keyCompromise", 1}, {"superseded", 4},
        {"cessationOfOperation", 5}, {"KEYCOMPROMISE", 1}, {"Superseded", 4},
    };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int r = -1;

        print_message("%s\n", ok[i].s);
        assert_int_equal(crl_reason_parse(ok[i].s, &r), 0);
        assert_int_equal(r, ok[i].code);
    }
    assert_int_equal(CRL_REASON_UNSPECIFIED, 0);
    assert_int_equal(CRL_REASON_KEY_COMPROMISE, 1);
    assert_int_equal(CRL_REASON_SUPERSEDED, 4);
    assert_int_equal(CRL_REASON_CESSATION_OF_OPERATION, 5);
}

/* Every code of RFC 5280 is taken as a number, 7 (unused there) is not. */
static void test_numbers(void **state)
{
    for (int code = 0; code <= 10; code++) {
        char s[4];
        int r = -1;

        snprintf(s, sizeof s, "%d", code);
        assert_int_equal(crl_reason_parse(s, &r), code == 7 ? -EINVAL : 0);
        assert_int_equal(r, code == 7 ? -1 : code);
    }
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "7",
        "11",
        "-1",
        "1x",
        " 1",
        "1 ",
        "bogus",
        "keyCompromise ",
        "key-compromise",
        "0x1",
        "+1",
        "99999999999999999999",
        "00000000000000000000004x",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = -1;

        print_message("\"%s\"\n", bad[i]);
        assert_int_equal(crl_reason_parse(bad[i], &r), -EINVAL);
        assert_int_equal(r, -1);
    }
    {
        int r = -1;

        assert_int_equal(crl_reason_parse(NULL, &r), -EINVAL);
        assert_int_equal(r, -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
