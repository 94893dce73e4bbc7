/* Unit tests for acme/fields: the strict readers of the members of a CA's JSON objects. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/fields.h"

static json_t *obj(const char *text)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);

    assert_non_null(o);
    return o;
}

/* Strings: null is absent, a required one must be there and not empty, the wrong type and a
 * non-URL are named in the error, other text is sanitised. */
static void test_str(void **state)
{
    json_t *o = obj("{\"a\":\"x\\ny\",\"n\":null,\"i\":3,\"e\":\"\",\"u\":\"https://ca/x\","
                    "\"bad\":\"https://ca/a b\"}");
    struct err e = {0};
    char *s = NULL;

    (void)state;
    assert_int_equal(acme_field_str(o, "thing", "a", true, false, &s, &e), 0);
    assert_null(strchr(s, '\n'));
    free(s);
    s = NULL;
    assert_int_equal(acme_field_str(o, "thing", "n", false, false, &s, &e), 0);
    assert_null(s);
    assert_int_equal(acme_field_str(o, "thing", "n", true, false, &s, &e), -EINVAL);
    assert_string_equal(e.msg, "thing: missing \"n\"");
    assert_int_equal(acme_field_str(o, "thing", "i", false, false, &s, &e), -EINVAL);
    assert_string_equal(e.msg, "thing: \"i\" is not a string");
    assert_int_equal(acme_field_str(o, "thing", "e", true, false, &s, &e), -EINVAL);
    assert_int_equal(acme_field_str(o, "thing", "bad", false, true, &s, &e), -EINVAL);
    assert_string_equal(e.msg, "thing: \"bad\" is not a URL");
    assert_null(s);
    assert_int_equal(acme_field_str(o, "thing", "u", true, true, &s, &e), 0);
    assert_string_equal(s, "https://ca/x");
    free(s);
    json_decref(o);
}

/* A string array is copied entry by entry, so a failure leaves a partial result to free. */
static void test_strv(void **state)
{
    json_t *o = obj("{\"v\":[\"a\",\"b\",4],\"w\":\"a\"}");
    struct err e = {0};
    char **v = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(acme_field_strv(o, "thing", "v", true, false, &v, &n, &e), -EINVAL);
    assert_string_equal(e.msg, "thing: \"v\"[2] is not a string");
    assert_int_equal(n, 2);
    assert_string_equal(v[1], "b");
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    v = NULL;
    assert_int_equal(acme_field_strv(o, "thing", "w", true, false, &v, &n, &e), -EINVAL);
    assert_string_equal(e.msg, "thing: \"w\" is not an array");
    json_decref(o);
}

static void test_bool_time_status(void **state)
{
    static const char *const names[] = {"pending", "valid"};
    json_t *o = obj("{\"b\":true,\"t\":\"2026-01-02T03:04:05Z\",\"bt\":\"yesterday\","
                    "\"status\":\"valid\"}");
    json_t *bad = obj("{\"status\":\"weird\\u001b\"}");
    struct err e = {0};
    bool b = false;
    time_t t = 0;
    int st = -1;

    (void)state;
    assert_int_equal(acme_field_bool(o, "thing", "b", &b, &e), 0);
    assert_true(b);
    assert_int_equal(acme_field_bool(o, "thing", "t", &b, &e), -EINVAL);
    assert_int_equal(acme_field_time(o, "thing", "t", &t, &e), 0);
    assert_int_equal(t, 1767323045);
    assert_int_equal(acme_field_time(o, "thing", "bt", &t, &e), -EINVAL);
    assert_int_equal(acme_field_status(o, "thing", names, ACME_FIELD_COUNT(names), &st, &e), 0);
    assert_int_equal(st, 1);
    assert_int_equal(acme_field_status(bad, "thing", names, ACME_FIELD_COUNT(names), &st, &e),
                     -EINVAL);
    assert_null(strchr(e.msg, '\x1b'));
    assert_int_equal(acme_field_index(names, ACME_FIELD_COUNT(names), NULL), -EINVAL);
    json_decref(o);
    json_decref(bad);
}

/* The text must be a JSON object; the struct comes zeroed. */
static void test_load(void **state)
{
    struct err e = {0};
    json_t *root = NULL;
    int rc = 0;
    long *p;

    (void)state;
    assert_null(acme_field_load("[1]", 3, "thing", sizeof *p, &root, &rc, &e));
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(e.msg, "thing: not a JSON object");
    json_decref(root);
    assert_null(acme_field_load("{\"a\":1,\"a\":2}", 13, "thing", sizeof *p, &root, &rc, &e));
    assert_non_null(strstr(e.msg, "thing: not JSON"));
    json_decref(root);
    assert_null(acme_field_load(NULL, 0, "thing", sizeof *p, &root, &rc, &e));
    p = acme_field_load("{}", 2, "thing", sizeof *p, &root, &rc, &e);
    assert_non_null(p);
    assert_int_equal(*p, 0);
    free(p);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str),
        cmocka_unit_test(test_strv),
        cmocka_unit_test(test_bool_time_status),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
