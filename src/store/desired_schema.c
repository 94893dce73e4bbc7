/* The schema of desired files and conf/target (DESIGN.md §3), walked over a YAML tree.
 *
 * Defaults are merged without copying: every lookup sees a pair of nodes, the desired file's
 * and conf/target's at the same key path. Mappings merge key by key at every depth; anything
 * else in the desired file replaces the default whole, as acmetool's YAML decoding over a
 * pre-filled struct did. A YAML null ("key:" with no value) counts as not set. */
#include "store/desired_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/mgmt_url.h"
#include "store/desired.h"
#include "store/desired_yview.h"
#include "store/names.h"
#include "util/envsafe.h"
#include "util/log.h"

static const char *const k_root[] = {"satisfy", "request",  "priority", "label",
                                     "names",   "provider", NULL};
static const char *const k_satisfy[] = {"names", "margin", "critical-days", "www-apex", NULL};
static const char *const k_request[] = {
    "names",           "provider", "profile",       "key", "challenge", "ocsp-must-staple",
    "preferred-chain", "account",  "trust-anchors", "csr", "mgmt",      NULL};
static const char *const k_key[] = {"type", "ecdsa-curve", "rsa-size", "id", "reuse", NULL};
static const char *const k_challenge[] = {
    "type", "webroot-paths", "http-ports", "tls-ports", "http-self-test", "env", NULL};
static const char *const k_account[] = {"contact", "agree-tos", "eab", "signer", NULL};
static const char *const k_signer[] = {"exec", NULL};
static const char *const k_eab[] = {"kid", "hmac-key-file", NULL};
static const char *const k_mgmt[] = {"hmac-key-file", NULL};
static const char *const k_challenge_types[] = {"http-01", "tls-alpn-01", "dns-01", NULL};

/* Provider aliases (desired.h): part of the schema, as request.provider is. A central server's
 * URL (mgmt+https://..., net/mgmt_url.h) is a URL, never an alias: it passes through. */
const char *desired_provider_url(const char *alias_or_url)
{
    if (!alias_or_url)
        return NULL;
    if (strcmp(alias_or_url, "letsencrypt") == 0)
        return "https://acme-v02.api.letsencrypt.org/directory";
    if (strcmp(alias_or_url, "letsencrypt-staging") == 0)
        return "https://acme-staging-v02.api.letsencrypt.org/directory";
    return alias_or_url;
}

/* ---- request ---- */

/* request.provider, else the legacy top-level provider, each the desired file's before
 * conf/target's. Aliases are expanded; what remains must be an http(s) URL. */
static int walk_provider(struct yview_ctx *c, struct yview root, struct target *t)
{
    const struct ynode *cands[4] = {
        ynode_get(yview_nonnull(ynode_get(root.d, "request")), "provider"),
        ynode_get(root.d, "provider"),
        ynode_get(yview_nonnull(ynode_get(root.f, "request")), "provider"),
        ynode_get(root.f, "provider"),
    };
    const char *paths[4] = {"request.provider", "provider", "request.provider", "provider"};
    const char *s, *url;
    int rc;

    for (int i = 0; i < 4; i++) {
        if (!yview_nonnull(cands[i]))
            continue;
        if ((rc = yview_scalar_text(c, cands[i], paths[i], "a directory URL", &s)) < 0)
            return rc;
        url = desired_provider_url(s);
        if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0 &&
            !mgmt_url_http(url))
            return ynode_err(c->e, cands[i], paths[i],
                             "expected a directory URL (https://...), a central server's URL "
                             "(mgmt+https://host:port/sign) or an alias "
                             "(letsencrypt, letsencrypt-staging), not \"%.100s\"",
                             s);
        return yview_set_str(c, &t->provider, url);
    }
    return 0;
}

static bool key_id_ok(const char *s)
{
    return strlen(s) == 52 && strspn(s, "abcdefghijklmnopqrstuvwxyz234567") == 52;
}

