/* plan: per-target decisions (DESIGN.md §4). */
#include "reconcile/plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool cert_has_name(const struct store_cert *c, const char *name)
{
    for (size_t i = 0; i < c->nnames; i++)
        if (!strcasecmp(c->names[i], name))
            return true;
    return false;
}

bool plan_covers(const struct target *t, const struct store_cert *c)
{
    if (c->revoked || c->revoke_asked)
        return false;
    if (t->csr) {
        /* The key is elsewhere: a certificate for this very CSR (a new CSR, with a new key
         * or other names, is a new certificate). */
        if (!c->csr || strcmp(c->csr, t->csr->sha256_hex))
            return false;
    } else if (!c->key_id[0] || c->key_is_rsa != (t->key.type == KEY_RSA)) {
        /* Without a usable key (missing, or not the leaf's) the certificate cannot be
         * served. */
        return false;
    }
    for (size_t i = 0; i < t->nnames; i++)
        if (!cert_has_name(c, t->names[i].name))
            return false;
    return true;
}

/* The decision once the best covering certificate (or none) is known. */
static void decide(const struct target *t, const struct store_cert *best, const struct tstate *ts,
                   time_t now, bool force, struct plan *out)
{
    time_t hold;

    memset(out, 0, sizeof *out);
    out->cur = best;
    out->resume = ts && ts->order_url;
    if (best) {
        struct policy_cert pc = {best->not_before, best->not_after, best->ari_chosen};

        out->due = policy_due(&pc, t->margin_days, &out->why);
        out->critical = policy_critical(&pc, t->critical_days, now);
        if (now < out->due && now < best->not_after) {
            out->action = PLAN_SATISFIED;
            return;
        }
        out->action = PLAN_RENEW;
    } else {
        out->action = PLAN_ISSUE;
    }
    if (!ts)
        return;
    hold = force ? ts->retry_until
                 : (ts->next_attempt > ts->retry_until ? ts->next_attempt : ts->retry_until);
    if (hold > now) {
        out->action = PLAN_BACKOFF;
        out->next_attempt = hold;
    }
}

/* The covering certificate that lasts longest; the first in array order among equals. */
static const struct store_cert *better(const struct target *t, const struct store_cert *best,
                                       const struct store_cert *c)
{
    if (plan_covers(t, c) && (!best || c->not_after > best->not_after))
        return c;
    return best;
}

void plan_target(const struct target *t, const struct store_cert *certs, size_t ncerts,
                 const struct tstate *ts, time_t now, bool force, struct plan *out)
{
    const struct store_cert *best = NULL;

    for (size_t i = 0; i < ncerts; i++)
        best = better(t, best, &certs[i]);
    decide(t, best, ts, now, force, out);
}

/* ---- indexes ---- */

/* Entries sort by name without case, then by the address of what they index: for
 * certificates that is their order in the array, which plan_target's tie-break follows. */
static int cmp_cert_entry(const void *a, const void *b)
{
    const struct plan_ix_entry *x = a, *y = b;
    int c = strcasecmp(x->name, y->name);

    if (c)
        return c;
    return (x->obj > y->obj) - (x->obj < y->obj);
}

/* The first entry named `name` (compared without case when nocase), or n. */
static size_t lower_bound(const struct plan_index *ix, const char *name, bool nocase)
{
    size_t lo = 0, hi = ix->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = nocase ? strcasecmp(ix->v[mid].name, name) : strcmp(ix->v[mid].name, name);

        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int plan_index_certs(struct plan_index *ix, const struct store_cert *certs, size_t n)
{
    size_t total = 0;

    ix->v = NULL;
    ix->n = 0;
    for (size_t i = 0; i < n; i++)
        total += certs[i].nnames;
    if (total && !(ix->v = calloc(total, sizeof *ix->v)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < certs[i].nnames; k++)
            ix->v[ix->n++] = (struct plan_ix_entry){certs[i].names[k], &certs[i]};
    if (ix->n)
        qsort(ix->v, ix->n, sizeof *ix->v, cmp_cert_entry);
    return 0;
}

void plan_target_ix(const struct target *t, const struct store_cert *certs, size_t ncerts,
                    const struct plan_index *ix, const struct tstate *ts, time_t now, bool force,
                    struct plan *out)
{
    const struct store_cert *best = NULL;

    /* A target without names would be covered by any certificate: no index helps. */
    if (t->nnames == 0) {
        plan_target(t, certs, ncerts, ts, now, force, out);
        return;
    }
    for (size_t i = lower_bound(ix, t->names[0].name, true);
         i < ix->n && !strcasecmp(ix->v[i].name, t->names[0].name); i++)
        best = better(t, best, ix->v[i].obj);
    decide(t, best, ts, now, force, out);
}

/* Owners sort by name exactly (target_owner compares names exactly), then with the owner
 * of each name first. */
static int cmp_owner_entry(const void *a, const void *b)
{
    const struct plan_ix_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c)
        return c;
    if (x->obj == y->obj)
        return 0;
    return target_precedes(x->obj, y->obj) ? -1 : 1;
}

int plan_index_owners(struct plan_index *ix, const struct target *ts, size_t n)
{
    size_t total = 0;

    ix->v = NULL;
    ix->n = 0;
    for (size_t i = 0; i < n; i++)
        total += ts[i].nnames;
    if (total && !(ix->v = calloc(total, sizeof *ix->v)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ts[i].nnames; k++)
            ix->v[ix->n++] = (struct plan_ix_entry){ts[i].names[k].name, &ts[i]};
    if (ix->n)
        qsort(ix->v, ix->n, sizeof *ix->v, cmp_owner_entry);
    return 0;
}

const struct target *plan_owner(const struct plan_index *ix, const char *name)
{
    size_t i;

    if (!name)
        return NULL;
    i = lower_bound(ix, name, false);
    return i < ix->n && !strcmp(ix->v[i].name, name) ? ix->v[i].obj : NULL;
}

void plan_index_free(struct plan_index *ix)
{
    if (!ix)
        return;
    free(ix->v);
    ix->v = NULL;
    ix->n = 0;
}

const char *plan_action_str(enum plan_action a)
{
    switch (a) {
    case PLAN_SATISFIED:
        return "satisfied";
    case PLAN_ISSUE:
        return "needs a certificate";
    case PLAN_RENEW:
        return "due for renewal";
    case PLAN_BACKOFF:
        return "backing off";
    }
    return "unknown";
}

bool plan_same_directory(const char *a, const char *b)
{
    char *da, *db;
    struct err e;
    bool same;

    if (!a || !b)
        return false;
    if (!strcmp(a, b))
        return true;
    da = store_dir_id(a, &e);
    db = store_dir_id(b, &e);
    same = da && db && !strcmp(da, db);
    free(da);
    free(db);
    return same;
}

bool plan_issued_by(const struct store_cert *c, const char *url)
{
    char *id;
    struct err e;
    bool same;

    if (!c || !url)
        return false;
    if (c->directory)
        return plan_same_directory(c->directory, url);
    if (!c->account_dir_id || !(id = store_dir_id(url, &e)))
        return false;
    same = !strcmp(id, c->account_dir_id);
    free(id);
    return same;
}

const char *plan_cert_directory(const struct store_cert *c, const char *provider_url)
{
    if (!c)
        return NULL;
    if (c->directory)
        return c->directory;
    return plan_issued_by(c, provider_url) ? provider_url : NULL;
}
