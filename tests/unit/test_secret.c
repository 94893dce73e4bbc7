/* Unit tests for the secret-freeing helpers of util/buf: the bytes are zero when free() sees
 * them. This executable is linked with -Wl,--wrap=free (tests/CMakeLists.txt), so every free()
 * of the code under test passes through __wrap_free below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"

void __real_free(void *p);
void __wrap_free(void *p);

/* volatile: the compiler knows free() touches no global, and would otherwise fold the value
 * set before the call into the check after it. */
static void *volatile watched;
static size_t watched_len;
static volatile int watched_zero = -1; /* -1: not freed yet; 1: all zero when freed; 0: not */

void __wrap_free(void *p)
{
    if (p && p == watched) {
        const unsigned char *c = p;

        watched_zero = 1;
        for (size_t i = 0; i < watched_len; i++)
            if (c[i])
                watched_zero = 0;
        watched = NULL;
    }
    __real_free(p);
}

static void watch(void *p, size_t n)
{
    watched = p;
    watched_len = n;
    watched_zero = -1;
}

static void test_secret_free(void **state)
{
    unsigned char *key = malloc(32);

    (void)state;
    assert_non_null(key);
    memset(key, 0xa5, 32);
    watch(key, 32);
    buf_secret_free(key, 32);
    assert_int_equal(watched_zero, 1);
    buf_secret_free(NULL, 5);
}

static void test_buf_free_secret(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    assert_int_equal(buf_puts(&b, "-----BEGIN PRIVATE KEY-----"), 0);
    watch(b.data, b.len);
    buf_clear_secret(&b);
    assert_int_equal(watched_zero, 1);
    assert_null(b.data);
}

/* The check itself can fail: plain free() leaves the bytes. */
static void test_plain_free_is_seen(void **state)
{
    unsigned char *p = malloc(16);
    volatile unsigned char *v = p;

    (void)state;
    assert_non_null(p);
    for (size_t i = 0; i < 16; i++) /* volatile: a memset before free() is optimised away */
        v[i] = 0x5a;
    watch(p, 16);
    free(p);
    assert_int_equal(watched_zero, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_free),
        cmocka_unit_test(test_buf_free_secret),
        cmocka_unit_test(test_plain_free_is_seen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
