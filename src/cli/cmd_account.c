/* cmd_account: `acmed account list|thumbprint|new|rollover|deactivate`, the ACME accounts
 * under accounts/<dir-id>/<key-id>/.
 *
 * list and thumbprint only read (no lock); with --provider they show that CA's accounts only.
 * new, rollover and deactivate change accounts and so take the reconciler lock (exit 4 while
 * a daemon runs). They act on the account the reconciler would use for the provider and the
 * EAB kid of conf/target (none unless it sets request.account.eab): store_account_pick's rule,
 * the reconciler's own. Reading and changing accounts/ is the store's (store_accounts_list,
 * store_account_remove, store_account_set_aside). Talking to the CA, they drive the loop
 * synchronously until each operation's callback has run: a command does one thing at a
 * time, and the network layer keeps every wait bounded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "crypto/jwk.h"
#include "crypto/jws.h"
#include "crypto/key.h"
#include "daemon/privsep_start.h"
#include "net/http.h"
#include "net/url_policy.h"
#include "privsep/engine_proxy.h"
#include "reconcile/engine.h"
#include "store/desired.h"
#include "store/store.h"
#include "util/log.h"

/* ---- driving the CA's engine synchronously ---- */

/* The engine over src/acme, or, privilege-separated (started as root), the worker's. */
struct net {
    uv_loop_t loop;
    bool loop_ok;
    struct http_client *http;
    struct privsep_run ps;
    struct engine *eng;
};

/* What an operation's callback leaves for the command. */
struct sync {
    bool done;
    int rc;
    struct err e;
    char *location;  /* the Location header, or NULL */
    bool no_account; /* the problem was accountDoesNotExist */
};

static void sync_cb(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct sync *s = arg;

    s->done = true;
    s->rc = rc;
    err_clear(&s->e);
    if (e)
        s->e = *e;
    s->location = r->location ? strdup(r->location) : NULL;
    s->no_account = engine_problem_is(r->problem, "accountDoesNotExist");
}

/* Runs the loop until the operation behind s has called back; its result goes to e. */
static int sync_wait(struct net *n, struct sync *s, struct err *e)
{
    while (!s->done)
        if (uv_run(&n->loop, UV_RUN_ONCE) == 0 && !s->done)
            return err_set(e, -EIO, "internal error: the ACME operation stalled");
    if (s->rc < 0 && e)
        *e = s->e;
    return s->rc;
}

/* Sets up the loop and the engine (privilege-separated when started as root: a worker talks
 * to the CA) and fetches the directory of `url`. net_close releases whatever was set up, also
 * after a failure. */
static int net_open(struct net *n, const struct cli *c, const char *url, struct err *e)
{
    struct http_client_opts ho = {.ca_bundle = c->ca_bundle};
    struct rec_opts ro = {.state_dir = c->state_dir, .ca_bundle = c->ca_bundle};
    struct acmed_conf conf;
    struct sync s = {0};
    int rc;

    memset(n, 0, sizeof *n);
    /* The plain-http rule of the reconciler (net/url_policy.h), before any connection. */
    if ((rc = acmed_conf_load(c->state_dir, &conf, e)) < 0)
        return rc;
    ho.allow_insecure_http = conf.allow_insecure_http;
    acmed_conf_clear(&conf);
    if ((rc = url_policy_check_provider(url, ho.allow_insecure_http, e)) < 0)
        return rc;
    if ((rc = uv_loop_init(&n->loop)) < 0)
        return err_set(e, rc, "cannot create an event loop: %s", uv_strerror(rc));
    n->loop_ok = true;
    if ((rc = privsep_start(&n->loop, &ro, &n->ps, e)) < 0)
        return rc;
    if (n->ps.keeper)
        rc = engine_proxy_new(n->ps.keeper, url, &n->eng, e);
    else if ((rc = http_client_new(&n->loop, &ho, &n->http, e)) == 0)
        rc = engine_acme_new(&n->loop, n->http, url, 0, &n->eng, e);
    if (rc < 0 || (rc = engine_start(n->eng, sync_cb, &s, e)) < 0)
        return rc;
    rc = sync_wait(n, &s, e);
    free(s.location);
    return rc;
}

