/* step_authorize: every pending authorization of the order is answered and polled until the
 * CA decides, in phases so that DNS propagation is waited for once (DESIGN.md §6):
 *
 *   fetch every authorization -> choose a method for each (the target's preference, limited
 *   to what the CA offers and what can be served here: wildcards get dns-01 only) ->
 *   publish every answer, one after another (webroot files, listener entries, start hooks)
 *   -> answer every challenge -> poll every authorization -> withdraw every answer (stop
 *   hooks run only now, as a name and its wildcard share one TXT record name).
 *
 * Whatever the outcome, everything published is withdrawn before the step ends. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "challenge/responder.h"
#include "crypto/jwk.h"
#include "crypto/keyauth.h"
#include "hooks/hooks.h"
#include "reconcile/job.h"
#include "reconcile/provider.h"
#include "util/clock.h"
#include "util/log.h"

#define AUTHZ_DEADLINE_MS (300 * 1000)

struct az {
    struct authz_set *set;
    char *url;
    struct engine_authz *authz; /* NULL until fetched */
    const struct engine_challenge *ch;
    const struct chal_responder *m; /* the method chosen, NULL for none */
    char *keyauth;
    char *txt;             /* dns-01 record value */
    struct chal_slot slot; /* what the method holds for this answer */
    bool hooked;           /* the start hooks ran */
    bool shared;           /* fleet mode: the answer is in etcd for every node */
    bool done;
};

struct authz_set {
    struct job *j;
    struct hooks_opts ho;  /* the target's hook options */
    struct chal_host host; /* what the methods may use (webroot paths, listeners, hooks) */
    struct az *v;
    size_t n, pending, cursor;
    bool failed;
};

static const char *method_name(const struct chal_responder *m)
{
    return m ? m->type : "none";
}

/* The answer of a as the methods see it. */
static struct chal_answer answer_of(const struct az *a)
{
    struct chal_answer c = {.keyauth = a->keyauth, .txt = a->txt, .host = ""};

    if (a->authz) {
        c.host = a->authz->identifier.value;
        c.wildcard = a->authz->wildcard;
    }
    if (a->ch)
        c.token = a->ch->token;
    return c;
}

/* Fleet mode: the key every node looks the answer of a up by (NULL: not a listener's). */
static const char *share_key(const struct az *a, bool *tls)
{
    *tls = a->m && !strcmp(a->m->type, "tls-alpn-01");
    if (!a->m || !a->ch || (!*tls && strcmp(a->m->type, "http-01")))
        return NULL;
    return *tls ? a->authz->identifier.value : a->ch->token;
}

/* Runs the start or stop hooks of a's method: (host, target file, token) or, for dns-01,
 * (host, target file, record value, "wildcard" or ""). */
static int run_hooks(struct authz_set *s, struct az *a, bool start, hooks_cb cb, void *arg,
                     struct err *e)
{
    struct job *j = s->j;
    struct chal_answer c = answer_of(a);
    const char *args[4] = {c.host, j->t->file, c.token, ""};
    size_t nargs = 3;

    if (a->m->dns) {
        args[2] = a->txt;
        args[3] = c.wildcard ? "wildcard" : "";
        nargs = 4;
    }
    return hooks_run(j->ctx->loop, &s->ho, start ? a->m->start_event : a->m->stop_event, args,
                     nargs, a->keyauth, strlen(a->keyauth), cb, arg, e);
}

static void set_fail(struct authz_set *s, int rc, const struct engine_problem *p, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* Records the first failure of the step (the others are logged). */
static void set_fail(struct authz_set *s, int rc, const struct engine_problem *p, const char *fmt,
                     ...)
{
    struct job *j = s->j;
    char msg[ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s->failed) {
        log_warn("%s: %s", j->t->file, msg);
        return;
    }
    s->failed = true;
    j->fail_rc = rc < 0 ? rc : -EIO;
    err_set(&j->fail_err, j->fail_rc, "%s", msg);
    if (p && p->type)
        j->fail_problem = strdup(p->type);
}

static void set_free(struct authz_set *s)
{
    s->j->authz = NULL;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].url);
        engine_authz_free(s->v[i].authz);
        free(s->v[i].keyauth);
        free(s->v[i].txt);
    }
    free(s->v);
    free(s);
}

