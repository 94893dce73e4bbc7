/* provider: an ACME server as one pass uses it: its directory and the account acmed has
 * there, shared by every job for that server. The account is found in accounts/ or, when
 * none exists, registered once (with the terms of service agreed as DESIGN.md §7 says).
 * Its contact is conf/target's request.account.contact: registered with it, and told to the
 * CA (RFC 8555 §7.3.2) before the account is used when its meta records another. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"
#include "crypto/jws.h"
#include "net/mgmt_url.h"
#include "net/url_policy.h"
#include "reconcile/acct_signer.h"
#include "reconcile/provider.h"
#include "store/desired.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fsio.h"
#include "util/log.h"

/* The provider for url and the account signer named `signer` (NULL: a key file), taking
 * over `signer`. */
static struct provider *provider_find(struct providers *r, const char *url, char *signer)
{
    struct provider *p = NULL, **grown;
    struct err e;

    for (size_t i = 0; i < r->n; i++) {
        const char *s = r->v[i]->signer_name;

        if (!strcmp(r->v[i]->url, url) && (s && signer ? !strcmp(s, signer) : s == signer)) {
            free(signer);
            return r->v[i];
        }
    }
    grown = realloc(r->v, (r->n + 1) * sizeof *grown);
    if (!grown)
        goto fail;
    r->v = grown;
    if (!(p = calloc(1, sizeof *p)) || !(p->url = strdup(url)))
        goto fail;
    p->signer_name = signer;
    signer = NULL;
    p->set = r;
    if ((p->mgmt = mgmt_url_http(url) != NULL)) {
        /* A central certificate server: its one operation is csr_post (step_mgmt.c). As an
         * ACME provider (renewal information, revocation, an account) it fails every waiter;
         * without an engine, the error is why there is none. */
        if (mgmt_url_check(url, r->allow_insecure_http, &e) == 0 &&
            (r->new_engine ? r->new_engine(r->new_engine_arg, url, &p->eng, &e)
                           : engine_mgmt_new(r->http, url, &p->eng, &e)) == 0)
            err_set(&e, -ENOTSUP, "%s is a central certificate server, not an ACME CA", url);
        p->state = PROV_FAILED;
        p->rc = e.code;
        p->err = e;
    } else if (!(p->dir_id = store_dir_id(url, &e)) ||
               url_policy_check_provider(url, r->allow_insecure_http, &e) < 0 ||
               (r->new_engine
                    ? r->new_engine(r->new_engine_arg, url, &p->eng, &e)
                    : engine_acme_new(r->loop, r->http, url, r->max_requests, &p->eng, &e)) < 0) {
        /* Not a usable URL: the provider fails every waiter with this error. */
        p->state = PROV_FAILED;
        p->rc = e.code;
        p->err = e;
    }
    r->v[r->n++] = p;
    return p;
fail:
    if (p)
        free(p->url);
    free(p);
    free(signer);
    return NULL;
}

