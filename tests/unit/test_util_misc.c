/* Unit tests for util/err, util/buf and util/log. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

static void test_err(void **state)
{
    struct err e;

    err_clear(&e);
    assert_string_equal(err_msg(&e), "unknown error");
    assert_int_equal(err_set(&e, ENOENT, "file %s", "x"), -ENOENT);
    assert_int_equal(e.code, -ENOENT);
    assert_int_equal(err_wrap(&e, "loading %d", 3), -ENOENT);
    assert_string_equal(e.msg, "loading 3: file x");
    assert_int_equal(err_sys(&e, -EACCES, "open y"), -EACCES);
    assert_non_null(strstr(e.msg, "open y: "));
    assert_int_equal(err_set(NULL, 0, "x"), -EIO);
    assert_int_equal(err_wrap(NULL, "x"), -EIO);
}

static void test_buf(void **state)
{
    struct buf b = BUF_INIT;
    char *s;

    /* Both clear functions accept NULL. */
    buf_clear(NULL);
    buf_clear_secret(NULL);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_printf(&b, "%d,", i), 0);
    assert_int_equal(strncmp(b.data, "0,1,2,", 6), 0);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(buf_append(&b, "\0x", 2), 0);
    s = buf_steal(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    s = buf_steal(&b);
    assert_string_equal(s, "");
    free(s);
    buf_puts(&b, "secret");
    buf_clear_secret(&b);
    assert_null(b.data);
    /* A cleared buf (the struct is the caller's) is empty and can be used again. */
    assert_int_equal(buf_puts(&b, "again"), 0);
    buf_clear(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(buf_puts(&b, "x"), 0);
    assert_string_equal(b.data, "x");
    buf_clear(&b);
}

static void test_log_prefix_and_levels(void **state)
{
    char buf[32];
    enum log_level l;

    assert_string_equal(log_prefix(LL_ERR, 1, buf, sizeof buf), "<3>");
    assert_string_equal(log_prefix(LL_DEBUG, 1, buf, sizeof buf), "<7>");
    assert_string_equal(log_prefix(LL_WARN, 0, buf, sizeof buf), "acmed: warning: ");
    assert_string_equal(log_prefix(LL_INFO, 0, buf, sizeof buf), "acmed: ");
    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LL_DEBUG);
    assert_int_equal(log_level_parse("Warning", &l), 0);
    assert_int_equal(l, LL_WARN);
    assert_int_equal(log_level_parse("loud", &l), -EINVAL);
}

/* Under systemd every line, including continuation lines, carries the priority. */
static void test_log_journal_lines(void **state)
{
    char *dir = tu_mkdtemp("log");
    char path[4096];
    char *out;
    int saved = dup(2);
    FILE *f;

    snprintf(path, sizeof path, "%s/stderr", dir);
    f = freopen(path, "w", stderr);
    assert_non_null(f);
    setenv("JOURNAL_STREAM", "8:1234", 1);
    log_init();
    log_set_level(LL_INFO);
    log_err("first\nsecond");
    log_debug("hidden");
    unsetenv("JOURNAL_STREAM");
    log_init();
    log_warn("plain");
    /* Whatever reaches a message unfiltered is sanitised line by line (util/sanitize). */
    log_warn("esc\x1b[2J bell\a c1\xc2\x9b tab\tend\nnext\rline");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    out = tu_read_file(path, NULL);
    assert_non_null(out);
    assert_string_equal(out, "<3>first\n<3>second\nacmed: warning: plain\n"
                             "acmed: warning: esc?[2J bell? c1? tab\tend\n"
                             "acmed: warning: next?line\n");
    free(out);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_log_prefix_and_levels),
        cmocka_unit_test(test_log_journal_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