static int walk_key(struct yview_ctx *c, struct yview v, struct target *t)
{
    static const char *const curves[] = {"nistp256", "nistp384", "nistp521"};
    static const int sizes[] = {256, 384, 521};
    const struct ynode *n;
    int rsa_size = 2048, curve = 256, rc;
    bool rsa = false;

    if ((rc = yview_open_map(c, v, "request.key", k_key)) < 0)
        return rc;
    if ((n = yview_eff(yview_sub(v, "type"))) != NULL) {
        if (n->type != YNODE_SCALAR ||
            (strcasecmp(n->str, "rsa") != 0 && strcasecmp(n->str, "ecdsa") != 0))
            return ynode_err(c->e, n, "request.key.type", "expected ecdsa or rsa");
        rsa = strcasecmp(n->str, "rsa") == 0;
    }
    if ((n = yview_eff(yview_sub(v, "ecdsa-curve"))) != NULL) {
        curve = 0;
        for (int i = 0; i < 3 && n->type == YNODE_SCALAR; i++)
            if (strcasecmp(n->str, curves[i]) == 0)
                curve = sizes[i];
        if (!curve)
            return ynode_err(c->e, n, "request.key.ecdsa-curve",
                             "expected nistp256, nistp384 or nistp521");
    }
    if ((n = yview_eff(yview_sub(v, "rsa-size"))) != NULL) {
        long long x;

        if (ynode_int(n, &x) < 0 || x < 2048 || x > 4096 || x % 8 != 0)
            return ynode_err(c->e, n, "request.key.rsa-size",
                             "expected an RSA key size from 2048 to 4096 bits, a multiple of 8");
        rsa_size = (int)x;
    }
    t->key.type = rsa ? KEY_RSA : KEY_ECDSA;
    t->key.size = rsa ? rsa_size : curve;
    if ((rc = yview_get_str(c, yview_sub(v, "id"), "request.key.id", &t->key_id)) < 0)
        return rc;
    if (t->key_id && !key_id_ok(t->key_id))
        return ynode_err(c->e, yview_eff(yview_sub(v, "id")), "request.key.id",
                         "expected a key id (52 lowercase base32 characters)");
    return yview_get_bool(c, yview_sub(v, "reuse"), "request.key.reuse", &t->key_reuse);
}

static bool challenge_type_ok(const char *s)
{
    return yview_in_list(s, k_challenge_types);
}

static bool abs_path_ok(const char *s)
{
    return s[0] == '/';
}

static bool port_ok(const char *s)
{
    size_t l = strlen(s);

    return l >= 1 && l <= 5 && strspn(s, "0123456789") == l && atoi(s) >= 1 && atoi(s) <= 65535;
}

/* "N" (acmetool: 127.0.0.1:N and [::1]:N), "host:port", ":port" or "[v6]:port". */
static bool listen_ok(const char *s)
{
    const char *colon;

    if (port_ok(s))
        return true;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        char host[INET6_ADDRSTRLEN + 1];
        unsigned char addr[16];

        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host)
            return false;
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        return inet_pton(AF_INET6, host, addr) == 1 && port_ok(rb + 2);
    }
    colon = strchr(s, ':');
    return colon && colon == strrchr(s, ':') && !strpbrk(s, " /") && port_ok(colon + 1);
}

/* A variable reaches hooks, run as root, through their environment: its name must be
 * portable, and not one that makes the loader, the C library, a shell or an interpreter run
 * code or read files of the setter's choosing (util/envsafe). Refused in conf/target too:
 * nothing a hook needs comes that way, and acmed's own environment (systemd's Environment=)
 * is where root sets such things. */
static int env_add(struct yview_ctx *c, struct target *t, const struct ynode *k,
                   const struct ynode *v)
{
    char **grown;
    char *kv;

    if (!envsafe_name_valid(k->str, k->len) || k->len != strlen(k->str))
        return ynode_err(c->e, k, "request.challenge.env",
                         "expected environment variable names (letters, digits, _), not "
                         "\"%.100s\"",
                         k->str);
    if (!envsafe_name_allowed(k->str, k->len))
        return ynode_err(c->e, k, "request.challenge.env",
                         "variable %s is not allowed (it would let %s run code in hooks%s)", k->str,
                         c->defaults ? "conf/target" : "the desired file",
                         c->defaults ? "; set it in acmed's own environment instead" : "");
    if (v->type != YNODE_SCALAR || v->len != strlen(v->str))
        return ynode_err(c->e, v, "request.challenge.env", "expected a string for %s", k->str);
    if (!(grown = realloc(t->env, (t->nenv + 1) * sizeof *grown)))
        return err_set(c->e, -ENOMEM, "out of memory");
    t->env = grown;
    if (asprintf(&kv, "%s=%s", k->str, v->str) < 0)
        return err_set(c->e, -ENOMEM, "out of memory");
    t->env[t->nenv++] = kv;
    return 0;
}