void providers_free(struct providers *set)
{
    for (size_t i = 0; i < set->n; i++)
        provider_free(set->v[i]);
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

struct provider *provider_get(struct providers *r, const char *url)
{
    return provider_find(r, url, NULL);
}

struct provider *provider_for_target(struct providers *r, const char *url, const struct target *t)
{
    char *signer = NULL;

    if (target_has_signer(t) && !(signer = target_signer_name(t)))
        return NULL;
    return provider_find(r, url, signer);
}

void provider_free(struct provider *p)
{
    if (!p)
        return;
    engine_free(p->eng);
    signer_client_close(p->sc);
    free(p->signer_name);
    if (p->have_acct)
        store_account_clear(&p->acct);
    free(p->dir_waiters);
    free(p->acct_waiters);
    free(p->dir_id);
    free(p->url);
    free(p);
}

/* Calls and forgets the waiters of a list. */
static void notify(struct provider_waiter **list, size_t *n, int rc, const struct err *e)
{
    struct provider_waiter *w = *list;
    size_t cnt = *n;

    *list = NULL;
    *n = 0;
    for (size_t i = 0; i < cnt; i++)
        w[i].cb(w[i].arg, rc, e);
    free(w);
}

static void provider_start(struct provider *p);
static void find_account(struct provider *p);
static void on_gated(void *arg, int rc, const struct err *e);

static void provider_failed(struct provider *p, int rc, const struct err *e)
{
    /* The engine's worker died mid-way (privilege separation): what it was doing is begun
     * again on the next one, a few times, before the CA's targets are given up for this run. */
    if (rc == ENGINE_ELOST && p->lost < PROVIDER_LOST_MAX &&
        !(p->set->stopping && *p->set->stopping) &&
        (p->state == PROV_STARTING || p->state == PROV_ACCOUNT)) {
        p->lost++;
        log_warn("%s: %s: once more", p->url, err_msg(e));
        if (p->state == PROV_STARTING) {
            p->state = PROV_IDLE;
            provider_start(p);
        } else {
            p->state = PROV_DIRECTORY;
            find_account(p);
        }
        return;
    }
    p->state = PROV_FAILED;
    p->rc = rc;
    p->err = *e;
    notify(&p->dir_waiters, &p->ndir_waiters, rc, e);
    notify(&p->acct_waiters, &p->nacct_waiters, rc, e);
}

static void provider_ready(struct provider *p)
{
    p->state = PROV_READY;
    notify(&p->acct_waiters, &p->nacct_waiters, 0, NULL);
}

static int add_waiter(struct provider_waiter **list, size_t *n, provider_cb cb, void *arg)
{
    struct provider_waiter *g = realloc(*list, (*n + 1) * sizeof *g);

    if (!g)
        return -ENOMEM;
    g[*n].cb = cb;
    g[*n].arg = arg;
    *list = g;
    (*n)++;
    return 0;
}

static void on_directory(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct provider *p = arg;

    if (rc < 0) {
        provider_failed(p, rc, e);
        return;
    }
    p->state = PROV_DIRECTORY;
    notify(&p->dir_waiters, &p->ndir_waiters, 0, NULL);
    /* A directory waiter may have asked for the account meanwhile (and got it). */
    if (p->want_account && p->state == PROV_DIRECTORY)
        find_account(p);
}

static void provider_start(struct provider *p)
{
    struct err e;

    if (p->state != PROV_IDLE)
        return;
    p->state = PROV_STARTING;
    if (engine_start(p->eng, on_directory, p, &e) < 0)
        provider_failed(p, e.code, &e);
}

/* A waiter added to a provider already settled is answered at once (from the caller's own
 * stack: the steps tolerate that, since they only ever continue from it). */
void provider_need_directory(struct provider *p, provider_cb cb, void *arg)
{
    struct err e;

    if (p->state == PROV_FAILED) {
        cb(arg, p->rc, &p->err);
        return;
    }
    if (p->state >= PROV_DIRECTORY) {
        cb(arg, 0, NULL);
        return;
    }
    if (add_waiter(&p->dir_waiters, &p->ndir_waiters, cb, arg) < 0) {
        cb(arg, err_set(&e, -ENOMEM, "out of memory"), &e);
        return;
    }
    provider_start(p);
}

void provider_need_account(struct provider *p, const struct target *t, provider_cb cb, void *arg)
{
    struct err e;

    if (p->state == PROV_FAILED) {
        cb(arg, p->rc, &p->err);
        return;
    }
    if (p->state == PROV_READY) {
        cb(arg, 0, NULL);
        return;
    }
    if (add_waiter(&p->acct_waiters, &p->nacct_waiters, cb, arg) < 0) {
        cb(arg, err_set(&e, -ENOMEM, "out of memory"), &e);
        return;
    }
    if (!p->t)
        p->t = t;
    if (p->want_account)
        return; /* already on its way */
    p->want_account = true;
    if (p->state == PROV_IDLE)
        provider_start(p);
    else if (p->state == PROV_DIRECTORY)
        find_account(p);
}

/* ---- the account ---- */

/* The contact the account gets at registration: conf/target's; when conf/target sets none,
 * that of the target the account is registered for (NULL: none). */
static char *const *wanted_contact(const struct provider *p, size_t *n)
{
    const struct desired_set *ds = p->set->ds;

    if (ds->contact) {
        *n = ds->ncontact;
        return ds->contact;
    }
    *n = p->t ? p->t->ncontact : 0;
    return p->t ? p->t->contact : NULL;
}

/* Replaces the account's contact (in memory) with a copy of v. */
static int set_contact(struct provider *p, char *const *v, size_t n)
{
    char **copy;
    size_t ncopy;

    if (target_contacts_dup(v, n, &copy, &ncopy) < 0)
        return -ENOMEM;
    target_contacts_free(p->acct.contact, p->acct.ncontact);
    p->acct.contact = copy;
    p->acct.ncontact = ncopy;
    return 0;
}

static void on_contact_updated(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct provider *p = arg;
    const struct desired_set *ds = p->set->ds;
    char *text = target_contacts_text(ds->contact, ds->ncontact);
    struct err se;

    (void)r;
    if (rc < 0) {
        log_err("account %s: updating its contact to %s failed (tried again next pass): %s",
                p->acct.url, text ? text : "?", err_msg(e));
    } else if (set_contact(p, ds->contact, ds->ncontact) < 0) {
        log_err("account %s: contact updated, but out of memory recording it", p->acct.url);
    } else {
        log_info("account %s: contact updated to %s", p->acct.url, text ? text : "?");
        if (store_account_save_meta(p->set->st, &p->acct, &se) < 0)
            log_warn("account %s: %s", p->acct.url, err_msg(&se));
    }
    free(text);
    provider_ready(p);
}

/* The account is known to the CA and to the client: when conf/target names a contact its
 * meta does not record, the CA is told first (once a pass: a CA that keeps refusing is not
 * asked again and again). A failed update is logged; the account is used all the same,
 * since its certificates matter more than its mail. */
static void account_ready(struct provider *p)
{
    const struct desired_set *ds = p->set->ds;
    struct err e;

    if (!ds->contact || p->contact_tried ||
        target_contacts_equal(ds->contact, ds->ncontact, p->acct.contact, p->acct.ncontact)) {
        provider_ready(p);
        return;
    }
    p->contact_tried = true;
    if (engine_account_update(p->eng, (const char *const *)ds->contact, ds->ncontact,
                              on_contact_updated, p, &e) < 0) {
        log_err("account %s: cannot update its contact: %s", p->acct.url, err_msg(&e));
        provider_ready(p);
    }
}

/* What the CA says the account's contact is, when it says so in URIs acmed would accept
 * (they are logged, stored and printed); else what was sent. */
static int contact_from_answer(struct provider *p, const struct engine_result *r, char *const *sent,
                               size_t nsent)
{
    const struct engine_account *a = r->account;
    bool clean = a != NULL;

    for (size_t i = 0; clean && i < a->ncontact; i++)
        clean = target_contact_check(a->contact[i]) == NULL;
    if (clean)
        return set_contact(p, a->contact, a->ncontact);
    return set_contact(p, sent, nsent);
}

static bool tos_agreed(const struct provider *p, const char *tos)
{
    return p->set->o->agree_tos || (p->t && p->t->agree_tos == 1) ||
           desired_responses_agree(p->set->o->state_dir, tos);
}

static void on_account(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct provider *p = arg;
    char *const *sent;
    size_t nsent;
    struct err se;

    err_clear(&se);
    if (rc == 0 && !r->location)
        rc = err_set(&se, -EPROTO, "newAccount at %s answered without a Location", p->url), e = &se;
    if (rc < 0) {
        err_set(&se, rc, "account at %s: %s", p->url, err_msg(e));
        provider_failed(p, rc, &se);
        return;
    }
    if (r->status == 201)
        log_info("registered a new account at %s: %s", p->url, r->location);
    free(p->acct.url);
    p->acct.url = strdup(r->location);
    sent = wanted_contact(p, &nsent);
    if (!p->acct.url || contact_from_answer(p, r, sent, nsent) < 0 ||
        store_account_save_meta(p->set->st, &p->acct, &se) < 0 ||
        engine_set_account(p->eng, &p->signer, p->acct.url) < 0) {
        if (!se.code)
            err_set(&se, -ENOMEM, "out of memory");
        provider_failed(p, se.code, &se);
        return;
    }
    if (p->set->account_registered)
        p->set->account_registered(p->set->fleet_arg, p);
    account_ready(p);
}

/* Registers (or, for a key acmetool left without meta, looks up) the account. */
static int register_account(struct provider *p, const struct signer *s, struct err *e)
{
    const struct engine_directory *d = engine_directory(p->eng);
    const struct target *t = p->t;
    struct engine_new_account req = {.key = s};
    struct engine_eab eab = {0};
    uint8_t *mac = NULL;
    size_t maclen = 0;
    int rc;

    if (d->terms_of_service && !tos_agreed(p, d->terms_of_service))
        return err_set(e, -EPERM,
                       "the CA at %s requires agreeing to its terms of service (%s): set "
                       "request.account.agree-tos: true in conf/target or the desired file, "
                       "run with --agree-tos, or add \"acme-agreement:%s\": true to "
                       "conf/responses",
                       p->url, d->terms_of_service, d->terms_of_service);
    req.agree_tos = d->terms_of_service != NULL;
    req.contact = (const char *const *)wanted_contact(p, &req.ncontact);
    if (t && t->eab_kid) {
        char *text = NULL;
        size_t len = 0;

        if (!t->eab_hmac_key_file)
            return err_set(e, -EINVAL, "%s: request.account.eab needs hmac-key-file", t->file);
        if ((rc = fsio_read_file(t->eab_hmac_key_file, 4096, &text, &len, e)) < 0)
            return err_wrap(e, "EAB key of %s", t->file);
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
            text[--len] = '\0';
        rc = b64url_decode(text, len, &mac, &maclen);
        buf_secret_free(text, len);
        if (rc < 0)
            return err_set(e, -EINVAL, "%s: not a base64url HMAC key", t->eab_hmac_key_file);
        eab.kid = t->eab_kid;
        eab.hmac = mac;
        eab.hmac_len = maclen;
        req.eab = &eab;
    }
    rc = engine_account_new(p->eng, &req, on_account, p, e);
    buf_secret_free(mac, maclen); /* the JWS is signed: the key is needed no more */
    return rc;
}

static void on_key(void *arg, int rc, struct ckey *key, const struct err *e)
{
    struct provider *p = arg;
    struct signer s;
    struct err re;

    if (rc < 0) {
        provider_failed(p, rc, e);
        return;
    }
    /* The key is saved before the CA hears of it: an account key the CA knows is never
     * lost, and a key whose registration failed is simply registered next time. */
    p->acct.key = key;
    p->acct.created = clock_now();
    p->have_acct = true;
    if (!(p->acct.dir_id = strdup(p->dir_id)) ||
        (p->t && p->t->eab_kid && !(p->acct.eab_kid = strdup(p->t->eab_kid)))) {
        provider_failed(p, err_set(&re, -ENOMEM, "out of memory"), &re);
        return;
    }
    if (store_account_save_key(p->set->st, p->url, &p->acct, &re) < 0) {
        provider_failed(p, re.code, &re);
        return;
    }
    jws_signer_from_key(key, &s);
    p->signer = s;
    if (register_account(p, &p->signer, &re) < 0)
        provider_failed(p, re.code, &re);
}

/* The account is the signer's key's: the one accounts/ records for it, else a new record
 * (no key is ever written). A signer that gave a kid names the account itself; otherwise it
 * is registered (or looked up) with the signer's key. */
static void on_signer(void *arg, int rc, const struct err *ce)
{
    struct provider *p = arg;
    struct store_account found = {0};
    bool have = false;
    struct err e;

    err_clear(&e);
    if (rc < 0) {
        err_set(&e, rc, "account key signer %s: %s", p->signer_name, err_msg(ce));
        provider_failed(p, rc, &e);
        return;
    }
    if (acct_signer_account(p->sc, p->signer_name, &p->acct, &e) < 0 ||
        store_account_find_signer(p->set->st, p->url, p->acct.thumbprint, &found, &have, &e) < 0 ||
        signer_client_signer(p->sc, &p->signer, &e) < 0)
        goto fail;
    if (have) {
        /* The record keeps the account URL; the signer's name is today's configuration. */
        if (!found.url && p->acct.url) {
            found.url = p->acct.url;
            p->acct.url = NULL;
        }
        free(found.signer);
        found.signer = p->acct.signer;
        p->acct.signer = NULL;
        store_account_clear(&p->acct);
        p->acct = found;
    }
    p->have_acct = true;
    if (p->t && p->t->eab_kid && !p->acct.eab_kid && !(p->acct.eab_kid = strdup(p->t->eab_kid)))
        goto oom;
    if (store_account_save_signer(p->set->st, p->url, &p->acct, &e) < 0)
        goto fail;
    if (p->acct.url) {
        if (engine_set_account(p->eng, &p->signer, p->acct.url) < 0)
            goto oom;
        account_ready(p);
        return;
    }
    if (register_account(p, &p->signer, &e) < 0)
        goto fail;
    return;
oom:
    err_set(&e, -ENOMEM, "out of memory");
fail:
    provider_failed(p, e.code, &e);
}

static void find_signer_account(struct provider *p)
{
    struct err e;

    err_clear(&e);
    /* A command acmed runs as itself: only from a conf/target nobody else can change. */
    if (!p->sc && p->t->nsigner_exec > 0 &&
        store_conf_trusted(p->set->st->root, "conf/target", &e) < 0) {
        err_wrap(&e, "account key signer %s not started", p->signer_name);
        provider_failed(p, e.code, &e);
        return;
    }
    if (!p->sc) {
        if (acct_signer_client(p->set->loop, p->t, &p->sc, &e) < 0) {
            if (!e.code)
                err_set(&e, -ENOMEM, "out of memory");
            provider_failed(p, e.code, &e);
            return;
        }
    }
    if (signer_client_connect(p->sc, on_signer, p, &e) < 0)
        provider_failed(p, e.code, &e);
}

static void on_gated(void *arg, int rc, const struct err *e)
{
    struct provider *p = arg;

    if (rc < 0)
        provider_failed(p, rc, e);
    else
        find_account(p);
}

static void find_account(struct provider *p)
{
    const char *kid = p->t ? p->t->eab_kid : NULL;
    struct key_spec spec = {KEY_ECDSA, 256};
    struct err e;
    int rc;

    p->state = PROV_ACCOUNT;
    if (p->have_acct) {
        store_account_clear(&p->acct);
        p->have_acct = false;
    }
    if (p->signer_name) {
        find_signer_account(p);
        return;
    }
    if (store_account_find(p->set->st, p->url, kid, &p->acct, &p->have_acct, &e) < 0) {
        provider_failed(p, e.code, &e);
        return;
    }
    if (p->have_acct) {
        jws_signer_from_key(p->acct.key, &p->signer);
        if (p->acct.url) {
            if (engine_set_account(p->eng, &p->signer, p->acct.url) < 0) {
                provider_failed(p, err_set(&e, -ENOMEM, "out of memory"), &e);
                return;
            }
            account_ready(p);
            return;
        }
        /* An acmetool account: its URL was never stored; the CA tells it again. */
        if (register_account(p, &p->signer, &e) < 0)
            provider_failed(p, e.code, &e);
        return;
    }
    if (p->set->account_gate && !p->gated) {
        p->gated = true;
        p->set->account_gate(p->set->fleet_arg, p, on_gated, p);
        return;
    }
    rc = key_generate_async(p->set->loop, &spec, on_key, p);
    if (rc < 0)
        provider_failed(p, rc, (err_set(&e, rc, "cannot generate an account key"), &e));
}

void provider_forget_account(struct provider *p)
{
    struct err e;

    if (p->state != PROV_READY)
        return; /* already being found again (or failed) */
    log_notice("the CA at %s no longer knows account %s: registering the key again", p->url,
               p->acct.url ? p->acct.url : "?");
    free(p->acct.url);
    p->acct.url = NULL;
    if (store_account_save_meta(p->set->st, &p->acct, &e) < 0)
        log_warn("%s", err_msg(&e));
    engine_set_account(p->eng, NULL, NULL);
    p->state = PROV_DIRECTORY;
    p->want_account = false;
}
