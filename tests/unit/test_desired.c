/* Unit tests for store/desired (desired files, conf/target, want/unwant, conf/acmed.yaml,
 * conf/responses, request.account.contact) and store/target (target_owner). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "store/desired.h"
#include "util/fsio.h"

/* ---- helpers ---- */

static int parse(const char *file, const char *text, const char *defaults, struct target *t,
                 struct err *e)
{
    err_clear(e);
    return desired_parse(file, text, text ? strlen(text) : 0, defaults,
                         defaults ? strlen(defaults) : 0, t, e);
}

static void parse_ok(const char *file, const char *text, const char *defaults, struct target *t)
{
    struct err e;

    if (parse(file, text, defaults, t, &e) != 0)
        fail_msg("parse failed: %s", e.msg);
}

/* Parses and expects -EINVAL with exactly `want` as the message. */
static void parse_err(const char *file, const char *text, const char *defaults, const char *want)
{
    struct target t;
    struct err e;

    if (parse(file, text, defaults, &t, &e) != -EINVAL)
        fail_msg("accepted: %s", text);
    if (strcmp(e.msg, want) != 0)
        fail_msg("message\n  got:  %s\n  want: %s", e.msg, want);
}

/* Parses and expects -EINVAL with a message containing `want`. */
static void parse_err_has(const char *text, const char *want)
{
    struct target t;
    struct err e;

    if (parse("x.example.com", text, NULL, &t, &e) != -EINVAL)
        fail_msg("accepted: %s", text);
    if (!strstr(e.msg, want))
        fail_msg("message lacks \"%s\": %s", want, e.msg);
}

/* stderr capture, to check warnings. */
static int saved_fd = -1;
static char *cap_path;

static void capture_start(const char *dir)
{
    int fd;

    cap_path = fsio_join(dir, "stderr.txt");
    fflush(stderr);
    saved_fd = dup(2);
    fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0 && saved_fd >= 0);
    dup2(fd, 2);
    close(fd);
}

static char *capture_end(void)
{
    char *text;

    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    saved_fd = -1;
    text = tu_read_file(cap_path, NULL);
    free(cap_path);
    cap_path = NULL;
    assert_non_null(text);
    return text;
}

static char *state_dir(void)
{
    char *root = tu_mkdtemp("desired");
    char *p;

    p = fsio_join(root, "desired");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    p = fsio_join(root, "conf");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    return root;
}

static void put(const char *root, const char *rel, const char *text)
{
    char *p = fsio_join(root, rel);

    tu_write_file(p, text);
    free(p);
}

static char *get(const char *root, const char *rel)
{
    char *p = fsio_join(root, rel);
    char *text = tu_read_file(p, NULL);

    free(p);
    return text;
}

static void done(char *root)
{
    tu_rmtree(root);
    free(root);
}

/* ---- parsing ---- */

static const char full[] = "satisfy:\n"
                           "  names: [Example.COM, www.example.com., example.com, 192.0.2.1]\n"
                           "  margin: 30\n"
                           "  critical-days: 15\n"
                           "  www-apex: true\n"
                           "request:\n"
                           "  names: [example.com]\n"
                           "  provider: letsencrypt-staging\n"
                           "  profile: tlsserver\n"
                           "  key:\n"
                           "    type: rsa\n"
                           "    ecdsa-curve: nistp384\n"
                           "    rsa-size: 3072\n"
                           "    id: abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst\n"
                           "    reuse: yes\n"
                           "  ocsp-must-staple: True\n"
                           "  challenge:\n"
                           "    type: [dns-01, http-01, dns-01]\n"
                           "    webroot-paths: [/var/www/a, /var/www/b]\n"
                           "    http-ports: [402, \"127.0.0.1:80\", \"[::1]:8080\"]\n"
                           "    tls-ports: [\":443\"]\n"
                           "    http-self-test: on\n"
                           "    env:\n"
                           "      ZONE: example\n"
                           "      TTL: 60\n"
                           "  preferred-chain: ISRG Root X1\n"
                           "  trust-anchors: /etc/acme/roots.pem\n"
                           "  account:\n"
                           "    contact: [\"mailto:ops@example.com\"]\n"
                           "    agree-tos: true\n"
                           "    eab: {kid: kid-1, hmac-key-file: /etc/acme/eab.key}\n"
                           "priority: 5\n"
                           "label: ecdsa-1\n";

static void test_full_schema(void **state)
{
    struct target t;

    (void)state;
    parse_ok("example.com", full, NULL, &t);
    assert_string_equal(t.file, "example.com");
    assert_int_equal(t.nnames, 3);
    assert_string_equal(t.names[0].name, "example.com");
    assert_false(t.names[0].ip);
    assert_string_equal(t.names[1].name, "www.example.com");
    assert_string_equal(t.names[2].name, "192.0.2.1");
    assert_true(t.names[2].ip);
    assert_int_equal(t.margin_days, 30);
    assert_int_equal(t.critical_days, 15);
    assert_true(t.www_apex); /* example.com is listed already: nothing added */
    assert_int_equal(t.nreq_names, 1);
    assert_string_equal(t.req_names[0].name, "example.com");
    assert_string_equal(t.provider, "https://acme-staging-v02.api.letsencrypt.org/directory");
    assert_string_equal(t.profile, "tlsserver");
    assert_int_equal(t.key.type, KEY_RSA);
    assert_int_equal(t.key.size, 3072);
    assert_string_equal(t.key_id, "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst");
    assert_true(t.key_reuse);
    assert_true(t.must_staple);
    assert_int_equal(t.nchallenge_types, 2);
    assert_string_equal(t.challenge_types[0], "dns-01");
    assert_string_equal(t.challenge_types[1], "http-01");
    assert_int_equal(t.nwebroot_paths, 2);
    assert_string_equal(t.webroot_paths[1], "/var/www/b");
    assert_int_equal(t.nhttp_ports, 3);
    assert_string_equal(t.http_ports[0], "402");
    assert_string_equal(t.http_ports[2], "[::1]:8080");
    assert_int_equal(t.ntls_ports, 1);
    assert_string_equal(t.tls_ports[0], ":443");
    assert_true(t.http_self_test);
    assert_int_equal(t.nenv, 2);
    assert_string_equal(t.env[0], "ZONE=example");
    assert_string_equal(t.env[1], "TTL=60");
    assert_string_equal(t.preferred_chain, "ISRG Root X1");
    assert_string_equal(t.trust_anchors, "/etc/acme/roots.pem");
    assert_int_equal(t.ncontact, 1);
    assert_string_equal(t.contact[0], "mailto:ops@example.com");
    assert_int_equal(t.agree_tos, 1);
    assert_string_equal(t.eab_kid, "kid-1");
    assert_string_equal(t.eab_hmac_key_file, "/etc/acme/eab.key");
    assert_int_equal(t.priority, 5);
    assert_string_equal(t.label, "ecdsa-1");
    target_clear(&t);
    assert_null(t.file);
    target_clear(&t); /* twice is harmless */
    target_clear(NULL);
}