/* request.challenge.env merges key by key like any mapping: the desired file's variables,
 * then conf/target's that the desired file does not set. */
static int walk_env(struct yview_ctx *c, struct yview v, struct target *t)
{
    const struct ynode *sides[2] = {v.d, v.f};
    int rc;

    if ((rc = yview_open_map(c, v, "request.challenge.env", NULL)) < 0)
        return rc;
    for (int s = 0; s < 2; s++) {
        const struct ynode *m = sides[s];

        for (size_t i = 0; m && m->type == YNODE_MAP && i < m->n; i++) {
            bool masked = s == 1 && yview_nonnull(ynode_get(v.d, m->keys[i]->str));

            if (ynode_is_null(m->items[i]) || masked)
                continue;
            if ((rc = env_add(c, t, m->keys[i], m->items[i])) < 0)
                return rc;
        }
    }
    return 0;
}

static int walk_challenge(struct yview_ctx *c, struct yview v, struct target *t)
{
    const struct ynode *n;
    size_t k = 0;
    int rc;

    if ((rc = yview_open_map(c, v, "request.challenge", k_challenge)) < 0)
        return rc;
    if ((rc = yview_get_list(c, yview_sub(v, "type"), "request.challenge.type",
                             "http-01, tls-alpn-01 or dns-01", challenge_type_ok,
                             &t->challenge_types, &t->nchallenge_types)) < 0)
        return rc;
    /* An ordered preference: a repeated type adds nothing, so keep its first place. */
    for (size_t i = 0; i < t->nchallenge_types; i++) {
        bool dup = false;

        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(t->challenge_types[j], t->challenge_types[i]) == 0;
        if (dup)
            free(t->challenge_types[i]);
        else
            t->challenge_types[k++] = t->challenge_types[i];
    }
    t->nchallenge_types = k;
    if (k == 0 && (n = yview_eff(yview_sub(v, "type"))) != NULL)
        return ynode_err(c->e, n, "request.challenge.type",
                         "expected at least one of http-01, tls-alpn-01 or dns-01");
    if ((rc = yview_get_list(c, yview_sub(v, "webroot-paths"), "request.challenge.webroot-paths",
                             "an absolute path", abs_path_ok, &t->webroot_paths,
                             &t->nwebroot_paths)) < 0 ||
        (rc = yview_get_list(c, yview_sub(v, "http-ports"), "request.challenge.http-ports",
                             "a port, host:port or [v6]:port", listen_ok, &t->http_ports,
                             &t->nhttp_ports)) < 0 ||
        (rc = yview_get_list(c, yview_sub(v, "tls-ports"), "request.challenge.tls-ports",
                             "a port, host:port or [v6]:port", listen_ok, &t->tls_ports,
                             &t->ntls_ports)) < 0 ||
        (rc = yview_get_bool(c, yview_sub(v, "http-self-test"), "request.challenge.http-self-test",
                             &t->http_self_test)) < 0)
        return rc;
    return walk_env(c, yview_sub(v, "env"), t);
}

/* request.account.contact: every item a URI the CA would take (target_contact_check), and
 * the line where the file itself sets it, for the warning when it is not the account's (the
 * account's contact is conf/target's: reconcile/rec_account.c). */
