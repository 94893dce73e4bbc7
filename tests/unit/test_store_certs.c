/* Unit tests for store: certificates (install, load, meta, markers, removal, acmetool's
 * layout) and live links. Uses the chain and key of the crypto tests (tests/data/x509). */
#include <errno.h>
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
#include <jansson.h>

#include "common/testutil.h"
#include "store/store.h"
#include "util/fsio.h"

/* openssl pkey -in leaf.key -pubout -outform DER | sha256 | base32 (lower, unpadded). */
#define LEAF_KEY_ID "6du54w5prh7twjqj6cgdvbwqpmmkyp4el6opqrvmuz5d3ox3nggq"
#define ORDER_URL "https://127.0.0.1:14000/my-order/abc"
/* python3: base32(sha256(ORDER_URL)), lower, unpadded. */
#define CERT_ID "w6ctezepx3lhnithja4gcq4a5nht6panrdqujzfk773binrbr4bq"
/* base64url(AKI c08cb6ba...a1f7) "." base64url(serial 0a1b2c3d4e5f), from openssl x509 -text. */
#define LEAF_ARI_ID "wIy2uoinJdKDtV5buY0h8YiJofc.ChssPU5f"
#define T_2024 1704067200 /* 2024-01-01T00:00:00Z, the leaf's notBefore */
#define T_2100 4102444800 /* 2100-01-01T00:00:00Z, the leaf's notAfter */

struct fx {
    char *root;
    struct store st;
    char *chain;
    size_t chain_len;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    size_t len = 0;
    char *pem = tu_read_data("x509/leaf.key", &len);
    struct ckey *k = NULL;
    char id[STORE_ID_LEN + 1];
    struct err e;

    f->root = tu_mkdtemp("store-certs");
    assert_int_equal(store_open(f->root, &f->st, &e), 0);
    assert_int_equal(key_from_pem(pem, len, &k, &e), 0);
    assert_int_equal(store_key_save(&f->st, k, id, &e), 0);
    assert_string_equal(id, LEAF_KEY_ID);
    key_free(k);
    free(pem);
    f->chain = tu_read_data("x509/chain.pem", &f->chain_len);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_close(&f->st);
    tu_rmtree(f->root);
    free(f->root);
    free(f->chain);
    free(f);
    return 0;
}

static char *path_of(const struct fx *f, const char *rel)
{
    char *p = fsio_join(f->root, rel);

    assert_non_null(p);
    return p;
}

static mode_t mode_of(const struct fx *f, const char *rel)
{
    char *p = path_of(f, rel);
    struct stat sb;

    if (lstat(p, &sb) != 0)
        fail_msg("cannot stat %s", p);
    free(p);
    return sb.st_mode & 07777;
}

static bool exists(const struct fx *f, const char *rel)
{
    char *p = path_of(f, rel);
    struct stat sb;
    bool yes = lstat(p, &sb) == 0;

    free(p);
    return yes;
}

static char *read_rel(const struct fx *f, const char *rel)
{
    char *p = path_of(f, rel);
    char *s = tu_read_file(p, NULL);

    if (!s)
        fail_msg("cannot read %s", p);
    free(p);
    return s;
}

static void assert_link(const struct fx *f, const char *rel, const char *want)
{
    char *p = path_of(f, rel);
    char buf[512];
    ssize_t n = readlink(p, buf, sizeof buf - 1);

    if (n < 0)
        fail_msg("%s is not a link", p);
    buf[n] = '\0';
    assert_string_equal(buf, want);
    free(p);
}

static void check_leaf_facts(const struct store_cert *c)
{
    assert_string_equal(c->id, CERT_ID);
    assert_int_equal(c->nnames, 4);
    assert_string_equal(c->names[0], "a.example");
    assert_string_equal(c->names[1], "b.example");
    assert_string_equal(c->names[2], "127.0.0.1");
    assert_string_equal(c->names[3], "::1");
    assert_int_equal(c->not_before, T_2024);
    assert_int_equal(c->not_after, T_2100);
    assert_string_equal(c->serial_hex, "0a1b2c3d4e5f");
    assert_string_equal(c->ari_cert_id, LEAF_ARI_ID);
    assert_string_equal(c->key_id, LEAF_KEY_ID);
    assert_false(c->key_is_rsa);
    assert_int_equal(c->key_size, 256);
    assert_string_equal(c->order_url, ORDER_URL);
}

