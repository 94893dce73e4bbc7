/* cert: downloading the certificate chain, with alternate chains (RFC 8555 §7.4.2), checking
 * it (the leaf for our key and names, every link of the chain, the trust anchors), revoking
 * certificates (§7.6) and fetching renewal information (RFC 9773 §4). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/headers.h"
#include "acme/op_internal.h"
#include "acme/ops.h"
#include "acme/url.h"
#include "crypto/b64.h"
#include "crypto/pem.h"
#include "crypto/x509.h"
#include "util/clock.h"
#include "util/log.h"

#define PEM_CHAIN_TYPE "application/pem-certificate-chain"
/* Seconds a notBefore may lie ahead of our clock: the CA's clock may run ahead of ours. */
#define CHAIN_CLOCK_SKEW 300

struct download {
    struct acme_client *c;
    char *preferred;
    const struct ckey *key;
    char **names;
    size_t nnames;
    char *anchors; /* PEM trust anchors, NULL when the chain's top is taken as it is */
    size_t anchors_len;
    bool got_default; /* the default chain's answer has come */
    char *first_pem;  /* the first chain that passed, kept while alternates are tried */
    size_t first_len;
    int default_rc; /* when the default chain failed its checks: why, for the caller */
    struct err default_err;
    char **alts; /* alternate chain URLs, from the default chain's Link headers */
    size_t nalts, next_alt;
    acme_cb cb;
    void *arg;
};

static void download_free(struct download *d)
{
    if (!d)
        return;
    free(d->preferred);
    for (size_t i = 0; i < d->nnames; i++)
        free(d->names[i]);
    free(d->names);
    free(d->anchors);
    free(d->first_pem);
    acme_urls_free(d->alts, d->nalts);
    free(d);
}

/* True when the certificate lists `name` (a DNS name, or an IP address in any text form). */
static bool leaf_has_name(const struct x509_info *x, const char *name)
{
    unsigned char want[16], got[16];
    int af = strchr(name, ':') ? AF_INET6 : AF_INET;

    if (inet_pton(af, name, want) == 1) {
        for (size_t i = 0; i < x->nips; i++) {
            int gaf = strchr(x->ips[i], ':') ? AF_INET6 : AF_INET;

            if (gaf == af && inet_pton(gaf, x->ips[i], got) == 1 &&
                !memcmp(want, got, af == AF_INET ? 4 : 16))
                return true;
        }
        return false;
    }
    for (size_t i = 0; i < x->ndns; i++)
        if (!strcasecmp(x->dns[i], name))
            return true;
    return false;
}

int acme_chain_verify(const char *pem, size_t len, const struct ckey *key, const char *const *names,
                      size_t nnames, const char *anchors, size_t anchors_len, char **top_cn,
                      struct err *e)
{
    struct pem_chain chain = {0};
    struct x509_info *leaf = NULL;
    int rc;

    if (top_cn)
        *top_cn = NULL;
    if ((rc = pem_split_chain(pem, len, &chain, e)) < 0)
        goto out;
    if (key) {
        rc = x509_matches_key(chain.certs[0].der, chain.certs[0].len, key, e);
        if (rc == 0)
            rc = err_set(e, -EBADMSG, "the certificate is not for our key");
        if (rc < 0)
            goto out;
    }
    if ((rc = x509_parse(chain.certs[0].der, chain.certs[0].len, &leaf, e)) < 0)
        goto out;
    /* A certificate that has already expired is of no use to anyone. */
    if (leaf->not_after <= clock_now()) {
        rc = err_set(e, -EBADMSG, "the certificate has already expired");
        goto out;
    }
    for (size_t i = 0; i < nnames; i++) {
        if (!leaf_has_name(leaf, names[i])) {
            rc = err_set(e, -EBADMSG, "the certificate does not name %s", names[i]);
            goto out;
        }
    }
    /* Without this a leaf signed by anyone, followed by the CA's real intermediate, would be
     * installed: the CA is our only source of the chain, but it is checked all the same. */
    rc = x509_check_chain_links(&chain, anchors, anchors_len, clock_now(), CHAIN_CLOCK_SKEW, e);
    if (rc < 0) {
        err_wrap(e, "chain does not verify");
        goto out;
    }
    if (top_cn)
        *top_cn = x509_chain_top_issuer_cn(&chain);
    rc = 0;
out:
    x509_info_free(leaf);
    pem_chain_clear(&chain);
    return rc;
}