static void test_empty_file_defaults(void **state)
{
    struct target t;

    (void)state;
    parse_ok("WWW.Example.com", "", NULL, &t);
    assert_string_equal(t.file, "WWW.Example.com");
    assert_int_equal(t.nnames, 1);
    assert_string_equal(t.names[0].name, "www.example.com");
    assert_int_equal(t.nreq_names, 1);
    assert_string_equal(t.req_names[0].name, "www.example.com");
    assert_null(t.provider);
    assert_null(t.profile);
    assert_int_equal(t.key.type, KEY_ECDSA);
    assert_int_equal(t.key.size, 256);
    assert_null(t.key_id);
    assert_false(t.key_reuse);
    assert_int_equal(t.nchallenge_types, 3);
    assert_string_equal(t.challenge_types[0], "http-01");
    assert_string_equal(t.challenge_types[1], "tls-alpn-01");
    assert_string_equal(t.challenge_types[2], "dns-01");
    assert_int_equal(t.agree_tos, -1);
    assert_string_equal(t.label, "");
    assert_int_equal(t.priority, 0);
    assert_int_equal(t.margin_days, 0);
    assert_null(t.trust_anchors);
    assert_int_equal(t.critical_days, 0);
    assert_false(t.www_apex);
    target_clear(&t);

    /* A file with settings but no names, and one with an empty list, are the file name. */
    parse_ok("a.example.com", "request:\n  key:\n    type: rsa\n", NULL, &t);
    assert_int_equal(t.nnames, 1);
    assert_string_equal(t.names[0].name, "a.example.com");
    assert_int_equal(t.key.type, KEY_RSA);
    assert_int_equal(t.key.size, 2048);
    target_clear(&t);
    parse_ok("a.example.com", "satisfy:\n  names: []\n", NULL, &t);
    assert_int_equal(t.nnames, 1);
    assert_string_equal(t.names[0].name, "a.example.com");
    target_clear(&t);
    /* Null values ("key:" with nothing) mean "not set". */
    parse_ok("a.example.com", "satisfy:\nrequest:\n  provider:\n", NULL, &t);
    assert_null(t.provider);
    target_clear(&t);
}

static void test_file_name_not_a_name(void **state)
{
    (void)state;
    parse_err("my_site", "", NULL,
              "desired/my_site: the file lists no names (satisfy.names), and its file name is "
              "not a hostname: invalid name \"my_site\": underscores are not allowed in "
              "hostnames");
    /* With names in the file, the file name may be anything. */
    {
        struct target t;

        parse_ok("my_site", "satisfy:\n  names: [a.example.com]\n", NULL, &t);
        assert_string_equal(t.names[0].name, "a.example.com");
        target_clear(&t);
    }
}

static const char defaults[] = "request:\n"
                               "  provider: https://ca.example/dir\n"
                               "  trust-anchors: /etc/acme/fleet-roots.pem\n"
                               "  key:\n"
                               "    type: rsa\n"
                               "    rsa-size: 4096\n"
                               "  challenge:\n"
                               "    webroot-paths: [/var/www/default, /srv/www]\n"
                               "    env: {A: one, B: two}\n"
                               "  account:\n"
                               "    contact: [\"mailto:ca@example.com\"]\n"
                               "    agree-tos: true\n"
                               "satisfy:\n"
                               "  names: [ignored.example.com]\n"
                               "  margin: 20\n"
                               "priority: 3\n";

static void test_defaults_merge(void **state)
{
    struct target t;

    (void)state;
    /* The desired file sets only request.key.rsa-size: everything else comes from
     * conf/target, at every depth (request.key.type too). */
    parse_ok("www.example.com", "request:\n  key:\n    rsa-size: 3072\n", defaults, &t);
    assert_string_equal(t.provider, "https://ca.example/dir");
    assert_int_equal(t.key.type, KEY_RSA);
    assert_int_equal(t.key.size, 3072);
    assert_int_equal(t.nwebroot_paths, 2);
    assert_string_equal(t.webroot_paths[0], "/var/www/default");
    assert_int_equal(t.ncontact, 1);
    assert_string_equal(t.contact[0], "mailto:ca@example.com");
    assert_int_equal(t.agree_tos, 1);
    assert_int_equal(t.margin_days, 20);
    assert_int_equal(t.priority, 3);
    assert_string_equal(t.trust_anchors, "/etc/acme/fleet-roots.pem");
    /* Names in conf/target are ignored. */
    assert_int_equal(t.nnames, 1);
    assert_string_equal(t.names[0].name, "www.example.com");
    target_clear(&t);

    /* A list replaces the default list whole; a mapping (env) merges key by key; a scalar
     * replaces its default. */
    parse_ok("www.example.com",
             "request:\n"
             "  key: {type: ecdsa}\n"
             "  challenge:\n"
             "    webroot-paths: [/var/www/own]\n"
             "    env: {B: mine, C: three}\n"
             "  account:\n"
             "    agree-tos: no\n"
             "  trust-anchors: /etc/acme/own-roots.pem\n",
             defaults, &t);
    assert_int_equal(t.key.type, KEY_ECDSA);
    assert_int_equal(t.key.size, 256);
    assert_int_equal(t.nwebroot_paths, 1);
    assert_string_equal(t.webroot_paths[0], "/var/www/own");
    assert_int_equal(t.nenv, 3);
    assert_string_equal(t.env[0], "B=mine");
    assert_string_equal(t.env[1], "C=three");
    assert_string_equal(t.env[2], "A=one");
    assert_int_equal(t.agree_tos, 0);
    assert_string_equal(t.contact[0], "mailto:ca@example.com");
    assert_string_equal(t.trust_anchors, "/etc/acme/own-roots.pem");
    target_clear(&t);

    /* An explicitly empty list replaces a default list too. */
    parse_ok("www.example.com", "request:\n  challenge:\n    webroot-paths: []\n", defaults, &t);
    assert_int_equal(t.nwebroot_paths, 0);
    target_clear(&t);
}

static void test_legacy_and_single_strings(void **state)
{
    struct target t;

    (void)state;
    parse_ok("legacy", "names: [a.example.com, b.example.com]\nprovider: letsencrypt\n", NULL, &t);
    assert_int_equal(t.nnames, 2);
    assert_string_equal(t.names[1].name, "b.example.com");
    assert_int_equal(t.nreq_names, 2);
    assert_string_equal(t.provider, "https://acme-v02.api.letsencrypt.org/directory");
    target_clear(&t);
    /* satisfy.names wins over legacy names; request.provider over legacy provider, and the
     * desired file's legacy provider over conf/target's request.provider. */
    parse_ok("legacy",
             "satisfy: {names: [c.example.com]}\nnames: [a.example.com]\n"
             "request: {provider: https://one.example/dir}\nprovider: https://two.example/d\n",
             NULL, &t);
    assert_int_equal(t.nnames, 1);
    assert_string_equal(t.names[0].name, "c.example.com");
    assert_string_equal(t.provider, "https://one.example/dir");
    target_clear(&t);
    parse_ok("x.example.com", "provider: https://two.example/d\n", defaults, &t);
    assert_string_equal(t.provider, "https://two.example/d");
    target_clear(&t);
    /* acmetool users write single strings where lists are expected. */
    parse_ok("x.example.com",
             "request:\n  challenge:\n    webroot-paths: /var/www\n    type: dns-01\n"
             "    http-ports: 80\n",
             NULL, &t);
    assert_int_equal(t.nwebroot_paths, 1);
    assert_string_equal(t.webroot_paths[0], "/var/www");
    assert_int_equal(t.nchallenge_types, 1);
    assert_string_equal(t.challenge_types[0], "dns-01");
    assert_string_equal(t.http_ports[0], "80");
    target_clear(&t);
}

static void test_label_priority_dedup(void **state)
{
    struct target t;

    (void)state;
    parse_ok("x.example.com",
             "satisfy:\n  names:\n  - B.example.com\n  - b.example.com.\n  - a.example.com\n"
             "label: \"rsa\"\npriority: -2\n",
             NULL, &t);
    assert_string_equal(t.label, "rsa");
    assert_int_equal(t.priority, -2);
    assert_int_equal(t.nnames, 2);
    assert_string_equal(t.names[0].name, "b.example.com");
    assert_string_equal(t.names[1].name, "a.example.com");
    target_clear(&t);
    parse_err_has("label: a/b\n", "line 1, column 8: label: expected letters");
    parse_err_has("label: ../x\n", "label: expected");
    parse_err_has("priority: high\n", "line 1, column 11: priority: expected an integer");
    parse_err_has("priority: 99999999999\n", "priority: expected an integer");
}

