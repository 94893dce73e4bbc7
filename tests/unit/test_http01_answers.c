/* Unit tests for challenge/http01_answers: the key authorizations the http-01 responder
 * publishes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "challenge/http01_answers.h"
#include "challenge/http01_req.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"

/* Publishing, replacing, finding and withdrawing answers. */
static void test_put_find_remove(void **state)
{
    struct http01_answers s = {0};
    const struct http01_answer *a;
    struct err e = {0};

    (void)state;
    assert_null(http01_answers_find(&s, TOKEN));
    assert_int_equal(http01_answers_put(&s, TOKEN, TOKEN ".one", &e), 0);
    assert_int_equal(http01_answers_put(&s, "other", "other.ka", &e), 0);
    assert_int_equal(s.n, 2);
    assert_non_null(a = http01_answers_find(&s, TOKEN));
    assert_string_equal(a->keyauth, TOKEN ".one");
    /* Publishing a token again replaces its answer. */
    assert_int_equal(http01_answers_put(&s, TOKEN, TOKEN ".two", &e), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(http01_answers_find(&s, TOKEN)->keyauth, TOKEN ".two");
    http01_answers_remove(&s, TOKEN);
    http01_answers_remove(&s, TOKEN);
    http01_answers_remove(&s, NULL);
    assert_null(http01_answers_find(&s, TOKEN));
    assert_null(http01_answers_find(&s, NULL));
    assert_string_equal(http01_answers_find(&s, "other")->keyauth, "other.ka");
    http01_answers_clear(&s);
    assert_int_equal(s.n, 0);
    assert_null(s.v);
    assert_null(http01_answers_find(&s, "other"));
}

/* Tokens that could not come from a CA, or could name another path, are refused. */
static void test_refused(void **state)
{
    static const char *const bad[] = {"", "a/b", "..", "a b", "a%2e", "a=", NULL};
    struct http01_answers s = {0};
    char longtok[HTTP01_TOKEN_MAX + 2];
    struct err e = {0};

    (void)state;
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(http01_answers_put(&s, bad[i], "ka", &e), -EINVAL);
    assert_int_equal(http01_answers_put(&s, NULL, "ka", &e), -EINVAL);
    assert_int_equal(http01_answers_put(&s, TOKEN, NULL, &e), -EINVAL);
    memset(longtok, 'a', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = '\0';
    assert_int_equal(http01_answers_put(&s, longtok, "ka", &e), -EINVAL);
    longtok[HTTP01_TOKEN_MAX] = '\0';
    assert_int_equal(http01_answers_put(&s, longtok, "ka", &e), 0);
    assert_int_equal(s.n, 1);
    http01_answers_clear(&s);
    http01_answers_clear(&s);
    http01_answers_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_find_remove),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