/* Checks one downloaded chain against the download's key, names and anchors. */
static int check_chain(const struct download *d, const char *pem, size_t len, char **top_cn,
                       struct err *e)
{
    return acme_chain_verify(pem, len, d->key, (const char *const *)d->names, d->nnames, d->anchors,
                             d->anchors_len, top_cn, e);
}

/* Hands the caller a chain in a result of our own (the response it came from is gone). */
static void download_finish(struct download *d, int rc, char *pem, size_t len, const struct err *e)
{
    struct acme_result r = {.retry_after = -1, .status = rc == 0 ? 200 : 0};

    r.cert_pem = pem;
    r.cert_len = len;
    d->cb(d->arg, rc, &r, e);
    free(r.cert_pem);
    download_free(d);
}

/* Alternate chains are fetched only from URLs that pass the rule of every CA URL (acme/url.h):
 * the others are dropped with a warning. */
static void drop_bad_alternates(struct download *d)
{
    size_t kept = 0;
    struct err ue;

    for (size_t i = 0; i < d->nalts; i++) {
        if (acme_url_check(d->alts[i], acme_client_https_only(d->c), "alternate chain", &ue) < 0) {
            log_warn("ignoring an alternate chain: %s", err_msg(&ue));
            free(d->alts[i]);
            continue;
        }
        d->alts[kept++] = d->alts[i];
    }
    d->nalts = kept;
}

static int fetch_chain(struct download *d, const char *url, struct err *e);

/* Tries the next alternate chain. When none is left: the first chain that passed its checks
 * (its top issuer was not the preferred one), else the default chain's failure. */
static void next_alternate(struct download *d)
{
    struct err e;
    char *pem;

    err_clear(&e);
    while (d->next_alt < d->nalts) {
        const char *url = d->alts[d->next_alt++];

        if (fetch_chain(d, url, &e) == 0)
            return;
        log_warn("alternate chain %s: %s", url, err_msg(&e));
    }
    if (!d->first_pem) {
        download_finish(d, d->default_rc < 0 ? d->default_rc : -EPROTO, NULL, 0, &d->default_err);
        return;
    }
    log_info("no chain has the preferred top issuer \"%s\": keeping the %s", d->preferred,
             d->default_rc ? "first alternate chain that passed" : "default chain");
    pem = d->first_pem;
    d->first_pem = NULL; /* handed over to the caller */
    download_finish(d, 0, pem, d->first_len, NULL);
}

/* The alternate chains the default chain's answer links to (rel="alternate"), the ones with a
 * bad URL dropped. */
static void collect_alternates(struct download *d, const struct http_response *resp)
{
    const char *vals[32];
    size_t nv = 0;
    struct err e;

    for (size_t i = 0; i < resp->nheaders && nv < 32; i++)
        if (!strcasecmp(resp->headers[i].name, "Link"))
            vals[nv++] = resp->headers[i].value;
    if (acme_link_find(vals, nv, "alternate", &d->alts, &d->nalts, &e) < 0)
        log_warn("ignoring a bad Link header: %s", err_msg(&e));
    drop_bad_alternates(d);
}

/* One chain's answer. The default chain is taken when it passes and its top issuer is the
 * preferred one (or none is preferred); otherwise the alternates are tried in turn, so that a
 * target whose trust anchor is an alternate root still gets a chain that reaches it. */
static void on_chain(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct download *d = arg;
    bool is_default = !d->got_default;
    char *top = NULL, *pem = NULL;
    struct err ce;

    d->got_default = true;
    err_clear(&ce);
    if (rc < 0 || !r->http) {
        if (is_default) {
            download_finish(d, rc < 0 ? rc : -EPROTO, NULL, 0, e);
            return;
        }
        log_warn("alternate chain: %s", err_msg(e));
        next_alternate(d);
        return;
    }
    rc = check_chain(d, r->http->body, r->http->body_len, &top, &ce);
    if (rc < 0) {
        err_wrap(&ce, "certificate chain from %s",
                 r->http->effective_url ? r->http->effective_url : "the CA");
        if (is_default)
            collect_alternates(d, r->http);
        if (is_default && d->nalts == 0) {
            download_finish(d, rc, NULL, 0, &ce);
            return;
        }
        if (is_default) {
            d->default_rc = rc;
            d->default_err = ce;
            log_warn("%s; trying the alternate chains", err_msg(&ce));
        } else {
            log_warn("%s", err_msg(&ce));
        }
        next_alternate(d);
        return;
    }
    if (!(pem = malloc(r->http->body_len + 1))) {
        free(top);
        download_finish(d, err_set(&ce, -ENOMEM, "out of memory"), NULL, 0, &ce);
        return;
    }
    memcpy(pem, r->http->body, r->http->body_len);
    pem[r->http->body_len] = '\0';
    if (!d->preferred || (top && !strcmp(top, d->preferred))) {
        free(top);
        download_finish(d, 0, pem, r->http->body_len, NULL);
        return;
    }
    free(top);
    if (is_default)
        collect_alternates(d, r->http);
    if (!d->first_pem) {
        d->first_pem = pem;
        d->first_len = r->http->body_len;
    } else {
        free(pem);
    }
    next_alternate(d);
}