static void test_error_positions(void **state)
{
    (void)state;
    parse_err("www.example.com", "satisfy:\n  names: [a.example.com]\n  margin: lots\n", NULL,
              "desired/www.example.com: line 3, column 11: satisfy.margin: expected an integer "
              "of at least 0");
    parse_err("www.example.com", "satisfy:\n  names:\n  - a.example.com\n  - a/b\n", NULL,
              "desired/www.example.com: line 4, column 5: satisfy.names[1]: invalid name "
              "\"a/b\": contains a slash or backslash");
    parse_err("www.example.com", "request:\n  key:\n    type: dsa\n", NULL,
              "desired/www.example.com: line 3, column 11: request.key.type: expected ecdsa or "
              "rsa");
    parse_err("www.example.com", "satisfy: [a.example.com]\n", NULL,
              "desired/www.example.com: line 1, column 10: satisfy: expected a mapping");
    parse_err("www.example.com", "- a\n- b\n", NULL,
              "desired/www.example.com: line 1, column 1: top level: expected a mapping "
              "(satisfy: ...), or hostnames separated by white space (the legacy plain form)");
    /* An error in conf/target names conf/target, with its own line. */
    parse_err("www.example.com", "", "request:\n  ocsp-must-staple: maybe\n",
              "conf/target: line 2, column 21: request.ocsp-must-staple: expected true or "
              "false");
    parse_err("www.example.com", "request:\n  challenge:\n    webroot-paths: [relative/dir]\n",
              NULL,
              "desired/www.example.com: line 3, column 21: request.challenge.webroot-paths[0]: "
              "expected an absolute path, not \"relative/dir\"");
}

static void test_yaml_errors(void **state)
{
    (void)state;
    parse_err_has("satisfy:\n  names: [a.example.com\n", "desired/x.example.com: line 3");
    parse_err_has("a: &x [b.example.com]\nnames: *x\n",
                  "line 2, column 8: aliases (*name) are not supported");
    parse_err_has("label: a\nlabel: b\n", "line 2, column 1: duplicate key \"label\"");
    parse_err_has("label: a\n---\nlabel: b\n", "only one YAML document is allowed");
    parse_err_has("{[a]: b}\n", "mapping keys must be strings");
    parse_err_has("label: \"a\\0b\"\n", "label: expected a string without control characters");
    parse_err_has("satisfy:\n  names: [\"a\\0.example.com\"]\n", "NUL");
    {
        char deep[200] = "";

        for (int i = 0; i < 40; i++)
            strcat(deep, "[");
        parse_err_has(deep, "nested too deeply");
    }
}

static void test_bad_values(void **state)
{
    (void)state;
    parse_err_has("request:\n  key:\n    ecdsa-curve: secp256k1\n",
                  "line 3, column 18: request.key.ecdsa-curve: expected nistp256, nistp384 or "
                  "nistp521");
    parse_err_has("request:\n  key:\n    rsa-size: 1024\n",
                  "line 3, column 15: request.key.rsa-size: expected an RSA key size");
    parse_err_has("request:\n  key:\n    rsa-size: 8192\n", "request.key.rsa-size");
    parse_err_has("request:\n  key:\n    rsa-size: 2049\n", "request.key.rsa-size");
    parse_err_has("request:\n  key:\n    type: [rsa]\n", "request.key.type: expected");
    parse_err_has("request:\n  key:\n    id: ../../etc\n", "request.key.id: expected a key id");
    parse_err_has("request:\n  key:\n    reuse: maybe\n", "request.key.reuse: expected true");
    parse_err_has("request:\n  provider: ftp://x\n", "request.provider: expected a directory");
    parse_err_has("request:\n  provider: [a]\n", "request.provider: expected");
    parse_err_has("request:\n  trust-anchors: roots.pem\n",
                  "line 2, column 18: request.trust-anchors: expected an absolute path to a PEM "
                  "file, not \"roots.pem\"");
    parse_err_has("request:\n  trust-anchors: [/a.pem]\n", "request.trust-anchors: expected a");
    parse_err_has("request:\n  challenge:\n    type: [http-01, smtp-01]\n",
                  "request.challenge.type[1]: expected http-01, tls-alpn-01 or dns-01");
    parse_err_has("request:\n  challenge:\n    type: []\n", "expected at least one");
    parse_err_has("request:\n  challenge:\n    http-ports: [99999]\n",
                  "request.challenge.http-ports[0]: expected a port");
    parse_err_has("request:\n  challenge:\n    tls-ports: [\"[nope]:443\"]\n",
                  "request.challenge.tls-ports[0]");
    parse_err_has("request:\n  challenge:\n    env: {1X: a}\n", "request.challenge.env");
    parse_err_has("request:\n  challenge:\n    env: {X: [a]}\n", "expected a string for X");
    parse_err_has("request:\n  challenge:\n    env: [a]\n", "env: expected a mapping");
    parse_err_has("request:\n  account:\n    eab: {kid: k}\n",
                  "request.account.eab: expected both kid and hmac-key-file");
    parse_err_has("request:\n  account:\n    contact: {a: b}\n", "request.account.contact");
    parse_err_has("satisfy:\n  margin: -1\n", "satisfy.margin");
    parse_err_has("satisfy:\n  names: {a: b}\n", "satisfy.names: expected a list");
    parse_err_has("satisfy:\n  names: [[a.example.com]]\n",
                  "satisfy.names[0]: expected a hostname");
    parse_err_has("request:\n  names: [\"*.*.example.com\"]\n", "request.names[0]: invalid");
    /* RFC 8738: dns-01 cannot validate an IP address. */
    parse_err_has("satisfy:\n  names: [a.example.com, 192.0.2.1]\nrequest:\n  challenge:\n"
                  "    type: [dns-01]\n",
                  "line 5, column 11: request.challenge.type: 192.0.2.1 is an IP address, "
                  "which dns-01 cannot validate");
}

/* challenge.env reaches hooks, run as root: a desired file may not set what would make the
 * loader, the C library, a shell or an interpreter run code of its choosing. */
/* A central certificate server as the provider (issue 15 item 5): its URL passes, request.mgmt
 * takes one key (an absolute path), and any other key under it is an error with file:line. */
static void test_mgmt_provider(void **state)
{
    struct target t;

    (void)state;
    parse_ok("www.example.com",
             "request:\n  provider: mgmt+https://central.example:1313/sign\n"
             "  mgmt:\n    hmac-key-file: /etc/acme/secure.key\n",
             NULL, &t);
    assert_string_equal(t.provider, "mgmt+https://central.example:1313/sign");
    assert_string_equal(t.mgmt_hmac_key_file, "/etc/acme/secure.key");
    target_clear(&t);
    /* From conf/target, and over plain http; no key file: none. */
    parse_ok("www.example.com", "", "request:\n  provider: mgmt+http://127.0.0.1:1313/sign\n",
             &t);
    assert_string_equal(t.provider, "mgmt+http://127.0.0.1:1313/sign");
    assert_null(t.mgmt_hmac_key_file);
    target_clear(&t);
    parse_ok("www.example.com", "request:\n  mgmt: {hmac-key-file: /k}\n",
             "request:\n  mgmt:\n    hmac-key-file: /etc/acme/default.key\n", &t);
    assert_string_equal(t.mgmt_hmac_key_file, "/k");
    target_clear(&t);
    parse_err("www.example.com", "request:\n  mgmt:\n    hmac-key-file: /k\n    hmac-key: x\n",
              NULL,
              "desired/www.example.com: line 4, column 5: request.mgmt: unknown key "
              "\"hmac-key\" (expected hmac-key-file)");
    parse_err("www.example.com", "", "request:\n  mgmt:\n    key-file: /k\n",
              "conf/target: line 3, column 5: request.mgmt: unknown key \"key-file\" (expected "
              "hmac-key-file)");
    parse_err_has("request:\n  mgmt:\n    hmac-key-file: secure.key\n",
                  "line 3, column 20: request.mgmt.hmac-key-file: expected an absolute path");
    parse_err_has("request:\n  mgmt: /k\n", "request.mgmt: expected a mapping");
    parse_err_has("request:\n  provider: mgmt+ftp://central.example/sign\n",
                  "request.provider: expected a directory URL (https://...), a central server's "
                  "URL (mgmt+https://host:port/sign)");
    parse_err_has("request:\n  provider: mgmt+https://\n", "request.provider: expected");
}

