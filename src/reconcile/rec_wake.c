/* rec_wake: when the daemon must run its next pass: from a pass's own snapshot at its end
 * (rec_wake_compute), or read from the state directory alone (reconcile_next_wake). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reconcile/plan.h"
#include "reconcile/rec_phases.h"
#include "reconcile/reconcile.h"
#include "store/desired.h"

struct wake {
    time_t *at;
    char *why;
    size_t why_len;
};

static void earliest(struct wake *w, time_t t, const char *file, const char *what)
{
    if (t > 0 && (*w->at == 0 || t < *w->at)) {
        *w->at = t;
        if (w->why)
            snprintf(w->why, w->why_len, "%s: %s", file, what);
    }
}

void rec_wake_compute(const struct store *st, const struct desired_set *ds,
                      const struct store_cert *certs, size_t ncerts, const struct plan_index *ix,
                      time_t now, time_t *wake, char *why, size_t why_len)
{
    struct wake w = {wake, why, why_len};

    *wake = 0;
    if (why && why_len)
        why[0] = '\0';
    for (size_t i = 0; i < ds->ntargets; i++) {
        const char *f = ds->targets[i].file;
        struct tstate ts;
        struct err e;
        struct plan p;

        /* A satisfied target's plan does not depend on its progress: only the others' saved
         * progress (their backoff) is read. */
        memset(&ts, 0, sizeof ts);
        plan_target_ix(&ds->targets[i], certs, ncerts, ix, NULL, now, false, &p);
        if (p.action != PLAN_SATISFIED) {
            if (tstate_load(st, f, &ts, &e) < 0)
                memset(&ts, 0, sizeof ts);
            plan_target_ix(&ds->targets[i], certs, ncerts, ix, &ts, now, false, &p);
        }
        switch (p.action) {
        case PLAN_SATISFIED:
            earliest(&w, p.due, f, "renewal due");
            /* Renewal information is asked for again when its Retry-After says. */
            if (p.cur->ari_next_check)
                earliest(&w, p.cur->ari_next_check, f, "renewal information check");
            break;
        case PLAN_BACKOFF:
            earliest(&w, p.next_attempt, f, "backoff ends");
            break;
        case PLAN_ISSUE:
            earliest(&w, now, f, "needs a certificate");
            break;
        case PLAN_RENEW:
            earliest(&w, now, f, "renewal due");
            break;
        }
        tstate_free(&ts);
    }
}

int reconcile_next_wake(const char *state_dir, time_t now, time_t *wake, char *why, size_t why_len,
                        struct err *e)
{
    struct store st = {.lock_fd = -1};
    struct desired_set ds = {0};
    struct store_cert *certs = NULL;
    struct plan_index ix = {0};
    size_t ncerts = 0;
    int rc;

    *wake = 0;
    if (why && why_len)
        why[0] = '\0';
    if ((rc = store_open(state_dir, &st, e)) < 0 || (rc = desired_load(st.root, &ds, e)) < 0 ||
        (rc = store_certs_load(&st, &certs, &ncerts, e)) < 0)
        goto out;
    if ((rc = plan_index_certs(&ix, certs, ncerts)) < 0) {
        err_set(e, rc, "out of memory");
        goto out;
    }
    rec_wake_compute(&st, &ds, certs, ncerts, &ix, now, wake, why, why_len);
out:
    plan_index_free(&ix);
    store_certs_free(certs, ncerts);
    desired_set_clear(&ds);
    store_close(&st);
    return rc < 0 ? rc : 0;
}
