/* step_download: the chain, leaf first, checked against our key and the order's names, link by
 * link and against the target's trust anchors (acme_cert_download), with the target's preferred
 * chain when the CA offers alternates. A chain that fails is never installed: the job fails
 * with "chain does not verify: <why>", the old certificate stays live and no hook runs for it. */
#include <errno.h>
#include <stdlib.h>

#include "crypto/csr_read.h"
#include "crypto/pem.h"
#include "reconcile/job.h"
#include "reconcile/provider.h"

/* A CSR target's leaf must carry the CSR's key (ours are checked by the download). */
static int check_csr_leaf(struct job *j, struct err *e)
{
    struct pem_chain ch = {0};
    int rc = pem_split_chain(j->chain, j->chain_len, &ch, e);

    if (rc == 0 && (rc = csr_matches_cert(j->t->csr, ch.certs[0].der, ch.certs[0].len, e)) == 0)
        rc = err_set(e, -EBADMSG,
                     "chain does not verify: the certificate is not for the key of "
                     "the CSR %s",
                     j->t->csr_path ? j->t->csr_path : j->t->csr->sha256_hex);
    pem_chain_clear(&ch);
    return rc < 0 ? rc : 0;
}

static void on_downloaded(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct job *j = arg;
    struct err ce;

    if (rc < 0) {
        job_fail(j, rc, r, e, "download");
        return;
    }
    j->chain = r->cert_pem;
    j->chain_len = r->cert_len;
    r->cert_pem = NULL;
    if (j->t->csr && check_csr_leaf(j, &ce) < 0) {
        job_fail(j, ce.code, NULL, &ce, "download");
        return;
    }
    job_step_done(j);
}

void step_download(struct job *j)
{
    const char **names = calloc(j->t->nreq_names, sizeof *names);
    struct engine_download d = {.url = j->order->certificate,
                                .preferred_chain = j->t->preferred_chain,
                                .key = j->t->csr ? NULL : j->key,
                                .names = names,
                                .nnames = j->t->nreq_names};
    char *anchors = NULL;
    struct err e;
    int rc;

    if (!names) {
        job_fail(j, -ENOMEM, NULL, (err_set(&e, -ENOMEM, "out of memory"), &e), "download");
        return;
    }
    for (size_t i = 0; i < j->t->nreq_names; i++)
        names[i] = j->t->req_names[i].name;
    /* Read at each download, so that a file fixed after a failure counts on the next try. */
    rc = job_read_trust_anchors(j, &anchors, &d.trust_anchors_len, &e);
    d.trust_anchors = anchors;
    if (rc == 0)
        rc = engine_cert_download(j->prov->eng, &d, on_downloaded, j, &e);
    if (rc < 0)
        job_fail(j, e.code, NULL, &e, "download");
    free(anchors);
    free(names);
}