static void test_env_denylist(void **state)
{
    /* clang-format off */
    static const char *const refused[] = {
        "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GCONV_PATH", "GLIBC_TUNABLES",
        "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_CHECK_", "NIS_PATH",
        "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR", "BASH_ENV", "ENV",
        "PATH", "IFS", "SHELLOPTS", "BASHOPTS", "PS4", "PYTHONPATH", "PYTHONSTARTUP",
        "PERL5LIB", "PERL5OPT", "PERLLIB", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS", "BASH_FUNC_x",
        "OPENSSL_CONF", "HOME", "GIT_SSH_COMMAND",
    };
    /* clang-format on */
    struct target t;
    struct err e;
    char text[256], want[512];

    (void)state;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        snprintf(text, sizeof text,
                 "satisfy:\n  names: [a.example.com]\nrequest:\n  challenge:\n    env:\n"
                 "      ZONE: example\n      %s: /tmp/x.so\n",
                 refused[i]);
        snprintf(want, sizeof want,
                 "desired/x.example.com: line 7, column 7: request.challenge.env: variable %s is "
                 "not allowed (it would let the desired file run code in hooks)",
                 refused[i]);
        parse_err("x.example.com", text, NULL, want);
    }
    /* A name that is no variable name at all (bash's exported functions look like this). */
    parse_err_has("request:\n  challenge:\n    env: {\"BASH_FUNC_f%%\": \"() { id; }\"}\n",
                  "line 3, column 11: request.challenge.env: expected environment variable names");
    parse_err_has("request:\n  challenge:\n    env: {\"A=B\": x}\n",
                  "request.challenge.env: expected environment variable names");
    /* Exact names only: lookalikes and ordinary variables pass. */
    parse_ok("x.example.com",
             "request:\n  challenge:\n    env: {PATHS: a, MY_LD_PRELOAD: b, ld_preload: c, "
             "ZONE: d, ENVIRONMENT: e, TTL: \"60\"}\n",
             NULL, &t);
    assert_int_equal(t.nenv, 6);
    target_clear(&t);
    /* conf/target is refused the same way (exit 2 territory), and says where to set it. */
    parse_err("x.example.com", "", "request:\n  challenge:\n    env:\n      LD_PRELOAD: /x.so\n",
              "conf/target: line 4, column 7: request.challenge.env: variable LD_PRELOAD is not "
              "allowed (it would let conf/target run code in hooks; set it in acmed's own "
              "environment instead)");
    assert_int_equal(parse("x.example.com", "", "request:\n  challenge:\n    env: {IFS: x}\n",
                           &t, &e),
                     -EINVAL);
    assert_non_null(strstr(e.msg, "conf/target: line 3"));
}

static void test_ip_challenges(void **state)
{
    struct target t;
    struct err e;

    (void)state;
    /* With another type beside dns-01 the IP can be validated. */
    parse_ok("x.example.com",
             "satisfy:\n  names: [\"2001:db8::1\"]\nrequest:\n  challenge:\n"
             "    type: [dns-01, tls-alpn-01]\n",
             NULL, &t);
    assert_true(t.names[0].ip);
    target_clear(&t);
    /* dns-01 alone from conf/target: the error names conf/target's line. */
    assert_int_equal(parse("192.0.2.7", "", "request:\n  challenge:\n    type: dns-01\n", &t, &e),
                     -EINVAL);
    assert_non_null(strstr(e.msg, "conf/target: line 3, column 11: request.challenge.type"));
    /* DNS names only: dns-01 alone is fine. */
    parse_ok("x.example.com", "request:\n  challenge:\n    type: [dns-01]\n", NULL, &t);
    target_clear(&t);
}

static void test_unknown_keys_warn(void **state)
{
    char *dir = tu_mkdtemp("desired-warn");
    struct target t;
    char *out;

    (void)state;
    capture_start(dir);
    parse_ok("x.example.com",
             "satisfy:\n  names: [x.example.com]\nrequest:\n  bogus: 1\n"
             "colour: blue\n",
             "request:\n  key:\n    typo: rsa\n", &t);
    out = capture_end();
    assert_int_equal(t.nnames, 1);
    target_clear(&t);
    assert_non_null(strstr(out, "desired/x.example.com:4: unknown key \"request.bogus\" ignored"));
    assert_non_null(strstr(out, "desired/x.example.com:5: unknown key \"colour\" ignored"));
    assert_non_null(strstr(out, "conf/target:3: unknown key \"request.key.typo\" ignored"));
    free(out);
    done(dir);
}

/* ---- the legacy plain form, www-apex, critical-days ---- */

static void names_are(const struct target_name *v, size_t n, const char *want)
{
    char got[512] = "";

    for (size_t i = 0; i < n; i++) {
        strcat(got, i ? " " : "");
        strcat(got, v[i].name);
    }
    if (strcmp(got, want) != 0)
        fail_msg("names\n  got:  %s\n  want: %s", got, want);
}

/* A document of hostnames alone is satisfy.names, with a notice; it merges over conf/target
 * like any desired file, and an error in it names the line of the name at fault. */
static void test_legacy_scalar(void **state)
{
    char *dir = tu_mkdtemp("desired-legacy"), *out;
    struct target t;

    (void)state;
    capture_start(dir);
    parse_ok("x.example.com", "www.Example.com example.com\n", NULL, &t);
    out = capture_end();
    names_are(t.names, t.nnames, "www.example.com example.com");
    names_are(t.req_names, t.nreq_names, "www.example.com example.com");
    assert_non_null(strstr(out, "acmed: notice: desired/x.example.com:1: hostnames alone "
                                "(the legacy plain form), read as satisfy.names"));
    free(out);
    target_clear(&t);
    /* One a line, after a document marker, with a blank line, a wildcard, an IP address and
     * a duplicate; conf/target's settings apply. */
    parse_ok("x.example.com",
             "---\na.example.com\n  b.example.com\n\n*.example.com\n192.0.2.1 a.example.com\n",
             "request:\n  provider: letsencrypt\n", &t);
    names_are(t.names, t.nnames, "a.example.com b.example.com *.example.com 192.0.2.1");
    assert_true(t.names[3].ip);
    assert_string_equal(t.provider, "https://acme-v02.api.letsencrypt.org/directory");
    target_clear(&t);
    parse_ok("x.example.com", "--- www.example.com\n", "satisfy:\n  www-apex: yes\n", &t);
    names_are(t.names, t.nnames, "www.example.com example.com");
    target_clear(&t);
    /* A bad name among them: its own line and column. */
    parse_err("x.example.com", "a.example.com\n  b.example.com localhost\n", NULL,
              "desired/x.example.com: line 2, column 17: satisfy.names[2]: invalid name "
              "\"localhost\": a single-label name cannot get a publicly trusted "
              "certificate; use a fully qualified name");
    parse_err("x.example.com", "a.example.com -b.example.com\n", NULL,
              "desired/x.example.com: line 1, column 15: satisfy.names[1]: invalid name "
              "\"-b.example.com\": a label starts or ends with a hyphen");
    /* Not the legacy form: other characters, a quoted string, a number, a sequence. */
    parse_err("x.example.com", "just a string, with punctuation!\n", NULL,
              "desired/x.example.com: line 1, column 1: top level: expected a mapping "
              "(satisfy: ...), or hostnames separated by white space (the legacy plain form)");
    parse_err("x.example.com", "\n\n\"www.example.com example.com\"\n", NULL,
              "desired/x.example.com: line 3, column 1: top level: expected a mapping "
              "(satisfy: ...), or hostnames separated by white space (the legacy plain form)");
    parse_err("x.example.com", "a_b.example.com\n", NULL,
              "desired/x.example.com: line 1, column 1: top level: expected a mapping "
              "(satisfy: ...), or hostnames separated by white space (the legacy plain form)");
    parse_err("x.example.com", "42\n", NULL,
              "desired/x.example.com: line 1, column 1: top level: expected a mapping, not a "
              "number");
    parse_err("x.example.com", "\n-1.5e3\n", NULL,
              "desired/x.example.com: line 2, column 1: top level: expected a mapping, not a "
              "number");
    parse_err("x.example.com", "- a.example.com\n- b.example.com\n", NULL,
              "desired/x.example.com: line 1, column 1: top level: expected a mapping "
              "(satisfy: ...), or hostnames separated by white space (the legacy plain form)");
    /* YAML's null is still an empty file: the file name. */
    parse_ok("x.example.com", "~\n", NULL, &t);
    names_are(t.names, t.nnames, "x.example.com");
    target_clear(&t);
    /* conf/target names nobody: the form means nothing there. */
    parse_err("x.example.com", "", "example.com www.example.com\n",
              "conf/target: line 1, column 1: top level: expected a mapping");
    done(dir);
}

