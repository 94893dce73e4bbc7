/* plan: per-target decisions (DESIGN.md §4). */
#include "reconcile/plan.h"

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
    /* Without a usable key (missing, or not the leaf's) the certificate cannot be served. */
    if (c->revoked || c->revoke_asked || !c->key_id[0])
        return false;
    if (c->key_is_rsa != (t->key.type == KEY_RSA))
        return false;
    for (size_t i = 0; i < t->nnames; i++)
        if (!cert_has_name(c, t->names[i].name))
            return false;
    return true;
}

void plan_target(const struct target *t, const struct store_cert *certs, size_t ncerts,
                 const struct tstate *ts, time_t now, bool force, struct plan *out)
{
    const struct store_cert *best = NULL;
    time_t hold;

    memset(out, 0, sizeof *out);
    /* The covering certificate that lasts longest. */
    for (size_t i = 0; i < ncerts; i++)
        if (plan_covers(t, &certs[i]) && (!best || certs[i].not_after > best->not_after))
            best = &certs[i];
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
    hold = force ? ts->retry_until : (ts->next_attempt > ts->retry_until ? ts->next_attempt
                                                                          : ts->retry_until);
    if (hold > now) {
        out->action = PLAN_BACKOFF;
        out->next_attempt = hold;
    }
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
