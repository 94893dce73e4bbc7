/* Unit tests for reconcile/mgmt: the client's side of a central certificate server's protocol:
 * the Authentication header (as openssl dgst -hmac computes it), the key file's rules, and
 * what each answer means. */
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
#include "reconcile/mgmt.h"
#include "util/buf.h"

/* openssl dgst -sha256 -hmac 'hmac key file body' on a file holding "CSR body". */
#define VECTOR_HEX "6fbbb141bc6be7d6ca762a3131153f31209164efb68edcc3713468dd76d60dd0"

static void test_auth_value(void **state)
{
    static const char key[] = "hmac key file body";
    char out[MGMT_AUTH_MAX];

    (void)state;
    mgmt_auth_value((const uint8_t *)key, strlen(key), "CSR body", 8, out);
    assert_string_equal(out, "hmac name=sha256, hash=" VECTOR_HEX);
    /* Another body, another MAC. */
    mgmt_auth_value((const uint8_t *)key, strlen(key), "CSR bodY", 8, out);
    assert_null(strstr(out, VECTOR_HEX));
}

static void test_key_file(void **state)
{
    char *dir = tu_mkdtemp("mgmt"), path[512], link[512];
    uint8_t *key = NULL;
    size_t klen = 0;
    struct err e = {0};
    char out[MGMT_AUTH_MAX];

    (void)state;
    /* The file's bytes less one trailing newline: the same MAC as the vector. */
    snprintf(path, sizeof path, "%s/secure.key", dir);
    tu_write_file(path, "hmac key file body\n");
    assert_int_equal(mgmt_key_read(path, &key, &klen, &e), 0);
    assert_int_equal(klen, strlen("hmac key file body"));
    mgmt_auth_value(key, klen, "CSR body", 8, out);
    assert_string_equal(out, "hmac name=sha256, hash=" VECTOR_HEX);
    buf_secret_free(key, klen);
    /* Only one newline goes. */
    tu_write_file(path, "k\n\n");
    assert_int_equal(mgmt_key_read(path, &key, &klen, &e), 0);
    assert_int_equal(klen, 2);
    buf_secret_free(key, klen);
    /* Empty, or a newline alone: an error naming the file. */
    tu_write_file(path, "\n");
    assert_int_equal(mgmt_key_read(path, &key, &klen, &e), -EINVAL);
    assert_non_null(strstr(err_msg(&e), path));
    assert_null(key);
    tu_write_file(path, "");
    assert_true(mgmt_key_read(path, &key, &klen, &e) < 0);
    assert_non_null(strstr(err_msg(&e), "request.mgmt.hmac-key-file"));
    /* Missing. */
    snprintf(link, sizeof link, "%s/missing.key", dir);
    assert_int_equal(mgmt_key_read(link, &key, &klen, &e), -ENOENT);
    assert_non_null(strstr(err_msg(&e), "missing.key"));
    /* A symbolic link is not followed. */
    tu_write_file(path, "secret\n");
    snprintf(link, sizeof link, "%s/link.key", dir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(mgmt_key_read(link, &key, &klen, &e), -ELOOP);
    assert_non_null(strstr(err_msg(&e), "link.key"));
    /* Never a byte of the key in an error. */
    assert_null(strstr(err_msg(&e), "secret"));
    tu_rmtree(dir);
    free(dir);
}

static void test_answers(void **state)
{
    static const char url[] = "https://central.example:1313/sign";
    struct err e = {0};

    (void)state;
    assert_int_equal(mgmt_answer(url, 200, "-----BEGIN CERTIFICATE-----", 27, -1, &e), 0);
    assert_int_equal(mgmt_answer(url, 200, "", 0, -1, &e), -EPROTO);
    assert_int_equal(mgmt_answer(url, 403, "no rule allows 192.0.2.7\n", 25, -1, &e), -EPERM);
    assert_string_equal(err_msg(&e), "https://central.example:1313/sign answered 403 (not "
                                     "allowed): no rule allows 192.0.2.7");
    assert_int_equal(mgmt_answer(url, 413, "too large\n", 10, -1, &e), -EFBIG);
    assert_int_equal(mgmt_answer(url, 415, "not a CSR\n", 10, -1, &e), -EBADMSG);
    assert_non_null(strstr(err_msg(&e), "415 (not a CSR): not a CSR"));
    assert_int_equal(mgmt_answer(url, 421, "dns-01 for x.example failed\n", 28, -1, &e),
                     -EREMOTEIO);
    assert_non_null(strstr(err_msg(&e), "421 (the CA's validation failed)"));
    assert_int_equal(mgmt_answer(url, 429, "over rate\n", 10, 120, &e), -EAGAIN);
    assert_non_null(strstr(err_msg(&e), "429 (rate limited): over rate; try again in 120 s"));
    assert_int_equal(mgmt_answer(url, 500, NULL, 0, -1, &e), -EIO);
    assert_string_equal(err_msg(&e),
                        "https://central.example:1313/sign answered 500 (server error)");
    assert_int_equal(mgmt_answer(url, 302, "", 0, -1, &e), -EIO);
    assert_non_null(strstr(err_msg(&e), "302 (unexpected status)"));
    /* A hostile reason: one line of it, control characters made harmless, cut. */
    {
        char big[600];

        memset(big, 'a', sizeof big);
        big[3] = '\033';
        assert_int_equal(mgmt_answer(url, 403, big, sizeof big, -1, &e), -EPERM);
        assert_null(strchr(err_msg(&e), '\033'));
        assert_true(strlen(err_msg(&e)) < 320);
        assert_non_null(strstr(err_msg(&e), "..."));
        assert_int_equal(mgmt_answer(url, 403, "first\nforged log line", 21, -1, &e), -EPERM);
        assert_null(strstr(err_msg(&e), "forged"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_value),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
