/* serve_conf: conf/serve.yaml (see serve_conf.h). */
#include "serve/serve_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/ynode.h"
#include "util/fsio.h"

#define SERVE_CONF_MAX_FILE (1024 * 1024)
#define PATH_MAX_TEXT 256

/* A bounded copy of a key path for messages: "clients.mail.ip". */
static void subpath(char *out, size_t size, const char *path, const char *key)
{
    snprintf(out, size, "%s%s%s", path, path[0] ? "." : "", key);
}

/* The text of a one-line, non-empty scalar (borrowed). */
static int scalar_text(const struct ynode *n, const char *path, const char *what, const char **out,
                       struct err *e)
{
    if (n->type != YNODE_SCALAR || n->len == 0 || n->len != strlen(n->str))
        return ynode_err(e, n, path, "expected %s", what);
    for (size_t i = 0; i < n->len; i++)
        if ((unsigned char)n->str[i] < 0x20 || n->str[i] == 0x7f)
            return ynode_err(e, n, path, "expected %s, on one line without control characters",
                             what);
    *out = n->str;
    return 0;
}

static int dup_text(const char *s, char **out, struct err *e)
{
    char *copy = strdup(s);

    if (!copy)
        return err_set(e, -ENOMEM, "out of memory");
    free(*out);
    *out = copy;
    return 0;
}

static int get_uint(const struct ynode *n, const char *path, unsigned min, unsigned max,
                    unsigned *out, struct err *e)
{
    long long v;

    if (ynode_int(n, &v) < 0 || v < min || v > max)
        return ynode_err(e, n, path, "expected an integer from %u to %u", min, max);
    *out = (unsigned)v;
    return 0;
}

static int get_abs_path(const struct ynode *n, const char *path, char **out, struct err *e)
{
    const char *s;
    int rc;

    if ((rc = scalar_text(n, path, "an absolute file path", &s, e)) < 0)
        return rc;
    if (s[0] != '/')
        return ynode_err(e, n, path,
                         "\"%s\" is a relative path: write it from / (the server's working "
                         "directory is not the configuration's)",
                         s);
    return dup_text(s, out, e);
}

/* Calls fn on each item of a sequence, or on n itself when it is a single scalar (as
 * acmetool's users sometimes write one-item lists). */
typedef int (*item_fn)(void *ctx, const struct ynode *item, const char *path, struct err *e);

static int each_item(const struct ynode *n, const char *path, item_fn fn, void *ctx, struct err *e)
{
    char ipath[PATH_MAX_TEXT];
    int rc;

    if (n->type == YNODE_SCALAR)
        return fn(ctx, n, path, e);
    if (n->type != YNODE_SEQ)
        return ynode_err(e, n, path, "expected a list");
    for (size_t i = 0; i < n->n; i++) {
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        if ((rc = fn(ctx, n->items[i], ipath, e)) < 0)
            return rc;
    }
    return 0;
}

