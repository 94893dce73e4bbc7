/* Unit tests for store (ids, opening, locking, accounts, keys, reconciler state). The
 * certificate and live-link parts are in test_store_certs.c. */
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "store/store.h"
#include "util/fsio.h"

/* Independently computed: openssl pkey -in tests/data/x509/leaf.key -pubout -outform DER |
 * sha256 | base32, lowercased, '=' stripped. */
#define LEAF_KEY_ID "6du54w5prh7twjqj6cgdvbwqpmmkyp4el6opqrvmuz5d3ox3nggq"

static mode_t mode_of(const char *root, const char *rel)
{
    char *p = fsio_join(root, rel);
    struct stat sb;

    assert_non_null(p);
    if (lstat(p, &sb) != 0)
        fail_msg("cannot stat %s", p);
    free(p);
    return sb.st_mode & 07777;
}

static bool exists(const char *root, const char *rel)
{
    char *p = fsio_join(root, rel);
    struct stat sb;
    bool yes = lstat(p, &sb) == 0;

    free(p);
    return yes;
}

static struct ckey *leaf_key(void)
{
    size_t len = 0;
    char *pem = tu_read_data("x509/leaf.key", &len);
    struct ckey *k = NULL;
    struct err e;

    assert_int_equal(key_from_pem(pem, len, &k, &e), 0);
    free(pem);
    return k;
}

/* ---- ids ---- */

static void test_dir_id(void **state)
{
    static const struct {
        const char *url, *id;
    } ok[] = {
        {"https://127.0.0.1:14000/dir", "127.0.0.1%3a14000%2fdir"},
        {"https://acme-v02.api.letsencrypt.org/directory",
         "acme-v02.api.letsencrypt.org%2fdirectory"},
        {"https://acme-staging.api.letsencrypt.org/directory",
         "acme-staging.api.letsencrypt.org%2fdirectory"},
        /* acmetool drops the trailing '/' of a bare "/" path; no path is the same. */
        {"https://example.com/", "example.com"},
        {"https://example.com", "example.com"},
        /* Only a bare "/" is special: other trailing slashes stay. */
        {"https://example.com/dir/", "example.com%2fdir%2f"},
        /* Plain http gets an "http:" prefix (and the '/' rule still applies). */
        {"http://localhost:4000/directory", "http:localhost%3a4000%2fdirectory"},
        {"http://localhost:4000/", "http:localhost%3a4000"},
        /* Go lowercases the scheme only; QueryEscape keeps -_.~ and escapes the rest. */
        {"HTTPS://Example.COM/a~b_c-d.e", "Example.COM%2fa~b_c-d.e"},
        {"https://ca.example/acme?x=1&y=%41", "ca.example%2facme%3fx%3d1%26y%3d%2541"},
        /* A bare "/" path with a query: acmetool drops the last character of the whole
         * string (the query's), and so do we, to find the same account directory. */
        {"https://ca.example/?ab", "ca.example%2f%3fa"},
    };
    static const char *const bad[] = {
        "ftp://example.com/dir",
        "example.com/dir",
        "https://",
        "https:///dir",
        "https://a b/dir",
        "https://..",
        "https://.",
        "https:example.com",
        "",
    };
    struct err e;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *id = store_dir_id(ok[i].url, &e);

        if (!id)
            fail_msg("%s: %s", ok[i].url, e.msg);
        assert_string_equal(id, ok[i].id);
        free(id);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&e);
        if (store_dir_id(bad[i], &e) != NULL)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(e.code, -EINVAL);
    }
    assert_null(store_dir_id(NULL, NULL));
}

static void test_cert_id(void **state)
{
    char id[STORE_ID_LEN + 1];

    /* python3: base64.b32encode(hashlib.sha256(URL).digest()).decode().lower().rstrip('=') */
    store_cert_id("https://127.0.0.1:14000/my-order/abc", id);
    assert_string_equal(id, "w6ctezepx3lhnithja4gcq4a5nht6panrdqujzfk773binrbr4bq");
    store_cert_id("https://example.com/acme/order/1/2", id);
    assert_string_equal(id, "lejg4p5geqaxrfuk4lffu4xi3sierbfhxvhk3n72dvrzasoa4vna");
    assert_true(store_id_valid(id));
    assert_true(store_id_valid(LEAF_KEY_ID));
    assert_false(store_id_valid(NULL));
    assert_false(store_id_valid(""));
    assert_false(store_id_valid("lejg4p5geqaxrfuk4lffu4xi3sierbfhxvhk3n72dvrzasoa4vn"));
    assert_false(store_id_valid("lejg4p5geqaxrfuk4lffu4xi3sierbfhxvhk3n72dvrzasoa4vnaa"));
    assert_false(store_id_valid("Lejg4p5geqaxrfuk4lffu4xi3sierbfhxvhk3n72dvrzasoa4vna"));
    assert_false(store_id_valid("1ejg4p5geqaxrfuk4lffu4xi3sierbfhxvhk3n72dvrzasoa4vna"));
    assert_false(store_id_valid("../g4p5geqaxrfuk4lffu4xi3sierbfhxvhk3n72dvrzasoa4vna"));
}

