/* Unit tests for crypto/seal_key: the cluster's secret-file, accepted only as 32 raw random
 * bytes in a regular file of the right owner and mode 0600 or stricter; each refusal names
 * the file, says why and how to fix it, and leaves the key zeroed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "crypto/seal_key.h"
#include "util/fsio.h"

static char *dir;
static uint8_t good[SEAL_KEY_LEN];

static int setup(void **state)
{
    (void)state;
    dir = tu_mkdtemp("seal_key");
    assert_int_equal(fsio_random(good, sizeof good), 0);
    good[1] = (uint8_t)(good[0] + 1); /* never 32 identical bytes */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

/* Writes n bytes to dir/name with exactly mode; returns the path (caller frees). */
static char *put(const char *name, const void *data, size_t n, mode_t mode)
{
    char *path = fsio_join(dir, name);
    int fd;

    assert_non_null(path);
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

static void load_ok(const char *path, uid_t owner)
{
    uint8_t key[SEAL_KEY_LEN];
    struct err e;

    err_clear(&e);
    if (seal_key_load_owner(path, owner, key, &e) != 0)
        fail_msg("refused: %s", e.msg);
    assert_memory_equal(key, good, sizeof key);
}

/* Expects a refusal with code, a message naming path and holding each of why and fix, and
 * the key zeroed. */
static void refused(const char *path, uid_t owner, int code, const char *why, const char *fix)
{
    uint8_t key[SEAL_KEY_LEN], zero[SEAL_KEY_LEN] = {0};
    struct err e;

    memset(key, 0xa5, sizeof key);
    err_clear(&e);
    assert_int_equal(seal_key_load_owner(path, owner, key, &e), code);
    assert_memory_equal(key, zero, sizeof key);
    if (!strstr(e.msg, path) || !strstr(e.msg, why) || !strstr(e.msg, fix))
        fail_msg("message lacks \"%s\", \"%s\" or \"%s\": %s", path, why, fix, e.msg);
}

static void test_good(void **state)
{
    char *path = put("secret", good, sizeof good, 0600), *ro;
    uint8_t key[SEAL_KEY_LEN];
    struct err e;

    (void)state;
    load_ok(path, geteuid());
    assert_int_equal(seal_key_load(path, key, &e), 0); /* owned by us, who run it */
    assert_memory_equal(key, good, sizeof key);
    ro = put("secret.ro", good, sizeof good, 0400);
    load_ok(ro, geteuid());
    free(ro);
    free(path);
}

static void test_missing_link_not_regular(void **state)
{
    char *path = fsio_join(dir, "absent"), *target = put("target", good, sizeof good, 0600);
    char *link = fsio_join(dir, "link"), *sub = fsio_join(dir, "subdir"),
         *fifo = fsio_join(dir, "fifo");

    (void)state;
    refused(path, geteuid(), -ENOENT, "does not exist", "head -c 32 /dev/urandom >");
    assert_int_equal(symlink(target, link), 0);
    load_ok(target, geteuid());
    refused(link, geteuid(), -ELOOP, "is a symbolic link", "name the file itself");
    assert_int_equal(mkdir(sub, 0700), 0);
    refused(sub, geteuid(), -EINVAL, "is not a regular file", "head -c 32 /dev/urandom >");
    /* A FIFO would block a plain open() for reading: refused at once. */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    refused(fifo, geteuid(), -EINVAL, "is not a regular file", "head -c 32");
    free(path);
    free(target);
    free(link);
    free(sub);
    free(fifo);
}

static void test_mode(void **state)
{
    static const mode_t bad[] = {0640, 0604, 0644, 0660, 0700, 0666, 04600, 02600, 01600, 0610};

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *path = put("secret", good, sizeof good, bad[i]), want[32];

        snprintf(want, sizeof want, "has mode %04o", (unsigned)bad[i]);
        refused(path, geteuid(), -EPERM, want, "chmod 600");
        free(path);
    }
}

static void test_owner(void **state)
{
    char *path = put("secret", good, sizeof good, 0600), want[64];
    uid_t other = geteuid() == 12345 ? 12346 : 12345;

    (void)state;
    snprintf(want, sizeof want, "belongs to uid %u, not to uid %u", (unsigned)geteuid(),
             (unsigned)other);
    refused(path, other, -EPERM, want, "give that user a copy of its own");
    if (geteuid() == 0) {
        /* Running as root: a file of another user is refused by seal_key_load itself. */
        uint8_t key[SEAL_KEY_LEN];
        struct err e;

        assert_int_equal(chown(path, 65534, 65534), 0);
        refused(path, 0, -EPERM, "belongs to uid 65534, not to root", "chown root");
        assert_int_equal(seal_key_load(path, key, &e), -EPERM);
    } else {
        refused(path, 0, -EPERM, "not to root", "chown root");
    }
    free(path);
}

static void test_size_and_content(void **state)
{
    uint8_t buf[128], zero[SEAL_KEY_LEN] = {0};
    char *path;

    (void)state;
    memcpy(buf, good, sizeof good);
    buf[SEAL_KEY_LEN] = '\n';
    path = put("secret", buf, SEAL_KEY_LEN + 1, 0600);
    refused(path, geteuid(), -EINVAL, "33 bytes, the last a newline", "head -c 32 /dev/urandom >");
    free(path);
    buf[SEAL_KEY_LEN] = 'x';
    path = put("secret", buf, SEAL_KEY_LEN + 1, 0600);
    refused(path, geteuid(), -EINVAL, "has 33 bytes", "exactly 32 raw random bytes");
    free(path);
    path = put("secret", buf, SEAL_KEY_LEN - 1, 0600);
    refused(path, geteuid(), -EINVAL, "has 31 bytes", "exactly 32 raw random bytes");
    free(path);
    path = put("secret", buf, 0, 0600);
    refused(path, geteuid(), -EINVAL, "has 0 bytes", "head -c 32 /dev/urandom >");
    free(path);
    memset(buf + SEAL_KEY_LEN, 'y', sizeof buf - SEAL_KEY_LEN);
    path = put("secret", buf, 64, 0600);
    refused(path, geteuid(), -EINVAL, "has 64 bytes", "exactly 32");
    free(path);
    path = put("secret", buf, sizeof buf, 0600);
    refused(path, geteuid(), -EINVAL, "has more than 64 bytes", "exactly 32");
    free(path);
    /* 64 hex digits are text, not the key: 64 bytes, refused. */
    path =
        put("secret", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 64, 0600);
    refused(path, geteuid(), -EINVAL, "has 64 bytes", "raw random bytes");
    free(path);
    path = put("secret", zero, sizeof zero, 0600);
    refused(path, geteuid(), -EINVAL, "32 identical bytes", "head -c 32 /dev/urandom >");
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_missing_link_not_regular),
        cmocka_unit_test(test_mode),
        cmocka_unit_test(test_owner),
        cmocka_unit_test(test_size_and_content),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