static int walk_contact(struct yview_ctx *c, struct yview v, struct target *t)
{
    const struct ynode *n = yview_eff(v);
    const char *why;
    int rc;

    if ((rc = yview_get_list(c, v, "request.account.contact", "a contact URI (mailto:...)", NULL,
                             &t->contact, &t->ncontact)) < 0)
        return rc;
    for (size_t i = 0; i < t->ncontact; i++) {
        if (!(why = target_contact_check(t->contact[i])))
            continue;
        if (n->type == YNODE_SEQ) {
            char ipath[64];

            snprintf(ipath, sizeof ipath, "request.account.contact[%zu]", i);
            return ynode_err(c->e, n->items[i], ipath,
                             "expected a contact URI (mailto:...), not \"%.100s\": %s",
                             t->contact[i], why);
        }
        return ynode_err(c->e, n, "request.account.contact",
                         "expected a contact URI (mailto:...), not \"%.100s\": %s", t->contact[i],
                         why);
    }
    t->contact_line = v.d ? v.d->line : 0;
    return 0;
}

/* request.account.signer: where the account key lives when not in a key file (DESIGN.md
 * §10). "unix:/path" names a signer's socket, in a desired file or conf/target; {exec: [command,
 * args...]} a command spawned per connection, in conf/target only: a desired file must never
 * choose a command acmed runs. */
static int walk_signer(struct yview_ctx *c, struct yview v, struct target *t)
{
    static const char want[] = "expected unix:/absolute/path or {exec: [command, args...]}";
    const struct ynode *n = yview_eff(v), *dn = yview_nonnull(v.d);
    const char *s;
    int rc;

    if (!n)
        return 0;
    if (n->type == YNODE_SCALAR) {
        if ((rc = yview_scalar_text(c, n, "request.account.signer", "a signer", &s)) < 0)
            return rc;
        if (strncmp(s, "unix:", 5) != 0 || !abs_path_ok(s + 5))
            return ynode_err(c->e, n, "request.account.signer", "%s, not \"%.100s\"", want, s);
        return yview_set_str(c, &t->signer_unix, s + 5);
    }
    if (n->type != YNODE_MAP)
        return ynode_err(c->e, n, "request.account.signer", want);
    if (dn && !c->defaults)
        return ynode_err(c->e, dn, "request.account.signer",
                         "a command (exec) may be named only in conf/target");
    if ((rc = yview_open_map(c, v, "request.account.signer", k_signer)) < 0 ||
        (rc = yview_get_list(c, yview_sub(v, "exec"), "request.account.signer.exec",
                             "a command word", NULL, &t->signer_exec, &t->nsigner_exec)) < 0)
        return rc;
    if (t->nsigner_exec == 0 || !t->signer_exec[0][0])
        return ynode_err(c->e, n, "request.account.signer", "exec: expected a command");
    return 0;
}

static int walk_account(struct yview_ctx *c, struct yview v, struct target *t)
{
    struct yview eab = yview_sub(v, "eab");
    bool agree = false;
    int rc;

    if ((rc = yview_open_map(c, v, "request.account", k_account)) < 0 ||
        (rc = walk_contact(c, yview_sub(v, "contact"), t)) < 0)
        return rc;
    if (yview_eff(yview_sub(v, "agree-tos"))) {
        if ((rc = yview_get_bool(c, yview_sub(v, "agree-tos"), "request.account.agree-tos",
                                 &agree)) < 0)
            return rc;
        t->agree_tos = agree ? 1 : 0;
    }
    if ((rc = yview_open_map(c, eab, "request.account.eab", k_eab)) < 0 ||
        (rc = yview_get_str(c, yview_sub(eab, "kid"), "request.account.eab.kid", &t->eab_kid)) <
            0 ||
        (rc = yview_get_str(c, yview_sub(eab, "hmac-key-file"), "request.account.eab.hmac-key-file",
                            &t->eab_hmac_key_file)) < 0)
        return rc;
    /* Half an EAB is a typo, not a choice: registration would fail at the CA much later. */
    if (!t->eab_kid != !t->eab_hmac_key_file)
        return ynode_err(c->e, yview_eff(eab), "request.account.eab",
                         "expected both kid and hmac-key-file");
    return walk_signer(c, yview_sub(v, "signer"), t);
}

/* request.trust-anchors: read when a chain is verified, from wherever acmed runs, so only an
 * absolute path makes sense. */
