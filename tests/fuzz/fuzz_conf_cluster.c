/* fuzz_conf_cluster: conf/acmed.yaml's cluster: (src/store/conf_cluster.h).
 *
 * The input is read as conf/acmed.yaml and its `cluster:` value, when it has one, goes
 * through conf_cluster_parse with and without allow-insecure-http. Then each line of the
 * input (at most MAX_LINES) is an endpoint URL of its own in a tree built in memory, which
 * reaches the URL checks with any bytes YAML could not carry. What is accepted must keep the
 * rules: at least one endpoint, each http(s) without a trailing '/' and accepted again as it
 * is; a prefix that starts and ends with '/'; a valid node; absolute paths; the pairs. */
#include "fuzz_common.h"

#include <stdbool.h>

#include "store/conf_cluster.h"
#include "store/ynode.h"

FUZZ_QUIET_LOGS()

#define MAX_LINES 16

static bool abs_or_null(const char *s)
{
    return !s || s[0] == '/';
}

static void check(const struct acmed_cluster *c);

/* cluster: {secret-file: /k, etcd: {endpoints: [url]}}, parsed; the result checked. Returns
 * the endpoint as kept when it was accepted (caller frees), else NULL. */
static char *one_endpoint(const char *url, bool allow_insecure)
{
    struct ynode *m = ynode_new(YNODE_MAP, "fuzz"), *etcd = ynode_new(YNODE_MAP, "fuzz"),
                 *list = ynode_new(YNODE_SEQ, "fuzz");
    struct acmed_cluster *c = NULL;
    struct err e;
    char *kept = NULL;

    int rc;

    /* ynode_add takes its key and item whatever happens. */
    if (!m || !etcd || !list || ynode_add(list, NULL, ynode_new_scalar(url, "fuzz")) < 0)
        goto out;
    rc = ynode_add(etcd, ynode_new_scalar("endpoints", "fuzz"), list);
    list = NULL;
    if (rc < 0)
        goto out;
    rc = ynode_add(m, ynode_new_scalar("etcd", "fuzz"), etcd);
    etcd = NULL;
    if (rc < 0 ||
        ynode_add(m, ynode_new_scalar("secret-file", "fuzz"), ynode_new_scalar("/k", "fuzz")) < 0)
        goto out;
    if (conf_cluster_parse(m, allow_insecure, &c, &e) == 0) {
        check(c);
        if (c->nendpoints != 1 || !(kept = strdup(c->endpoints[0])))
            abort();
    }
out:
    conf_cluster_free(c);
    ynode_free(list);
    ynode_free(etcd);
    ynode_free(m);
    return kept;
}

static void check(const struct acmed_cluster *c)
{
    size_t n;

    if (!c || c->nendpoints == 0 || !c->prefix || !c->node || !c->secret_file)
        abort();
    for (size_t i = 0; i < c->nendpoints; i++) {
        const char *u = c->endpoints[i];

        n = strlen(u);
        if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) || u[n - 1] == '/' ||
            strpbrk(u + 7, "@?# \t\r\n") || strchr(u + 8, '/'))
            abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(u, c->endpoints[j]) == 0)
                abort();
    }
    n = strlen(c->prefix);
    if (c->prefix[0] != '/' || c->prefix[n - 1] != '/' || !conf_cluster_node_ok(c->node) ||
        !abs_or_null(c->secret_file) || !abs_or_null(c->ca_bundle) || !abs_or_null(c->cert) ||
        !abs_or_null(c->key) || !abs_or_null(c->password_file) || !c->cert != !c->key ||
        !c->user != !c->password_file)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_memdup(data, size), *lines = fuzz_strndup(data, size), *p, *nl;
    struct ydoc doc = {0};
    struct err e;

    if (!text || !lines)
        goto out;
    if (ydoc_parse(&doc, "conf/acmed.yaml", text, size, &e) == 0 && doc.root) {
        const struct ynode *v = ynode_get(doc.root, "cluster");

        for (int allow = 0; v && allow < 2; allow++) {
            struct acmed_cluster *c = NULL;

            if (conf_cluster_parse(v, allow, &c, &e) == 0)
                check(c);
            conf_cluster_free(c);
        }
    }
    p = lines;
    for (int i = 0; i < MAX_LINES && p; i++, p = nl ? nl + 1 : NULL) {
        if ((nl = strchr(p, '\n')))
            *nl = '\0';
        /* What is accepted once is accepted again, as it was kept. */
        for (int allow = 0; allow < 2; allow++) {
            char *kept = one_endpoint(p, allow), *again;

            if (!kept)
                continue;
            if (!(again = one_endpoint(kept, allow)) || strcmp(again, kept) != 0)
                abort();
            free(again);
            free(kept);
        }
    }
out:
    ydoc_clear(&doc);
    free(text);
    free(lines);
    return 0;
}