static int fetch_chain(struct download *d, const char *url, struct err *e)
{
    struct acme_call call = {.method = "POST",
                             .url = url,
                             .payload = "",
                             .auth = ACME_AUTH_KID,
                             .accept = PEM_CHAIN_TYPE};

    return acme_op_start(d->c, &call, OP_RAW, on_chain, d, e);
}

int acme_cert_download(struct acme_client *c, const struct acme_download *req, acme_cb cb,
                       void *arg, struct err *e)
{
    struct download *d = calloc(1, sizeof *d);
    int rc;

    if (!d)
        return err_set(e, -ENOMEM, "out of memory");
    if (!req->url) {
        free(d);
        return err_set(e, -EINVAL, "the order has no certificate URL");
    }
    d->c = c;
    d->key = req->key;
    if (req->trust_anchors) {
        if (!(d->anchors = malloc(req->trust_anchors_len + 1)))
            goto oom;
        memcpy(d->anchors, req->trust_anchors, req->trust_anchors_len);
        d->anchors[req->trust_anchors_len] = '\0';
        d->anchors_len = req->trust_anchors_len;
    }
    d->cb = cb;
    d->arg = arg;
    if (req->preferred_chain && !(d->preferred = strdup(req->preferred_chain)))
        goto oom;
    if (req->nnames && !(d->names = calloc(req->nnames, sizeof *d->names)))
        goto oom;
    for (; d->nnames < req->nnames; d->nnames++)
        if (!(d->names[d->nnames] = strdup(req->names[d->nnames])))
            goto oom;
    rc = fetch_chain(d, req->url, e);
    if (rc < 0)
        download_free(d);
    return rc;
oom:
    download_free(d);
    return err_set(e, -ENOMEM, "out of memory");
}

int acme_cert_revoke(struct acme_client *c, const uint8_t *der, size_t len, int reason,
                     const struct signer *cert_key, acme_cb cb, void *arg, struct err *e)
{
    const struct acme_directory *d = acme_client_directory(c);
    struct acme_call call = {.method = "POST", .auth = ACME_AUTH_KID};
    char *cert64 = NULL, *text = NULL;
    json_t *p = NULL;
    int rc = -ENOMEM;

    if (!d || !d->revoke_cert)
        return err_set(e, -EINVAL, "revokeCert before the directory was fetched");
    if (!(cert64 = b64url_encode(der, len)) ||
        !(p = json_pack("{s:s, s:i}", "certificate", cert64, "reason", reason)) ||
        !(text = acme_json_text(p, e))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (cert_key) {
        call.auth = ACME_AUTH_JWK;
        call.signer = cert_key;
    }
    call.url = d->revoke_cert;
    call.payload = text;
    rc = acme_op_start(c, &call, OP_RAW, cb, arg, e);
out:
    free(cert64);
    free(text);
    json_decref(p);
    return rc;
}

int acme_renewal_info_get(struct acme_client *c, const char *cert_id, acme_cb cb, void *arg,
                          struct err *e)
{
    const struct acme_directory *d = acme_client_directory(c);
    struct acme_call call = {.method = "GET"};
    char *url = NULL;
    size_t n;
    int rc;

    if (!d || !d->renewal_info)
        return err_set(e, -ENOTSUP, "the CA offers no renewal information (ARI)");
    if (!cert_id || !*cert_id ||
        strspn(cert_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                        "vwxyz0123456789-_.") != strlen(cert_id))
        return err_set(e, -EINVAL, "invalid ARI certID");
    n = strlen(d->renewal_info);
    if (asprintf(&url, "%s%s%s", d->renewal_info, n && d->renewal_info[n - 1] == '/' ? "" : "/",
                 cert_id) < 0)
        return err_set(e, -ENOMEM, "out of memory");
    call.url = url;
    rc = acme_op_start(c, &call, OP_RAW, cb, arg, e);
    free(url);
    return rc;
}
