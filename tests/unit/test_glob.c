/* Unit tests for util/glob: `*` and `?` within one label, never across a dot, ASCII case
 * folding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/glob.h"

struct vec {
    const char *pattern, *name;
    bool match;
};

static const struct vec vecs[] = {
    /* literals, case-insensitive */
    {"example.test", "example.test", true},
    {"Example.TEST", "eXample.test", true},
    {"example.test", "example.tes", false},
    {"example.tes", "example.test", false},
    {"", "", true},
    {"", "a", false},
    {"a", "", false},
    /* `*` within one label */
    {"*.example.test", "a.example.test", true},
    {"*.example.test", "www.example.test", true},
    {"*.example.test", "example.test", false},
    {"*.example.test", ".example.test", true}, /* the empty run */
    {"*.example.test", "a.b.example.test", false},
    {"*.example.test", "b.example.org", false},
    {"*", "localhost", true},
    {"*", "a.b", false},
    {"*", "", true},
    {"a*", "a.b", false},
    {"*b", "a.b", false},
    {"w*w.example.test", "ww.example.test", true},
    {"w*w.example.test", "wxyzw.example.test", true},
    {"w*w.example.test", "wx.w.example.test", false},
    {"*-*.test", "a-b.test", true},
    {"*-*.test", "a-b-c.test", true},
    {"*-*.test", "ab.test", false},
    {"*.*", "a.b", true},
    {"*.*", "a.b.c", false},
    {"*.*b", "a.xb", true},
    {"a.*", "a.", true},
    {"**.test", "abc.test", true},
    {"*a", "aaaa", true},
    {"*ab*ab*", "xxabyyabzz", true},
    {"*ab*ab*", "xxabyy.abzz", false},
    /* `?` exactly one character, never a dot */
    {"?.test", "a.test", true},
    {"?.test", ".test", false},
    {"?.test", "ab.test", false},
    {"a?c.test", "abc.test", true},
    {"a?c.test", "a.c.test", false},
    {"??", "ab", true},
    {"??", "a", false},
    {"?*", "", false},
    /* only ASCII folds */
    {"\xc3\x89.test", "\xc3\xa9.test", false},
    {"A", "a", true},
    {"[", "{", false},
};

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        bool got = glob_match(vecs[i].pattern, vecs[i].name);

        if (got != vecs[i].match)
            fail_msg("glob_match(\"%s\", \"%s\") = %d, want %d", vecs[i].pattern, vecs[i].name, got,
                     vecs[i].match);
    }
}

static void test_null(void **state)
{
    (void)state;
    assert_false(glob_match(NULL, "a"));
    assert_false(glob_match("a", NULL));
    assert_false(glob_match(NULL, NULL));
}

/* A pattern of many stars against a long label that does not match must still answer fast
 * (no exponential backtracking). */
static void test_many_stars(void **state)
{
    char pat[201], name[4001];

    (void)state;
    for (size_t i = 0; i < 200; i++)
        pat[i] = i % 2 ? 'a' : '*';
    pat[200] = '\0';
    memset(name, 'a', 4000);
    name[3999] = 'b';
    name[4000] = '\0';
    assert_false(glob_match(pat, name));
    name[3999] = 'a';
    assert_true(glob_match(pat, name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_many_stars),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
