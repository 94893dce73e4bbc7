/* Unit tests for store/target's contact rules: which URIs acmed sends a CA as an account's
 * contact, comparing contact lists, copying and showing them. (target_owner is tested with
 * the desired files, in test_desired.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/target.h"

static void test_contact_check_good(void **state)
{
    static const char *const good[] = {
        "mailto:ops@example.com",
        "MAILTO:Ops@Example.COM",
        "mailto:first.last+acme@sub.example.org",
        "mailto:%22quoted%22@example.com",
        "tel:+1-555-0100",
        "https://example.com/contact",
        "x-custom.scheme+v1:anything",
    };

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (target_contact_check(good[i]))
            fail_msg("refused %s: %s", good[i], target_contact_check(good[i]));
}

static void want_bad(const char *uri, const char *why)
{
    const char *got = target_contact_check(uri);

    if (!got)
        fail_msg("accepted \"%s\"", uri ? uri : "(null)");
    if (!strstr(got, why))
        fail_msg("\"%s\": got \"%s\", wanted \"%s\"", uri, got, why);
}

static void test_contact_check_bad(void **state)
{
    char long_uri[TARGET_CONTACT_MAX + 2];

    (void)state;
    want_bad(NULL, "empty");
    want_bad("", "empty");
    want_bad("ops@example.com", "no URI scheme");
    want_bad(":ops@example.com", "no URI scheme");
    want_bad("1mailto:ops@example.com", "no URI scheme");
    want_bad("mail to:ops@example.com", "no spaces");
    want_bad("mailto:", "nothing after the scheme");
    want_bad("mailto:ops@example.com ", "no spaces");
    want_bad("mailto:ops@exa\tmple.com", "control characters");
    want_bad("mailto:ops@example.com\n", "control characters");
    want_bad("mailto:ops@example.com\x7f", "control characters");
    want_bad("mailto:\xc3\xa9t\xc3\xa9@example.com", "non-ASCII");
    want_bad("mailto:ops@example.com?subject=hi", "header fields");
    want_bad("mailto:a@example.com,b@example.com", "one address per contact");
    want_bad("mailto:ops", "local@domain");
    want_bad("mailto:@example.com", "local@domain");
    want_bad("mailto:ops@", "local@domain");
    want_bad("mailto:a@b@example.com", "local@domain");
    /* The limit is exact. */
    memset(long_uri, 'a', sizeof long_uri - 1);
    memcpy(long_uri, "https:", 6);
    long_uri[TARGET_CONTACT_MAX] = '\0';
    assert_null(target_contact_check(long_uri));
    long_uri[TARGET_CONTACT_MAX] = 'a';
    long_uri[TARGET_CONTACT_MAX + 1] = '\0';
    want_bad(long_uri, "longer than 512");
}

static void test_contacts_equal(void **state)
{
    char *ab[] = {"mailto:a@x", "mailto:b@x"};
    char *ba[] = {"mailto:b@x", "mailto:a@x"};
    char *aab[] = {"mailto:a@x", "mailto:a@x", "mailto:b@x"};
    char *a[] = {"mailto:a@x"};
    char *up[] = {"mailto:A@x"};
    char *ac[] = {"mailto:a@x", "mailto:c@x"};

    (void)state;
    assert_true(target_contacts_equal(ab, 2, ab, 2));
    assert_true(target_contacts_equal(ab, 2, ba, 2));  /* order does not matter */
    assert_true(target_contacts_equal(aab, 3, ba, 2)); /* nor repeats */
    assert_false(target_contacts_equal(ab, 2, a, 1));
    assert_false(target_contacts_equal(a, 1, ab, 2));
    assert_false(target_contacts_equal(ab, 2, ac, 2));
    assert_false(target_contacts_equal(a, 1, up, 1)); /* exact: the CA keeps what it is sent */
    /* None is none, whether NULL or an empty list. */
    assert_true(target_contacts_equal(NULL, 0, NULL, 0));
    assert_true(target_contacts_equal(ab, 0, NULL, 0));
    assert_false(target_contacts_equal(NULL, 0, a, 1));
    assert_false(target_contacts_equal(a, 1, NULL, 0));
}

static void test_contacts_dup_text(void **state)
{
    char *ab[] = {"mailto:a@x", "tel:+1"};
    char **v = NULL;
    size_t n = 9;
    char *s;

    (void)state;
    assert_int_equal(target_contacts_dup(ab, 2, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "mailto:a@x");
    assert_string_equal(v[1], "tel:+1");
    assert_null(v[2]);
    assert_ptr_not_equal(v[0], ab[0]);
    s = target_contacts_text(v, n);
    assert_string_equal(s, "mailto:a@x, tel:+1");
    free(s);
    target_contacts_free(v, n);

    /* An empty copy is an empty list, not NULL ("set to none" differs from "not set"). */
    assert_int_equal(target_contacts_dup(NULL, 0, &v, &n), 0);
    assert_non_null(v);
    assert_int_equal(n, 0);
    s = target_contacts_text(v, n);
    assert_string_equal(s, "none");
    free(s);
    target_contacts_free(v, n);
    target_contacts_free(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contact_check_good),
        cmocka_unit_test(test_contact_check_bad),
        cmocka_unit_test(test_contacts_equal),
        cmocka_unit_test(test_contacts_dup_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