/* unwant edits a legacy file as the satisfy.names it stands for, in the current form. */
static void test_legacy_unwant(void **state)
{
    char *root = state_dir(), *text;
    const char *b[] = {"b.example.com"}, *a[] = {"a.example.com"};
    size_t changed;
    struct err e;
    char *p;

    (void)state;
    put(root, "desired/legacy", "a.example.com\nb.example.com\n");
    assert_int_equal(desired_unwant(root, b, 1, &changed, &e), 0);
    assert_int_equal(changed, 1);
    text = get(root, "desired/legacy");
    assert_string_equal(text, "satisfy:\n  names:\n  - a.example.com\n");
    free(text);
    put(root, "desired/legacy", "a.example.com\n");
    assert_int_equal(desired_unwant(root, a, 1, &changed, &e), 0);
    assert_int_equal(changed, 1);
    p = fsio_join(root, "desired/legacy");
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    done(root);
}

/* satisfy.www-apex adds the apex of each www name, once, to satisfy.names and request.names,
 * whether they are written or default. */
static void test_www_apex(void **state)
{
    const char *names[] = {"www.example.com", "WWW.example.org", "example.org", "www.com"};
    char *root = tu_mkdtemp("desired-apex"), *text;
    struct target t;
    struct err e;

    (void)state;
    parse_ok("x.example.com",
             "satisfy:\n  names: [www.example.com, other.example.net, www.example.org]\n"
             "  www-apex: true\n",
             NULL, &t);
    names_are(t.names, t.nnames,
              "www.example.com other.example.net www.example.org example.com example.org");
    names_are(t.req_names, t.nreq_names,
              "www.example.com other.example.net www.example.org example.com example.org");
    target_clear(&t);
    /* Listed already: not twice. */
    parse_ok("x.example.com",
             "satisfy:\n  names: [example.com, www.example.com]\n  www-apex: true\n", NULL, &t);
    names_are(t.names, t.nnames, "example.com www.example.com");
    target_clear(&t);
    /* The file name as the only name, www-apex from conf/target; the desired file may turn
     * it off again. */
    parse_ok("www.example.com", "", "satisfy:\n  www-apex: true\n", &t);
    names_are(t.names, t.nnames, "www.example.com example.com");
    names_are(t.req_names, t.nreq_names, "www.example.com example.com");
    target_clear(&t);
    parse_ok("www.example.com", "satisfy:\n  www-apex: false\n", "satisfy:\n  www-apex: true\n",
             &t);
    names_are(t.names, t.nnames, "www.example.com");
    target_clear(&t);
    /* An explicit request.names gains its apexes too (else no certificate would satisfy). */
    parse_ok("x.example.com",
             "satisfy:\n  names: [www.example.com]\n  www-apex: on\n"
             "request:\n  names: [www.example.com, www.example.net]\n",
             NULL, &t);
    names_are(t.names, t.nnames, "www.example.com example.com");
    names_are(t.req_names, t.nreq_names, "www.example.com www.example.net example.com example.net");
    target_clear(&t);
    /* Only "www." names whose rest is a name; one level only; wildcards and IPs never. */
    parse_ok("x.example.com",
             "satisfy:\n  names: [www.com, www.www.example.com, wwwx.example.com, "
             "\"*.www.example.org\", 192.0.2.1]\n  www-apex: true\n",
             NULL, &t);
    names_are(t.names, t.nnames,
              "www.com www.www.example.com wwwx.example.com *.www.example.org 192.0.2.1 "
              "www.example.com");
    target_clear(&t);
    parse_err_has("satisfy:\n  www-apex: perhaps\n",
                  "line 2, column 13: satisfy.www-apex: expected true or false");

    /* want --apex: the apexes are written into satisfy.names, after the names given. */
    assert_int_equal(desired_want(root, NULL, names, 4, true, &e), 0);
    text = get(root, "desired/www.example.com");
    assert_string_equal(text, "satisfy:\n  names:\n  - www.example.com\n  - www.example.org\n"
                              "  - example.org\n  - www.com\n  - example.com\n");
    free(text);
    done(root);
}

static void test_critical_days(void **state)
{
    struct target t;

    (void)state;
    parse_ok("x.example.com", "satisfy:\n  critical-days: 1\n", NULL, &t);
    assert_int_equal(t.critical_days, 1);
    target_clear(&t);
    parse_ok("x.example.com", "satisfy:\n  critical-days: 3650\n", NULL, &t);
    assert_int_equal(t.critical_days, 3650);
    target_clear(&t);
    /* From conf/target, and the desired file's own over it. */
    parse_ok("x.example.com", "", "satisfy:\n  critical-days: 20\n", &t);
    assert_int_equal(t.critical_days, 20);
    target_clear(&t);
    parse_ok("x.example.com", "satisfy:\n  critical-days: 7\n", "satisfy:\n  critical-days: 20\n",
             &t);
    assert_int_equal(t.critical_days, 7);
    target_clear(&t);
    parse_err("x.example.com", "satisfy:\n  critical-days: 0\n", NULL,
              "desired/x.example.com: line 2, column 18: satisfy.critical-days: expected an "
              "integer from 1 to 3650");
    parse_err_has("satisfy:\n  critical-days: 3651\n",
                  "satisfy.critical-days: expected an integer from 1 to 3650");
    parse_err_has("satisfy:\n  critical-days: -3\n", "satisfy.critical-days: expected an integer");
    parse_err_has("satisfy:\n  critical-days: 99999999999999999999\n",
                  "satisfy.critical-days: expected an integer");
    parse_err_has("satisfy:\n  critical-days: soon\n",
                  "satisfy.critical-days: expected an integer");
    parse_err("x.example.com", "", "satisfy:\n  critical-days: 1.5\n",
              "conf/target: line 2, column 18: satisfy.critical-days: expected an integer from 1 "
              "to 3650");
}

/* ---- desired_load ---- */

