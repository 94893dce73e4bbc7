/* rec_wake: when the daemon must run its next pass, read from the state directory alone. */
#include <errno.h>
#include <string.h>

#include "reconcile/plan.h"
#include "reconcile/reconcile.h"
#include "store/desired.h"

static void earliest(time_t *wake, time_t t)
{
    if (t > 0 && (*wake == 0 || t < *wake))
        *wake = t;
}

int reconcile_next_wake(const char *state_dir, time_t now, time_t *wake, struct err *e)
{
    struct store st = {.lock_fd = -1};
    struct desired_set ds = {0};
    struct store_cert *certs = NULL;
    size_t ncerts = 0;
    int rc;

    *wake = 0;
    if ((rc = store_open(state_dir, &st, e)) < 0 || (rc = desired_load(st.root, &ds, e)) < 0 ||
        (rc = store_certs_load(&st, &certs, &ncerts, e)) < 0)
        goto out;
    for (size_t i = 0; i < ds.ntargets; i++) {
        struct tstate ts;
        struct plan p;

        if (tstate_load(&st, ds.targets[i].file, &ts, e) < 0)
            memset(&ts, 0, sizeof ts);
        plan_target(&ds.targets[i], certs, ncerts, &ts, now, false, &p);
        switch (p.action) {
        case PLAN_SATISFIED:
            earliest(wake, p.due);
            /* Renewal information is asked for again when its Retry-After says. */
            if (p.cur->ari_next_check)
                earliest(wake, p.cur->ari_next_check);
            break;
        case PLAN_BACKOFF:
            earliest(wake, p.next_attempt);
            break;
        case PLAN_ISSUE:
        case PLAN_RENEW:
            earliest(wake, now);
            break;
        }
        tstate_free(&ts);
    }
out:
    store_certs_free(certs, ncerts);
    desired_set_free(&ds);
    store_close(&st);
    return rc < 0 ? rc : 0;
}