/* ---- the end: withdraw everything, one answer after another ---- */

static void withdraw_next(struct authz_set *s);

static void on_stop_hooks(void *arg, int rc, unsigned nran, const struct err *e)
{
    struct authz_set *s = arg;

    if (rc < 0)
        log_warn("%s: %s", s->j->t->file, err_msg(e));
    withdraw_next(s);
}

static void finish(struct authz_set *s)
{
    struct job *j = s->j;

    if (s->failed) {
        struct engine_problem prob = {.type = j->fail_problem};
        struct engine_result rr = {.retry_after = -1, .problem = j->fail_problem ? &prob : NULL};
        struct err e = j->fail_err;

        set_free(s);
        job_fail(j, e.code, &rr, &e, "authorization");
        free(j->fail_problem);
        j->fail_problem = NULL;
        return;
    }
    set_free(s);
    job_step_done(j);
}

static void withdraw_next(struct authz_set *s)
{
    struct job *j = s->j;
    const char *key;
    bool tls;
    struct err e;

    while (s->cursor < s->n) {
        struct az *a = &s->v[s->cursor++];
        struct chal_answer c = answer_of(a);

        if (a->m)
            a->m->unprovision(&s->host, &a->slot, &c, j->t->file);
        if (a->shared && (key = share_key(a, &tls)))
            j->ctx->share_answer(j->ctx->arg, j, tls, key, NULL, NULL, NULL, &e);
        a->shared = false;
        if (!a->hooked)
            continue;
        a->hooked = false;
        if (run_hooks(s, a, false, on_stop_hooks, s, &e) == 0)
            return;
        log_warn("%s: %s", j->t->file, err_msg(&e));
    }
    finish(s);
}

static void withdraw_all(struct authz_set *s)
{
    /* Read again: a forced stop meanwhile shortens the stop hooks' timeout (reconcile.h). */
    s->j->ctx->hooks_opts(s->j->ctx->arg, s->j->t, &s->ho);
    s->cursor = 0;
    withdraw_next(s);
}

/* ---- answering and polling ---- */

static void az_done(struct az *a)
{
    struct authz_set *s = a->set;

    a->done = true;
    if (--s->pending == 0)
        withdraw_all(s);
}

static void on_polled(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct az *a = arg;

    if (rc == 0 && r->authz->status != EAUTHZ_VALID) {
        const struct engine_problem *p = NULL;
        char *text;

        for (size_t i = 0; i < r->authz->nchallenges && !p; i++)
            p = r->authz->challenges[i].error;
        text = p && p->text ? strdup(p->text) : NULL;
        set_fail(a->set, ENGINE_EPROBLEM, p, "%s: %s validation failed (%s): %s",
                 r->authz->identifier.value, method_name(a->m),
                 engine_authz_status_str(r->authz->status), text ? text : "no reason given");
        free(text);
    } else if (rc < 0) {
        set_fail(a->set, rc, r->problem, "%s: %s", a->url, err_msg(e));
    }
    az_done(a);
}

static void on_answered(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct az *a = arg;
    struct job *j = a->set->j;
    struct err pe;

    if (rc == 0 && engine_authz_poll(j->prov->eng, a->url, clock_mono_ms() + AUTHZ_DEADLINE_MS,
                                     on_polled, a, &pe) == 0)
        return;
    if (rc < 0)
        set_fail(a->set, rc, r->problem, "%s: answering %s: %s", a->authz->identifier.value,
                 method_name(a->m), err_msg(e));
    else
        set_fail(a->set, pe.code, NULL, "%s", err_msg(&pe));
    az_done(a);
}

