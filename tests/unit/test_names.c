/* Unit tests for store/names: normalisation and validation of hostnames and addresses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/names.h"

/* Normalises s (its strlen) and checks the result and the ip flag. */
static void ok(const char *s, const char *want, bool want_ip)
{
    struct err e;
    char *out = (char *)1;
    bool ip = !want_ip;

    err_clear(&e);
    if (name_normalize(s, strlen(s), &out, &ip, &e) != 0)
        fail_msg("\"%s\" refused: %s", s, e.msg);
    assert_string_equal(out, want);
    assert_int_equal(ip, want_ip);
    assert_true(name_is_normal(want));
    free(out);
}

/* Expects s (len bytes) to be refused with a message containing `why`. */
static void bad_len(const char *s, size_t len, const char *why)
{
    struct err e;
    char *out = (char *)1;
    bool ip = true;

    err_clear(&e);
    if (name_normalize(s, len, &out, &ip, &e) != -EINVAL)
        fail_msg("\"%.*s\" accepted as \"%s\"", (int)len, s, out ? out : "");
    assert_null(out);
    assert_false(ip);
    assert_int_equal(e.code, -EINVAL);
    assert_non_null(strstr(e.msg, "invalid name"));
    if (why && !strstr(e.msg, why))
        fail_msg("message for \"%.*s\" lacks \"%s\": %s", (int)len, s, why, e.msg);
}

static void bad(const char *s, const char *why)
{
    bad_len(s, strlen(s), why);
}

static void test_normalises(void **state)
{
    (void)state;
    ok("Example.COM", "example.com", false);
    ok("www.example.com.", "www.example.com", false);
    ok("WWW.Example.Com.", "www.example.com", false);
    ok("*.example.com", "*.example.com", false);
    ok("*.EXAMPLE.com.", "*.example.com", false);
    ok("a-b.c0.example", "a-b.c0.example", false);
    ok("xn--bcher-kva.example", "xn--bcher-kva.example", false);
}

static void test_idna(void **state)
{
    (void)state;
    ok("bücher.example", "xn--bcher-kva.example", false);
    /* UTS #46 mapping folds non-ASCII case too. */
    ok("BÜCHER.example", "xn--bcher-kva.example", false);
    ok("*.bücher.example", "*.xn--bcher-kva.example", false);
    ok("bücher.example.", "xn--bcher-kva.example", false);
    bad("b\xc3\x28.example", NULL); /* invalid UTF-8 */
    assert_false(name_is_normal("bücher.example"));
}

static void test_ip(void **state)
{
    (void)state;
    ok("127.0.0.1", "127.0.0.1", true);
    ok("::1", "::1", true);
    ok("2001:DB8::1", "2001:db8::1", true);
    ok("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", true);
    assert_false(name_is_normal("2001:DB8::1"));
    /* Lookalikes are neither addresses nor hostnames. */
    bad("127.1", "numeric");
    bad("1.2.3.4.5", "numeric");
    bad("[::1]", NULL);
    bad("fe80::1%eth0", NULL);
}

static void test_rejects_paths_and_junk(void **state)
{
    (void)state;
    bad("", "empty");
    bad("../x", NULL);
    bad("..", NULL);
    bad("a..b.com", "empty label");
    bad(".example.com", "empty label");
    bad("a/b", "slash");
    bad("a\\b.com", "slash");
    bad("a b.com", "space");
    bad("a\tb.com", "space");
    bad("a\nb.com", "control");
    bad("a_b.example.com", "underscore");
    bad("_x.y", "underscore");
    bad("-a.b", "hyphen");
    bad("a-.b", "hyphen");
    bad("a.b-", "hyphen");
    bad("ex!ample.com", "letters, digits");
    bad(".", NULL);
    /* An embedded NUL: the length says more than strlen. */
    bad_len("a.com\0.evil.com", 15, "NUL");
    bad_len("", 1, "NUL");
}

static void test_wildcards(void **state)
{
    (void)state;
    bad("*.*.x", "wildcard");
    bad("a.*.b", "wildcard");
    bad("x.*.y", "wildcard");
    bad("a*.x", "wildcard");
    bad("*a.x.com", "wildcard");
    bad("*", "wildcard");
    bad("*.", "wildcard");
}

static void test_single_label(void **state)
{
    (void)state;
    bad("localhost", "single-label");
    bad("com.", "single-label");
}

