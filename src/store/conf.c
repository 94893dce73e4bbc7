/* conf/acmed.yaml (daemon settings, DESIGN.md §2; its `cluster:` in conf_cluster.c) and
 * acmetool's conf/responses. */
#include "store/desired.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/conf_cluster.h"
#include "store/desired_internal.h"
#include "util/fsio.h"
#include "util/log.h"

/* Reads and parses root/rel; *found false (and 0) when the file does not exist. */
static int read_yaml(const char *root, const char *rel, struct ydoc *doc, bool *found,
                     struct err *e)
{
    char *path = fsio_join(root, rel), *text = NULL;
    size_t len = 0;
    int rc;

    *found = false;
    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    rc = fsio_read_file(path, DESIRED_MAX_FILE, &text, &len, e);
    if (rc == -ENOENT) {
        rc = 0;
        goto out;
    }
    if (rc == 0) {
        *found = true;
        rc = ydoc_parse(doc, rel, text, len, e);
    }
out:
    free(text);
    free(path);
    return rc;
}

static int conf_uint(const struct ynode *v, const char *key, unsigned *out, struct err *e)
{
    long long x;

    if (ynode_int(v, &x) < 0 || x < 1 || x > INT_MAX)
        return ynode_err(e, v, key, "expected a positive integer");
    *out = (unsigned)x;
    return 0;
}

static int conf_str(const struct ynode *v, const char *key, char **out, struct err *e)
{
    char *copy;

    if (v->type != YNODE_SCALAR || v->len == 0 || v->len != strlen(v->str))
        return ynode_err(e, v, key, "expected a string");
    if (!(copy = strdup(v->str)))
        return err_set(e, -ENOMEM, "out of memory");
    free(*out);
    *out = copy;
    return 0;
}

/* `user:`: a user name in POSIX's portable character set (letters, digits, '.', '_', '-'),
 * not starting with '-', at most 32 characters (useradd's limit), so that nothing odd
 * reaches getpwnam or a log line. Whether the user exists is privsep_plan's question. */
static int conf_user(const struct ynode *v, const char *key, char **out, struct err *e)
{
    static const char *const expected =
        "expected a user name (letters, digits, '.', '_' and '-', at most 32, "
        "not starting with '-')";

    if (v->type != YNODE_SCALAR || v->len == 0 || v->len > 32 || v->len != strlen(v->str) ||
        v->str[0] == '-')
        return ynode_err(e, v, key, "%s", expected);
    for (size_t i = 0; i < v->len; i++) {
        char ch = v->str[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return ynode_err(e, v, key, "%s", expected);
    }
    return conf_str(v, key, out, e);
}

/* One key of conf/acmed.yaml. */
static int conf_key(struct acmed_conf *c, const struct ynode *k, const struct ynode *v,
                    struct err *e)
{
    enum log_level lvl;

    if (strcmp(k->str, "interval") == 0)
        return conf_uint(v, k->str, &c->interval_s, e);
    if (strcmp(k->str, "max-orders") == 0)
        return conf_uint(v, k->str, &c->max_orders, e);
    if (strcmp(k->str, "max-requests-per-ca") == 0)
        return conf_uint(v, k->str, &c->max_requests_per_ca, e);
    if (strcmp(k->str, "hook-timeout") == 0)
        return conf_uint(v, k->str, &c->hook_timeout_s, e);
    if (strcmp(k->str, "allow-insecure-http") == 0) {
        if (ynode_bool(v, &c->allow_insecure_http) < 0)
            return ynode_err(e, v, k->str, "expected true or false");
        return 0;
    }
    if (strcmp(k->str, "user") == 0)
        return conf_user(v, k->str, &c->user, e);
    if (strcmp(k->str, "privsep") == 0) {
        bool on;

        if (ynode_bool(v, &on) < 0)
            return ynode_err(e, v, k->str, "expected true or false");
        c->privsep = on ? ACMED_PRIVSEP_ON : ACMED_PRIVSEP_OFF;
        return 0;
    }
    if (strcmp(k->str, "cluster") == 0)
        return 0; /* read after the loop, once allow-insecure-http is known */
    if (strcmp(k->str, "metrics-file") == 0)
        return conf_str(v, k->str, &c->metrics_file, e);
    if (strcmp(k->str, "log-level") == 0) {
        if (v->type != YNODE_SCALAR || log_level_parse(v->str, &lvl) < 0)
            return ynode_err(e, v, k->str,
                             "expected debug, info, notice, warning, error or critical");
        return conf_str(v, k->str, &c->log_level, e);
    }
    log_warn("%s:%u: unknown key \"%s\" ignored", k->src, k->line, k->str);
    return 0;
}

int acmed_conf_load(const char *root, struct acmed_conf *out, struct err *e)
{
    const struct ynode *cluster;
    struct ydoc doc = {0};
    bool found;
    int rc;

    memset(out, 0, sizeof *out);
    out->interval_s = 3600;
    out->max_orders = 8;
    out->max_requests_per_ca = 16;
    out->hook_timeout_s = 300;
    if (!(out->log_level = strdup("info"))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = read_yaml(root, "conf/acmed.yaml", &doc, &found, e)) < 0 || !found || !doc.root ||
        ynode_is_null(doc.root))
        goto out;
    if (doc.root->type != YNODE_MAP) {
        rc = ynode_err(e, doc.root, "", "expected a mapping");
        goto out;
    }
    for (size_t i = 0; i < doc.root->n && rc == 0; i++)
        if (!ynode_is_null(doc.root->items[i]))
            rc = conf_key(out, doc.root->keys[i], doc.root->items[i], e);
    /* `cluster:` even with no value: an empty one is an error there, not "no fleet mode"
     * (its keys, wrongly indented, would otherwise be taken for unknown top-level keys). */
    if (rc == 0 && (cluster = ynode_get(doc.root, "cluster")) != NULL)
        rc = conf_cluster_parse(cluster, out->allow_insecure_http, &out->cluster, e);
out:
    ydoc_clear(&doc);
    if (rc < 0) {
        acmed_conf_clear(out);
        if (rc != -ENOMEM)
            rc = e ? (e->code = -EINVAL) : -EINVAL;
    }
    return rc;
}

void acmed_conf_clear(struct acmed_conf *c)
{
    if (!c)
        return;
    free(c->metrics_file);
    free(c->log_level);
    free(c->user);
    conf_cluster_free(c->cluster);
    c->metrics_file = NULL;
    c->log_level = NULL;
    c->user = NULL;
    c->cluster = NULL;
}

/* acmetool's answers file maps question ids to answers; the terms of service question is
 * "acme-agreement:<url of the terms>". JSON is YAML too, so one parser reads both forms. */
bool desired_responses_agree(const char *root, const char *tos_url)
{
    struct ydoc doc = {0};
    const struct ynode *v;
    struct err e;
    char *key = NULL;
    bool found, agree = false;

    if (!tos_url || read_yaml(root, "conf/responses", &doc, &found, &e) < 0) {
        if (tos_url)
            log_warn("conf/responses ignored: %s", e.msg);
        goto out;
    }
    if (!found || asprintf(&key, "acme-agreement:%s", tos_url) < 0) {
        key = NULL;
        goto out;
    }
    if ((v = ynode_get(doc.root, key)) != NULL && ynode_bool(v, &agree) < 0)
        agree = false;
out:
    free(key);
    ydoc_clear(&doc);
    return agree;
}
