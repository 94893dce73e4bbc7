/* step_account: the job waits until its provider has a usable account. */
#include <string.h>

#include "reconcile/job.h"
#include "reconcile/provider.h"

static void on_account_ready(void *arg, int rc, const struct err *e)
{
    struct job *j = arg;

    if (rc < 0) {
        job_fail(j, rc, NULL, e, "account");
        return;
    }
    /* An order begun under another account cannot be continued under this one. */
    if (j->ts.account_url && (!engine_account_url(j->prov->eng) ||
                              strcmp(j->ts.account_url, engine_account_url(j->prov->eng))))
        tstate_clear_order(&j->ts);
    job_step_done(j);
}

void step_account(struct job *j)
{
    provider_need_account(j->prov, j->t, on_account_ready, j);
}