static int walk_trust_anchors(struct yview_ctx *c, struct yview v, struct target *t)
{
    int rc = yview_get_str(c, v, "request.trust-anchors", &t->trust_anchors);

    if (rc == 0 && t->trust_anchors && !abs_path_ok(t->trust_anchors))
        return ynode_err(c->e, yview_eff(v), "request.trust-anchors",
                         "expected an absolute path to a PEM file, not \"%.100s\"",
                         t->trust_anchors);
    return rc;
}

/* request.mgmt: the settings for a central certificate server (DESIGN.md §11). Its keys are
 * few and a misspelt one would silently drop the HMAC: unknown keys are refused, not warned
 * about. */
static int walk_mgmt(struct yview_ctx *c, struct yview v, struct target *t)
{
    const struct ynode *maps[2] = {yview_nonnull(v.d), yview_nonnull(v.f)};
    int rc;

    if ((rc = yview_open_map(c, v, "request.mgmt", NULL)) < 0)
        return rc;
    for (int m = 0; m < 2; m++)
        for (size_t i = 0; maps[m] && maps[m]->type == YNODE_MAP && i < maps[m]->n; i++)
            if (!yview_in_list(maps[m]->keys[i]->str, k_mgmt))
                return ynode_err(c->e, maps[m]->keys[i], "request.mgmt",
                                 "unknown key \"%.100s\" (expected hmac-key-file)",
                                 maps[m]->keys[i]->str);
    if ((rc = yview_get_str(c, yview_sub(v, "hmac-key-file"), "request.mgmt.hmac-key-file",
                            &t->mgmt_hmac_key_file)) < 0)
        return rc;
    if (t->mgmt_hmac_key_file && !abs_path_ok(t->mgmt_hmac_key_file))
        return ynode_err(
            c->e, yview_eff(yview_sub(v, "hmac-key-file")), "request.mgmt.hmac-key-file",
            "expected an absolute path to the key file, not \"%.100s\"", t->mgmt_hmac_key_file);
    return 0;
}

static int walk_request(struct yview_ctx *c, struct yview root, struct target *t)
{
    struct yview v = yview_sub(root, "request");
    int rc;

    if ((rc = yview_open_map(c, v, "request", k_request)) < 0 ||
        (rc = walk_provider(c, root, t)) < 0 ||
        (rc = yview_get_str(c, yview_sub(v, "profile"), "request.profile", &t->profile)) < 0 ||
        (rc = yview_get_bool(c, yview_sub(v, "ocsp-must-staple"), "request.ocsp-must-staple",
                             &t->must_staple)) < 0 ||
        (rc = yview_get_str(c, yview_sub(v, "preferred-chain"), "request.preferred-chain",
                            &t->preferred_chain)) < 0 ||
        (rc = walk_trust_anchors(c, yview_sub(v, "trust-anchors"), t)) < 0 ||
        (rc = walk_mgmt(c, yview_sub(v, "mgmt"), t)) < 0 ||
        (rc = walk_key(c, yview_sub(v, "key"), t)) < 0 ||
        (rc = walk_challenge(c, yview_sub(v, "challenge"), t)) < 0 ||
        (rc = walk_account(c, yview_sub(v, "account"), t)) < 0)
        return rc;
    return 0;
}

/* The label becomes part of a live/ link name ("live/<hostname>:<label>"). */
static bool label_ok(const char *s)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

    return strlen(s) <= 64 && s[0] != '.' && strspn(s, ok) == strlen(s);
}

static int walk_common(struct yview_ctx *c, struct yview root, struct target *t)
{
    struct yview sat = yview_sub(root, "satisfy");
    int rc;

    if ((rc = yview_open_map(c, root, "", k_root)) < 0 ||
        (rc = yview_open_map(c, sat, "satisfy", k_satisfy)) < 0 ||
        (rc = yview_get_int(c, yview_sub(sat, "margin"), "satisfy.margin", 0, INT_MAX,
                            &t->margin_days)) < 0 ||
        (rc = yview_get_int(c, yview_sub(sat, "critical-days"), "satisfy.critical-days", 1,
                            DESIRED_MAX_CRITICAL_DAYS, &t->critical_days)) < 0 ||
        (rc = yview_get_bool(c, yview_sub(sat, "www-apex"), "satisfy.www-apex", &t->www_apex)) <
            0 ||
        (rc = walk_request(c, root, t)) < 0 ||
        (rc = yview_get_int(c, yview_sub(root, "priority"), "priority", INT_MIN, INT_MAX,
                            &t->priority)) < 0 ||
        (rc = yview_get_str(c, yview_sub(root, "label"), "label", &t->label)) < 0)
        return rc;
    if (!label_ok(t->label))
        return ynode_err(c->e, yview_eff(yview_sub(root, "label")), "label",
                         "expected letters, digits, '.', '-' and '_' (64 at most)");
    return 0;
}

