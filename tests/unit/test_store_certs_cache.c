/* Unit tests for state/certs.cache (store_certs_cache.c, through store_certs_load_cached): an
 * entry's parts are used only while the cert and key files (and url, meta and the certificate
 * directory itself, for what they gave) are exactly as it describes them (a change of size,
 * mtime, ctime or inode always means reading again); an unchanged cache is not rewritten; a
 * malformed cache, or one of another version, is ignored; files changed just now are not recorded.
 * Uses the chain and key of the crypto tests (tests/data/x509), as test_store_certs.c. */
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
#include "store/store.h"

#define LEAF_KEY_ID "6du54w5prh7twjqj6cgdvbwqpmmkyp4el6opqrvmuz5d3ox3nggq"
#define ORDER_URL "https://127.0.0.1:14000/my-order/abc"
#define CERT_ID "w6ctezepx3lhnithja4gcq4a5nht6panrdqujzfk773binrbr4bq"
#define T_2100 4102444800         /* the leaf's notAfter */
#define FAKE_NOT_AFTER 4102444801 /* what a cache entry says instead, to see it used */

struct fx {
    char *root;
    struct store st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    size_t len = 0, clen = 0;
    char *pem = tu_read_data("x509/leaf.key", &len);
    char *chain = tu_read_data("x509/chain.pem", &clen);
    struct ckey *k = NULL;
    char id[STORE_ID_LEN + 1];
    struct err e;

    f->root = tu_mkdtemp("store-cache");
    assert_int_equal(store_open(f->root, &f->st, &e), 0);
    assert_int_equal(key_from_pem(pem, len, &k, &e), 0);
    assert_int_equal(store_key_save(&f->st, k, id, &e), 0);
    assert_int_equal(
        store_cert_install(&f->st, ORDER_URL, chain, clen, LEAF_KEY_ID, NULL, NULL, NULL, NULL, &e),
        0);
    key_free(k);
    free(pem);
    free(chain);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_close(&f->st);
    tu_rmtree(f->root);
    free(f->root);
    free(f);
    return 0;
}

static char *rel(const struct fx *f, const char *r)
{
    char *p = NULL;

    assert_true(asprintf(&p, "%s/%s", f->root, r) > 0);
    return p;
}

static void stat_fields(const struct fx *f, const char *r, char *out, size_t len)
{
    char *p = rel(f, r);
    struct stat sb;

    assert_int_equal(lstat(p, &sb), 0);
    snprintf(out, len, "%llu %llu %llu %lld %lld", (unsigned long long)sb.st_dev,
             (unsigned long long)sb.st_ino, (unsigned long long)sb.st_size,
             (long long)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec,
             (long long)sb.st_ctim.tv_sec * 1000000000 + sb.st_ctim.tv_nsec);
    free(p);
}

/* Writes state/certs.cache with header `magic` and one entry describing the files as they
 * are now, but for a notAfter of FAKE_NOT_AFTER; `strs` are the entry's string fields
 * (account dir-id, order URL, directory, replaces, replaces_dropped, replaces_dropped_why) as
 * written in the file. */
static void write_cache_strs(const struct fx *f, const char *magic, const char *strs)
{
    char dst[160], cst[160], kst[160], ust[160], mst[160], *text = NULL;
    char *p = rel(f, "state/certs.cache");

    stat_fields(f, "certs/" CERT_ID, dst, sizeof dst);
    stat_fields(f, "certs/" CERT_ID "/cert", cst, sizeof cst);
    stat_fields(f, "keys/" LEAF_KEY_ID "/privkey", kst, sizeof kst);
    stat_fields(f, "certs/" CERT_ID "/url", ust, sizeof ust);
    stat_fields(f, "certs/" CERT_ID "/meta", mst, sizeof mst);
    assert_true(asprintf(&text,
                         "%s\n" CERT_ID " %s %s %s %s %s " LEAF_KEY_ID
                         " 0 256 1704067200 %lld 0 0 0 0 0a1b2c3d4e5f "
                         "wIy2uoinJdKDtV5buY0h8YiJofc.ChssPU5f %s "
                         "4 a.example b.example 127.0.0.1 ::1\n",
                         magic, dst, cst, kst, ust, mst, (long long)FAKE_NOT_AFTER, strs) > 0);
    tu_write_file(p, text);
    free(text);
    free(p);
}

#define CACHE_V "acmed certs.cache 3"

static void write_cache(const struct fx *f, const char *magic)
{
    write_cache_strs(f, magic, "- " ORDER_URL " - - - - -");
}

/* Loads certs/ (through the cache, never saving it) and returns the one notAfter. */
static time_t load_not_after(const struct fx *f)
{
    struct store_cert *c = NULL;
    size_t n = 0;
    time_t na;
    struct err e;

    assert_int_equal(store_certs_load_cached(&f->st, false, &c, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].key_id, LEAF_KEY_ID);
    assert_int_equal(c[0].nnames, 4);
    assert_string_equal(c[0].order_url, ORDER_URL);
    na = c[0].not_after;
    store_certs_free(c, n);
    return na;
}

