/* Unit tests for util/sanitize: the one filter for text from servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/sanitize.h"

static void check(const char *in, size_t len, const char *want)
{
    char out[64];

    sanitize_into(out, sizeof out, in, len);
    assert_string_equal(out, want);
}

static void test_controls(void **state)
{
    (void)state;
    check("plain text", 10, "plain text");
    check("a\nb\rc", 5, "a?b?c");
    check("\x1b[31mred", 8, "?[31mred");
    check("bell\a", 5, "bell?");
    check("del\x7f", 4, "del?");
    check("tab\there", 8, "tab?here");
    check("nul\0after", 9, "nul?after");
    /* C1 controls in UTF-8 (U+0085 NEL, U+009B CSI) are one '?' each. */
    check("x\xc2\x85y\xc2\x9bz", 7, "x?y?z");
    /* Printable UTF-8 is kept: U+00E9, U+20AC, U+1F600. */
    check("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    /* Ill-formed UTF-8: a lone continuation, an overlong '/', a surrogate, a cut sequence. */
    check("a\x80" "b", 3, "a?b");
    check("\xc0\xaf", 2, "??");
    check("\xed\xa0\x80", 3, "???");
    check("\xe2\x82", 2, "??");
}

static void test_cut(void **state)
{
    char out[8];
    char big[3000];
    char *d;

    (void)state;
    /* Too long for the buffer: cut with "..." and NUL, within the size. */
    assert_int_equal(sanitize_into(out, sizeof out, "abcdefghij", 10), 7);
    assert_string_equal(out, "abcd...");
    /* Exactly fitting: no mark. */
    assert_int_equal(sanitize_into(out, sizeof out, "abcdefg", 7), 7);
    assert_string_equal(out, "abcdefg");
    /* Never in the middle of a character. */
    sanitize_into(out, sizeof out, "ab\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 11);
    assert_string_equal(out, "ab...");
    {
        char small[6];

        sanitize_into(small, sizeof small, "a\xe2\x82\xac\xe2\x82\xac", 7);
        assert_string_equal(small, "a...");
    }
    /* sanitize_dup caps at SANITIZE_MAX bytes with its NUL. */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    d = sanitize_dup(big);
    assert_non_null(d);
    assert_int_equal(strlen(d), SANITIZE_MAX - 1);
    assert_string_equal(d + SANITIZE_MAX - 4, "...");
    free(d);
    assert_null(sanitize_dup(NULL));
}

static void test_in_place_and_clean(void **state)
{
    char s[] = "a\xc2\x9b\x1b[2Jb";
    char line[32];

    (void)state;
    sanitize_into(s, sizeof s, s, strlen(s));
    assert_string_equal(s, "a??[2Jb");
    assert_true(sanitize_is_clean("https://example.com/x?y=1 ok \xc3\xa9"));
    assert_false(sanitize_is_clean("a\nb"));
    assert_false(sanitize_is_clean("a\tb"));
    /* The log's variant keeps a tab (hook output) and nothing else. */
    sanitize_log_line(line, sizeof line, "a\tb\x1b", 4);
    assert_string_equal(line, "a\tb?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_controls),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_in_place_and_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
