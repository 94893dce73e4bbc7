/* step_mgmt: a target whose provider is a central certificate server (request.provider
 * mgmt+https://...; DESIGN.md §11) gets its chain in one exchange: the CSR for the job's key and
 * the target's names goes to the server as PEM, with the HMAC of request.mgmt.hmac-key-file
 * when one is set, and the server answers with the chain or an error status (mgmt.h).
 *
 * The chain is checked before anything is installed, by the engine (and again by the keeper
 * under privilege separation, engine_proxy.h): for our key, naming every requested name, each
 * link signed by the next, and ending at a trust anchor, request.trust-anchors or else the
 * system's store. A man in the middle of a plain-http or misconfigured connection could
 * otherwise hand back a self-consistent chain for our key. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/csr.h"
#include "crypto/csr_read.h"
#include "crypto/pem.h"
#include "crypto/x509.h"
#include "net/mgmt_url.h"
#include "reconcile/job.h"
#include "reconcile/mgmt.h"
#include "reconcile/provider.h"
#include "util/buf.h"
#include "util/log.h"

/* The names of the target's request (borrowed), or NULL when out of memory. */
static const char **req_names(const struct job *j)
{
    const char **names = calloc(j->t->nreq_names ? j->t->nreq_names : 1, sizeof *names);

    for (size_t i = 0; names && i < j->t->nreq_names; i++)
        names[i] = j->t->req_names[i].name;
    return names;
}

/* What the chain must end at: request.trust-anchors, else the system's store. Returns 0 with
 * *pem (caller frees) or negative with e. */
static int anchors_of(const struct job *j, char **pem, size_t *len, struct err *e)
{
    int rc = job_read_trust_anchors(j, pem, len, e);

    if (rc == 0 && !*pem && (rc = x509_system_anchors(pem, len, e)) < 0)
        err_wrap(e, "no request.trust-anchors");
    return rc;
}

/* The certificate's "order URL", which names it in certs/ (its cert-id) and in its url file:
 * the server's URL and the leaf's serial, unique per issuer. NULL when out of memory or the
 * leaf cannot be read (e set). Caller frees. */
static char *cert_url(const struct job *j, const char *pem, size_t len, struct err *e)
{
    struct pem_chain chain = {0};
    struct x509_info *leaf = NULL;
    char *url = NULL;

    if (pem_split_chain(pem, len, &chain, e) == 0 &&
        x509_parse(chain.certs[0].der, chain.certs[0].len, &leaf, e) == 0 &&
        asprintf(&url, "%s#serial=%s", j->prov->url, leaf->serial_hex) < 0) {
        url = NULL;
        err_set(e, -ENOMEM, "out of memory");
    }
    x509_info_free(leaf);
    pem_chain_clear(&chain);
    return url;
}

/* A request.csr target's leaf must carry the CSR's key (the engine checks ours). */
static int csr_leaf_check(const struct job *j, const char *pem, size_t len, struct err *e)
{
    struct pem_chain ch = {0};
    int rc = pem_split_chain(pem, len, &ch, e);

    if (rc == 0 && (rc = csr_matches_cert(j->t->csr, ch.certs[0].der, ch.certs[0].len, e)) == 0)
        rc = err_set(e, -EBADMSG, "the certificate is not for the key of the CSR %s",
                     j->t->csr_path ? j->t->csr_path : j->t->csr->sha256_hex);
    pem_chain_clear(&ch);
    return rc < 0 ? rc : 0;
}

static void on_posted(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct job *j = arg;
    const char *url = mgmt_url_http(j->prov->url);
    char *curl = NULL;
    struct err ce;

    if (rc < 0) {
        job_fail(j, rc, r, e, "sign"); /* the error names the URL */
        return;
    }
    if ((rc = mgmt_answer(url, r->status, r->status == 200 ? r->cert_pem : r->body,
                          r->status == 200 ? r->cert_len : r->body_len, r->retry_after, &ce)) < 0) {
        job_fail(j, rc, r, &ce, "sign");
        return;
    }
    if (j->t->csr && (rc = csr_leaf_check(j, r->cert_pem, r->cert_len, &ce)) < 0) {
        job_fail(j, rc, r, &ce, "sign");
        return;
    }
    if (!(curl = cert_url(j, r->cert_pem, r->cert_len, &ce))) {
        job_fail(j, ce.code ? ce.code : -ENOMEM, r, &ce, "sign");
        return;
    }
    log_info("%s: %s signed the CSR", j->t->file, url);
    tstate_set(&j->ts.order_url, curl);
    free(curl);
    j->chain = r->cert_pem;
    j->chain_len = r->cert_len;
    r->cert_pem = NULL;
    job_step_done(j);
}

/* The CSR as PEM and, with a key file, the Authentication header's value in auth (else "").
 * Returns 0 with *pem (caller frees), or negative with e. The key is zeroed once used. */
static int make_request(struct job *j, char **pem, char auth[MGMT_AUTH_MAX], struct err *e)
{
    const char **names = req_names(j);
    uint8_t *der = NULL, *key = NULL;
    size_t len = 0, klen = 0;
    int rc;

    *pem = NULL;
    auth[0] = '\0';
    if (!names)
        return err_set(e, -ENOMEM, "out of memory");
    /* A request.csr target posts its owner's CSR; others one for the job's key. */
    rc = j->t->csr ? 0
                   : csr_create(j->key, names, j->t->nreq_names, j->t->must_staple, &der, &len, e);
    free(names);
    if (rc < 0)
        return rc;
    *pem = j->t->csr ? pem_encode("CERTIFICATE REQUEST", j->t->csr->der, j->t->csr->der_len)
                     : pem_encode("CERTIFICATE REQUEST", der, len);
    free(der);
    if (!*pem)
        return err_set(e, -ENOMEM, "out of memory");
    if (j->t->mgmt_hmac_key_file) {
        if ((rc = mgmt_key_read(j->t->mgmt_hmac_key_file, &key, &klen, e)) < 0) {
            free(*pem);
            *pem = NULL;
            return rc;
        }
        mgmt_auth_value(key, klen, *pem, strlen(*pem), auth);
        buf_secret_free(key, klen);
    }
    return 0;
}

void step_mgmt(struct job *j)
{
    struct engine_csr_post req = {.key = j->t->csr ? NULL : j->key, .nnames = j->t->nreq_names};
    char auth[MGMT_AUTH_MAX], *pem = NULL, *anchors = NULL;
    const char **names = NULL;
    struct err e;
    int rc;

    if (!j->prov->eng) {
        /* No engine: the URL itself was refused (plain http elsewhere than on loopback...). */
        job_fail(j, j->prov->rc, NULL, &j->prov->err, "sign");
        return;
    }
    /* Read at each attempt, so that a file fixed after a failure counts on the next one. */
    if ((rc = anchors_of(j, &anchors, &req.trust_anchors_len, &e)) == 0 && !(names = req_names(j)))
        rc = err_set(&e, -ENOMEM, "out of memory");
    if (rc == 0 && (rc = make_request(j, &pem, auth, &e)) == 0) {
        req.url = mgmt_url_http(j->prov->url);
        req.body = pem;
        req.len = strlen(pem);
        req.auth = auth[0] ? auth : NULL;
        req.names = names;
        req.trust_anchors = anchors;
        rc = engine_csr_post(j->prov->eng, &req, on_posted, j, &e);
    }
    free(pem);
    free(anchors);
    free(names);
    explicit_bzero(auth, sizeof auth);
    if (rc < 0)
        job_fail(j, rc, NULL, &e, "sign");
}