/* Grows *v (of *n elements of `size` bytes) by one zeroed element, returned. */
static void *grow(void *pv, size_t *n, size_t size, struct err *e)
{
    void **v = pv;
    char *p = realloc(*v, (*n + 1) * size);

    if (!p) {
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    *v = p;
    memset(p + *n * size, 0, size);
    return p + (*n)++ * size;
}

/* ---- listeners ---- */

struct listen_list {
    struct serve_listen **v;
    size_t *n;
};

static int add_listen(void *ctx, const struct ynode *item, const char *path, struct err *e)
{
    struct listen_list *l = ctx;
    struct serve_listen *a, parsed;
    struct err why;
    const char *s;
    int rc;

    if ((rc = scalar_text(item, path, "an address \"host:port\" or \"[v6]:port\"", &s, e)) < 0)
        return rc;
    if (serve_addr_parse_listen(s, &parsed, &why) < 0)
        return ynode_err(e, item, path, "\"%s\": %s", s, why.msg);
    for (size_t i = 0; i < *l->n; i++)
        if (strcmp((*l->v)[i].text, parsed.text) == 0)
            return ynode_err(e, item, path, "%s is listed twice", parsed.text);
    if (!(a = grow(l->v, l->n, sizeof *a, e)))
        return -ENOMEM;
    *a = parsed;
    return 0;
}

static int get_listen(const struct ynode *n, const char *path, struct serve_listen **v, size_t *nv,
                      struct err *e)
{
    struct listen_list l = {v, nv};

    return each_item(n, path, add_listen, &l, e);
}

static int get_tls(struct serve_conf *c, const struct ynode *n, const char *path, struct err *e)
{
    char sub[PATH_MAX_TEXT];
    int rc = 0;

    if (n->type != YNODE_MAP)
        return ynode_err(e, n, path, "expected a mapping {cert: FILE, key: FILE}");
    for (size_t i = 0; i < n->n && rc == 0; i++) {
        const char *k = n->keys[i]->str;

        subpath(sub, sizeof sub, path, k);
        if (strcmp(k, "cert") == 0)
            rc = get_abs_path(n->items[i], sub, &c->tls_cert, e);
        else if (strcmp(k, "key") == 0)
            rc = get_abs_path(n->items[i], sub, &c->tls_key, e);
        else
            rc = ynode_err(e, n->keys[i], sub, "unknown key (expected cert or key)");
    }
    if (rc == 0 && (!c->tls_cert || !c->tls_key))
        rc = ynode_err(e, n, path, "needs both cert and key");
    return rc;
}

/* ---- clients ---- */

static int add_ip(void *ctx, const struct ynode *item, const char *path, struct err *e)
{
    struct serve_client *cl = ctx;
    struct serve_cidr *c, parsed;
    struct err why;
    const char *s;
    int rc;

    if ((rc = scalar_text(item, path, "an IP address or range", &s, e)) < 0)
        return rc;
    if (serve_addr_parse_cidr(s, &parsed, &why) < 0)
        return ynode_err(e, item, path, "%s", why.msg);
    if (!(c = grow(&cl->ip, &cl->nip, sizeof *c, e)))
        return -ENOMEM;
    *c = parsed;
    return 0;
}

/* A domain is a host name, an IP literal or a glob over names: only the characters those
 * use, so that nothing odd reaches a log line or the matcher. */
static bool domain_ok(const char *s)
{
    for (; *s; s++) {
        char c = *s;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == '*' || c == '?' || c == ':'))
            return false;
    }
    return true;
}

static int add_domain(void *ctx, const struct ynode *item, const char *path, struct err *e)
{
    struct serve_client *cl = ctx;
    const char *s;
    char **slot;
    int rc;

    if ((rc = scalar_text(item, path, "a domain name or pattern", &s, e)) < 0)
        return rc;
    if (!domain_ok(s) || s[0] == '.')
        return ynode_err(e, item, path,
                         "\"%s\" is not a domain name, IP address or pattern "
                         "(letters, digits, '.', '-', '_', ':', '*' and '?')",
                         s);
    if (!(slot = grow(&cl->domains, &cl->ndomains, sizeof *slot, e)))
        return -ENOMEM;
    return dup_text(s, slot, e);
}

static int add_chal(void *ctx, const struct ynode *item, const char *path, struct err *e)
{
    static const struct {
        const char *name;
        unsigned bit;
    } types[] = {{"http-01", SERVE_CHAL_HTTP01},
                 {"dns-01", SERVE_CHAL_DNS01},
                 {"tls-alpn-01", SERVE_CHAL_TLSALPN01}};
    struct serve_client *cl = ctx;
    const char *s;
    int rc;

    if ((rc = scalar_text(item, path, "a challenge type", &s, e)) < 0)
        return rc;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(s, types[i].name) == 0) {
            cl->challenge_types |= types[i].bit;
            return 0;
        }
    return ynode_err(e, item, path, "\"%s\": expected http-01, dns-01 or tls-alpn-01", s);
}

static int get_challenge(struct serve_client *cl, const struct ynode *n, const char *path,
                         struct err *e)
{
    char sub[PATH_MAX_TEXT];
    int rc = 0;

    if (n->type != YNODE_MAP)
        return ynode_err(e, n, path, "expected a mapping {type: [...]}");
    for (size_t i = 0; i < n->n && rc == 0; i++) {
        subpath(sub, sizeof sub, path, n->keys[i]->str);
        if (strcmp(n->keys[i]->str, "type") != 0)
            rc = ynode_err(e, n->keys[i], sub, "unknown key (expected type)");
        else if (!ynode_is_null(n->items[i]))
            rc = each_item(n->items[i], sub, add_chal, cl, e);
    }
    return rc;
}

