/* step_order: the order. A checkpointed order is fetched and continued while the CA still
 * considers it alive; otherwise a new one is created (with `replaces` naming the certificate
 * it succeeds when the CA offers renewal information and issued that certificate).
 *
 * `replaces` must never wedge a renewal: when the CA refuses a newOrder that carries it
 * (alreadyReplaced after a half-finished renewal, unauthorized for a certificate another
 * account issued, malformed from a CA that does not know the field; policy_drop_replaces),
 * the order is made again at once without it, once. The tstate checkpoint remembers the
 * drop before the second newOrder goes out, so neither a crash nor a later attempt of the
 * same renewal sends it again; installing a certificate ends the renewal and forgets it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile/job.h"
#include "reconcile/provider.h"
#include "reconcile/plan.h"
#include "reconcile/policy.h"
#include "util/failpoint.h"
#include "util/log.h"

static void new_order(struct job *j);

/* The certID the new order names in `replaces`, or NULL: only when the CA offers renewal
 * information (RFC 9773 §5), the certificate being replaced is known to come from this same
 * CA (a CA knows only its own), and the field was not dropped for this renewal. */
static const char *replaces_for(struct job *j)
{
    const struct store_cert *c = j->cur;

    if (!c || !c->ari_cert_id || !engine_directory(j->prov->eng)->renewal_info)
        return NULL;
    if (j->replaces_dropped ||
        (j->ts.replaces_dropped && !strcmp(j->ts.replaces_dropped, c->ari_cert_id)))
        return NULL;
    if (!plan_issued_by(c, j->prov->url)) {
        log_debug("%s: certificate %s was not issued by %s (or its issuer is unknown): no "
                  "replaces",
                  j->t->file, c->id, j->prov->url);
        return NULL;
    }
    return c->ari_cert_id;
}

/* The CA refused the newOrder naming ts.replaces: records the drop (log, checkpoint) and
 * orders again without it. */
static void drop_replaces(struct job *j, int rc, struct engine_result *r, const struct err *e)
{
    char *why = r->problem && r->problem->text ? strdup(r->problem->text) : NULL;
    char plain[64];

    if (!why)
        snprintf(plain, sizeof plain, "HTTP %ld without a problem document", r->status);
    log_warn("%s: the CA refused the order replacing %s: %s; ordering again without replaces",
             j->t->file, j->ts.replaces, why ? why : plain);
    j->replaces_dropped = true;
    tstate_set(&j->ts.replaces_dropped, j->ts.replaces);
    tstate_set_text(&j->ts.replaces_dropped_why, why ? why : plain);
    tstate_set(&j->ts.replaces, NULL);
    free(why);
    /* Before the second newOrder: a crash from here on orders without replaces. */
    job_checkpoint(j);
    failpoint("replaces-dropped");
    if (*j->ctx->stopping) {
        job_fail(j, rc, r, e, "new order");
        return;
    }
    new_order(j);
}

static void on_new_order(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct job *j = arg;
    struct err se;

    if (rc == 0 && (!r->order || !r->order->url))
        rc = err_set(&se, -EPROTO, "newOrder answered without a Location"), e = &se;
    if (rc < 0 && j->replaces_sent && !j->replaces_dropped &&
        policy_drop_replaces(r->status, r->problem ? r->problem->type : NULL)) {
        drop_replaces(j, rc, r, e);
        return;
    }
    if (rc < 0) {
        job_fail(j, rc, r, e, "new order");
        return;
    }
    j->order = r->order;
    r->order = NULL;
    tstate_set(&j->ts.order_url, j->order->url);
    tstate_set(&j->ts.account_url, engine_account_url(j->prov->eng));
    log_info("%s: order %s%s", j->t->file, j->order->url,
             j->ts.replaces_dropped ? " (without replaces)" : "");
    job_step_done(j);
}

static void new_order(struct job *j)
{
    struct engine_identifier *ids = calloc(j->t->nreq_names, sizeof *ids);
    struct engine_new_order o = {.ids = ids, .nids = j->t->nreq_names, .profile = j->t->profile};
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
    tstate_set(&j->ts.key_id, j->key_id[0] ? j->key_id : NULL); /* none for a CSR */
    /* A drop recorded for another certificate belongs to a renewal that is over. */
    if (j->ts.replaces_dropped &&
        (!j->cur || !j->cur->ari_cert_id || strcmp(j->ts.replaces_dropped, j->cur->ari_cert_id))) {
        tstate_set(&j->ts.replaces_dropped, NULL);
        tstate_set(&j->ts.replaces_dropped_why, NULL);
    }
    o.replaces = replaces_for(j);
    j->replaces_sent = o.replaces != NULL;
    tstate_set(&j->ts.replaces, o.replaces);
    rc = engine_order_new(j->prov->eng, &o, on_new_order, j, &e);
    free(ids);
    if (rc < 0)
        job_fail(j, rc, NULL, &e, "new order");
}

static void on_old_order(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct job *j = arg;

    if (rc == 0 && r->order->status != EORDER_INVALID) {
        log_info("%s: resuming order %s (%s)", j->t->file, j->ts.order_url,
                 engine_order_status_str(r->order->status));
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

    if (j->ts.order_url &&
        engine_order_get(j->prov->eng, j->ts.order_url, on_old_order, j, &e) == 0)
        return;
    new_order(j);
}