static void answer_all(struct authz_set *s)
{
    struct err e;

    s->pending = 1; /* held while starting */
    for (size_t i = 0; i < s->n && !s->failed; i++) {
        struct az *a = &s->v[i];

        if (!a->m)
            continue;
        s->pending++;
        if (engine_challenge_answer(s->j->prov->eng, a->ch->url, on_answered, a, &e) < 0) {
            set_fail(s, e.code, NULL, "%s", err_msg(&e));
            s->pending--;
        }
    }
    if (--s->pending == 0)
        withdraw_all(s);
}

/* ---- the optional http-01 self-test (request.challenge.http-self-test) ---- */

struct self_test {
    struct az *a;
    char *url;
};

static void on_self_test(void *arg, int rc, struct engine_result *resp, const struct err *e)
{
    struct self_test *st = arg;
    struct az *a = st->a;
    struct authz_set *s = a->set;

    if (rc < 0)
        set_fail(s, rc, NULL, "%s: http-01 self-test of %s: %s", a->authz->identifier.value,
                 st->url, err_msg(e));
    else if (resp->status != 200 || resp->body_len != strlen(a->keyauth) ||
             memcmp(resp->body, a->keyauth, resp->body_len) != 0)
        set_fail(s, -EPROTO, NULL,
                 "%s: http-01 self-test of %s: got HTTP %ld and not the key authorization "
                 "(is the web server serving the webroot or proxying to acmed?)",
                 a->authz->identifier.value, st->url, resp->status);
    free(st->url);
    free(st);
    if (--s->pending == 0) {
        if (s->failed)
            withdraw_all(s);
        else
            answer_all(s);
    }
}

/* Fetches each http-01 answer the way the CA will, before the CA is asked to: a mistake in
 * the web server's setup then costs no failed validation. It resolves names itself, so it is
 * off by default; ACMED_SELF_TEST_CONNECT=HOST:PORT (for tests) connects there instead. */
static void self_test_all(struct authz_set *s)
{
    const char *connect_to = getenv("ACMED_SELF_TEST_CONNECT");
    struct err e;

    s->pending = 1;
    for (size_t i = 0; i < s->n && s->j->t->http_self_test && !s->failed; i++) {
        struct az *a = &s->v[i];
        struct self_test *st;
        bool v6;

        if (!a->m || strcmp(a->m->type, "http-01"))
            continue;
        v6 = strchr(a->authz->identifier.value, ':') != NULL;
        if (!(st = calloc(1, sizeof *st)) ||
            asprintf(&st->url, "http://%s%s%s/.well-known/acme-challenge/%s", v6 ? "[" : "",
                     a->authz->identifier.value, v6 ? "]" : "", a->ch->token) < 0) {
            free(st);
            set_fail(s, -ENOMEM, NULL, "out of memory");
            break;
        }
        st->a = a;
        s->pending++;
        if (engine_http01_fetch(s->j->prov->eng, st->url, connect_to, on_self_test, st, &e) < 0) {
            set_fail(s, e.code, NULL, "%s", err_msg(&e));
            free(st->url);
            free(st);
            s->pending--;
        }
    }
    if (--s->pending > 0)
        return;
    if (s->failed)
        withdraw_all(s);
    else
        answer_all(s);
}

/* ---- publishing, one answer after another ---- */

static void publish_next(struct authz_set *s);

static void on_start_hooks(void *arg, int rc, unsigned nran, const struct err *e)
{
    struct az *a = arg;
    struct authz_set *s = a->set;

    if (rc < 0)
        set_fail(s, rc, NULL, "%s: %s hook: %s", a->authz->identifier.value, method_name(a->m),
                 err_msg(e));
    else if (a->m->dns && nran == 0)
        set_fail(s, -ENOTSUP, NULL,
                 "%s: dns-01: no hook published the TXT record (install a challenge-dns hook)",
                 a->authz->identifier.value);
    publish_next(s);
}

/* Publishes one answer; returns 1 when a hook run will continue the chain, negative on
 * failure (recorded). */
