/* step_install: the certificate goes into certs/<cert-id>/ (every file atomic, `cert` last),
 * then each hostname the target owns gets its live/ link swapped over (a new link renamed
 * over the old), so live/ never points at half a certificate. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reconcile/job.h"
#include "reconcile/provider.h"
#include "util/clock.h"
#include "util/failpoint.h"
#include "util/log.h"

void step_install(struct job *j)
{
    struct store_cert meta = {0};
    struct err e;

    /* Which CA issued it: its renewal information is asked there, whatever provider the
     * target names later. */
    meta.directory = j->prov->url;
    meta.replaces = j->ts.replaces;
    meta.replaces_dropped = j->ts.replaces_dropped;
    meta.replaces_dropped_why = j->ts.replaces_dropped_why;
    meta.csr = j->t->csr ? j->t->csr->sha256_hex : NULL;
    failpoint("before-install");
    if (store_cert_install(j->ctx->st, j->ts.order_url, j->chain, j->chain_len,
                           j->t->csr ? NULL : j->key_id,
                           j->prov->mgmt          ? NULL /* a central server: no account */
                           : j->prov->acct.dir_id ? j->prov->acct.dir_id
                                                  : j->prov->dir_id,
                           j->prov->acct.key_id, &meta, &j->installed, &e) < 0) {
        job_fail(j, e.code, NULL, &e, "install");
        return;
    }
    j->have_installed = true;
    failpoint("before-live");
    if (j->ctx->link(j->ctx->arg, j->t, j->installed.id, &e) < 0) {
        job_fail(j, e.code, NULL, &e, "install");
        return;
    }
    log_notice("%s: installed certificate %s for %s", j->t->file, j->installed.id,
               j->t->names[0].name);
    tstate_clear_order(&j->ts);
    tstate_set(&j->ts.replaces_dropped, NULL); /* the renewal is over */
    tstate_set(&j->ts.replaces_dropped_why, NULL);
    j->ts.failures = 0;
    tstate_set(&j->ts.last_error, NULL);
    tstate_set(&j->ts.last_problem, NULL);
    j->ts.next_attempt = 0;
    j->ts.retry_until = 0;
    j->ts.last_success = clock_now();
    job_checkpoint(j);
    job_step_done(j);
}
