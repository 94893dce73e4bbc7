/* step_order: the order. A checkpointed order is fetched and continued while the CA still
 * considers it alive; otherwise a new one is created (with `replaces` naming the certificate
 * it succeeds when the CA offers renewal information). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile/job.h"
#include "util/log.h"

static void on_new_order(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct job *j = arg;
    struct err se;

    if (rc == 0 && !r->location)
        rc = err_set(&se, -EPROTO, "newOrder answered without a Location"), e = &se;
    if (rc < 0) {
        job_fail(j, rc, r, e, "new order");
        return;
    }
    j->order = r->order;
    r->order = NULL;
    tstate_set(&j->ts.order_url, r->location);
    tstate_set(&j->ts.account_url, acme_client_account_url(j->prov->acme));
    log_info("%s: order %s", j->t->file, r->location);
    job_step_done(j);
}

static void new_order(struct job *j)
{
    struct acme_identifier *ids = calloc(j->t->nreq_names, sizeof *ids);
    struct acme_new_order o = {.ids = ids, .nids = j->t->nreq_names, .profile = j->t->profile};
    char *anchors = NULL;
    size_t alen;
    struct err e;
    int rc;

    if (!ids) {
        job_fail(j, -ENOMEM, NULL, (err_set(&e, -ENOMEM, "out of memory"), &e), "new order");
        return;
    }
    /* A chain is checked against the trust anchors only once it is issued: an unreadable file
     * is better found before the CA issues a certificate that could not be installed. */
    rc = job_read_trust_anchors(j, &anchors, &alen, &e);
    free(anchors);
    if (rc < 0) {
        free(ids);
        job_fail(j, rc, NULL, &e, "new order");
        return;
    }
    job_identifiers(j, ids);
    tstate_clear_order(&j->ts);
    tstate_set(&j->ts.key_id, j->key_id);
    if (j->cur && j->cur->ari_cert_id && acme_client_directory(j->prov->acme)->renewal_info) {
        o.replaces = j->cur->ari_cert_id;
        tstate_set(&j->ts.replaces, o.replaces);
    }
    rc = acme_order_new(j->prov->acme, &o, on_new_order, j, &e);
    free(ids);
    if (rc < 0)
        job_fail(j, rc, NULL, &e, "new order");
}

static void on_old_order(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct job *j = arg;

    if (rc == 0 && r->order->status != ORDER_INVALID) {
        log_info("%s: resuming order %s (%s)", j->t->file, j->ts.order_url,
                 acme_order_status_str(r->order->status));
        j->order = r->order;
        r->order = NULL;
        job_step_done(j);
        return;
    }
    log_info("%s: order %s cannot be resumed (%s): a new one", j->t->file, j->ts.order_url,
             rc < 0 ? err_msg(e) : "invalid");
    new_order(j);
}

void step_order(struct job *j)
{
    struct err e;

    if (j->ts.order_url && acme_order_get(j->prov->acme, j->ts.order_url, on_old_order, j,
                                          &e) == 0)
        return;
    new_order(j);
}
