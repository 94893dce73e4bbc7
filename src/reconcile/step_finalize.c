/* step_finalize: the CSR goes to the CA once the order is ready, and the order is polled
 * until the certificate is issued. A resumed order that is already processing or valid only
 * needs the polling (or nothing). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/csr.h"
#include "reconcile/job.h"
#include "reconcile/provider.h"
#include "util/clock.h"

#define ORDER_DEADLINE_MS (120 * 1000)

static void on_order_done(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct job *j = arg;
    struct err pe;

    if (rc == 0 && r->order->status != EORDER_VALID) {
        char *text =
            r->order->error ? (r->order->error->text ? strdup(r->order->error->text) : NULL) : NULL;

        rc = err_set(&pe, -EPROTO, "order is %s%s%s", engine_order_status_str(r->order->status),
                     text ? ": " : "", text ? text : "");
        free(text);
        e = &pe;
    }
    if (r->order) {
        engine_order_free(j->order);
        j->order = r->order;
        r->order = NULL;
    }
    if (rc < 0) {
        job_fail(j, rc, r, e, "finalize");
        return;
    }
    job_step_done(j);
}

static void poll_order(struct job *j, bool until_ready, engine_cb cb)
{
    struct err e;

    if (engine_order_poll(j->prov->eng, j->ts.order_url, until_ready,
                          clock_mono_ms() + ORDER_DEADLINE_MS, cb, j, &e) < 0)
        job_fail(j, e.code, NULL, &e, "order");
}

static void on_finalized(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct job *j = arg;

    if (rc == 0 && r->order->status == EORDER_PROCESSING) {
        engine_order_free(j->order);
        j->order = r->order;
        r->order = NULL;
        poll_order(j, false, on_order_done);
        return;
    }
    on_order_done(j, rc, r, e);
}

static void finalize(struct job *j)
{
    const char **names = calloc(j->t->nreq_names, sizeof *names);
    uint8_t *csr = NULL;
    size_t len = 0;
    struct err e;
    int rc = -ENOMEM;

    if (j->t->csr) {
        /* Someone else's CSR, exactly as its owner signed it. */
        rc = engine_order_finalize(j->prov->eng, j->order->finalize, j->t->csr->der,
                                   j->t->csr->der_len, on_finalized, j, &e);
        goto out;
    }
    if (!names) {
        err_set(&e, rc, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < j->t->nreq_names; i++)
        names[i] = j->t->req_names[i].name;
    rc = csr_create(j->key, names, j->t->nreq_names, j->t->must_staple, &csr, &len, &e);
    if (rc == 0)
        rc = engine_order_finalize(j->prov->eng, j->order->finalize, csr, len, on_finalized, j, &e);
out:
    free(names);
    free(csr);
    if (rc < 0)
        job_fail(j, rc, NULL, &e, "finalize");
}

static void on_ready(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct job *j = arg;

    if (rc == 0) {
        engine_order_free(j->order);
        j->order = r->order;
        r->order = NULL;
        if (j->order->status == EORDER_READY) {
            finalize(j);
            return;
        }
        on_order_done(j, 0, r, NULL);
        return;
    }
    job_fail(j, rc, r, e, "order");
}

void step_finalize(struct job *j)
{
    switch (j->order->status) {
    case EORDER_READY:
        finalize(j);
        break;
    case EORDER_PENDING:
        /* Authorizations are valid but the order has not caught up yet. */
        poll_order(j, true, on_ready);
        break;
    case EORDER_PROCESSING:
        poll_order(j, false, on_order_done);
        break;
    case EORDER_VALID:
        job_step_done(j);
        break;
    case EORDER_INVALID: {
        struct err e;

        err_set(&e, -EPROTO, "the order became invalid");
        job_fail(j, -EPROTO, NULL, &e, "finalize");
    } break;
    }
}