static void test_hit(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load_not_after(f), T_2100); /* no cache yet */
    write_cache(f, CACHE_V);
    assert_int_equal(load_not_after(f), FAKE_NOT_AFTER); /* the entry is used */
}

static void test_changes_reparse(void **state)
{
    struct fx *f = *state;
    char *cert = rel(f, "certs/" CERT_ID "/cert"), *tmp = rel(f, "certs/" CERT_ID "/x");
    struct timespec ts[2] = {{1000, 0}, {1000, 0}};
    char *text;
    size_t len;

    /* mtime (and ctime with it). */
    write_cache(f, CACHE_V);
    assert_int_equal(load_not_after(f), FAKE_NOT_AFTER);
    assert_int_equal(utimensat(AT_FDCWD, cert, ts, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(load_not_after(f), T_2100);
    /* ctime alone. */
    write_cache(f, CACHE_V);
    assert_int_equal(load_not_after(f), FAKE_NOT_AFTER);
    usleep(20000);
    assert_int_equal(chmod(cert, 0640), 0);
    assert_int_equal(chmod(cert, 0644), 0);
    assert_int_equal(load_not_after(f), T_2100);
    /* size, times put back as they were. */
    write_cache(f, CACHE_V);
    text = tu_read_file(cert, &len);
    {
        char *more = NULL;

        assert_true(asprintf(&more, "%s\n", text) > 0);
        tu_write_file(cert, more);
        free(more);
    }
    assert_int_equal(utimensat(AT_FDCWD, cert, ts, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(load_not_after(f), T_2100);
    /* inode: the same content renamed over it. */
    write_cache(f, CACHE_V);
    assert_int_equal(load_not_after(f), FAKE_NOT_AFTER);
    tu_write_file(tmp, text);
    assert_int_equal(rename(tmp, cert), 0);
    assert_int_equal(load_not_after(f), T_2100);
    /* the key file changed: the key is matched again, the leaf facts still come from it. */
    write_cache(f, CACHE_V);
    {
        char *key = rel(f, "keys/" LEAF_KEY_ID "/privkey");

        assert_int_equal(chmod(key, 0600), 0);
        assert_int_equal(utimensat(AT_FDCWD, key, ts, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(load_not_after(f), FAKE_NOT_AFTER);
        free(key);
    }
    free(text);
    free(cert);
    free(tmp);
}

static void test_ignored(void **state)
{
    struct fx *f = *state;
    char *p = rel(f, "state/certs.cache");

    write_cache(f, "acmed certs.cache 1"); /* another layout version */
    assert_int_equal(load_not_after(f), T_2100);
    write_cache(f, CACHE_V);
    assert_int_equal(load_not_after(f), FAKE_NOT_AFTER);
    tu_write_file(p, CACHE_V "\n" CERT_ID " 1 2 three\n"); /* corrupt */
    assert_int_equal(load_not_after(f), T_2100);
    tu_write_file(p, "\x01\xff garbage");
    assert_int_equal(load_not_after(f), T_2100);
    free(p);
}

/* Each part of an entry stands or falls with the file (or directory) it came from: meta's
 * fields with meta, the order URL with url, the markers and links with certs/<id> itself; and
 * escaped strings read back as written. */
static void test_parts(void **state)
{
    struct fx *f = *state;
    struct store_cert *c = NULL;
    struct timespec ts[2] = {{1000, 0}, {1000, 0}};
    char *meta = rel(f, "certs/" CERT_ID "/meta"), *url = rel(f, "certs/" CERT_ID "/url");
    char *mark = rel(f, "certs/" CERT_ID "/revoked");
    size_t n = 0;
    struct err e;

    write_cache_strs(f, CACHE_V,
                     "- " ORDER_URL " https://ca.test/dir %2Dx = "
                     "a%20b%25c%0Ad "
                     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_int_equal(store_certs_load_cached(&f->st, false, &c, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].directory, "https://ca.test/dir");
    assert_string_equal(c[0].replaces, "-x");
    assert_string_equal(c[0].replaces_dropped, "");
    assert_string_equal(c[0].replaces_dropped_why, "a b%c\nd");
    assert_string_equal(c[0].csr,
                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_false(c[0].revoked);
    store_certs_free(c, n);
    /* meta changed: its fields are read again (none there), the rest still cached. */
    assert_int_equal(utimensat(AT_FDCWD, meta, ts, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(store_certs_load_cached(&f->st, false, &c, &n, &e), 0);
    assert_null(c[0].directory);
    assert_null(c[0].replaces_dropped_why);
    assert_null(c[0].csr);
    assert_int_equal(c[0].not_after, FAKE_NOT_AFTER);
    store_certs_free(c, n);
    /* A marker appears: the directory changed, its entries are read again. */
    write_cache_strs(f, CACHE_V, "- " ORDER_URL " - - - - -");
    tu_write_file(mark, "");
    assert_int_equal(store_certs_load_cached(&f->st, false, &c, &n, &e), 0);
    assert_true(c[0].revoked);
    assert_int_equal(c[0].not_after, FAKE_NOT_AFTER);
    store_certs_free(c, n);
    /* url: the cached one stands while url does; a changed url is read (and checked) again. */
    write_cache_strs(f, CACHE_V, "- https://127.0.0.1:14000/cached - - - - -");
    assert_int_equal(store_certs_load_cached(&f->st, false, &c, &n, &e), 0);
    assert_string_equal(c[0].order_url, "https://127.0.0.1:14000/cached");
    store_certs_free(c, n);
    assert_int_equal(utimensat(AT_FDCWD, url, ts, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(store_certs_load_cached(&f->st, false, &c, &n, &e), 0);
    assert_string_equal(c[0].order_url, ORDER_URL);
    store_certs_free(c, n);
    free(meta);
    free(url);
    free(mark);
}

static void test_save(void **state)
{
    struct fx *f = *state;
    struct store_cert *c = NULL;
    size_t n = 0, len = 0;
    char *p = rel(f, "state/certs.cache"), *text;
    struct stat sb;
    struct err e;

    /* Files written just now are not recorded (a rewrite within the clock's granularity could
     * keep their size and times). */
    assert_int_equal(store_certs_load_cached(&f->st, true, &c, &n, &e), 0);
    store_certs_free(c, n);
    text = tu_read_file(p, &len);
    assert_true(!text || !strstr(text, CERT_ID));
    free(text);
    /* Once they have stood still long enough, they are. */
    sleep(3);
    assert_int_equal(store_certs_load_cached(&f->st, true, &c, &n, &e), 0);
    store_certs_free(c, n);
    text = tu_read_file(p, &len);
    assert_non_null(strstr(text, CERT_ID " "));
    assert_non_null(strstr(text, " " LEAF_KEY_ID " "));
    free(text);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(load_not_after(f), T_2100);
    /* Nothing changed: the cache is not written again (a rewrite is a new inode). */
    {
        struct stat sb2;

        assert_int_equal(store_certs_load_cached(&f->st, true, &c, &n, &e), 0);
        store_certs_free(c, n);
        assert_int_equal(stat(p, &sb2), 0);
        assert_int_equal(sb2.st_ino, sb.st_ino);
        /* An entry for a certificate that is gone: rewritten without it. */
        text = tu_read_file(p, &len);
        {
            char *line = strchr(text, '\n') + 1, *more = NULL;

            assert_true(asprintf(&more, "%szzzz%s", text, line + 4) > 0);
            tu_write_file(p, more);
            free(more);
        }
        free(text);
        assert_int_equal(store_certs_load_cached(&f->st, true, &c, &n, &e), 0);
        store_certs_free(c, n);
        text = tu_read_file(p, &len);
        assert_null(strstr(text, "\nzzzz"));
        assert_non_null(strstr(text, "\n" CERT_ID " "));
        free(text);
    }
    free(p);
}

/* A change after the first certificate: the stamps before it are read back from the cache
 * itself when it is written, and are right (the next load finds nothing to write). */
static void test_save_change_later(void **state)
{
    struct fx *f = *state;
    struct store_cert *c = NULL;
    struct timespec ts[2] = {{1000, 0}, {1000, 0}};
    char *p = rel(f, "state/certs.cache"), *chain, *text, *meta = NULL;
    struct stat sb, sb2;
    size_t n = 0, len = 0, clen = 0;
    struct err e;

    chain = tu_read_data("x509/chain.pem", &clen);
    assert_int_equal(store_cert_install(&f->st, "https://127.0.0.1:14000/my-order/zzz", chain, clen,
                                        LEAF_KEY_ID, NULL, NULL, NULL, NULL, &e),
                     0);
    free(chain);
    sleep(3);
    assert_int_equal(store_certs_load_cached(&f->st, true, &c, &n, &e), 0);
    assert_int_equal(n, 2);
    /* The second one's meta changes (to an old time: settled at once). */
    assert_true(strcmp(c[0].id, c[1].id) < 0);
    assert_true(asprintf(&meta, "%s/certs/%s/meta", f->root, c[1].id) > 0);
    store_certs_free(c, n);
    assert_int_equal(utimensat(AT_FDCWD, meta, ts, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(store_certs_load_cached(&f->st, true, &c, &n, &e), 0);
    store_certs_free(c, n);
    assert_int_equal(stat(p, &sb2), 0);
    assert_true(sb2.st_ino != sb.st_ino); /* written */
    text = tu_read_file(p, &len);
    assert_non_null(strstr(text, "\n" CERT_ID " "));
    free(text);
    assert_int_equal(store_certs_load_cached(&f->st, true, &c, &n, &e), 0);
    store_certs_free(c, n);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_ino, sb2.st_ino); /* both entries right: not written again */
    free(meta);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_reparse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_change_later, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
