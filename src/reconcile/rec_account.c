/* rec_account: the first phase of a pass, the accounts' contact. conf/target's
 * request.account.contact is the contact of every account acmed uses (DESIGN.md §3), so
 *  - an account whose meta records another contact is asked for from its provider, which
 *    tells the CA before using it (provider.c): a changed conf/target takes effect on the next
 *    pass even when nothing is due for renewal;
 *  - a desired file naming another contact is warned about with its file and line, and
 *    changes nothing: several files sharing an account must not flip it back and forth.
 *    Without a contact in conf/target the account keeps the one it was registered with.
 * Only accounts/ is read unless an update is due: a pass with nothing to do sends nothing. An
 * account whose URL is not known yet (acmetool's, without meta) is looked up when it is next
 * used, and its contact compared with the CA's answer then. */
#include <stdlib.h>
#include <string.h>

#include "net/mgmt_url.h"
#include "reconcile/rec_phases.h"
#include "util/log.h"

/* One (provider, EAB kid) whose account was looked up in accounts/. */
struct seen {
    const char *url, *kid; /* borrowed from the targets */
    bool found;
    struct store_account a;
};

struct seen_list {
    struct seen *v;
    size_t n;
};

static bool same_kid(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool url_seen(const struct seen_list *l, const char *url)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].url, url))
            return true;
    return false;
}

/* The account for (url, kid), read once. NULL when memory runs out; an account that cannot
 * be read counts as none (the provider reports it when a job needs it). */
static const struct seen *lookup(struct rec *r, struct seen_list *l, const char *url,
                                 const char *kid)
{
    struct seen *g, *s;
    struct err e;

    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].url, url) && same_kid(l->v[i].kid, kid))
            return &l->v[i];
    if (!(g = realloc(l->v, (l->n + 1) * sizeof *g)))
        return NULL;
    l->v = g;
    s = &g[l->n++];
    memset(s, 0, sizeof *s);
    s->url = url;
    s->kid = kid;
    if (store_account_find(&r->st, url, kid, &s->a, &s->found, &e) < 0) {
        log_warn("%s", err_msg(&e));
        s->found = false;
    }
    return s;
}

static void on_account_ready(void *arg, int rc, const struct err *e)
{
    struct rec *r = arg;

    if (rc < 0)
        log_err("the account's contact could not be updated: %s", err_msg(e));
    if (--r->accounts_pending == 0)
        r->phase_end(r);
}

/* Asks the provider for the account when its meta's contact is not conf/target's. */
static void update_if_needed(struct rec *r, const struct target *t, const struct seen *s)
{
    const struct desired_set *ds = &r->ds;
    struct provider *p;

    if (!s || !s->found || !s->a.url ||
        target_contacts_equal(ds->contact, ds->ncontact, s->a.contact, s->a.ncontact))
        return;
    if (!(p = provider_get(&r->provs, s->url))) {
        log_err("account %s: out of memory", s->a.url);
        return;
    }
    r->accounts_pending++;
    provider_need_account(p, t, on_account_ready, r);
}

/* The desired file's contact is not the account's: said once a pass, with file and line. */
static void warn_other(const struct target *t, char *const *acct, size_t nacct,
                       const char *acct_url)
{
    char *mine = target_contacts_text(t->contact, t->ncontact);
    char *theirs = target_contacts_text(acct, nacct);

    if (acct_url)
        log_warn("desired/%s:%u: request.account.contact (%s) is not the contact of account %s "
                 "(%s): ignored; an account's contact is set in conf/target",
                 t->file, t->contact_line, mine ? mine : "?", acct_url, theirs ? theirs : "?");
    else
        log_warn("desired/%s:%u: request.account.contact (%s) is not conf/target's (%s), which "
                 "every account has: ignored",
                 t->file, t->contact_line, mine ? mine : "?", theirs ? theirs : "?");
    free(mine);
    free(theirs);
}

void rec_phase_accounts(struct rec *r)
{
    const struct desired_set *ds = &r->ds;
    struct seen_list l = {0};
    const struct seen *s;

    r->accounts_pending = 1;
    for (size_t i = 0; i < ds->ntargets && !r->stopping; i++) {
        const struct target *t = &ds->targets[i];
        const char *url = rec_provider_url(r, t);

        if (mgmt_url_http(url))
            continue; /* a central certificate server: no account of ours there */
        if (ds->contact) {
            /* The first target of a provider is the one it would find the account for. */
            if (!url_seen(&l, url))
                update_if_needed(r, t, lookup(r, &l, url, t->eab_kid));
            if (t->contact_line &&
                !target_contacts_equal(t->contact, t->ncontact, ds->contact, ds->ncontact))
                warn_other(t, ds->contact, ds->ncontact, NULL);
        } else if (t->contact_line && (s = lookup(r, &l, url, t->eab_kid)) && s->found &&
                   s->a.url &&
                   !target_contacts_equal(t->contact, t->ncontact, s->a.contact, s->a.ncontact)) {
            warn_other(t, s->a.contact, s->a.ncontact, s->a.url);
        }
    }
    for (size_t i = 0; i < l.n; i++)
        store_account_clear(&l.v[i].a);
    free(l.v);
    if (--r->accounts_pending == 0)
        r->phase_end(r);
}