static void install(struct fx *f, struct store_cert *out)
{
    struct store_cert meta = {0};
    struct err e;

    meta.replaces = "prev.cert-id";
    meta.directory = "https://127.0.0.1:14000/dir";
    meta.ari_start = 1000;
    meta.nnames = 99; /* recomputed from the chain, never taken from meta */
    if (store_cert_install(&f->st, ORDER_URL, f->chain, f->chain_len, LEAF_KEY_ID,
                           "127.0.0.1%3a14000%2fdir", LEAF_KEY_ID, &meta, out, &e) != 0)
        fail_msg("install: %s", e.msg);
}

static void test_install(void **state)
{
    struct fx *f = *state;
    struct store_cert c = {0};
    char *leaf = tu_read_data("x509/leaf.pem", NULL);
    char *inter = tu_read_data("x509/inter.pem", NULL);
    char *s, *full;
    json_t *meta;
    json_error_t jerr;

    install(f, &c);
    check_leaf_facts(&c);
    assert_string_equal(c.replaces, "prev.cert-id");
    assert_int_equal(c.ari_start, 1000);
    assert_string_equal(c.directory, "https://127.0.0.1:14000/dir");
    assert_string_equal(c.account_dir_id, "127.0.0.1%3a14000%2fdir");
    assert_null(c.replaces_dropped);

    s = read_rel(f, "certs/" CERT_ID "/cert");
    assert_string_equal(s, leaf);
    free(s);
    s = read_rel(f, "certs/" CERT_ID "/chain");
    assert_string_equal(s, inter);
    free(s);
    s = read_rel(f, "certs/" CERT_ID "/fullchain");
    assert_true(asprintf(&full, "%s%s", leaf, inter) > 0);
    assert_string_equal(s, full);
    free(full);
    free(s);
    s = read_rel(f, "certs/" CERT_ID "/url");
    assert_string_equal(s, ORDER_URL); /* no trailing newline, per acmetool's spec */
    free(s);
    assert_link(f, "certs/" CERT_ID "/privkey", "../../keys/" LEAF_KEY_ID "/privkey");
    assert_link(f, "certs/" CERT_ID "/account",
                "../../accounts/127.0.0.1%3a14000%2fdir/" LEAF_KEY_ID);
    assert_int_equal(mode_of(f, "certs/" CERT_ID), 0755);
    assert_int_equal(mode_of(f, "certs/" CERT_ID "/cert"), 0644);
    assert_int_equal(mode_of(f, "certs/" CERT_ID "/chain"), 0644);
    assert_int_equal(mode_of(f, "certs/" CERT_ID "/fullchain"), 0644);
    assert_int_equal(mode_of(f, "certs/" CERT_ID "/url"), 0644);
    assert_int_equal(mode_of(f, "certs/" CERT_ID "/meta"), 0644);

    s = read_rel(f, "certs/" CERT_ID "/meta");
    meta = json_loads(s, 0, &jerr);
    assert_non_null(meta);
    assert_int_equal(json_array_size(json_object_get(meta, "names")), 4);
    assert_string_equal(json_string_value(json_object_get(meta, "not_before")),
                        "2024-01-01T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(meta, "not_after")),
                        "2100-01-01T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(meta, "serial")), "0a1b2c3d4e5f");
    assert_string_equal(json_string_value(json_object_get(meta, "replaces")), "prev.cert-id");
    assert_string_equal(json_string_value(json_object_get(meta, "directory")),
                        "https://127.0.0.1:14000/dir");
    assert_null(json_object_get(meta, "replaces_dropped")); /* none: absent */
    assert_string_equal(json_string_value(json_object_get(meta, "ari_start")),
                        "1970-01-01T00:16:40Z");
    assert_null(json_object_get(meta, "ari_chosen")); /* unknown: absent */
    json_decref(meta);
    free(s);

    store_cert_clear(&c);
    store_cert_clear(NULL);
    free(leaf);
    free(inter);
}

static void test_install_refusals(void **state)
{
    struct fx *f = *state;
    char *other = tu_read_data("x509/other.key", NULL);
    struct ckey *k = NULL;
    char oid[STORE_ID_LEN + 1];
    struct err e;

    /* A chain for another key is never installed. */
    assert_int_equal(key_from_pem(other, strlen(other), &k, &e), 0);
    assert_int_equal(store_key_save(&f->st, k, oid, &e), 0);
    assert_int_equal(store_cert_install(&f->st, ORDER_URL, f->chain, f->chain_len, oid, NULL, NULL,
                                        NULL, NULL, &e),
                     -EINVAL);
    assert_non_null(strstr(e.msg, oid));
    assert_false(exists(f, "certs/" CERT_ID));
    /* A key we do not hold. */
    assert_int_equal(store_cert_install(&f->st, ORDER_URL, f->chain, f->chain_len,
                                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                        NULL, NULL, NULL, NULL, &e),
                     -ENOENT);
    /* Bad ids and input. */
    assert_int_equal(store_cert_install(&f->st, ORDER_URL, f->chain, f->chain_len, "../x", NULL,
                                        NULL, NULL, NULL, &e),
                     -EINVAL);
    assert_int_equal(store_cert_install(&f->st, ORDER_URL, f->chain, f->chain_len, LEAF_KEY_ID,
                                        "../..", LEAF_KEY_ID, NULL, NULL, &e),
                     -EINVAL);
    assert_int_equal(store_cert_install(&f->st, "", f->chain, f->chain_len, LEAF_KEY_ID, NULL, NULL,
                                        NULL, NULL, &e),
                     -EINVAL);
    assert_true(store_cert_install(&f->st, ORDER_URL, other, strlen(other), LEAF_KEY_ID, NULL, NULL,
                                   NULL, NULL, &e) < 0);
    assert_false(exists(f, "certs/" CERT_ID));
    /* Without an account and without out: fine, and no account link. */
    assert_int_equal(store_cert_install(&f->st, ORDER_URL, f->chain, f->chain_len, LEAF_KEY_ID,
                                        NULL, NULL, NULL, NULL, &e),
                     0);
    assert_true(exists(f, "certs/" CERT_ID "/cert"));
    assert_false(exists(f, "certs/" CERT_ID "/account"));
    key_free(k);
    free(other);
}

static void test_load_meta_markers(void **state)
{
    struct fx *f = *state;
    struct store_cert c = {0}, *v = NULL;
    size_t n = 0;
    struct err e;

    assert_int_equal(store_certs_load(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 0);
    install(f, &c);
    assert_int_equal(store_certs_load(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    check_leaf_facts(&v[0]);
    assert_string_equal(v[0].replaces, "prev.cert-id");
    assert_int_equal(v[0].ari_start, 1000);
    assert_string_equal(v[0].directory, "https://127.0.0.1:14000/dir");
    assert_string_equal(v[0].account_dir_id, "127.0.0.1%3a14000%2fdir");
    assert_false(v[0].revoke_asked);
    assert_false(v[0].revoked);
    store_certs_free(v, n);

    /* ARI fields survive a meta rewrite. */
    c.ari_start = T_2024;
    c.ari_end = T_2024 + 86400;
    c.ari_chosen = T_2024 + 3600;
    c.ari_next_check = T_2024 + 7200;
    c.replaces_dropped = strdup("prev.cert-id");
    c.replaces_dropped_why = strdup("urn:ietf:params:acme:error:alreadyReplaced (409): no");
    assert_int_equal(store_cert_save_meta(&f->st, &c, &e), 0);
    assert_int_equal(store_cert_mark(&f->st, c.id, "revoke", true, &e), 0);
    assert_int_equal(store_cert_mark(&f->st, c.id, "revoke", true, &e), 0);
    assert_int_equal(mode_of(f, "certs/" CERT_ID "/revoke"), 0644);
    assert_int_equal(store_cert_mark(&f->st, c.id, "revoked", true, &e), 0);
    assert_int_equal(store_certs_load(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].ari_start, T_2024);
    assert_int_equal(v[0].ari_end, T_2024 + 86400);
    assert_int_equal(v[0].ari_chosen, T_2024 + 3600);
    assert_int_equal(v[0].ari_next_check, T_2024 + 7200);
    assert_string_equal(v[0].directory, "https://127.0.0.1:14000/dir");
    assert_string_equal(v[0].replaces_dropped, "prev.cert-id");
    assert_string_equal(v[0].replaces_dropped_why,
                        "urn:ietf:params:acme:error:alreadyReplaced (409): no");
    assert_true(v[0].revoke_asked);
    assert_true(v[0].revoked);
    store_certs_free(v, n);
    assert_int_equal(store_cert_mark(&f->st, c.id, "revoke", false, &e), 0);
    assert_int_equal(store_cert_mark(&f->st, c.id, "revoke", false, &e), 0);
    assert_false(exists(f, "certs/" CERT_ID "/revoke"));
    assert_true(exists(f, "certs/" CERT_ID "/revoked"));
    assert_int_equal(store_cert_mark(&f->st, c.id, "../cert", true, &e), -EINVAL);
    assert_int_equal(store_cert_mark(&f->st, "../x", "revoke", true, &e), -EINVAL);
    assert_int_equal(store_cert_mark(&f->st, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                     "revoke", true, &e),
                     -ENOENT);

    /* A meta from before `directory` was kept, with a refusal edited to hold control
     * characters: no issuer (the account link is still read), the text comes back clean. */
    char *mp = path_of(f, "certs/" CERT_ID "/meta");
    tu_write_file(mp, "{\"replaces_dropped\": \"p.q\", \"replaces_dropped_why\": \"a\\u001bb\"}");
    free(mp);
    assert_int_equal(store_certs_load(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_null(v[0].directory);
    assert_string_equal(v[0].account_dir_id, "127.0.0.1%3a14000%2fdir");
    assert_string_equal(v[0].replaces_dropped, "p.q");
    assert_string_equal(v[0].replaces_dropped_why, "a?b");
    store_certs_free(v, n);

    /* An account link that does not lead to accounts/<dir-id>/<key-id> names no account. */
    static const char *const bad_links[] = {
        "../../keys/" LEAF_KEY_ID "/privkey", "../../accounts/x",
        "../../accounts/x/" LEAF_KEY_ID "/more", "../../../../etc/" LEAF_KEY_ID,
        "/abs/accounts/x/" LEAF_KEY_ID, "../../accounts/.hidden/" LEAF_KEY_ID,
        "../../accounts/x/not-an-id",
    };
    char *lp = path_of(f, "certs/" CERT_ID "/account");
    for (size_t i = 0; i < sizeof bad_links / sizeof bad_links[0]; i++) {
        assert_int_equal(unlink(lp), 0);
        assert_int_equal(symlink(bad_links[i], lp), 0);
        assert_int_equal(store_certs_load(&f->st, &v, &n, &e), 0);
        assert_int_equal(n, 1);
        if (v[0].account_dir_id)
            fail_msg("account link %s gave dir-id %s", bad_links[i], v[0].account_dir_id);
        store_certs_free(v, n);
    }
    /* A roundabout but contained one is read. */
    assert_int_equal(unlink(lp), 0);
    assert_int_equal(symlink("../../certs/../accounts/./d.test/" LEAF_KEY_ID, lp), 0);
    assert_int_equal(store_certs_load(&f->st, &v, &n, &e), 0);
    assert_string_equal(v[0].account_dir_id, "d.test");
    store_certs_free(v, n);
    free(lp);

    /* A malformed meta costs the ARI schedule, not the certificate. */
    char *p = path_of(f, "certs/" CERT_ID "/meta");
    tu_write_file(p, "{not json");
    free(p);
    assert_int_equal(store_certs_load(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    check_leaf_facts(&v[0]);
    assert_int_equal(v[0].ari_chosen, 0);
    store_certs_free(v, n);

    /* Removal is complete and idempotent. */
    assert_int_equal(store_cert_remove(&f->st, c.id, &e), 0);
    assert_false(exists(f, "certs/" CERT_ID));
    assert_int_equal(store_cert_remove(&f->st, c.id, &e), 0);
    assert_int_equal(store_cert_remove(&f->st, "..", &e), -EINVAL);
    assert_int_equal(store_certs_load(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_cert_save_meta(&f->st, &c, &e), -ENOENT);
    store_cert_clear(&c);
    store_certs_free(NULL, 0);
}

/* A certificate directory as acmetool leaves it: cert, chain, fullchain, url (with a trailing
 * newline, which the spec says to accept), privkey link; no meta, no account link. */
static void make_acmetool_cert(struct fx *f, const char *id, const char *url, const char *keylink)
{
    char *leaf = tu_read_data("x509/leaf.pem", NULL);
    char *inter = tu_read_data("x509/inter.pem", NULL);
    char *dir = NULL, *p;
    struct err e;

    assert_true(asprintf(&dir, "%s/certs/%s", f->root, id) > 0);
    assert_int_equal(fsio_mkdirs(dir, 0755, &e), 0);
    p = fsio_join(dir, "cert");
    tu_write_file(p, leaf);
    free(p);
    p = fsio_join(dir, "chain");
    tu_write_file(p, inter);
    free(p);
    p = fsio_join(dir, "fullchain");
    tu_write_file(p, f->chain);
    free(p);
    p = fsio_join(dir, "url");
    tu_write_file(p, url);
    free(p);
    if (keylink) {
        p = fsio_join(dir, "privkey");
        assert_int_equal(symlink(keylink, p), 0);
        free(p);
    }
    free(dir);
    free(leaf);
    free(inter);
}

static void test_acmetool_layout(void **state)
{
    struct fx *f = *state;
    struct store_cert *v = NULL;
    char id2[STORE_ID_LEN + 1], id3[STORE_ID_LEN + 1];
    size_t n = 0;
    struct err e;

    make_acmetool_cert(f, CERT_ID, ORDER_URL "\n", "../../keys/" LEAF_KEY_ID "/privkey");
    /* A url that does not hash to the directory name: skipped. */
    make_acmetool_cert(f, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ORDER_URL, NULL);
    /* A privkey link leaving keys/: loaded, but without a key. */
    store_cert_id("https://example.com/o/2", id2);
    make_acmetool_cert(f, id2, "https://example.com/o/2", "../../../../../../etc/passwd");
    /* A privkey link into keys/ by a roundabout but contained path is accepted. */
    store_cert_id("https://example.com/o/3", id3);
    make_acmetool_cert(f, id3, "https://example.com/o/3",
                       "../../certs/../keys/./" LEAF_KEY_ID "/privkey");
    /* Not certificates: a directory without cert, a non-id name, a stray file. */
    char *p = path_of(f, "certs/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    p = path_of(f, "certs/not-an-id");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    p = path_of(f, "certs/stray");
    tu_write_file(p, "x");
    free(p);

    assert_int_equal(store_certs_load(&f->st, &v, &n, &e), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].id, CERT_ID) == 0) {
            check_leaf_facts(&v[i]);
            assert_int_equal(v[i].ari_start, 0);
            assert_int_equal(v[i].ari_chosen, 0);
            assert_null(v[i].replaces);
            assert_null(v[i].directory);
            assert_null(v[i].account_dir_id);
        } else if (strcmp(v[i].id, id2) == 0) {
            assert_string_equal(v[i].key_id, "");
            assert_int_equal(v[i].nnames, 4);
            assert_string_equal(v[i].order_url, "https://example.com/o/2");
        } else {
            assert_string_equal(v[i].id, id3);
            assert_string_equal(v[i].key_id, LEAF_KEY_ID);
        }
    }
    store_certs_free(v, n);
}

/* ---- live links ---- */

static void test_live(void **state)
{
    struct fx *f = *state;
    struct store_cert c = {0};
    char id[STORE_ID_LEN + 1];
    char **names = NULL;
    bool changed = false;
    size_t n = 0;
    struct err e;

    install(f, &c);
    assert_int_equal(store_live_get(&f->st, "a.example", id, &e), -ENOENT);
    assert_int_equal(store_live_set(&f->st, "a.example", c.id, &changed, &e), 0);
    assert_true(changed);
    assert_link(f, "live/a.example", "../certs/" CERT_ID);
    assert_int_equal(store_live_set(&f->st, "a.example", c.id, &changed, &e), 0);
    assert_false(changed);
    assert_int_equal(store_live_get(&f->st, "a.example", id, &e), 0);
    assert_string_equal(id, CERT_ID);
    assert_int_equal(store_live_set(&f->st, "b.example:ecdsa", c.id, NULL, &e), 0);
    /* Pointing at a certificate that is not there is refused (no dangling links). */
    assert_int_equal(store_live_set(&f->st, "c.example",
                                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                    &changed, &e),
                     -ENOENT);
    assert_false(changed);
    assert_int_equal(store_live_set(&f->st, "../x", c.id, &changed, &e), -EINVAL);
    assert_int_equal(store_live_set(&f->st, "c.example", "../../etc", &changed, &e), -EINVAL);

    assert_int_equal(store_live_list(&f->st, &names, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "a.example");
    assert_string_equal(names[1], "b.example:ecdsa");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);

    assert_int_equal(store_live_remove(&f->st, "a.example", &e), 0);
    assert_false(exists(f, "live/a.example"));
    assert_int_equal(store_live_remove(&f->st, "a.example", &e), 0);
    assert_int_equal(store_live_remove(&f->st, "..", &e), -EINVAL);
    assert_int_equal(store_live_get(&f->st, ".hidden", id, &e), -EINVAL);
    assert_true(exists(f, "certs/" CERT_ID "/cert"));
    store_cert_clear(&c);
}

static void test_live_refuses_escapes(void **state)
{
    struct fx *f = *state;
    struct store_cert c = {0};
    char id[STORE_ID_LEN + 1];
    bool changed = false;
    struct err e;

    install(f, &c);
    /* Links leading out of certs/ are refused, never followed. */
    static const char *const evil[] = {"../../etc", "/etc", "../certs/../../etc",
                                       "../keys/" LEAF_KEY_ID, "../certs/" CERT_ID "/cert",
                                       "../certs",
                                       /* climbs above the state directory and back down
                                        * into some other certs/: a clamping resolver would
                                        * take it for ours */
                                       "../../../../certs/" CERT_ID};
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        char *p = path_of(f, "live/evil.example");

        unlink(p);
        assert_int_equal(symlink(evil[i], p), 0);
        if (store_live_get(&f->st, "evil.example", id, &e) != -EXDEV)
            fail_msg("accepted %s", evil[i]);
        assert_non_null(strstr(e.msg, p));
        free(p);
    }
    /* certs/<id> itself a symlink: refused too. */
    char *p = path_of(f, "certs/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    assert_int_equal(symlink("/etc", p), 0);
    free(p);
    p = path_of(f, "live/evil.example");
    unlink(p);
    assert_int_equal(symlink("../certs/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", p),
                     0);
    assert_int_equal(store_live_get(&f->st, "evil.example", id, &e), -EXDEV);
    /* Not a link at all. */
    unlink(p);
    tu_write_file(p, "x");
    assert_int_equal(store_live_get(&f->st, "evil.example", id, &e), -EINVAL);
    free(p);
    /* Replacing a refused link with a good one works. */
    assert_int_equal(store_live_remove(&f->st, "evil.example", &e), 0);
    assert_int_equal(store_live_set(&f->st, "evil.example", c.id, &changed, &e), 0);
    assert_true(changed);

    store_cert_clear(&c);
}

/* The lexical check of a live link's text, without a file system. */
static void test_live_target_id(void **state)
{
    static const char *const good[] = {"../certs/" CERT_ID, "./../certs/" CERT_ID,
                                       "../certs//" CERT_ID, "../certs/./" CERT_ID,
                                       "../live/../certs/" CERT_ID, "../certs/" CERT_ID "/"};
    static const char *const evil[] = {"", "/etc", "../../etc", "certs/" CERT_ID,
                                       "/certs/" CERT_ID, "../certs", "../certs/",
                                       "../certs/" CERT_ID "/cert", "../keys/" LEAF_KEY_ID,
                                       "../../../../certs/" CERT_ID, "../certs/" CERT_ID "x",
                                       "../certs/W6CTEZEPX3LHNITHJA4GCQ4A5"
                                       "NHT6PANRDQUJZFK773BINRBR4BQ",
                                       "../certs/../certs/" CERT_ID "/.."};
    char id[STORE_ID_LEN + 1];

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        memset(id, 'x', sizeof id);
        if (store_live_target_id(good[i], id) != 0)
            fail_msg("refused %s", good[i]);
        assert_string_equal(id, CERT_ID);
    }
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++)
        if (store_live_target_id(evil[i], id) != -EXDEV)
            fail_msg("accepted %s", evil[i]);
}

/* The revocation request `acmed revoke` leaves for the reconciler. */
static void test_ask_revoke(void **state)
{
    struct fx *f = *state;
    static const char id[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    char *dir = NULL, *path = NULL, *text;
    struct stat sb;
    struct err e;

    assert_true(asprintf(&dir, "%s/certs/%s", f->root, id) > 0);
    assert_true(asprintf(&path, "%s/revoke", dir) > 0);
    assert_int_equal(store_cert_ask_revoke(&f->st, id, 1, &e), -ENOENT);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(store_cert_ask_revoke(&f->st, id, 1, &e), 0);
    text = tu_read_file(path, NULL);
    assert_string_equal(text, "1\n");
    free(text);
    assert_int_equal(store_cert_ask_revoke(&f->st, id, 4, &e), 0);
    text = tu_read_file(path, NULL);
    assert_string_equal(text, "4\n");
    free(text);
    assert_int_equal(lstat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0644);
    assert_int_equal(store_cert_ask_revoke(&f->st, "../x", 1, &e), -EINVAL);
    assert_int_equal(store_cert_ask_revoke(&f->st, id, -1, &e), -EINVAL);
    free(path);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_install, setup, teardown),
        cmocka_unit_test_setup_teardown(test_install_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_meta_markers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acmetool_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_refuses_escapes, setup, teardown),
        cmocka_unit_test(test_live_target_id),
        cmocka_unit_test_setup_teardown(test_ask_revoke, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