static void on_http_closed(void *arg)
{
    *(bool *)arg = true;
}

static void net_close(struct net *n)
{
    bool closed = false;

    engine_free(n->eng);
    n->eng = NULL;
    privsep_stop(&n->ps);
    if (n->http)
        http_client_close(n->http, on_http_closed, &closed);
    n->http = NULL;
    if (!n->loop_ok)
        return;
    /* The HTTP client frees itself from its handles' close callbacks, which this runs. */
    uv_run(&n->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&n->loop) < 0)
        log_warn("event loop still busy at exit");
    n->loop_ok = false;
}

/* ---- accounts on disk ---- */

static const char *provider_url(const struct cli *c)
{
    return desired_provider_url(c->provider ? c->provider : "letsencrypt");
}

/* The account the reconciler would use for `url` and conf/target's EAB kid (moved into
 * *out), or -ENOENT. */
static int pick_account(const struct store *st, const char *url, struct store_account *out,
                        struct err *e)
{
    struct target def;
    bool found = false;
    int rc;

    if ((rc = desired_load_defaults(st->root, &def, e)) < 0)
        return rc;
    if ((rc = store_account_find(st, url, def.eab_kid, out, &found, e)) == 0 && !found) {
        if (def.eab_kid)
            rc = err_set(e, -ENOENT,
                         "no account for %s with EAB kid %s (conf/target) under %s/accounts "
                         "(`acmed --once` registers one)",
                         url, def.eab_kid, st->root);
        else
            rc = err_set(e, -ENOENT,
                         "no account for %s without an external account binding under "
                         "%s/accounts (acmed account new creates one)",
                         url, st->root);
    }
    target_clear(&def);
    return rc;
}

/* Makes sure a->url is known: an acmetool account has no meta, so the CA is asked for the
 * account of this key (onlyReturnExisting) and the answer is kept in meta. */
static int resolve_url(struct net *n, const struct store *st, struct store_account *a,
                       const struct signer *sig, struct err *e)
{
    struct engine_new_account req = {.key = sig, .only_return_existing = true};
    struct sync s = {0};
    int rc;

    if (a->url)
        return 0;
    if ((rc = engine_account_new(n->eng, &req, sync_cb, &s, e)) < 0)
        return rc;
    rc = sync_wait(n, &s, e);
    if (rc < 0 && s.no_account)
        rc = err_set(e, rc, "account key %s/%s is not registered at the CA", a->dir_id, a->key_id);
    else if (rc == 0 && !s.location)
        rc = err_set(e, -EPROTO, "the CA named no account URL for key %s", a->key_id);
    if (rc == 0) {
        a->url = s.location;
        s.location = NULL;
        rc = store_account_save_meta(st, a, e);
    }
    free(s.location);
    return rc;
}

/* ---- list and thumbprint: every accounts/<dir-id>/<key-id>/ ---- */

typedef int (*account_fn)(const struct store *st, const struct store_account_ref *r, struct err *e);

