/* Unit tests for store/conf_cluster: conf/acmed.yaml's cluster: (DESIGN.md §12), read through
 * acmed_conf_load as acmed reads it. Every rule: the keys known and required, the pairs, the
 * endpoint URLs and the plain-http rule, the prefix, the node name and its default, absolute
 * paths; errors with file, line, column and the key's path. */
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

#include "common/testutil.h"
#include "store/conf_cluster.h"
#include "store/desired.h"
#include "util/fsio.h"

static char *state_dir(void)
{
    char *root = tu_mkdtemp("conf_cluster");
    char *p = fsio_join(root, "conf");

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

static void done(char *root)
{
    tu_rmtree(root);
    free(root);
}

/* Loads text as conf/acmed.yaml and expects success; the caller clears *c. */
static void cluster_ok(const char *root, const char *text, struct acmed_conf *c)
{
    struct err e;

    put(root, "conf/acmed.yaml", text);
    err_clear(&e);
    if (acmed_conf_load(root, c, &e) != 0)
        fail_msg("refused: %s\n%s", e.msg, text);
    assert_non_null(c->cluster);
}

/* Loads text as conf/acmed.yaml and expects -EINVAL with a message containing want. */
static void cluster_err(const char *root, const char *text, const char *want)
{
    struct acmed_conf c;
    struct err e;

    put(root, "conf/acmed.yaml", text);
    err_clear(&e);
    if (acmed_conf_load(root, &c, &e) != -EINVAL)
        fail_msg("accepted:\n%s", text);
    if (!strstr(e.msg, want))
        fail_msg("message lacks \"%s\": %s", want, e.msg);
    assert_null(c.cluster);
}

#define CL_ETCD "cluster:\n  secret-file: /etc/acme/cluster.key\n  etcd:\n"
#define CL_EP "    endpoints: [https://127.0.0.1:2379]\n"

static void test_cluster(void **state)
{
    char *root = state_dir(), host[256];
    struct acmed_conf c;
    struct acmed_cluster *k;

    (void)state;
    /* No cluster: no fleet mode, nothing else changes. */
    put(root, "conf/acmed.yaml", "interval: 60\n");
    assert_int_equal(acmed_conf_load(root, &c, NULL), 0);
    assert_null(c.cluster);
    acmed_conf_clear(&c);

    cluster_ok(root,
               "interval: 60\n"
               "cluster:\n"
               "  etcd:\n"
               "    endpoints:\n"
               "      - https://10.0.0.1:2379\n"
               "      - https://etcd-2.example.net:2379/\n"
               "      - https://[fd00::3]:2379\n"
               "      - http://[::1]:2379\n"
               "      - https://etcd4\n"
               "    prefix: /fleet/web/\n"
               "    ca-bundle: /etc/acme/etcd-ca.pem\n"
               "    cert: /etc/acme/etcd.pem\n"
               "    key: /etc/acme/etcd.key\n"
               "    user: acmed\n"
               "    password-file: /etc/acme/etcd.password\n"
               "  node: web-1.example_A\n"
               "  secret-file: /etc/acme/cluster.key\n",
               &c);
    k = c.cluster;
    assert_int_equal(c.interval_s, 60);
    assert_int_equal(k->nendpoints, 5);
    assert_string_equal(k->endpoints[0], "https://10.0.0.1:2379");
    assert_string_equal(k->endpoints[1], "https://etcd-2.example.net:2379"); /* '/' dropped */
    assert_string_equal(k->endpoints[2], "https://[fd00::3]:2379");
    assert_string_equal(k->endpoints[3], "http://[::1]:2379");
    assert_string_equal(k->endpoints[4], "https://etcd4");
    assert_string_equal(k->prefix, "/fleet/web/");
    assert_string_equal(k->ca_bundle, "/etc/acme/etcd-ca.pem");
    assert_string_equal(k->cert, "/etc/acme/etcd.pem");
    assert_string_equal(k->key, "/etc/acme/etcd.key");
    assert_string_equal(k->user, "acmed");
    assert_string_equal(k->password_file, "/etc/acme/etcd.password");
    assert_string_equal(k->node, "web-1.example_A");
    assert_string_equal(k->secret_file, "/etc/acme/cluster.key");
    acmed_conf_clear(&c);
    assert_null(c.cluster);

    /* The least: endpoints and secret-file. The prefix and the node default; no TLS client
     * certificate, no user. */
    cluster_ok(root, CL_ETCD CL_EP, &c);
    k = c.cluster;
    assert_int_equal(k->nendpoints, 1);
    assert_string_equal(k->prefix, "/acmed/");
    assert_null(k->ca_bundle);
    assert_null(k->cert);
    assert_null(k->key);
    assert_null(k->user);
    assert_null(k->password_file);
    assert_int_equal(gethostname(host, sizeof host), 0);
    if (conf_cluster_node_ok(host))
        assert_string_equal(k->node, host);
    acmed_conf_clear(&c);
    /* A 64-character node name is one; null values are unset. */
    cluster_ok(root,
               CL_ETCD CL_EP "    prefix:\n    cert: ~\n  node: "
                             "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-\n",
               &c);
    assert_int_equal(strlen(c.cluster->node), 64);
    assert_string_equal(c.cluster->prefix, "/acmed/");
    assert_null(c.cluster->cert);
    acmed_conf_clear(&c);
    done(root);
}

/* The shape of cluster: itself: a mapping of known keys, with etcd.endpoints and secret-file. */
static void test_cluster_keys(void **state)
{
    char *root = state_dir();

    (void)state;
    cluster_err(root, "cluster:\n",
                "conf/acmed.yaml: line 1, column 9: cluster: expected a "
                "mapping (etcd, node, secret-file)");
    cluster_err(root, "cluster:\netcd: {endpoints: [https://127.0.0.1:2379]}\n",
                "cluster: expected a mapping");
    cluster_err(root, "cluster: [etcd]\n", "line 1, column 10: cluster: expected a mapping");
    cluster_err(root, "cluster: on\n", "cluster: expected a mapping");
    /* Unknown keys are errors, wherever they are and whatever their value. */
    cluster_err(root, CL_ETCD CL_EP "  secret_file: /etc/acme/k\n",
                "conf/acmed.yaml: line 5, column 3: cluster: unknown key \"secret_file\" "
                "(expected etcd, node or secret-file)");
    cluster_err(root, CL_ETCD CL_EP "  nodes:\n", "cluster: unknown key \"nodes\"");
    cluster_err(root, CL_ETCD CL_EP "    certificate: /etc/acme/c.pem\n",
                "conf/acmed.yaml: line 5, column 5: cluster.etcd: unknown key \"certificate\" "
                "(expected endpoints, prefix, ca-bundle, cert, key, user or password-file)");
    cluster_err(root, CL_ETCD CL_EP "    endpoint: [https://127.0.0.1:2379]\n",
                "cluster.etcd: unknown key \"endpoint\"");
    cluster_err(root, CL_ETCD CL_EP "    password:\n", "cluster.etcd: unknown key \"password\"");
    /* What is required. */
    cluster_err(root, "cluster:\n  etcd:\n" CL_EP,
                "conf/acmed.yaml: line 2, column 3: cluster: secret-file is required");
    cluster_err(root, "cluster:\n  etcd:\n" CL_EP "  secret-file:\n",
                "cluster: secret-file is required");
    cluster_err(root, "cluster:\n  secret-file: /etc/acme/cluster.key\n",
                "line 2, column 3: cluster: etcd.endpoints is required");
    cluster_err(root, CL_ETCD, "line 3, column 8: cluster.etcd: etcd.endpoints is required");
    cluster_err(root, CL_ETCD "    prefix: /x/\n", "cluster.etcd: etcd.endpoints is required");
    cluster_err(root, "cluster:\n  secret-file: /etc/acme/cluster.key\n  etcd: [a]\n",
                "line 3, column 9: cluster.etcd: expected a mapping");
    /* A bad conf/acmed.yaml is a bad one, whatever comes first. */
    cluster_err(root, CL_ETCD CL_EP "max-orders: zero\n", "max-orders: expected a positive");
    done(root);
}

static void test_cluster_endpoints(void **state)
{
    static const char *const bad[] = {
        "ftp://127.0.0.1:2379",
        "127.0.0.1:2379",
        "HTTPS://127.0.0.1:2379",
        "https://",
        "https:///v3",
        "https://127.0.0.1:2379/v3",
        "https://127.0.0.1/v3/kv",
        "https://u@127.0.0.1",
        "https://u:p@127.0.0.1:2379",
        "https://127.0.0.1:0",
        "https://127.0.0.1:65536",
        "https://127.0.0.1:",
        "https://127.0.0.1:x",
        "https://127.0.0.1:123456",
        "https://-etcd",
        "https://etcd-",
        "https://et_cd",
        "https://etcd..example",
        "https://etcd.example.",
        "https://[::1",
        "https://[zz::1]",
        "https://::1",
        "https://1.2.3.999",
        "https://1.2.3",
        "https://etcd?x=1",
        "https://etcd#f",
        "https://etcd//",
        "https://et cd",
        "https://[::1]x",
        "https://[::1]:",
        "https://etcd:2379:1",
        "https://[::1]/x",
        "[https://127.0.0.1]",
        "",
    };
    char *root = state_dir(), text[512];
    struct acmed_conf c;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, CL_ETCD "    endpoints: [\"%s\"]\n", bad[i]);
        cluster_err(root, text,
                    "line 4, column 17: cluster.etcd.endpoints: expected an http:// or https:// "
                    "URL of an IP address or a host name, with an optional port and no path");
    }
    cluster_err(root, CL_ETCD "    endpoints: []\n",
                "cluster.etcd.endpoints: expected a list of at least one");
    cluster_err(root, CL_ETCD "    endpoints: https://127.0.0.1:2379\n",
                "cluster.etcd.endpoints: expected a list of at least one");
    cluster_err(root, CL_ETCD "    endpoints: [[https://127.0.0.1:2379]]\n",
                "cluster.etcd.endpoints: expected an http:// or https:// URL");
    cluster_err(root, CL_ETCD "    endpoints: [https://10.0.0.1:2379, https://10.0.0.1:2379/]\n",
                "line 4, column 40: cluster.etcd.endpoints: https://10.0.0.1:2379/ is listed "
                "twice");

    /* Plain http: only to a loopback literal, unless allow-insecure-http (before or after). */
    cluster_ok(root, CL_ETCD "    endpoints: [http://127.0.0.1:2379, \"http://[::1]:2379\"]\n", &c);
    acmed_conf_clear(&c);
    cluster_err(root, CL_ETCD "    endpoints: [https://10.0.0.1:2379, http://10.0.0.2:2379]\n",
                "line 4, column 40: cluster.etcd.endpoints: plain http etcd endpoint "
                "http://10.0.0.2:2379 refused; set allow-insecure-http: true");
    cluster_err(root, CL_ETCD "    endpoints: [http://localhost:2379]\n",
                "plain http etcd endpoint http://localhost:2379 refused");
    cluster_ok(root, CL_ETCD "    endpoints: [http://10.0.0.2:2379]\nallow-insecure-http: true\n",
               &c);
    assert_string_equal(c.cluster->endpoints[0], "http://10.0.0.2:2379");
    acmed_conf_clear(&c);
    cluster_ok(root,
               "allow-insecure-http: true\n" CL_ETCD "    endpoints: [http://etcd.example:80]\n",
               &c);
    acmed_conf_clear(&c);
    done(root);
}