static void test_load(void **state)
{
    char *root = state_dir(), *p;
    struct desired_set s;
    struct err e;

    (void)state;
    put(root, "conf/target", "request:\n  provider: letsencrypt\n");
    put(root, "desired/c.example.com", "");
    put(root, "desired/a.example.com", "satisfy:\n  names: [a.example.com, b.example.com]\n");
    put(root, "desired/b.example.com", "request:\n  key:\n    type: dsa\n");
    put(root, "desired/.hidden", "garbage: [");
    put(root, "desired/.tmp-a.example.com-123456", "garbage: [");
    p = fsio_join(root, "desired/sub");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    p = fsio_join(root, "desired/link.example.com");
    assert_int_equal(symlink("/etc/passwd", p), 0);
    free(p);
    err_clear(&e);
    assert_int_equal(desired_load(root, &s, &e), 0);
    assert_int_equal(s.ntargets, 2);
    assert_string_equal(s.targets[0].file, "a.example.com");
    assert_int_equal(s.targets[0].nnames, 2);
    assert_string_equal(s.targets[0].provider, "https://acme-v02.api.letsencrypt.org/directory");
    assert_string_equal(s.targets[1].file, "c.example.com");
    assert_string_equal(s.targets[1].names[0].name, "c.example.com");
    assert_int_equal(s.nerrors, 1);
    assert_string_equal(s.errors[0].file, "b.example.com");
    assert_string_equal(s.errors[0].message, "desired/b.example.com: line 3, column 11: "
                                             "request.key.type: expected ecdsa or rsa");
    desired_set_clear(&s);
    desired_set_clear(&s);

    /* A bad conf/target stops everything. */
    put(root, "conf/target", "request:\n  provider: [x]\n");
    err_clear(&e);
    assert_int_equal(desired_load(root, &s, &e), -EINVAL);
    assert_int_equal(e.code, -EINVAL);
    assert_string_equal(e.msg, "conf/target: line 2, column 13: request.provider: expected a "
                               "directory URL");
    assert_int_equal(s.ntargets, 0);
    assert_null(s.targets);
    put(root, "conf/target", "request: [\n");
    assert_int_equal(desired_load(root, &s, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "conf/target: line"));
    done(root);

    /* No desired/ and no conf/ at all: nothing to do. */
    root = tu_mkdtemp("desired-none");
    assert_int_equal(desired_load(root, &s, &e), 0);
    assert_int_equal(s.ntargets + s.nerrors, 0);
    desired_set_clear(&s);
    done(root);
}

/* desired/daemon would have its progress in state/daemon.json, the daemon's record. */
static void test_load_reserved(void **state)
{
    char *root = state_dir();
    struct desired_set s;
    struct err e;

    (void)state;
    put(root, "desired/daemon", "satisfy:\n  names: [d.example.com]\n");
    put(root, "desired/ok.example.com", "");
    assert_int_equal(desired_load(root, &s, &e), 0);
    assert_int_equal(s.ntargets, 1);
    assert_string_equal(s.targets[0].file, "ok.example.com");
    assert_int_equal(s.nerrors, 1);
    assert_string_equal(s.errors[0].file, "daemon");
    assert_non_null(strstr(s.errors[0].message, "desired/daemon: the file name \"daemon\" is reserved"));
    desired_set_clear(&s);
    done(root);
}

/* ---- want / unwant ---- */

static void test_want(void **state)
{
    char *root = tu_mkdtemp("desired-want"), *text;
    const char *names[] = {"WWW.Example.com", "*.example.com", "www.example.com."};
    const char *bad[] = {"ok.example.com", "a/b"};
    struct desired_set s;
    struct err e;
    char *p;

    (void)state;
    assert_int_equal(desired_want(root, NULL, names, 3, false, &e), 0);
    text = get(root, "desired/www.example.com");
    assert_non_null(text);
    assert_string_equal(text, "satisfy:\n  names:\n  - www.example.com\n  - '*.example.com'\n");
    free(text);
    assert_int_equal(desired_load(root, &s, &e), 0);
    assert_int_equal(s.ntargets, 1);
    assert_int_equal(s.targets[0].nnames, 2);
    assert_string_equal(s.targets[0].names[1].name, "*.example.com");
    desired_set_clear(&s);
    /* An explicit file name; a wildcard first name names the file as is. */
    assert_int_equal(desired_want(root, "site", names + 1, 1, false, &e), 0);
    text = get(root, "desired/site");
    assert_non_null(text);
    free(text);
    assert_int_equal(desired_want(root, NULL, names + 1, 1, false, &e), 0);
    text = get(root, "desired/*.example.com");
    assert_non_null(text);
    free(text);
    /* Any invalid name: nothing written. */
    assert_int_equal(desired_want(root, NULL, bad, 2, false, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "a/b"));
    p = fsio_join(root, "desired/ok.example.com");
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    assert_int_equal(desired_want(root, "../evil", names, 1, false, &e), -EINVAL);
    assert_int_equal(desired_want(root, NULL, names, 0, false, &e), -EINVAL);
    done(root);
}