/* ---- opening ---- */

static void check_layout_modes(const char *root)
{
    static const struct {
        const char *rel;
        mode_t mode;
    } want[] = {
        {".", 0755},     {"desired", 0755}, {"conf", 0755},  {"accounts", 0700}, {"keys", 0700},
        {"certs", 0755}, {"live", 0755},    {"state", 0700}, {"tmp", 0755},
    };

    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (mode_of(root, want[i].rel) != want[i].mode)
            fail_msg("%s: mode %04o, want %04o", want[i].rel, (unsigned)mode_of(root, want[i].rel),
                     (unsigned)want[i].mode);
    }
}

static void open_with_umask(mode_t mask)
{
    char *tmp = tu_mkdtemp("store");
    char *root = fsio_join(tmp, "acme");
    struct store st;
    struct err e;
    mode_t old = umask(mask);

    assert_int_equal(store_open(root, &st, &e), 0);
    assert_string_equal(st.root, root);
    assert_int_equal(st.lock_fd, -1);
    check_layout_modes(root);
    /* Files too are written with exact modes whatever the umask. */
    assert_int_equal(store_state_write(&st, "x", "{}", &e), 0);
    assert_int_equal(mode_of(root, "state/x.json"), 0600);
    store_close(&st);
    /* Re-opening an existing directory works and keeps it as it was. */
    assert_int_equal(store_open(root, &st, &e), 0);
    check_layout_modes(root);
    store_close(&st);
    umask(old);
    tu_rmtree(tmp);
    free(root);
    free(tmp);
}

static void test_open_modes(void **state)
{
    open_with_umask(0);
    open_with_umask(077);
    open_with_umask(022);
}

static void test_open_relative_and_null(void **state)
{
    char *tmp = tu_mkdtemp("store");
    char cwd[4096];
    struct store st;
    struct err e;

    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmp), 0);
    assert_int_equal(store_open("rel//", &st, &e), 0);
    assert_int_equal(chdir(cwd), 0);
    char *want = fsio_join(tmp, "rel");
    assert_string_equal(st.root, want);
    free(want);
    store_close(&st);
    store_close(NULL);
    assert_int_equal(store_open("", &st, &e), -EINVAL);
    assert_null(st.root);
    tu_rmtree(tmp);
    free(tmp);
}

/* ---- ownership ---- */

/* store_check_ownership(root) with our stderr (the log) in a file: the count of warnings,
 * and the text in *log (caller frees). */
static unsigned ownership(const char *root, char **log)
{
    char *path = fsio_join(root, ".stderr");
    unsigned n;
    int saved, fd;

    fflush(stderr);
    saved = dup(2);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);
    n = store_check_ownership(root);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    *log = tu_read_file(path, NULL);
    assert_non_null(*log);
    unlink(path);
    free(path);
    return n;
}

static void put_file(const char *root, const char *rel, mode_t mode, uid_t uid)
{
    char *p = fsio_join(root, rel);

    tu_write_file(p, "");
    assert_int_equal(chmod(p, mode), 0);
    assert_int_equal(lchown(p, uid, (gid_t)-1), 0);
    free(p);
}

static void set_owner_mode(const char *root, const char *rel, mode_t mode, uid_t uid)
{
    char *p = fsio_join(root, rel);

    assert_int_equal(chmod(p, mode), 0);
    assert_int_equal(chown(p, uid, (gid_t)-1), 0);
    free(p);
}

/* As root, every place acmed takes orders from that others could write to is named in a
 * loud warning; nothing is refused. */
