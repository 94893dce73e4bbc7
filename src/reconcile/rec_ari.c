/* rec_ari: renewal information (RFC 9773) for the certificates in use: fetched from the CA
 * that issued each one when the last answer's Retry-After (clamped to 1 min - 12 h) has
 * passed, and for every certificate just issued. One renewal time is drawn uniformly inside
 * the window and kept in the certificate's meta while it stays inside later windows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/mgmt_url.h"
#include "reconcile/plan.h"
#include "reconcile/policy.h"
#include "reconcile/rec_phases.h"
#include "util/clock.h"
#include "util/fsio.h"
#include "util/log.h"

#define ARI_MIN_RECHECK 60
#define ARI_MAX_RECHECK (12 * 3600)
#define ARI_DEFAULT_RECHECK (6 * 3600)

struct ari_work {
    struct rec *r;
    struct provider *p;
    struct store_cert *c;
    void (*next)(struct rec *r);
    unsigned *pending;
};

static void ari_work_end(struct ari_work *w)
{
    struct rec *r = w->r;
    void (*next)(struct rec *) = w->next;
    unsigned *pending = w->pending;
    struct err e;

    if (store_cert_save_meta(&r->st, w->c, &e) < 0)
        log_warn("certificate %s: %s", w->c->id, err_msg(&e));
    free(w);
    if (--*pending == 0)
        next(r);
}

static time_t clamp_recheck(time_t ra)
{
    if (ra < 0)
        return ARI_DEFAULT_RECHECK;
    if (ra < ARI_MIN_RECHECK)
        return ARI_MIN_RECHECK;
    return ra > ARI_MAX_RECHECK ? ARI_MAX_RECHECK : ra;
}

static void on_renewal_info(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct ari_work *w = arg;
    struct store_cert *c = w->c;
    time_t now = clock_now();

    c->ari_next_check = now + clamp_recheck(r->retry_after);
    if (rc < 0) {
        /* An invalid window is no answer (RFC 9773 §4.2): the engine fails the call. */
        log_warn("renewal information for %s: %s", c->id, err_msg(e));
    } else {
        const struct engine_renewal_info ri = *r->renewal_info;

        if (!(c->ari_chosen >= ri.start && c->ari_chosen < ri.end)) {
            uint64_t rnd = 0;
            char t0[32], t1[32], t2[32];

            fsio_random(&rnd, sizeof rnd);
            c->ari_chosen = policy_ari_pick(ri.start, ri.end, rnd);
            log_info("certificate %s: renewal window %s..%s, renewing at %s", c->id,
                     clock_rfc3339(ri.start, t0, sizeof t0), clock_rfc3339(ri.end, t1, sizeof t1),
                     clock_rfc3339(c->ari_chosen, t2, sizeof t2));
        }
        c->ari_start = ri.start;
        c->ari_end = ri.end;
    }
    ari_work_end(w);
}

static void on_ari_directory(void *arg, int rc, const struct err *e)
{
    struct ari_work *w = arg;
    struct err ae;

    if (rc == 0 && engine_directory(w->p->eng)->renewal_info && w->c->ari_cert_id) {
        if (engine_renewal_info_get(w->p->eng, w->c->ari_cert_id, on_renewal_info, w, &ae) == 0)
            return;
        log_warn("renewal information for %s: %s", w->c->id, err_msg(&ae));
    }
    /* No ARI at this CA (or no way to ask): look again later. */
    w->c->ari_next_check = clock_now() + ARI_DEFAULT_RECHECK;
    ari_work_end(w);
}

/* Asks the CA that issued c (its directory in meta; plan_cert_directory), never the target's
 * provider when that is another CA: renewal information about a certificate is only the
 * issuer's to give (RFC 9773 §4), and asking elsewhere tells a third party what we hold. */
static void ari_start(struct rec *r, const struct target *t, struct store_cert *c,
                      unsigned *pending, void (*next)(struct rec *))
{
    const char *url = plan_cert_directory(c, rec_provider_url(r, t));
    struct ari_work *w;
    struct err e;

    if (!url || mgmt_url_http(url)) {
        /* A central certificate server's (mgmt+https://...) has none to give either. */
        log_debug("certificate %s: the CA that issued it is not known; renewal information "
                  "is not asked for",
                  c->id);
        /* A check left due by an earlier version would wake the daemon for nothing, again
         * and again (rec_wake): there is nothing to check. */
        if (c->ari_next_check) {
            c->ari_next_check = 0;
            if (store_cert_save_meta(&r->st, c, &e) < 0)
                log_warn("certificate %s: %s", c->id, err_msg(&e));
        }
        return;
    }
    if (!(w = calloc(1, sizeof *w)))
        return;
    w->r = r;
    w->c = c;
    /* Marks the check as under way, so a certificate two targets share is asked once. */
    c->ari_next_check = clock_now() + ARI_MIN_RECHECK;
    w->next = next;
    w->pending = pending;
    w->p = provider_get(&r->provs, url);
    if (!w->p) {
        free(w);
        return;
    }
    (*pending)++;
    provider_need_directory(w->p, on_ari_directory, w);
}

/* Before planning: the certificates targets use whose renewal information is due. */
void rec_phase_ari(struct rec *r)
{
    time_t now = clock_now();

    r->ari_pending = 1; /* held until every check has started */
    for (size_t i = 0; i < r->ds.ntargets; i++) {
        const struct target *t = &r->ds.targets[i];
        struct plan p;

        plan_target_ix(t, r->certs, r->ncerts, &r->certix, NULL, now, false, &p);
        if (p.cur && p.cur->ari_next_check <= now && p.cur->not_after > now)
            ari_start(r, t, (struct store_cert *)p.cur, &r->ari_pending, r->phase_end);
    }
    if (--r->ari_pending == 0)
        r->phase_end(r);
}

/* After the jobs: the certificates just installed. */
void rec_phase_after_jobs(struct rec *r)
{
    r->ari_pending = 1;
    for (size_t i = 0; i < r->njobs; i++)
        if (r->jobs[i]->have_installed)
            ari_start(r, r->jobs[i]->t, &r->jobs[i]->installed, &r->ari_pending, r->phase_end);
    if (--r->ari_pending == 0)
        r->phase_end(r);
}
