/* conf_cluster: conf/acmed.yaml's `cluster:` (see conf_cluster.h). */
#include "store/conf_cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/url_policy.h"
#include "util/log.h"

/* Longest endpoint URL, prefix and etcd user name accepted. */
#define ENDPOINT_MAX 256
#define PREFIX_MAX 256
#define USER_MAX 128

/* The keys of each mapping, by their full path (the path errors and the manual page use). */
static const char *const k_cluster[] = {"cluster.etcd", "cluster.node", "cluster.secret-file",
                                        NULL};
static const char *const k_etcd[] = {"cluster.etcd.endpoints",     "cluster.etcd.prefix",
                                     "cluster.etcd.ca-bundle",     "cluster.etcd.cert",
                                     "cluster.etcd.key",           "cluster.etcd.user",
                                     "cluster.etcd.password-file", NULL};

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

bool conf_cluster_node_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > CONF_CLUSTER_NODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

/* A non-empty string scalar without a NUL, copied into *out (replacing what was there). */
static int get_str(const struct ynode *v, const char *path, const char *what, char **out,
                   struct err *e)
{
    char *copy;

    if (v->type != YNODE_SCALAR || v->len == 0 || v->len != strlen(v->str))
        return ynode_err(e, v, path, "expected %s", what);
    if (!(copy = strdup(v->str)))
        return err_set(e, -ENOMEM, "out of memory");
    free(*out);
    *out = copy;
    return 0;
}

/* Absolute (these files are read wherever acmed runs from) and without control characters
 * (they end up in messages). */