static int target_defaults(struct yview_ctx *c, const char *file, struct target *t)
{
    memset(t, 0, sizeof *t);
    t->key.type = KEY_ECDSA;
    t->key.size = 256;
    t->agree_tos = -1;
    if (!(t->file = strdup(file)) || !(t->label = strdup("")) ||
        !(t->challenge_types = calloc(3, sizeof *t->challenge_types)))
        return err_set(c->e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < 3; i++)
        if (!(t->challenge_types[t->nchallenge_types++] = strdup(k_challenge_types[i])))
            return err_set(c->e, -ENOMEM, "out of memory");
    return 0;
}

/* An IP identifier is validated by http-01 or tls-alpn-01 only (RFC 8738 section 7): a target
 * with an IP address and dns-01 alone could never be satisfied. */
static int check_ip_challenges(struct yview_ctx *c, struct yview root, const struct target *t)
{
    const char *ip = NULL;

    for (size_t i = 0; i < t->nnames && !ip; i++)
        if (t->names[i].ip)
            ip = t->names[i].name;
    if (!ip)
        return 0;
    for (size_t i = 0; i < t->nchallenge_types; i++)
        if (strcmp(t->challenge_types[i], "dns-01") != 0)
            return 0;
    return ynode_err(
        c->e, yview_eff(yview_sub(yview_sub(yview_sub(root, "request"), "challenge"), "type")),
        "request.challenge.type",
        "%s is an IP address, which dns-01 cannot validate (RFC 8738): "
        "add http-01 or tls-alpn-01",
        ip);
}

int desired_walk(const char *file, const struct ynode *root, const struct ynode *defaults,
                 struct target *out, struct err *e)
{
    struct yview_ctx c = {.e = e};
    struct yview v = {yview_nonnull(root), yview_nonnull(defaults)};
    int rc;

    if (v.d && v.d->type != YNODE_MAP) {
        memset(out, 0, sizeof *out);
        return desired_root_err(v.d, e);
    }
    if ((rc = target_defaults(&c, file, out)) < 0 || (rc = walk_common(&c, v, out)) < 0 ||
        (rc = desired_walk_names(file, v.d, out, e)) < 0 ||
        (rc = desired_walk_csr(v.d, out, e)) < 0 || (rc = check_ip_challenges(&c, v, out)) < 0)
        target_clear(out);
    return rc;
}

int desired_walk_defaults(const struct ynode *defaults, struct target *out, struct err *e)
{
    struct yview_ctx c = {.e = e, .defaults = true};
    struct yview v = {yview_nonnull(defaults), NULL};
    const struct ynode *req = yview_nonnull(ynode_get(v.d, "request"));
    const struct ynode *names[3] = {ynode_get(yview_nonnull(ynode_get(v.d, "satisfy")), "names"),
                                    ynode_get(req, "names"), ynode_get(v.d, "names")};
    struct target t;
    int rc;

    if ((rc = target_defaults(&c, "conf/target", &t)) == 0)
        rc = walk_common(&c, v, &t);
    if (rc == 0 && yview_nonnull(ynode_get(req, "csr")))
        rc = ynode_err(e, ynode_get(req, "csr"), "request.csr",
                       "belongs in a desired file: a CSR names one certificate's key and names");
    for (int i = 0; rc == 0 && i < 3; i++)
        if (yview_nonnull(names[i]))
            log_warn("%s:%u: names in conf/target are ignored", names[i]->src, names[i]->line);
    if (rc == 0 && out)
        *out = t;
    else
        target_clear(&t);
    return rc;
}