static void test_ownership_warnings(void **state)
{
    char *root = tu_mkdtemp("store-own"), *log = NULL, *p;
    struct store st;
    struct err e;

    if (geteuid() != 0) {
        assert_int_equal(store_check_ownership(root), 0);
        tu_rmtree(root);
        free(root);
        skip();
    }
    assert_int_equal(chmod(root, 0755), 0);
    assert_int_equal(store_open(root, &st, &e), 0);
    store_close(&st);
    put_file(root, "desired/a.example.com", 0644, 0);
    put_file(root, "conf/target", 0644, 0);
    put_file(root, "conf/acmed.yaml", 0600, 0);
    assert_int_equal(ownership(root, &log), 0);
    assert_string_equal(log, "");
    free(log);

    /* Each of them, on its own. */
    static const struct {
        const char *rel;
        mode_t mode;
        uid_t uid;
        const char *why;
    } bad[] = {
        {"desired/a.example.com", 0664, 0, "is writable by group or others"},
        {"desired/a.example.com", 0644, 65534, "is not owned by root"},
        {"desired/a.example.com", 0646, 65534, "is not owned by root and is writable"},
        {"desired", 0775, 0, "is writable by group or others"},
        {"desired", 0755, 65534, "is not owned by root"},
        {"conf", 0775, 0, "is writable by group or others"},
        {"conf/target", 0644, 65534, "is not owned by root"},
        {"conf/acmed.yaml", 0620, 0, "is writable by group or others"},
        {".", 0775, 0, "is writable by group or others"},
        {".", 0755, 65534, "is not owned by root"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[1024];
        mode_t was = mode_of(root, bad[i].rel);

        set_owner_mode(root, bad[i].rel, bad[i].mode, bad[i].uid);
        p = strcmp(bad[i].rel, ".") ? fsio_join(root, bad[i].rel) : strdup(root);
        snprintf(want, sizeof want, "SECURITY: %s %s", p, bad[i].why);
        if (ownership(root, &log) != 1 || !strstr(log, want) || !strstr(log, "root-equivalent"))
            fail_msg("%s (mode %04o, uid %u): wanted one warning with \"%s\", got: %s", bad[i].rel,
                     (unsigned)bad[i].mode, (unsigned)bad[i].uid, want, log);
        snprintf(want, sizeof want, "owner uid %u, group gid 0, mode %04o", (unsigned)bad[i].uid,
                 (unsigned)bad[i].mode);
        assert_non_null(strstr(log, want));
        free(log);
        free(p);
        set_owner_mode(root, bad[i].rel, was, 0);
    }

    /* What acmed never reads as a target is not looked at: dotfiles, links, directories. */
    put_file(root, "desired/.tmp-x-123", 0666, 65534);
    p = fsio_join(root, "desired/link");
    assert_int_equal(symlink("/etc/passwd", p), 0);
    assert_int_equal(lchown(p, 65534, (gid_t)-1), 0);
    free(p);
    assert_int_equal(ownership(root, &log), 0);
    free(log);

    /* Several at once are all named; the state directory still opens: a warning only. */
    put_file(root, "desired/b.example.com", 0664, 0);
    put_file(root, "desired/c.example.com", 0644, 65534);
    set_owner_mode(root, "conf", 0775, 0);
    assert_int_equal(ownership(root, &log), 3);
    assert_non_null(strstr(log, "/desired/b.example.com is writable"));
    assert_non_null(strstr(log, "/desired/c.example.com is not owned by root"));
    free(log);
    assert_int_equal(store_open(root, &st, &e), 0);
    store_close(&st);
    tu_rmtree(root);
    free(root);
}

/* The rule for a file that names a command to run: root's alone, all the way up. */
static void test_conf_trusted(void **state)
{
    char *root = tu_mkdtemp("store-trusted");
    struct store st;
    struct err e;

    (void)state;
    assert_int_equal(chmod(root, 0755), 0);
    assert_int_equal(store_open(root, &st, &e), 0);
    store_close(&st);
    assert_int_equal(store_conf_trusted(root, "conf/target", &e), -ENOENT);
    put_file(root, "conf/target", 0644, geteuid());
    assert_int_equal(store_conf_trusted(root, "conf/target", &e), 0);
    if (geteuid() != 0) {
        tu_rmtree(root);
        free(root);
        skip();
    }
    set_owner_mode(root, "conf/target", 0664, 0);
    assert_int_equal(store_conf_trusted(root, "conf/target", &e), -EPERM);
    assert_non_null(strstr(e.msg, "conf/target names a command to run as root"));
    assert_non_null(strstr(e.msg, "is writable by group or others"));
    set_owner_mode(root, "conf/target", 0644, 65534);
    assert_int_equal(store_conf_trusted(root, "conf/target", &e), -EPERM);
    assert_non_null(strstr(e.msg, "is not owned by root (owner uid 65534"));
    /* A good file in a directory others can write to is no better. */
    set_owner_mode(root, "conf/target", 0644, 0);
    set_owner_mode(root, "conf", 0775, 0);
    assert_int_equal(store_conf_trusted(root, "conf/target", &e), -EPERM);
    assert_non_null(strstr(e.msg, "/conf is writable by group"));
    set_owner_mode(root, "conf", 0755, 0);
    assert_int_equal(store_conf_trusted(root, "conf/target", &e), 0);
    tu_rmtree(root);
    free(root);
}

static void test_open_refuses_unsafe(void **state)
{
    char *root = tu_mkdtemp("store");
    char *keys = fsio_join(root, "keys");
    char *live = fsio_join(root, "live");
    char *outside = tu_mkdtemp("store-outside");
    struct store st;
    struct err e;

    assert_int_equal(store_open(root, &st, &e), 0);
    store_close(&st);
    /* A world-writable subdirectory is refused, naming it. */
    assert_int_equal(chmod(keys, 0777), 0);
    assert_int_equal(store_open(root, &st, &e), -EPERM);
    assert_non_null(strstr(e.msg, keys));
    assert_non_null(strstr(e.msg, "world-writable"));
    assert_null(st.root);
    assert_int_equal(chmod(keys, 0700), 0);
    /* So is a world-writable state directory. */
    assert_int_equal(chmod(root, 0777), 0);
    assert_int_equal(store_open(root, &st, &e), -EPERM);
    assert_non_null(strstr(e.msg, root));
    assert_int_equal(chmod(root, 0755), 0);
    /* A layout directory that is a symlink is refused, not followed. */
    assert_int_equal(rmdir(live), 0);
    assert_int_equal(symlink(outside, live), 0);
    assert_int_equal(store_open(root, &st, &e), -ELOOP);
    assert_non_null(strstr(e.msg, live));
    assert_int_equal(unlink(live), 0);
    /* A regular file in place of a directory is refused too. */
    tu_write_file(live, "x");
    assert_true(store_open(root, &st, &e) < 0);
    assert_non_null(strstr(e.msg, live));
    tu_rmtree(outside);
    tu_rmtree(root);
    free(outside);
    free(keys);
    free(live);
    free(root);
}

/* ---- locking ---- */

static void plant(const char *root, const char *rel)
{
    char *p = fsio_join(root, rel);

    tu_write_file(p, "stale");
    free(p);
}

static void mkdir_rel(const char *root, const char *rel, mode_t mode)
{
    char *p = fsio_join(root, rel);
    struct err e;

    assert_int_equal(fsio_mkdirs(p, mode, &e), 0);
    free(p);
}

static void test_lock(void **state)
{
    char *root = tu_mkdtemp("store");
    char *outside = tu_mkdtemp("store-outside");
    char *escape = NULL;
    struct store st, st2;
    struct err e;
    int status;
    pid_t pid;

    assert_int_equal(store_open(root, &st, &e), 0);
    mkdir_rel(root, "certs/" LEAF_KEY_ID, 0755);
    mkdir_rel(root, "keys/" LEAF_KEY_ID, 0700);
    mkdir_rel(root, "accounts/ca%2fdir/" LEAF_KEY_ID, 0700);
    mkdir_rel(root, "certs/.tmp-" LEAF_KEY_ID "-0123/sub", 0755);
    plant(root, ".tmp-x-1");
    plant(root, "live/.tmp-a.example-1");
    plant(root, "state/.tmp-t.json-1");
    plant(root, "certs/" LEAF_KEY_ID "/.tmp-cert-1");
    plant(root, "keys/" LEAF_KEY_ID "/.tmp-privkey-1");
    plant(root, "accounts/ca%2fdir/.tmp-x-1");
    plant(root, "accounts/ca%2fdir/" LEAF_KEY_ID "/.tmp-meta-1");
    plant(root, "certs/.tmp-" LEAF_KEY_ID "-0123/sub/cert");
    plant(root, "certs/" LEAF_KEY_ID "/url");
    plant(root, "desired/.tmp-keep-not-ours-1"); /* desired/ is a layout dir: removed too */
    /* A temp file behind a symlink out of the state directory is never touched. */
    plant(outside, ".tmp-outside-1");
    escape = fsio_join(root, "certs/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    assert_int_equal(symlink(outside, escape), 0);

    assert_int_equal(store_lock(&st, &e), 0);
    assert_true(st.lock_fd >= 0);
    assert_int_equal(store_lock(&st, &e), 0); /* already held: no-op */
    assert_false(exists(root, ".tmp-x-1"));
    assert_false(exists(root, "live/.tmp-a.example-1"));
    assert_false(exists(root, "state/.tmp-t.json-1"));
    assert_false(exists(root, "certs/" LEAF_KEY_ID "/.tmp-cert-1"));
    assert_false(exists(root, "keys/" LEAF_KEY_ID "/.tmp-privkey-1"));
    assert_false(exists(root, "accounts/ca%2fdir/.tmp-x-1"));
    assert_false(exists(root, "accounts/ca%2fdir/" LEAF_KEY_ID "/.tmp-meta-1"));
    assert_false(exists(root, "certs/.tmp-" LEAF_KEY_ID "-0123"));
    assert_false(exists(root, "desired/.tmp-keep-not-ours-1"));
    assert_true(exists(root, "certs/" LEAF_KEY_ID "/url"));
    assert_true(exists(outside, ".tmp-outside-1"));

    /* A second holder (another process) is excluded and told who holds it. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct err ce;
        int rc = store_open(root, &st2, &ce);

        if (rc == 0)
            rc = store_lock(&st2, &ce);
        _exit(rc == -EWOULDBLOCK && strstr(ce.msg, "pid") ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Closing releases it. */
    store_close(&st);
    assert_int_equal(store_open(root, &st2, &e), 0);
    assert_int_equal(store_lock(&st2, &e), 0);
    store_close(&st2);
    free(escape);
    tu_rmtree(outside);
    tu_rmtree(root);
    free(outside);
    free(root);
}

/* After a clean close only the top-level directories are swept; after a crash (no marker), or
 * when the last full sweep is a day old, every certs/<id>, keys/<id> and account directory. */
static void test_lock_sweep_after_clean_close(void **state)
{
    char *root = tu_mkdtemp("store");
    char *mark = fsio_join(root, "state/.clean-close");
    struct store st;
    struct err e;

    assert_int_equal(store_open(root, &st, &e), 0);
    mkdir_rel(root, "certs/" LEAF_KEY_ID, 0755);
    mkdir_rel(root, "keys/" LEAF_KEY_ID, 0700);
    assert_int_equal(store_lock(&st, &e), 0);
    assert_false(exists(root, "state/.clean-close")); /* a crash from here leaves none */
    store_close(&st);
    assert_true(exists(root, "state/.clean-close"));

    /* Clean close: deep temp files are not looked for, top-level ones are. */
    plant(root, "certs/" LEAF_KEY_ID "/.tmp-cert-1");
    plant(root, "keys/" LEAF_KEY_ID "/.tmp-privkey-1");
    plant(root, "live/.tmp-a.example-1");
    assert_int_equal(store_open(root, &st, &e), 0);
    assert_int_equal(store_lock(&st, &e), 0);
    assert_false(exists(root, "live/.tmp-a.example-1"));
    assert_true(exists(root, "certs/" LEAF_KEY_ID "/.tmp-cert-1"));
    assert_true(exists(root, "keys/" LEAF_KEY_ID "/.tmp-privkey-1"));
    assert_false(exists(root, "state/.clean-close"));
    /* A crash: the lock goes with the process, no marker is left. */
    close(st.lock_fd);
    st.lock_fd = -1;
    store_close(&st);
    assert_false(exists(root, "state/.clean-close"));
    assert_int_equal(store_open(root, &st, &e), 0);
    assert_int_equal(store_lock(&st, &e), 0);
    assert_false(exists(root, "certs/" LEAF_KEY_ID "/.tmp-cert-1"));
    assert_false(exists(root, "keys/" LEAF_KEY_ID "/.tmp-privkey-1"));
    store_close(&st);

    /* A clean close whose last full sweep is more than a day old: a full sweep. */
    tu_write_file(mark, "1000\n");
    plant(root, "certs/" LEAF_KEY_ID "/.tmp-cert-2");
    assert_int_equal(store_open(root, &st, &e), 0);
    assert_int_equal(store_lock(&st, &e), 0);
    assert_false(exists(root, "certs/" LEAF_KEY_ID "/.tmp-cert-2"));
    store_close(&st);
    /* A malformed marker counts as none. */
    tu_write_file(mark, "soon\n");
    plant(root, "keys/" LEAF_KEY_ID "/.tmp-privkey-2");
    assert_int_equal(store_open(root, &st, &e), 0);
    assert_int_equal(store_lock(&st, &e), 0);
    assert_false(exists(root, "keys/" LEAF_KEY_ID "/.tmp-privkey-2"));
    store_close(&st);
    /* A store never locked leaves no marker. */
    unlink(mark);
    assert_int_equal(store_open(root, &st, &e), 0);
    store_close(&st);
    assert_false(exists(root, "state/.clean-close"));
    free(mark);
    tu_rmtree(root);
    free(root);
}

/* ---- accounts ---- */

static void test_account_roundtrip(void **state)
{
    static const char *url = "https://127.0.0.1:14000/dir";
    char *root = tu_mkdtemp("store");
    char *contact[] = {"mailto:a@example.com", "mailto:b@example.com"};
    struct store_account a = {0}, *v = NULL;
    struct key_spec spec = {KEY_ECDSA, 256};
    struct store st;
    struct stat sb1, sb2;
    char *privkey, kid[STORE_ID_LEN + 1];
    size_t n = 0;
    struct err e;

    assert_int_equal(store_open(root, &st, &e), 0);
    /* No accounts yet: not an error. */
    assert_int_equal(store_accounts_load(&st, url, &v, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_null(v);

    assert_int_equal(key_generate(&spec, &a.key, &e), 0);
    assert_int_equal(key_id(a.key, kid, &e), 0);
    a.url = strdup("https://127.0.0.1:14000/my-account/1");
    a.contact = malloc(2 * sizeof *a.contact);
    a.contact[0] = strdup(contact[0]);
    a.contact[1] = strdup(contact[1]);
    a.ncontact = 2;
    a.eab_kid = strdup("kid-1");
    assert_int_equal(store_account_save_key(&st, url, &a, &e), 0);
    assert_string_equal(a.key_id, kid);
    assert_string_equal(a.dir_id, "127.0.0.1%3a14000%2fdir");
    assert_true(a.created > 0);
    assert_int_equal(mode_of(root, "accounts/127.0.0.1%3a14000%2fdir"), 0700);
    privkey = NULL;
    assert_true(asprintf(&privkey, "accounts/127.0.0.1%%3a14000%%2fdir/%s", kid) > 0);
    assert_int_equal(mode_of(root, privkey), 0700);
    free(privkey);
    assert_true(asprintf(&privkey, "%s/accounts/127.0.0.1%%3a14000%%2fdir/%s/privkey", root, kid) >
                0);
    assert_int_equal(lstat(privkey, &sb1), 0);
    assert_int_equal(sb1.st_mode & 07777, 0600);

    /* Saving again never rewrites the key file. */
    assert_int_equal(store_account_save_key(&st, url, &a, &e), 0);
    assert_int_equal(lstat(privkey, &sb2), 0);
    assert_int_equal(sb1.st_ino, sb2.st_ino);

    assert_int_equal(store_accounts_load(&st, url, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key_id, kid);
    assert_string_equal(v[0].dir_id, a.dir_id);
    assert_string_equal(v[0].url, a.url);
    assert_int_equal(v[0].ncontact, 2);
    assert_string_equal(v[0].contact[1], contact[1]);
    assert_string_equal(v[0].eab_kid, "kid-1");
    assert_int_equal(v[0].created, a.created);
    assert_non_null(v[0].key);
    store_accounts_free(v, n);

    /* The meta is rewritten on its own (the URL learnt later, say). */
    free(a.url);
    a.url = strdup("https://127.0.0.1:14000/my-account/2");
    assert_int_equal(store_account_save_meta(&st, &a, &e), 0);
    assert_int_equal(store_accounts_load(&st, url, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].url, a.url);
    store_accounts_free(v, n);
    /* Another directory URL has no accounts. */
    assert_int_equal(store_accounts_load(&st, "https://other.example/dir", &v, &n, &e), 0);
    assert_int_equal(n, 0);
    /* Meta of a bad id is refused. */
    free(a.dir_id);
    a.dir_id = strdup("..");
    assert_int_equal(store_account_save_meta(&st, &a, &e), -EINVAL);
    store_account_clear(&a);
    store_account_clear(NULL);
    store_accounts_free(NULL, 0);
    free(privkey);
    store_close(&st);
    tu_rmtree(root);
    free(root);
}

static void test_account_acmetool(void **state)
{
    static const char *url = "https://acme-v02.api.letsencrypt.org/directory";
    char *root = tu_mkdtemp("store");
    char *pem = tu_read_data("x509/leaf.key", NULL);
    char *other = tu_read_data("x509/other.key", NULL);
    struct store_account *v = NULL;
    struct store st;
    size_t n = 0;
    struct err e;

    assert_int_equal(store_open(root, &st, &e), 0);
    /* acmetool's account: the key only, no meta. */
    mkdir_rel(root, "accounts/acme-v02.api.letsencrypt.org%2fdirectory/" LEAF_KEY_ID, 0700);
    char *p = fsio_join(root, "accounts/acme-v02.api.letsencrypt.org%2fdirectory/" LEAF_KEY_ID
                              "/privkey");
    tu_write_file(p, pem);
    free(p);
    /* A key filed under the wrong id, garbage, and a stray file are skipped. */
    mkdir_rel(root,
              "accounts/acme-v02.api.letsencrypt.org%2fdirectory/"
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
              0700);
    p = fsio_join(root, "accounts/acme-v02.api.letsencrypt.org%2fdirectory/"
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/privkey");
    tu_write_file(p, other);
    free(p);
    mkdir_rel(root,
              "accounts/acme-v02.api.letsencrypt.org%2fdirectory/"
              "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
              0700);
    p = fsio_join(root, "accounts/acme-v02.api.letsencrypt.org%2fdirectory/"
                        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/privkey");
    tu_write_file(p, "not a key");
    free(p);
    p = fsio_join(root, "accounts/acme-v02.api.letsencrypt.org%2fdirectory/stray");
    tu_write_file(p, "x");
    free(p);

    assert_int_equal(store_accounts_load(&st, url, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key_id, LEAF_KEY_ID);
    assert_string_equal(v[0].dir_id, "acme-v02.api.letsencrypt.org%2fdirectory");
    assert_null(v[0].url);
    assert_null(v[0].eab_kid);
    assert_int_equal(v[0].ncontact, 0);
    assert_int_equal(v[0].created, 0);
    assert_non_null(v[0].key);
    store_accounts_free(v, n);
    /* A non-http(s) directory URL is an error. */
    assert_int_equal(store_accounts_load(&st, "ftp://x/", &v, &n, &e), -EINVAL);
    store_close(&st);
    tu_rmtree(root);
    free(root);
    free(pem);
    free(other);
}

/* ---- keys ---- */

static void test_keys(void **state)
{
    char *root = tu_mkdtemp("store");
    char *outside = tu_mkdtemp("store-outside");
    struct ckey *k = leaf_key(), *back = NULL;
    char id[STORE_ID_LEN + 1], *path, *orig, *now;
    struct stat sb1, sb2;
    struct store st;
    struct err e;

    assert_int_equal(store_open(root, &st, &e), 0);
    assert_int_equal(store_key_save(&st, k, id, &e), 0);
    assert_string_equal(id, LEAF_KEY_ID);
    assert_int_equal(mode_of(root, "keys/" LEAF_KEY_ID), 0700);
    assert_int_equal(mode_of(root, "keys/" LEAF_KEY_ID "/privkey"), 0600);
    path = fsio_join(root, "keys/" LEAF_KEY_ID "/privkey");
    assert_int_equal(lstat(path, &sb1), 0);
    orig = tu_read_file(path, NULL);
    assert_non_null(strstr(orig, "PRIVATE KEY"));
    /* An existing key file is left untouched (same inode, same bytes). */
    assert_int_equal(store_key_save(&st, k, id, &e), 0);
    assert_int_equal(lstat(path, &sb2), 0);
    assert_int_equal(sb1.st_ino, sb2.st_ino);
    now = tu_read_file(path, NULL);
    assert_string_equal(orig, now);
    free(now);

    assert_int_equal(store_key_load(&st, LEAF_KEY_ID, &back, &e), 0);
    assert_int_equal(key_get_type(back), KEY_ECDSA);
    assert_int_equal(key_get_size(back), 256);
    key_free(back);
    assert_int_equal(
        store_key_load(&st, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &back, &e),
        -ENOENT);
    assert_null(back);
    assert_int_equal(store_key_load(&st, "../keys", &back, &e), -EINVAL);
    /* A key filed under another id is refused. */
    mkdir_rel(root, "keys/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 0700);
    char *p = fsio_join(root, "keys/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/privkey");
    tu_write_file(p, orig);
    free(p);
    assert_int_equal(
        store_key_load(&st, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &back, &e),
        -EINVAL);
    assert_non_null(strstr(e.msg, LEAF_KEY_ID));
    /* keys/<id> as a symlink out of the state directory is refused, not followed. */
    mkdir_rel(outside, "k", 0700);
    p = fsio_join(outside, "k/privkey");
    tu_write_file(p, orig);
    free(p);
    p = fsio_join(root, "keys/cccccccccccccccccccccccccccccccccccccccccccccccccccc");
    char *tgt = fsio_join(outside, "k");
    assert_int_equal(symlink(tgt, p), 0);
    assert_true(
        store_key_load(&st, "cccccccccccccccccccccccccccccccccccccccccccccccccccc", &back, &e) < 0);
    assert_null(back);
    /* ... and a privkey file that is a symlink too. */
    assert_int_equal(unlink(p), 0);
    mkdir_rel(root, "keys/cccccccccccccccccccccccccccccccccccccccccccccccccccc", 0700);
    free(p);
    p = fsio_join(root, "keys/cccccccccccccccccccccccccccccccccccccccccccccccccccc/privkey");
    free(tgt);
    tgt = fsio_join(outside, "k/privkey");
    assert_int_equal(symlink(tgt, p), 0);
    assert_int_equal(
        store_key_load(&st, "cccccccccccccccccccccccccccccccccccccccccccccccccccc", &back, &e),
        -ELOOP);
    free(p);
    free(tgt);
    free(orig);
    free(path);
    key_free(k);
    store_close(&st);
    tu_rmtree(outside);
    tu_rmtree(root);
    free(outside);
    free(root);
}

/* ---- reconciler state ---- */

static void test_state(void **state)
{
    static const char *const bad[] = {"", ".", "..", "../x", "a/b", ".hidden", "/etc/passwd"};
    char *root = tu_mkdtemp("store");
    struct store st;
    char *json = NULL;
    struct err e;

    assert_int_equal(store_open(root, &st, &e), 0);
    assert_int_equal(store_state_read(&st, "example.com", &json, &e), -ENOENT);
    assert_null(json);
    assert_int_equal(store_state_write(&st, "example.com", "{\"step\":\"order\"}", &e), 0);
    assert_int_equal(mode_of(root, "state/example.com.json"), 0600);
    assert_int_equal(store_state_read(&st, "example.com", &json, &e), 0);
    assert_string_equal(json, "{\"step\":\"order\"}");
    free(json);
    assert_int_equal(store_state_write(&st, "example.com", "{}", &e), 0);
    assert_int_equal(store_state_read(&st, "example.com", &json, &e), 0);
    assert_string_equal(json, "{}");
    free(json);
    assert_int_equal(store_state_remove(&st, "example.com", &e), 0);
    assert_false(exists(root, "state/example.com.json"));
    assert_int_equal(store_state_remove(&st, "example.com", &e), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(store_state_write(&st, bad[i], "{}", &e), -EINVAL);
        assert_int_equal(store_state_read(&st, bad[i], &json, &e), -EINVAL);
        assert_int_equal(store_state_remove(&st, bad[i], &e), -EINVAL);
    }
    assert_int_equal(store_state_write(&st, NULL, "{}", &e), -EINVAL);
    assert_false(exists(root, "x.json"));
    store_close(&st);
    tu_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dir_id),
        cmocka_unit_test(test_cert_id),
        cmocka_unit_test(test_open_modes),
        cmocka_unit_test(test_open_relative_and_null),
        cmocka_unit_test(test_open_refuses_unsafe),
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_lock_sweep_after_clean_close),
        cmocka_unit_test(test_account_roundtrip),
        cmocka_unit_test(test_account_acmetool),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_ownership_warnings),
        cmocka_unit_test(test_conf_trusted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