static int publish_one(struct authz_set *s, struct az *a)
{
    struct chal_answer c = answer_of(a);
    struct err e;

    if (a->m->provision(&s->host, &a->slot, &c, &e) < 0 ||
        run_hooks(s, a, true, on_start_hooks, a, &e) < 0) {
        set_fail(s, e.code, NULL, "%s: %s: %s", c.host, method_name(a->m), err_msg(&e));
        return e.code;
    }
    a->hooked = true;
    return 1;
}

/* Fleet mode: the answers go into etcd before the CA is asked, for any node to serve. */
static void on_shared(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct az *a = arg;

    (void)r;
    if (rc < 0)
        log_warn("%s: the answer was not shared with the fleet (%s): only this node can serve it",
                 a->authz->identifier.value, err_msg(e));
    a->shared = rc == 0;
    if (--a->set->pending == 0)
        self_test_all(a->set);
}

static void share_all(struct authz_set *s)
{
    const struct job_ctx *c = s->j->ctx;
    struct err e;

    s->pending = 1;
    for (size_t i = 0; i < s->n && c->share_answer; i++) {
        struct az *a = &s->v[i];
        bool tls;
        const char *key = share_key(a, &tls);
        int rc = 1;

        if (key && ++s->pending &&
            (rc = c->share_answer(c->arg, s->j, tls, key, a->keyauth, on_shared, a, &e)) < 0)
            log_warn("%s: the answer cannot be shared with the fleet: %s",
                     a->authz->identifier.value, err_msg(&e));
        s->pending -= key && rc != 0;
    }
    if (--s->pending == 0)
        self_test_all(s);
}

static void publish_next(struct authz_set *s)
{
    while (s->cursor < s->n && !s->failed) {
        struct az *a = &s->v[s->cursor++];

        if (!a->m)
            continue;
        if (publish_one(s, a) == 1)
            return;
    }
    if (s->failed)
        withdraw_all(s);
    else
        share_all(s);
}

/* ---- choosing ---- */

/* Picks the first method of the target's preference that the CA offers for this
 * authorization and that can be served here, and prepares its key authorization. */
static int choose(struct authz_set *s, struct az *a, const char *thumb)
{
    struct job *j = s->j;
    char why[ERR_MSG_MAX] = "";
    size_t used;
    struct err e;
    int rc = 0;

    for (size_t i = 0; i < j->t->nchallenge_types; i++) {
        const char *type = j->t->challenge_types[i];
        const struct engine_challenge *ch = engine_challenge_select(a->authz, type);
        const struct chal_responder *m = chal_responder_find(type);

        used = strlen(why);
        if (!m)
            continue;
        if (!ch) {
            snprintf(why + used, sizeof why - used, "%s%s: not offered%s", used ? "; " : "", type,
                     a->authz->wildcard ? " (a wildcard takes dns-01 only)" : "");
            continue;
        }
        if (m->prepare(&s->host, &a->slot, &e) < 0) {
            snprintf(why + used, sizeof why - used, "%s%s: %s", used ? "; " : "", type,
                     err_msg(&e));
            continue;
        }
        a->m = m;
        a->ch = ch;
        if ((rc = keyauth_make(ch->token, thumb, &a->keyauth, &e)) < 0 ||
            (m->dns && !(a->txt = keyauth_dns01_txt(a->keyauth)))) {
            if (rc == 0)
                err_set(&e, rc = -ENOMEM, "out of memory");
            struct chal_answer c = answer_of(a);

            m->unprovision(&s->host, &a->slot, &c, j->t->file);
            a->m = NULL;
            set_fail(s, rc, NULL, "%s: %s", a->authz->identifier.value, err_msg(&e));
            return rc;
        }
        log_info("%s: %s by %s", j->t->file, a->authz->identifier.value, type);
        return 0;
    }
    set_fail(s, -ENOTSUP, NULL, "%s: no challenge method could be used (%s)",
             a->authz->identifier.value, *why ? why : "none configured");
    return -ENOTSUP;
}