static void test_lengths(void **state)
{
    char label63[64], label64[65], name[300];

    (void)state;
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    snprintf(name, sizeof name, "%s.com", label63);
    ok(name, name, false);
    snprintf(name, sizeof name, "%s.com", label64);
    bad(name, "63");
    /* 63+1+63+1+63+1+57 = 249, plus ".com" = 253: the longest name allowed. */
    snprintf(name, sizeof name, "%s.%s.%s.%.57s.com", label63, label63, label63, label63);
    assert_int_equal(strlen(name), 253);
    ok(name, name, false);
    /* With a trailing dot it is still 253. */
    strcat(name, ".");
    {
        char *out = NULL;
        bool ip;

        assert_int_equal(name_normalize(name, strlen(name), &out, &ip, NULL), 0);
        assert_int_equal(strlen(out), 253);
        free(out);
    }
    snprintf(name, sizeof name, "%s.%s.%s.%.58s.com", label63, label63, label63, label63);
    assert_int_equal(strlen(name), 254);
    bad(name, "253");
}

/* Normalises the len bytes at s from an exact-size heap copy with no terminator, so that ASan
 * reports any read past them, and checks the result. */
static void ok_unterminated(const char *s, size_t len, const char *want, bool want_ip)
{
    char *buf = malloc(len), *out = NULL;
    bool ip = !want_ip;
    struct err e;

    assert_non_null(buf);
    memcpy(buf, s, len);
    err_clear(&e);
    if (name_normalize(buf, len, &out, &ip, &e) != 0)
        fail_msg("\"%.*s\" refused: %s", (int)len, s, e.msg);
    assert_string_equal(out, want);
    assert_int_equal(ip, want_ip);
    free(out);
    free(buf);
}

/* name_normalize reads only the len bytes it is given: its input need not be NUL-terminated
 * (a slice of a larger buffer). A search for ".." that ran on to a NUL read past the end, and
 * refused a name when one dot ended it and the next byte was another. */
static void test_reads_only_len(void **state)
{
    static const char text[] = "x.example..evil";
    char *out = NULL;
    bool ip = true;

    (void)state;
    ok_unterminated("www.example.com", 15, "www.example.com", false);
    ok_unterminated("WWW.Example.COM.", 16, "www.example.com", false);
    ok_unterminated("*.bücher.example", 17, "*.xn--bcher-kva.example", false);
    ok_unterminated("2001:DB8::1", 11, "2001:db8::1", true);
    /* The first 10 bytes are "x.example.", the name "x.example"; the ".." straddling their end
     * is not part of it. */
    assert_int_equal(name_normalize(text, 10, &out, &ip, NULL), 0);
    assert_string_equal(out, "x.example");
    assert_false(ip);
    free(out);
}

static void test_message_escapes_input(void **state)
{
    struct err e;
    char *out;
    bool ip;

    (void)state;
    assert_int_equal(name_normalize("a\x1b[31m.com", 10, &out, &ip, &e), -EINVAL);
    assert_null(strchr(e.msg, '\x1b'));
    assert_non_null(strstr(e.msg, "\\x1b"));
    assert_false(name_is_normal(NULL));
    assert_false(name_is_normal("Example.com"));
    assert_true(name_is_normal("example.com"));
}

/* name_www_apex: "www.<rest>" gives <rest> when that is a name of its own. */
static void apex(const char *name, const char *want)
{
    char *out = (char *)1;
    int rc = name_www_apex(name, &out);

    if (!want) {
        if (rc != 0 || out)
            fail_msg("\"%s\": apex \"%s\" (%d), wanted none", name, out ? out : "", rc);
        return;
    }
    if (rc != 1 || !out || strcmp(out, want) != 0)
        fail_msg("\"%s\": apex \"%s\" (%d), wanted \"%s\"", name, out ? out : "", rc, want);
    free(out);
}

static void test_www_apex(void **state)
{
    (void)state;
    apex("www.example.com", "example.com");
    apex("www.www.example.com", "www.example.com");
    apex("www.a.b.example.co.uk", "a.b.example.co.uk");
    apex("www.xn--bcher-kva.example", "xn--bcher-kva.example");
    apex("www.com", NULL);
    apex("wwwx.example.com", NULL);
    apex("example.com", NULL);
    apex("*.www.example.com", NULL);
    apex("www.192.0.2.1", NULL);
    apex("192.0.2.1", NULL);
    apex("", NULL);
    apex(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalises), cmocka_unit_test(test_idna),
        cmocka_unit_test(test_ip),         cmocka_unit_test(test_rejects_paths_and_junk),
        cmocka_unit_test(test_wildcards),  cmocka_unit_test(test_single_label),
        cmocka_unit_test(test_lengths),    cmocka_unit_test(test_message_escapes_input),
        cmocka_unit_test(test_reads_only_len), cmocka_unit_test(test_www_apex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