/* "N/h", "N/m" or "N/s" with 1 <= N <= SERVE_RATE_MAX. */
static int get_rate(struct serve_client *cl, const struct ynode *n, const char *path, struct err *e)
{
    const char *s, *slash;
    unsigned long v = 0;
    int rc;

    if ((rc = scalar_text(n, path, "a rate \"N/h\", \"N/m\" or \"N/s\"", &s, e)) < 0)
        return rc;
    slash = strchr(s, '/');
    if (!slash || slash == s || slash - s > 6 || s[0] == '0' || strlen(slash) != 2)
        goto bad;
    for (const char *p = s; p < slash; p++) {
        if (*p < '0' || *p > '9')
            goto bad;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > SERVE_RATE_MAX)
        goto bad;
    switch (slash[1]) {
    case 'h':
        cl->rate.period_s = 3600;
        break;
    case 'm':
        cl->rate.period_s = 60;
        break;
    case 's':
        cl->rate.period_s = 1;
        break;
    default:
        goto bad;
    }
    cl->rate.count = (unsigned)v;
    return 0;
bad:
    return ynode_err(e, n, path,
                     "\"%s\": expected a rate \"N/h\", \"N/m\" or \"N/s\" with N from 1 to %d", s,
                     SERVE_RATE_MAX);
}

/* One key of a client's mapping. */
static int client_key(struct serve_client *cl, const struct ynode *k, const struct ynode *v,
                      const char *path, struct err *e)
{
    char sub[PATH_MAX_TEXT];

    subpath(sub, sizeof sub, path, k->str);
    if (strcmp(k->str, "ip") == 0)
        return each_item(v, sub, add_ip, cl, e);
    if (strcmp(k->str, "domains") == 0)
        return each_item(v, sub, add_domain, cl, e);
    if (strcmp(k->str, "hmac-key-file") == 0)
        return get_abs_path(v, sub, &cl->hmac_key_file, e);
    if (strcmp(k->str, "challenge") == 0)
        return get_challenge(cl, v, sub, e);
    if (strcmp(k->str, "rate") == 0)
        return get_rate(cl, v, sub, e);
    return ynode_err(e, k, sub,
                     "unknown key (expected ip, domains, hmac-key-file, challenge or rate)");
}

/* A client's name reaches logs and, later, paths: letters, digits, '.', '_', '-'. */
static bool client_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 64 || len != strlen(s) || s[0] == '.' || s[0] == '-')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

static int get_client(struct serve_conf *c, const struct ynode *k, const struct ynode *v,
                      struct err *e)
{
    char path[PATH_MAX_TEXT];
    struct serve_client *cl;
    int rc = 0;

    subpath(path, sizeof path, "clients", k->str);
    if (!client_name_ok(k->str, k->len))
        return ynode_err(e, k, path,
                         "a client's name is 1 to 64 letters, digits, '.', '_' or '-', not "
                         "starting with '.' or '-'");
    if (v->type != YNODE_MAP)
        return ynode_err(e, v, path, "expected a mapping {ip: [...], domains: [...], ...}");
    if (!(cl = grow(&c->clients, &c->nclients, sizeof *cl, e)))
        return -ENOMEM;
    cl->line = k->line;
    if ((rc = dup_text(k->str, &cl->name, e)) < 0)
        return rc;
    for (size_t i = 0; i < v->n && rc == 0; i++)
        if (!ynode_is_null(v->items[i]))
            rc = client_key(cl, v->keys[i], v->items[i], path, e);
    if (rc == 0 && cl->nip == 0)
        rc = ynode_err(e, v, path, "needs ip: the addresses or ranges it may connect from");
    if (rc == 0 && cl->ndomains == 0)
        rc = ynode_err(e, v, path, "needs domains: the names it may ask for");
    return rc;
}

static int get_clients(struct serve_conf *c, const struct ynode *n, struct err *e)
{
    int rc = 0;

    if (n->type != YNODE_MAP)
        return ynode_err(e, n, "clients", "expected a mapping of client names to rules");
    for (size_t i = 0; i < n->n && rc == 0; i++)
        rc = get_client(c, n->keys[i], n->items[i], e);
    return rc;
}

/* ---- the file ---- */

static int conf_key(struct serve_conf *c, const struct ynode *k, const struct ynode *v,
                    struct err *e)
{
    const char *key = k->str;