static void choose_all(struct authz_set *s)
{
    struct job *j = s->j;
    char *thumb = NULL;
    struct err e;

    /* An account held by a signer is known by its key's thumbprint (store.h). */
    if (!j->prov->acct.key && j->prov->acct.thumbprint
            ? !(thumb = strdup(j->prov->acct.thumbprint)) &&
                  err_set(&e, -ENOMEM, "out of memory") < 0
            : jwk_key_thumbprint(j->prov->acct.key, &thumb, &e) < 0) {
        set_fail(s, e.code, NULL, "%s", err_msg(&e));
        withdraw_all(s);
        return;
    }
    for (size_t i = 0; i < s->n && !s->failed; i++) {
        struct az *a = &s->v[i];

        if (a->authz->status == EAUTHZ_VALID)
            continue; /* reused, or validated before a crash */
        if (a->authz->status != EAUTHZ_PENDING) {
            set_fail(s, -EPROTO, NULL, "%s is %s", a->authz->identifier.value,
                     engine_authz_status_str(a->authz->status));
            break;
        }
        choose(s, a, thumb);
    }
    free(thumb);
    s->cursor = 0;
    publish_next(s);
}

/* ---- fetching ---- */

static void on_authz(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct az *a = arg;
    struct authz_set *s = a->set;
    struct err ie;

    if (rc < 0) {
        set_fail(s, rc, r->problem, "%s: %s", a->url, err_msg(e));
    } else if (job_check_identifier(s->j, a->url, r->authz, &ie) < 0) {
        set_fail(s, ie.code, NULL, "%s", err_msg(&ie));
    } else {
        a->authz = r->authz;
        r->authz = NULL;
    }
    if (--s->pending > 0)
        return;
    if (s->failed)
        withdraw_all(s);
    else
        choose_all(s);
}

static struct chal_listener *listener_get(void *arg, bool tls, struct err *e)
{
    struct job *j = arg;

    return j->ctx->responder_get(j->ctx->arg, tls, j->t, e);
}

static void listener_release(void *arg, struct chal_listener *l)
{
    struct job *j = arg;

    j->ctx->responder_release(j->ctx->arg, l);
}

void step_authorize(struct job *j)
{
    struct engine_order *o = j->order;
    struct authz_set *s;
    struct err e;

    if (o->status != EORDER_PENDING || o->nauthorizations == 0) {
        job_step_done(j);
        return;
    }
    if (!(s = calloc(1, sizeof *s)) || !(s->v = calloc(o->nauthorizations, sizeof *s->v))) {
        free(s);
        err_set(&e, -ENOMEM, "out of memory");
        job_fail(j, -ENOMEM, NULL, &e, "authorization");
        return;
    }
    s->j = j;
    j->authz = s;
    j->ctx->hooks_opts(j->ctx->arg, j->t, &s->ho);
    s->host.webroot_paths = (const char *const *)j->t->webroot_paths;
    s->host.nwebroot_paths = j->t->nwebroot_paths;
    s->host.http_ports = j->t->nhttp_ports > 0;
    s->host.hooks = &s->ho;
    s->host.arg = j;
    s->host.listener_get = listener_get;
    s->host.listener_release = listener_release;
    s->n = o->nauthorizations;
    s->pending = 1;
    for (size_t i = 0; i < s->n; i++) {
        struct az *a = &s->v[i];

        a->set = s;
        if (!(a->url = strdup(o->authorizations[i]))) {
            set_fail(s, -ENOMEM, NULL, "out of memory");
            break;
        }
        s->pending++;
        if (engine_authz_get(j->prov->eng, a->url, on_authz, a, &e) < 0) {
            set_fail(s, e.code, NULL, "%s", err_msg(&e));
            s->pending--;
        }
    }
    if (--s->pending == 0) {
        /* Nothing was started (an allocation or request failure). */
        s->cursor = 0;
        withdraw_all(s);
    }
}