static void test_unwant(void **state)
{
    char *root = state_dir(), *text;
    const char *ab[] = {"a.example.com", "b.example.com"};
    const char *b[] = {"B.EXAMPLE.COM"}, *a[] = {"a.example.com"};
    const char *solo[] = {"solo.example.com"}, *bad[] = {"x/y"};
    struct target t;
    struct err e;
    size_t changed;
    char *p;

    (void)state;
    assert_int_equal(desired_want(root, NULL, ab, 2, false, &e), 0);
    put(root, "desired/other",
        "# comment\nsatisfy:\n  names: [b.example.com, c.example.com]\n"
        "request:\n  names: [b.example.com]\n  key:\n    type: rsa\n    rsa-size: 4096\n"
        "  challenge:\n    env: {X: \"yes\"}\n  provider: 'https://ca.example/dir'\n"
        "label: \"007\"\n");
    put(root, "desired/solo.example.com", "");
    put(root, "desired/broken", "satisfy: [\n");

    /* b goes from both files; "other" keeps its settings, its request.names goes (empty). */
    assert_int_equal(desired_unwant(root, b, 1, &changed, &e), 0);
    assert_int_equal(changed, 2);
    text = get(root, "desired/other");
    parse_ok("other", text, NULL, &t);
    free(text);
    assert_int_equal(t.nnames, 1);
    assert_string_equal(t.names[0].name, "c.example.com");
    assert_int_equal(t.nreq_names, 1);
    assert_string_equal(t.req_names[0].name, "c.example.com");
    assert_int_equal(t.key.type, KEY_RSA);
    assert_int_equal(t.key.size, 4096);
    assert_string_equal(t.env[0], "X=yes");
    assert_string_equal(t.provider, "https://ca.example/dir");
    assert_string_equal(t.label, "007");
    target_clear(&t);
    text = get(root, "desired/a.example.com");
    assert_string_equal(text, "satisfy:\n  names:\n  - a.example.com\n");
    free(text);

    /* Removing the last name deletes the file; nothing else changes. */
    assert_int_equal(desired_unwant(root, a, 1, &changed, &e), 0);
    assert_int_equal(changed, 1);
    p = fsio_join(root, "desired/a.example.com");
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    /* A file without names stands for its file name. */
    assert_int_equal(desired_unwant(root, solo, 1, &changed, &e), 0);
    assert_int_equal(changed, 1);
    p = fsio_join(root, "desired/solo.example.com");
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    /* Nobody lists it: nothing touched. */
    assert_int_equal(desired_unwant(root, a, 1, &changed, &e), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(desired_unwant(root, bad, 1, &changed, &e), -EINVAL);
    text = get(root, "desired/broken");
    assert_string_equal(text, "satisfy: [\n");
    free(text);
    done(root);
}

/* ---- request.account.contact ---- */

static void test_contact(void **state)
{
    static const char conf[] = "request:\n"
                               "  account:\n"
                               "    contact: [\"mailto:conf@example.com\"]\n";
    char *root = state_dir();
    struct desired_set s;
    struct target t;
    struct err e;

    (void)state;
    /* The line where the file itself sets the contact is kept; an inherited one has none. */
    parse_ok("a.example.com",
             "satisfy:\n  names: [a.example.com]\nrequest:\n  account:\n"
             "    contact:\n      - mailto:a@example.com\n      - tel:+1-555-0100\n",
             conf, &t);
    assert_int_equal(t.ncontact, 2);
    assert_string_equal(t.contact[1], "tel:+1-555-0100");
    assert_int_equal(t.contact_line, 6);
    target_clear(&t);
    parse_ok("a.example.com", "request:\n  account:\n    agree-tos: true\n", conf, &t);
    assert_int_equal(t.ncontact, 1);
    assert_string_equal(t.contact[0], "mailto:conf@example.com");
    assert_int_equal(t.contact_line, 0);
    target_clear(&t);
    parse_ok("a.example.com", "request:\n  account:\n    contact: mailto:one@example.com\n", NULL,
             &t);
    assert_int_equal(t.ncontact, 1);
    assert_int_equal(t.contact_line, 3);
    target_clear(&t);
    /* A null value is not set; an empty list sets none. */
    parse_ok("a.example.com", "request:\n  account:\n    contact:\n", conf, &t);
    assert_int_equal(t.contact_line, 0);
    assert_int_equal(t.ncontact, 1);
    target_clear(&t);
    parse_ok("a.example.com", "request:\n  account:\n    contact: []\n", conf, &t);
    assert_int_equal(t.contact_line, 3);
    assert_int_equal(t.ncontact, 0);
    assert_non_null(t.contact);
    target_clear(&t);

    /* Not a contact URI: the file, line and column, the item and why. */
    parse_err("a.example.com",
              "request:\n  account:\n    contact:\n      - mailto:a@example.com\n"
              "      - ops@example.com\n",
              NULL,
              "desired/a.example.com: line 5, column 9: request.account.contact[1]: expected a "
              "contact URI (mailto:...), not \"ops@example.com\": no URI scheme (mailto:...)");
    parse_err("a.example.com", "request:\n  account:\n    contact: \"mailto:a b@example.com\"\n",
              NULL,
              "desired/a.example.com: line 3, column 14: request.account.contact: expected a "
              "contact URI (mailto:...), not \"mailto:a b@example.com\": a URI has no spaces");
    parse_err("a.example.com", "", "request:\n  account:\n    contact: [\"mailto:x@y?s=1\"]\n",
              "conf/target: line 3, column 15: request.account.contact[0]: expected a contact "
              "URI (mailto:...), not \"mailto:x@y?s=1\": a mailto: contact cannot carry header "
              "fields (\"?...\")");
    parse_err_has("request:\n  account:\n    contact: [\"mailto:a@\\x01b\"]\n",
                  "line 3, column 15: request.account.contact[0]: expected a contact URI "
                  "(mailto:...) without control characters");

    /* desired_load keeps conf/target's contact apart: the accounts' contact. */
    put(root, "desired/a.example.com", "request:\n  account:\n    contact: [mailto:a@x.com]\n");
    err_clear(&e);
    assert_int_equal(desired_load(root, &s, &e), 0);
    assert_null(s.contact);
    assert_int_equal(s.ncontact, 0);
    assert_int_equal(s.targets[0].contact_line, 3);
    desired_set_clear(&s);
    put(root, "conf/target", conf);
    assert_int_equal(desired_load(root, &s, &e), 0);
    assert_int_equal(s.ncontact, 1);
    assert_string_equal(s.contact[0], "mailto:conf@example.com");
    assert_string_equal(s.targets[0].contact[0], "mailto:a@x.com");
    desired_set_clear(&s);
    assert_null(s.contact);
    put(root, "conf/target", "request:\n  account:\n    contact: []\n");
    assert_int_equal(desired_load(root, &s, &e), 0);
    assert_non_null(s.contact);
    assert_int_equal(s.ncontact, 0);
    desired_set_clear(&s);

    /* desired_load_defaults: conf/target alone, or the built-in defaults. */
    put(root, "conf/target", conf);
    assert_int_equal(desired_load_defaults(root, &t, &e), 0);
    assert_string_equal(t.file, "conf/target");
    assert_int_equal(t.ncontact, 1);
    assert_string_equal(t.contact[0], "mailto:conf@example.com");
    assert_int_equal(t.nnames, 0);
    target_clear(&t);
    put(root, "conf/target", "request:\n  account:\n    contact: [nope]\n");
    err_clear(&e);
    assert_int_equal(desired_load_defaults(root, &t, &e), -EINVAL);
    assert_int_equal(e.code, -EINVAL);
    assert_non_null(strstr(e.msg, "conf/target: line 3, column 15: request.account.contact[0]"));
    assert_null(t.file);
    done(root);
    root = tu_mkdtemp("desired-nodefaults");
    assert_int_equal(desired_load_defaults(root, &t, &e), 0);
    assert_null(t.contact);
    assert_int_equal(t.key.size, 256);
    target_clear(&t);
    done(root);
}

/* ---- target_owner ---- */

static void test_owner(void **state)
{
    struct target ts[4];
    const char *files[] = {"b", "a", "c", "d"};
    const char *texts[] = {
        "satisfy: {names: [x.example.com, y.example.com]}\n",
        "satisfy: {names: [x.example.com, z.example.com]}\n",
        "satisfy: {names: [x.example.com]}\npriority: 1\n",
        "satisfy: {names: [w.example.com, v.example.com, u.example.com, y.example.com]}\n",
    };

    (void)state;
    for (int i = 0; i < 4; i++)
        parse_ok(files[i], texts[i], NULL, &ts[i]);
    /* Priority first, even with fewer names. */
    assert_ptr_equal(target_owner(ts, 4, "x.example.com"), &ts[2]);
    /* Then the most names. */
    assert_ptr_equal(target_owner(ts, 4, "y.example.com"), &ts[3]);
    /* Then the smallest file name: "a" over "b" (same priority, same count). */
    assert_ptr_equal(target_owner(ts, 2, "x.example.com"), &ts[1]);
    assert_ptr_equal(target_owner(ts, 4, "z.example.com"), &ts[1]);
    assert_null(target_owner(ts, 4, "nobody.example.com"));
    assert_null(target_owner(NULL, 0, "x.example.com"));
    for (int i = 0; i < 4; i++)
        target_clear(&ts[i]);
}

/* ---- conf/responses, conf/acmed.yaml ---- */

static void test_responses(void **state)
{
    char *root = state_dir();
    const char *tos = "https://letsencrypt.org/documents/LE-SA-v1.2-November-15-2017.pdf";

    (void)state;
    assert_false(desired_responses_agree(root, tos));
    put(root, "conf/responses",
        "\"acme-agreement:https://letsencrypt.org/documents/LE-SA-v1.2-November-15-2017.pdf\": "
        "true\n\"acme-enter-email\": \"ops@example.com\"\n");
    assert_true(desired_responses_agree(root, tos));
    assert_false(desired_responses_agree(root, "https://other.example/tos"));
    put(root, "conf/responses", "{\"acme-agreement:https://x.example/tos\": false}\n");
    assert_false(desired_responses_agree(root, "https://x.example/tos"));
    put(root, "conf/responses", "{\"acme-agreement:https://x.example/tos\": true}\n");
    assert_true(desired_responses_agree(root, "https://x.example/tos"));
    put(root, "conf/responses", "[broken\n");
    assert_false(desired_responses_agree(root, "https://x.example/tos"));
    done(root);
}

static void test_acmed_conf(void **state)
{
    char *root = state_dir();
    struct acmed_conf c;
    struct err e;

    (void)state;
    assert_int_equal(acmed_conf_load(root, &c, &e), 0);
    assert_int_equal(c.interval_s, 3600);
    assert_int_equal(c.max_orders, 8);
    assert_int_equal(c.max_requests_per_ca, 16);
    assert_int_equal(c.hook_timeout_s, 300);
    assert_null(c.metrics_file);
    assert_string_equal(c.log_level, "info");
    acmed_conf_clear(&c);

    put(root, "conf/acmed.yaml",
        "interval: 600\nmax-orders: 2\nmax-requests-per-ca: 4\n"
        "hook-timeout: 30\nmetrics-file: /run/acmed.prom\n"
        "log-level: debug\nfuture-thing: 1\n");
    assert_int_equal(acmed_conf_load(root, &c, &e), 0);
    assert_int_equal(c.interval_s, 600);
    assert_int_equal(c.max_orders, 2);
    assert_int_equal(c.max_requests_per_ca, 4);
    assert_int_equal(c.hook_timeout_s, 30);
    assert_string_equal(c.metrics_file, "/run/acmed.prom");
    assert_string_equal(c.log_level, "debug");
    acmed_conf_clear(&c);
    acmed_conf_clear(&c);

    put(root, "conf/acmed.yaml", "interval: 600\nmax-orders: zero\n");
    err_clear(&e);
    assert_int_equal(acmed_conf_load(root, &c, &e), -EINVAL);
    assert_string_equal(e.msg, "conf/acmed.yaml: line 2, column 13: max-orders: expected a "
                               "positive integer");
    assert_null(c.log_level);
    put(root, "conf/acmed.yaml", "interval: 0\n");
    assert_int_equal(acmed_conf_load(root, &c, &e), -EINVAL);
    put(root, "conf/acmed.yaml", "log-level: loud\n");
    assert_int_equal(acmed_conf_load(root, &c, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "line 1, column 12: log-level"));
    put(root, "conf/acmed.yaml", "interval: [\n");
    assert_int_equal(acmed_conf_load(root, &c, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "conf/acmed.yaml: line"));
    put(root, "conf/acmed.yaml", "");
    assert_int_equal(acmed_conf_load(root, &c, &e), 0);
    assert_int_equal(c.interval_s, 3600);
    acmed_conf_clear(&c);
    done(root);
}

/* user: and privsep: (DESIGN.md §10): a portable user name, a boolean; unset by default. */
static void test_acmed_conf_privsep(void **state)
{
    char *root = state_dir();
    struct acmed_conf c;
    struct err e;
    static const char *const bad_users[] = {
        "user: -acmed\n",
        "user: ac/med\n",
        "user: \"ac med\"\n",
        "user: [acmed]\n",
        "user: \xc3\xa9\n",
        "user: \"\"\n",
        "user: abcdefghijklmnopqrstuvwxyz0123456\n", /* 33 */
    };

    (void)state;
    assert_int_equal(acmed_conf_load(root, &c, &e), 0);
    assert_null(c.user);
    assert_int_equal(c.privsep, ACMED_PRIVSEP_AUTO);
    acmed_conf_clear(&c);

    put(root, "conf/acmed.yaml", "user: _acme-worker.1\nprivsep: false\n");
    assert_int_equal(acmed_conf_load(root, &c, &e), 0);
    assert_string_equal(c.user, "_acme-worker.1");
    assert_int_equal(c.privsep, ACMED_PRIVSEP_OFF);
    acmed_conf_clear(&c);
    assert_null(c.user);

    put(root, "conf/acmed.yaml", "user: abcdefghijklmnopqrstuvwxyz012345\nprivsep: yes\n");
    assert_int_equal(acmed_conf_load(root, &c, &e), 0);
    assert_string_equal(c.user, "abcdefghijklmnopqrstuvwxyz012345");
    assert_int_equal(c.privsep, ACMED_PRIVSEP_ON);
    acmed_conf_clear(&c);

    for (size_t i = 0; i < sizeof bad_users / sizeof *bad_users; i++) {
        put(root, "conf/acmed.yaml", bad_users[i]);
        err_clear(&e);
        assert_int_equal(acmed_conf_load(root, &c, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "conf/acmed.yaml: line 1, column 7: user: expected a user "
                                      "name"));
        assert_null(c.user);
    }
    put(root, "conf/acmed.yaml", "interval: 60\nprivsep: maybe\n");
    err_clear(&e);
    assert_int_equal(acmed_conf_load(root, &c, &e), -EINVAL);
    assert_string_equal(e.msg,
                        "conf/acmed.yaml: line 2, column 10: privsep: expected true or false");
    done(root);
}

/* request.account.signer: a socket anywhere, a command only from conf/target. */
static void test_signer(void **state)
{
    static const char conf_exec[] = "request:\n"
                                    "  account:\n"
                                    "    signer: {exec: [ssh, -T, signer@keyhost, acmed, signer, "
                                    "--stdio]}\n";
    struct target t;

    (void)state;
    parse_ok("a.example.com", "request:\n  account:\n    signer: unix:/run/acme/S.signer\n", NULL,
             &t);
    assert_string_equal(t.signer_unix, "/run/acme/S.signer");
    assert_null(t.signer_exec);
    target_clear(&t);

    /* From conf/target, inherited by a desired file that says nothing of it. */
    parse_ok("a.example.com", "satisfy: {names: [a.example.com]}\n", conf_exec, &t);
    assert_null(t.signer_unix);
    assert_int_equal(t.nsigner_exec, 6);
    assert_string_equal(t.signer_exec[0], "ssh");
    assert_string_equal(t.signer_exec[5], "--stdio");
    target_clear(&t);

    /* A desired file's socket replaces conf/target's command. */
    parse_ok("a.example.com", "request:\n  account:\n    signer: unix:/run/S\n", conf_exec, &t);
    assert_string_equal(t.signer_unix, "/run/S");
    assert_null(t.signer_exec);
    target_clear(&t);

    /* A desired file may not name a command, even one conf/target names too. */
    parse_err_has("request:\n  account:\n    signer: {exec: [/bin/sh, -c, 'id']}\n",
                  "line 3, column 13: request.account.signer: a command (exec) may be named only "
                  "in conf/target");
    {
        struct err e;

        assert_int_equal(parse("a.example.com", conf_exec, conf_exec, &t, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "only in conf/target"));
    }
    parse_err_has("request:\n  account:\n    signer: tcp:keyhost:22\n",
                  "request.account.signer: expected unix:/absolute/path");
    parse_err_has("request:\n  account:\n    signer: unix:run/S\n",
                  "request.account.signer: expected unix:/absolute/path");
    parse_err_has("request:\n  account:\n    signer: [unix:/run/S]\n",
                  "request.account.signer: expected unix:/absolute/path");
}

static void test_provider_alias(void **state)
{
    (void)state;
    assert_string_equal(desired_provider_url("letsencrypt"),
                        "https://acme-v02.api.letsencrypt.org/directory");
    assert_string_equal(desired_provider_url("letsencrypt-staging"),
                        "https://acme-staging-v02.api.letsencrypt.org/directory");
    assert_string_equal(desired_provider_url("https://x/dir"), "https://x/dir");
    assert_null(desired_provider_url(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_schema),
        cmocka_unit_test(test_empty_file_defaults),
        cmocka_unit_test(test_file_name_not_a_name),
        cmocka_unit_test(test_defaults_merge),
        cmocka_unit_test(test_legacy_and_single_strings),
        cmocka_unit_test(test_label_priority_dedup),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_mgmt_provider),
        cmocka_unit_test(test_unknown_keys_warn),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_want),
        cmocka_unit_test(test_unwant),
        cmocka_unit_test(test_owner),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_acmed_conf),
        cmocka_unit_test(test_acmed_conf_privsep),
        cmocka_unit_test(test_signer),
        cmocka_unit_test(test_provider_alias),
        cmocka_unit_test(test_ip_challenges),
        cmocka_unit_test(test_env_denylist),
        cmocka_unit_test(test_load_reserved),
        cmocka_unit_test(test_contact),
        cmocka_unit_test(test_legacy_scalar),
        cmocka_unit_test(test_legacy_unwant),
        cmocka_unit_test(test_www_apex),
        cmocka_unit_test(test_critical_days),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