static void test_cluster_values(void **state)
{
    static const char *const bad_prefix[] = {"acmed/",       "/acmed",    "acmed",          "\"\"",
                                             "\"/ac med/\"", "[/acmed/]", "\"/acmed/\\t/\""};
    static const char *const bad_node[] = {"\"web 1\"",
                                           "a/b",
                                           "\"\"",
                                           "[web1]",
                                           "web:1",
                                           "\"\\xe9\"",
                                           "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRS"
                                           "TUVWXYZ.-_"};
    static const char *const path_keys[] = {"ca-bundle", "cert", "key", "password-file"};
    char *root = state_dir(), text[512];
    struct acmed_conf c;

    (void)state;
    for (size_t i = 0; i < sizeof bad_prefix / sizeof *bad_prefix; i++) {
        snprintf(text, sizeof text, CL_ETCD CL_EP "    prefix: %s\n", bad_prefix[i]);
        cluster_err(root, text,
                    "line 5, column 13: cluster.etcd.prefix: expected a key prefix starting "
                    "and ending with '/'");
    }
    cluster_ok(root, CL_ETCD CL_EP "    prefix: /\n", &c);
    assert_string_equal(c.cluster->prefix, "/");
    acmed_conf_clear(&c);
    for (size_t i = 0; i < sizeof bad_node / sizeof *bad_node; i++) {
        snprintf(text, sizeof text, CL_ETCD CL_EP "  node: %s\n", bad_node[i]);
        cluster_err(root, text,
                    "line 5, column 9: cluster.node: expected a node name (1 to 64 letters, "
                    "digits, '.', '-' and '_')");
    }
    assert_true(conf_cluster_node_ok("a"));
    assert_false(conf_cluster_node_ok(""));
    assert_false(conf_cluster_node_ok("a b"));

    /* Paths are absolute. */
    for (size_t i = 0; i < sizeof path_keys / sizeof *path_keys; i++) {
        char want[128];

        snprintf(text, sizeof text, CL_ETCD CL_EP "    %s: etc/acme/x\n", path_keys[i]);
        snprintf(want, sizeof want,
                 "line 5, column %zu: cluster.etcd.%s: expected an absolute "
                 "path, not \"etc/acme/x\"",
                 strlen(path_keys[i]) + 7, path_keys[i]);
        cluster_err(root, text, want);
    }
    cluster_err(root, "cluster:\n  secret-file: cluster.key\n  etcd:\n" CL_EP,
                "line 2, column 16: cluster.secret-file: expected an absolute path, not "
                "\"cluster.key\"");
    cluster_err(root, "cluster:\n  secret-file: [/a]\n  etcd:\n" CL_EP,
                "cluster.secret-file: expected an absolute path");
    cluster_err(root, "cluster:\n  secret-file: \"/etc/a\\nb\"\n  etcd:\n" CL_EP,
                "cluster.secret-file: expected an absolute path");

    /* Pairs: cert and key, user and password-file. */
    cluster_err(root, CL_ETCD CL_EP "    cert: /etc/acme/etcd.pem\n",
                "line 5, column 11: cluster.etcd: expected both cert and key");
    cluster_err(root, CL_ETCD CL_EP "    key: /etc/acme/etcd.key\n",
                "line 5, column 10: cluster.etcd: expected both cert and key");
    cluster_err(root, CL_ETCD CL_EP "    user: acmed\n",
                "line 5, column 11: cluster.etcd: expected both user and password-file, or "
                "neither");
    cluster_err(root, CL_ETCD CL_EP "    password-file: /etc/acme/pw\n",
                "line 5, column 20: cluster.etcd: expected both user and password-file");
    cluster_ok(root, CL_ETCD CL_EP "    ca-bundle: /etc/acme/ca.pem\n", &c);
    assert_string_equal(c.cluster->ca_bundle, "/etc/acme/ca.pem");
    acmed_conf_clear(&c);
    cluster_err(root, CL_ETCD CL_EP "    user: \"ac med\"\n    password-file: /p\n",
                "cluster.etcd.user: expected an etcd user name");
    cluster_err(root, CL_ETCD CL_EP "    user: [acmed]\n    password-file: /p\n",
                "cluster.etcd.user: expected an etcd user name");
    done(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster),
        cmocka_unit_test(test_cluster_keys),
        cmocka_unit_test(test_cluster_endpoints),
        cmocka_unit_test(test_cluster_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