    if (strcmp(key, "listen") == 0)
        return get_listen(v, key, &c->listen, &c->nlisten, e);
    if (strcmp(key, "http-01-listen") == 0)
        return get_listen(v, key, &c->http01, &c->nhttp01, e);
    if (strcmp(key, "tls") == 0)
        return get_tls(c, v, key, e);
    if (strcmp(key, "max-size") == 0)
        return get_uint(v, key, 1, 1024 * 1024, &c->max_size, e);
    if (strcmp(key, "request-timeout") == 0)
        return get_uint(v, key, 1, 86400, &c->request_timeout_s, e);
    if (strcmp(key, "renew-within") == 0)
        return get_uint(v, key, 0, 365, &c->renew_within_days, e);
    if (strcmp(key, "clients") == 0)
        return get_clients(c, v, e);
    return ynode_err(e, k, key,
                     "unknown key (expected listen, tls, http-01-listen, max-size, "
                     "request-timeout, renew-within or clients)");
}

/* The endpoint and the http-01 listeners cannot share an address and port: one of the two
 * binds would fail at start, far from the line that caused it. */
static int check_overlap(const struct serve_conf *c, const struct ynode *root, struct err *e)
{
    for (size_t i = 0; i < c->nhttp01; i++)
        for (size_t j = 0; j < c->nlisten; j++)
            if (strcmp(c->http01[i].text, c->listen[j].text) == 0)
                return ynode_err(e, ynode_get(root, "http-01-listen"), "http-01-listen",
                                 "%s is the endpoint's listen address too", c->http01[i].text);
    return 0;
}

int serve_conf_parse(const char *src, const char *text, size_t len, struct serve_conf *out,
                     struct err *e)
{
    struct ydoc doc = {0};
    int rc;

    memset(out, 0, sizeof *out);
    out->max_size = SERVE_DEFAULT_MAX_SIZE;
    out->request_timeout_s = SERVE_DEFAULT_REQUEST_TIMEOUT;
    out->renew_within_days = SERVE_DEFAULT_RENEW_WITHIN;
    if ((rc = ydoc_parse(&doc, src, text, len, e)) < 0)
        goto out;
    if (!doc.root || ynode_is_null(doc.root)) {
        rc = err_set(e, -EINVAL, "%s: empty: the server needs at least listen", src);
        goto out;
    }
    if (doc.root->type != YNODE_MAP) {
        rc = ynode_err(e, doc.root, "", "expected a mapping");
        goto out;
    }
    for (size_t i = 0; i < doc.root->n && rc == 0; i++)
        if (!ynode_is_null(doc.root->items[i]))
            rc = conf_key(out, doc.root->keys[i], doc.root->items[i], e);
    if (rc == 0 && out->nlisten == 0)
        rc = ynode_err(e, doc.root, "listen", "needs at least one address for the endpoint");
    if (rc == 0)
        rc = check_overlap(out, doc.root, e);
out:
    ydoc_clear(&doc);
    if (rc < 0)
        serve_conf_clear(out);
    return rc;
}

int serve_conf_load(const char *root, struct serve_conf *out, struct err *e)
{
    static const char rel[] = "conf/serve.yaml";
    char *path = fsio_join(root, rel), *text = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    rc = fsio_read_file(path, SERVE_CONF_MAX_FILE, &text, &len, e);
    if (rc == -ENOENT)
        rc = err_set(e, -ENOENT, "%s: not found (acmed serve needs it)", path);
    else if (rc < 0)
        err_wrap(e, "%s", path);
    else
        rc = serve_conf_parse(rel, text, len, out, e);
    free(text);
    free(path);
    return rc;
}

static void client_clear(struct serve_client *cl)
{
    free(cl->name);
    free(cl->ip);
    free(cl->hmac_key_file);
    for (size_t i = 0; i < cl->ndomains; i++)
        free(cl->domains[i]);
    free(cl->domains);
}

void serve_conf_clear(struct serve_conf *c)
{
    if (!c)
        return;
    free(c->listen);
    free(c->http01);
    free(c->tls_cert);
    free(c->tls_key);
    for (size_t i = 0; i < c->nclients; i++)
        client_clear(&c->clients[i]);
    free(c->clients);
    memset(c, 0, sizeof *c);
}

const struct serve_client *serve_conf_client(const struct serve_conf *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->nclients; i++)
        if (strcmp(c->clients[i].name, name) == 0)
            return &c->clients[i];
    return NULL;
}