static int walk_accounts(const struct cli *c, account_fn fn)
{
    struct store st = {.lock_fd = -1};
    struct store_account_ref *refs = NULL;
    char *dir_id = NULL;
    int code = EXIT_FAILED, rc = 0;
    size_t n = 0;
    struct err e;

    if (store_open(c->state_dir, &st, &e) < 0) {
        log_err("%s", err_msg(&e));
        return EXIT_USAGE;
    }
    if (c->provider && !(dir_id = store_dir_id(provider_url(c), &e))) {
        log_err("%s", err_msg(&e));
        code = EXIT_USAGE;
        goto out;
    }
    if (store_accounts_list(&st, dir_id, false, &refs, &n, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(&st, &refs[i], &e);
    if (rc < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    if (n == 0)
        log_info("no accounts under %s/accounts%s%s", st.root, dir_id ? "/" : "",
                 dir_id ? dir_id : "");
    code = EXIT_OK;
out:
    store_account_refs_free(refs, n);
    free(dir_id);
    store_close(&st);
    return code;
}

/* One line: dir-id, key-id, account URL, contacts ("-" for what is unknown). An unreadable
 * meta is reported (by the store) and the line still printed: the key itself is there. */
static int list_one(const struct store *st, const struct store_account_ref *r, struct err *e)
{
    struct store_account a;
    char *contacts = NULL;
    size_t clen = 0;
    FILE *cf;
    int rc;

    if ((rc = store_account_read_meta(st, r->dir_id, r->key_id, &a, e)) < 0)
        return rc;
    if (!(cf = open_memstream(&contacts, &clen))) {
        store_account_clear(&a);
        return err_set(e, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < a.ncontact; i++)
        fprintf(cf, "%s%s", i ? "," : "", a.contact[i]);
    fclose(cf);
    /* The last column says where the key lives: its file, or the signer holding it. */
    printf("%s %s %s %s %s\n", r->dir_id, r->key_id, a.url ? a.url : "-",
           contacts && *contacts ? contacts : "-", a.signer ? a.signer : "file");
    free(contacts);
    store_account_clear(&a);
    return 0;
}

/* The key's JWK thumbprint; a key the store cannot use is skipped with a warning. */
static int thumbprint_one(const struct store *st, const struct store_account_ref *r, struct err *e)
{
    struct store_account a;
    char *thumb = NULL;
    int rc;

    rc = store_account_load(st, r->dir_id, r->key_id, &a, e);
    if (rc == 0 && a.signer) /* held by a signer: its key is known by its thumbprint */
        rc = (thumb = strdup(a.thumbprint)) ? 0 : err_set(e, -ENOMEM, "out of memory");
    else if (rc == 0)
        rc = jwk_key_thumbprint(a.key, &thumb, e);
    if (rc == 0)
        printf("%s %s\n", r->key_id, thumb);
    else
        log_warn("skipping account %s/%s: %s", r->dir_id, r->key_id, err_msg(e));
    store_account_clear(&a);
    free(thumb);
    return rc == -ENOMEM ? rc : 0;
}

/* ---- new, rollover, deactivate ---- */

/* The contact `account new` registers, into *out (target_contacts_free): the --contact
 * options, else conf/target's request.account.contact (the reconciler keeps every account's
 * contact at conf/target's, so a different --contact is warned about). EXIT_OK or the exit
 * code of the error, logged. */
static int new_contact(const struct cli *c, const struct store *st, char ***out, size_t *n)
{
    struct target def;
    char *mine = NULL, *conf = NULL;
    const char *why;
    struct err e;
    int rc;

    for (size_t i = 0; i < c->ncontact; i++) {
        if ((why = target_contact_check(c->contact[i]))) {
            log_err("--contact \"%.100s\": expected a contact URI (mailto:...): %s", c->contact[i],
                    why);
            return EXIT_USAGE;
        }
    }
    if (desired_load_defaults(st->root, &def, &e) < 0) {
        log_err("%s", err_msg(&e));
        return e.code == -ENOMEM ? EXIT_FAILED : EXIT_USAGE;
    }
    if (c->ncontact == 0)
        rc = target_contacts_dup(def.contact, def.ncontact, out, n);
    else
        rc = target_contacts_dup((char *const *)c->contact, c->ncontact, out, n);
    if (rc == 0 && c->ncontact > 0 && def.contact &&
        !target_contacts_equal(def.contact, def.ncontact, *out, *n)) {
        mine = target_contacts_text(*out, *n);
        conf = target_contacts_text(def.contact, def.ncontact);
        log_warn("conf/target sets request.account.contact to %s: the next reconcile gives the "
                 "account that contact instead of %s",
                 conf ? conf : "?", mine ? mine : "?");
    }
    free(mine);
    free(conf);
    target_clear(&def);
    if (rc < 0) {
        log_err("out of memory");
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

static int account_new(const struct cli *c, struct store *st)
{
    const char *url = provider_url(c), *tos;
    struct engine_new_account req = {0};
    struct key_spec spec = {KEY_ECDSA, 256};
    struct store_account a = {0};
    const struct engine_directory *d;
    char **contact = NULL;
    size_t ncontact = 0;
    struct sync s = {0};
    int code = EXIT_FAILED;
    struct net n = {0};
    struct signer sig;
    struct err e;

    if ((code = new_contact(c, st, &contact, &ncontact)) != EXIT_OK)
        return code;
    code = EXIT_FAILED;
    if (net_open(&n, c, url, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    d = engine_directory(n.eng);
    tos = d->terms_of_service;
    req.agree_tos = c->agree_tos || (tos && desired_responses_agree(st->root, tos));
    if (tos && !req.agree_tos) {
        log_err("%s asks to agree to its terms of service (%s): pass --agree-tos, or add "
                "\"acme-agreement:%s\": true to %s/conf/responses",
                url, tos, tos, st->root);
        goto out;
    }
    if (d->external_account_required) {
        log_err("%s requires an external account binding: set request.account.eab in "
                "conf/target and let `acmed --once` register the account",
                url);
        goto out;
    }
    /* The key is on disk before the CA knows it, so an account is never registered for a
     * key we lost. */
    if (key_generate(&spec, &a.key, &e) < 0 || store_account_save_key(st, url, &a, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    jws_signer_from_key(a.key, &sig);
    req.key = &sig;
    req.contact = (const char *const *)contact;
    req.ncontact = ncontact;
    if (engine_account_new(n.eng, &req, sync_cb, &s, &e) < 0 || sync_wait(&n, &s, &e) < 0 ||
        (!s.location && err_set(&e, -EPROTO, "the CA named no account URL") < 0)) {
        log_err("%s", err_msg(&e));
        /* A problem document means the CA created nothing: the key is of no use. */
        if (s.rc == ENGINE_EPROBLEM && store_account_remove(st, a.dir_id, a.key_id, &e) < 0)
            log_warn("%s", err_msg(&e));
        goto out;
    }
    a.url = s.location;
    s.location = NULL;
    /* The CA took the contact it was sent (or refused the account). */
    a.contact = contact;
    a.ncontact = ncontact;
    contact = NULL;
    ncontact = 0;
    if (store_account_save_meta(st, &a, &e) < 0) {
        log_err("account %s registered, but its URL could not be saved: %s", a.url, err_msg(&e));
        goto out;
    }
    printf("registered account %s (key accounts/%s/%s)\n", a.url, a.dir_id, a.key_id);
    code = EXIT_OK;
out:
    free(s.location);
    net_close(&n);
    store_account_clear(&a);
    target_contacts_free(contact, ncontact);
    return code;
}

/* Replaces the account's key at the CA (RFC 8555 §7.3.5). The new key is saved first; once
 * the CA has switched, the old key is useless and removed, so the reconciler cannot pick it;
 * if the CA refused, the new key is removed instead. */
static int account_rollover(const struct cli *c, struct store *st)
{
    const char *url = provider_url(c);
    struct store_account old = {0}, nw = {0};
    struct key_spec spec = {KEY_ECDSA, 256};
    struct signer old_sig, new_sig;
    struct sync s = {0};
    int code = EXIT_FAILED, rc;
    struct net n = {0};
    struct err e;

    if (pick_account(st, url, &old, &e) < 0 || net_open(&n, c, url, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    jws_signer_from_key(old.key, &old_sig);
    if (resolve_url(&n, st, &old, &old_sig, &e) < 0 || key_generate(&spec, &nw.key, &e) < 0 ||
        !(nw.url = strdup(old.url))) {
        log_err("%s", nw.key ? "out of memory" : err_msg(&e));
        goto out;
    }
    /* The account's meta moves to the new key as it is. */
    nw.contact = old.contact, nw.ncontact = old.ncontact, nw.eab_kid = old.eab_kid;
    old.contact = NULL, old.ncontact = 0, old.eab_kid = NULL;
    nw.created = old.created;
    if (store_account_save_key(st, url, &nw, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    jws_signer_from_key(nw.key, &new_sig);
    rc = engine_set_account(n.eng, &old_sig, old.url);
    if (rc < 0)
        err_set(&e, rc, "out of memory");
    else if ((rc = engine_account_key_change(
                  n.eng, &(struct engine_key_change){.new_key = &new_sig}, sync_cb, &s, &e)) == 0)
        rc = sync_wait(&n, &s, &e);
    if (rc < 0) {
        log_err("key rollover of %s failed: %s", old.url, err_msg(&e));
        if (store_account_remove(st, nw.dir_id, nw.key_id, &e) < 0)
            log_warn("%s", err_msg(&e));
        goto out;
    }
    if (store_account_remove(st, old.dir_id, old.key_id, &e) < 0) {
        log_err("account %s now uses key %s, but the old key could not be removed (remove "
                "accounts/%s/%s by hand): %s",
                old.url, nw.key_id, old.dir_id, old.key_id, err_msg(&e));
        goto out;
    }
    printf("account %s: key %s replaced by %s\n", old.url, old.key_id, nw.key_id);
    code = EXIT_OK;
out:
    free(s.location);
    net_close(&n);
    store_account_clear(&old);
    store_account_clear(&nw);
    return code;
}

/* Deactivates the account at the CA (RFC 8555 §7.3.6), then moves its directory aside to
 * accounts/<dir-id>/.deactivated-<key-id> where nothing looks for accounts, so it is never
 * used again while its key is kept. */
static int account_deactivate(const struct cli *c, struct store *st)
{
    const char *url = provider_url(c);
    struct store_account a = {0};
    struct sync s = {0};
    int code = EXIT_FAILED, rc;
    struct net n = {0};
    struct signer sig;
    struct err e;

    if (pick_account(st, url, &a, &e) < 0 || net_open(&n, c, url, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    jws_signer_from_key(a.key, &sig);
    if (resolve_url(&n, st, &a, &sig, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    rc = engine_set_account(n.eng, &sig, a.url);
    if (rc < 0)
        err_set(&e, rc, "out of memory");
    else if ((rc = engine_account_deactivate(n.eng, sync_cb, &s, &e)) == 0)
        rc = sync_wait(&n, &s, &e);
    if (rc < 0) {
        log_err("deactivating %s failed: %s", a.url, err_msg(&e));
        goto out;
    }
    if (store_account_set_aside(st, a.dir_id, a.key_id, &e) < 0) {
        log_err("account %s is deactivated, but its key directory could not be moved aside "
                "(remove it by hand): %s",
                a.url, err_msg(&e));
        goto out;
    }
    printf(
        "account %s deactivated; its key is kept in accounts/%s/" STORE_ACCOUNT_DEACTIVATED_PREFIX
        "%s\n",
        a.url, a.dir_id, a.key_id);
    code = EXIT_OK;
out:
    free(s.location);
    net_close(&n);
    store_account_clear(&a);
    return code;
}

int cmd_account(const struct cli *c)
{
    static const struct {
        const char *name;
        account_fn show;                                      /* list, thumbprint: no lock */
        int (*change)(const struct cli *c, struct store *st); /* under the lock */
    } subs[] = {
        {"list", list_one, NULL},
        {"thumbprint", thumbprint_one, NULL},
        {"new", NULL, account_new},
        {"rollover", NULL, account_rollover},
        {"deactivate", NULL, account_deactivate},
    };
    struct store st = {.lock_fd = -1};
    int code = EXIT_FAILED, rc;
    struct err e;
    size_t i;

    if (c->nargs == 0) {
        log_err("account needs a subcommand: list, thumbprint, new, rollover or deactivate");
        return EXIT_USAGE;
    }
    for (i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(c->args[0], subs[i].name))
            break;
    if (i == sizeof subs / sizeof subs[0]) {
        log_err("unknown account subcommand \"%s\" (list, thumbprint, new, rollover, "
                "deactivate)",
                c->args[0]);
        return EXIT_USAGE;
    }
    if (c->nargs > 1) {
        log_err("unexpected argument \"%s\" (see acmed --help)", c->args[1]);
        return EXIT_USAGE;
    }
    if (c->ncontact > 0 && subs[i].change != account_new) {
        log_err("--contact applies to account new only (the reconciler updates an existing "
                "account's contact from conf/target)");
        return EXIT_USAGE;
    }
    if (subs[i].show)
        return walk_accounts(c, subs[i].show);
    if (store_open(c->state_dir, &st, &e) < 0) {
        log_err("%s", err_msg(&e));
        return EXIT_USAGE;
    }
    if ((rc = store_lock(&st, &e)) < 0) {
        log_err("%s", err_msg(&e));
        code = rc == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_FAILED;
        goto out;
    }
    code = subs[i].change(c, &st);
out:
    store_close(&st);
    return code;
}