static int get_path(const struct ynode *v, const char *path, char **out, struct err *e)
{
    int rc = get_str(v, path, "an absolute path", out, e);

    if (rc < 0)
        return rc;
    for (const char *p = *out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return ynode_err(e, v, path, "expected an absolute path");
    if ((*out)[0] != '/' || strlen(*out) >= PATH_MAX)
        return ynode_err(e, v, path, "expected an absolute path, not \"%.100s\"", *out);
    return 0;
}

/* True when s[0..n) is printable ASCII without spaces. */
static bool graphic(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* A DNS host name (labels of letters, digits and '-', not at a label's ends) or, when it is
 * all digits and dots, an IPv4 address. */
static bool host_ok(const char *h, size_t n)
{
    char buf[16];
    struct in_addr a;
    size_t label = 0;

    if (n == 0 || n > 253)
        return false;
    if (strspn(h, "0123456789.") >= n) {
        if (n >= sizeof buf)
            return false;
        memcpy(buf, h, n);
        buf[n] = '\0';
        return inet_pton(AF_INET, buf, &a) == 1;
    }
    for (size_t i = 0; i <= n; i++) {
        char ch = i < n ? h[i] : '.';

        if (ch == '.') {
            if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-')
                return false;
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '-') {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

/* "http[s]://" host-or-IP [":" port] ["/"]: no user, path, query or fragment. *keep gets the
 * length without the trailing '/'. */
static bool endpoint_ok(const char *s, size_t *keep)
{
    const char *p, *rest;
    size_t n;

    if (strncmp(s, "https://", 8) == 0)
        p = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        p = s + 7;
    else
        return false;
    n = strlen(p);
    if (n > 0 && p[n - 1] == '/')
        n--;
    *keep = (size_t)(p - s) + n;
    if (*keep > ENDPOINT_MAX)
        return false;
    if (p[0] == '[') {
        const char *end = memchr(p, ']', n);
        char buf[INET6_ADDRSTRLEN + 1];
        unsigned char a[16];

        if (!end || (size_t)(end - p - 1) >= sizeof buf)
            return false;
        memcpy(buf, p + 1, (size_t)(end - p - 1));
        buf[end - p - 1] = '\0';
        if (inet_pton(AF_INET6, buf, a) != 1)
            return false;
        rest = end + 1;
    } else {
        const char *colon = memchr(p, ':', n);

        rest = colon ? colon : p + n;
        if (!host_ok(p, (size_t)(rest - p)))
            return false;
    }
    if (rest == p + n)
        return true;
    if (*rest != ':' || p + n - rest < 2 || p + n - rest > 6)
        return false;
    {
        size_t plen = (size_t)(p + n - rest - 1);
        unsigned port = 0;

        for (size_t i = 0; i < plen; i++) {
            if (rest[1 + i] < '0' || rest[1 + i] > '9')
                return false;
            port = port * 10 + (unsigned)(rest[1 + i] - '0');
        }
        return port >= 1 && port <= 65535;
    }
}

/* One item of cluster.etcd.endpoints, appended to c->endpoints. */
static int add_endpoint(struct acmed_cluster *c, const struct ynode *v, bool allow_insecure,
                        struct err *e)
{
    static const char path[] = "cluster.etcd.endpoints";
    struct err pe;
    size_t keep;
    char *url, **grown;
    int rc;

    if (v->type != YNODE_SCALAR || v->len != strlen(v->str) || !endpoint_ok(v->str, &keep))
        return ynode_err(e, v, path,
                         "expected an http:// or https:// URL of an IP address or a host name, "
                         "with an optional port and no path, not \"%.100s\"",
                         v->type == YNODE_SCALAR ? v->str : "(a list or mapping)");
    if (!(url = strndup(v->str, keep)))
        return err_set(e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < c->nendpoints; i++)
        if (strcmp(c->endpoints[i], url) == 0) {
            free(url);
            return ynode_err(e, v, path, "%.100s is listed twice", v->str);
        }
    err_clear(&pe);
    if ((rc = url_policy_check(url, allow_insecure, "etcd endpoint", &pe)) < 0) {
        free(url);
        return ynode_err(e, v, path, "%s", pe.msg);
    }
    if (rc == URL_POLICY_ALLOWED)
        log_warn("%s:%u: plain http etcd endpoint %s: allowed by allow-insecure-http; anyone on "
                 "the path can read the etcd credentials and block or replay what etcd says",
                 v->src, v->line, url);
    if (!(grown = realloc(c->endpoints, (c->nendpoints + 1) * sizeof *grown))) {
        free(url);
        return err_set(e, -ENOMEM, "out of memory");
    }
    c->endpoints = grown;
    c->endpoints[c->nendpoints++] = url;
    return 0;
}

static int get_endpoints(struct acmed_cluster *c, const struct ynode *v, bool allow_insecure,
                         struct err *e)
{
    int rc;

    if (v->type != YNODE_SEQ || v->n == 0)
        return ynode_err(e, v, "cluster.etcd.endpoints",
                         "expected a list of at least one http:// or https:// URL");
    for (size_t i = 0; i < v->n; i++)
        if ((rc = add_endpoint(c, v->items[i], allow_insecure, e)) < 0)
            return rc;
    return 0;
}

static int get_prefix(struct acmed_cluster *c, const struct ynode *v, struct err *e)
{
    static const char path[] = "cluster.etcd.prefix";
    int rc = get_str(v, path, "a key prefix starting and ending with '/'", &c->prefix, e);
    size_t n;

    if (rc < 0)
        return rc;
    n = strlen(c->prefix);
    if (c->prefix[0] != '/' || c->prefix[n - 1] != '/' || n > PREFIX_MAX || !graphic(c->prefix, n))
        return ynode_err(e, v, path,
                         "expected a key prefix starting and ending with '/', of printable "
                         "ASCII without spaces, not \"%.100s\"",
                         c->prefix);
    return 0;
}

static int get_user(struct acmed_cluster *c, const struct ynode *v, struct err *e)
{
    static const char what[] = "an etcd user name (1 to 128 printable ASCII characters, no "
                               "spaces)";
    int rc = get_str(v, "cluster.etcd.user", what, &c->user, e);

    if (rc == 0 && (strlen(c->user) > USER_MAX || !graphic(c->user, strlen(c->user))))
        return ynode_err(e, v, "cluster.etcd.user", "expected %s", what);
    return rc;
}

static int get_node(struct acmed_cluster *c, const struct ynode *v, struct err *e)
{
    static const char what[] = "a node name (1 to 64 letters, digits, '.', '-' and '_')";
    int rc = get_str(v, "cluster.node", what, &c->node, e);

    if (rc == 0 && !conf_cluster_node_ok(c->node))
        return ynode_err(e, v, "cluster.node", "expected %s, not \"%.100s\"", what, c->node);
    return rc;
}

/* One (non-null) value of cluster: or cluster.etcd:, by its full path. */
static int cluster_value(struct acmed_cluster *c, const char *path, const struct ynode *v,
                         bool allow_insecure, struct err *e);

/* Walks the mapping m (at `parent`) whose keys are those of `known`: an unknown key is an
 * error naming them (`expected`); null values are left unset. */
static int walk_map(struct acmed_cluster *c, const struct ynode *m, const char *parent,
                    const char *const *known, const char *expected, bool allow_insecure,
                    struct err *e)
{
    char path[128];
    int rc;

    if (m->type != YNODE_MAP)
        return ynode_err(e, m, parent, "expected a mapping (%s)", expected);
    for (size_t i = 0; i < m->n; i++) {
        const struct ynode *k = m->keys[i];

        snprintf(path, sizeof path, "%s.%s", parent, k->str);
        if (!in_list(path, known))
            return ynode_err(e, k, parent, "unknown key \"%.100s\" (expected %s)", k->str,
                             expected);
        if (!ynode_is_null(m->items[i]) &&
            (rc = cluster_value(c, path, m->items[i], allow_insecure, e)) < 0)
            return rc;
    }
    return 0;
}

static int cluster_value(struct acmed_cluster *c, const char *path, const struct ynode *v,
                         bool allow_insecure, struct err *e)
{
    if (strcmp(path, "cluster.etcd") == 0)
        return walk_map(c, v, path, k_etcd,
                        "endpoints, prefix, ca-bundle, cert, key, user or password-file",
                        allow_insecure, e);
    if (strcmp(path, "cluster.etcd.endpoints") == 0)
        return get_endpoints(c, v, allow_insecure, e);
    if (strcmp(path, "cluster.etcd.prefix") == 0)
        return get_prefix(c, v, e);
    if (strcmp(path, "cluster.etcd.ca-bundle") == 0)
        return get_path(v, path, &c->ca_bundle, e);
    if (strcmp(path, "cluster.etcd.cert") == 0)
        return get_path(v, path, &c->cert, e);
    if (strcmp(path, "cluster.etcd.key") == 0)
        return get_path(v, path, &c->key, e);
    if (strcmp(path, "cluster.etcd.user") == 0)
        return get_user(c, v, e);
    if (strcmp(path, "cluster.etcd.password-file") == 0)
        return get_path(v, path, &c->password_file, e);
    if (strcmp(path, "cluster.node") == 0)
        return get_node(c, v, e);
    if (strcmp(path, "cluster.secret-file") == 0)
        return get_path(v, path, &c->secret_file, e);
    return ynode_err(e, v, path, "unknown key");
}

/* The rules across keys, once the mapping is read: what is required, what goes in pairs,
 * and the defaults. */
static int finish(struct acmed_cluster *c, const struct ynode *v, struct err *e)
{
    const struct ynode *etcd = ynode_get(v, "etcd");
    char host[256];

    if (c->nendpoints == 0)
        return ynode_err(e, etcd ? etcd : v, etcd ? "cluster.etcd" : "cluster",
                         "etcd.endpoints is required: the URLs of the etcd cluster's members");
    if (!c->cert != !c->key)
        return ynode_err(e, ynode_get(etcd, c->cert ? "cert" : "key"), "cluster.etcd",
                         "expected both cert and key (a client certificate and its key), or "
                         "neither");
    if (!c->user != !c->password_file)
        return ynode_err(e, ynode_get(etcd, c->user ? "user" : "password-file"), "cluster.etcd",
                         "expected both user and password-file, or neither");
    if (!c->secret_file)
        return ynode_err(e, v, "cluster",
                         "secret-file is required: the file of 32 random bytes that seals every "
                         "value in etcd, the same on every node");
    if (!c->prefix && !(c->prefix = strdup(CONF_CLUSTER_PREFIX)))
        return err_set(e, -ENOMEM, "out of memory");
    if (!c->node) {
        if (gethostname(host, sizeof host) < 0)
            return err_sys(e, -errno, "cluster.node: not set, and the hostname is unknown");
        host[sizeof host - 1] = '\0';
        if (!conf_cluster_node_ok(host))
            return ynode_err(e, v, "cluster.node",
                             "not set, and the hostname \"%.100s\" is not a node name (1 to 64 "
                             "letters, digits, '.', '-' and '_'): set cluster.node",
                             host);
        if (!(c->node = strdup(host)))
            return err_set(e, -ENOMEM, "out of memory");
    }
    return 0;
}

int conf_cluster_parse(const struct ynode *v, bool allow_insecure, struct acmed_cluster **out,
                       struct err *e)
{
    struct acmed_cluster *c;
    int rc;

    *out = NULL;
    if (ynode_is_null(v) || v->type != YNODE_MAP)
        return ynode_err(e, v, "cluster", "expected a mapping (etcd, node, secret-file)");
    if (!(c = calloc(1, sizeof *c)))
        return err_set(e, -ENOMEM, "out of memory");
    if ((rc = walk_map(c, v, "cluster", k_cluster, "etcd, node or secret-file", allow_insecure,
                       e)) < 0 ||
        (rc = finish(c, v, e)) < 0) {
        conf_cluster_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void conf_cluster_free(struct acmed_cluster *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nendpoints; i++)
        free(c->endpoints[i]);
    free(c->endpoints);
    free(c->prefix);
    free(c->ca_bundle);
    free(c->cert);
    free(c->key);
    free(c->user);
    free(c->password_file);
    free(c->node);
    free(c->secret_file);
    free(c);
}
