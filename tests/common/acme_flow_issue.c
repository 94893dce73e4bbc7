/* acme_flow_issue: one whole issuance through the engine's operations (see acme_flow.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "crypto/csr.h"
#include "crypto/jwk.h"
#include "crypto/keyauth.h"
#include "util/clock.h"

#define AUTHZ_DEADLINE_MS 30000
#define ORDER_DEADLINE_MS 30000

struct flow {
    struct flow_env *fe;
    const struct flow_req *req;
    struct flow_result *res;
    void (*cb)(void *arg, struct flow_result *res);
    void *arg;
    struct acme_order *order;
    size_t authz_left;
    bool failed;
    char *thumbprint; /* of the account key signing now (it changes on rollover) */
};

struct authz_ctx {
    struct flow *f;
    char *url;
    char *published_host; /* dns-01 record to clear afterwards */
    char *token;          /* http-01 token to delete afterwards */
};

static void flow_fail(struct flow *f, int rc, const struct acme_result *r, const struct err *e,
                      const char *what)
{
    if (f->failed)
        return;
    f->failed = true;
    f->res->rc = rc < 0 ? rc : -EIO;
    err_clear(&f->res->e);
    if (e)
        f->res->e = *e;
    else
        err_set(&f->res->e, f->res->rc, "failed");
    err_wrap(&f->res->e, "%s", what);
    if (r && r->problem && r->problem->type)
        f->res->problem_type = strdup(r->problem->type);
}

static void flow_finish(struct flow *f)
{
    acme_order_free(f->order);
    free(f->thumbprint);
    f->cb(f->arg, f->res);
    free(f);
}

static void on_downloaded(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct flow *f = arg;

    if (rc < 0) {
        flow_fail(f, rc, r, e, "download");
    } else {
        f->res->rc = 0;
        f->res->cert_pem = r->cert_pem, r->cert_pem = NULL;
        f->res->cert_len = r->cert_len;
    }
    flow_finish(f);
}

static void download(struct flow *f, const char *url)
{
    struct acme_download d = {.url = url, .preferred_chain = f->req->preferred_chain,
                              .key = f->res->key, .names = f->req->names,
                              .nnames = f->req->nnames,
                              .trust_anchors = f->req->trust_anchors,
                              .trust_anchors_len = f->req->trust_anchors
                                                       ? strlen(f->req->trust_anchors)
                                                       : 0};
    struct err e;
    int rc = acme_cert_download(f->fe->acme, &d, on_downloaded, f, &e);

    if (rc < 0) {
        flow_fail(f, rc, NULL, &e, "download");
        flow_finish(f);
    }
}

static void on_order_polled(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct flow *f = arg;
    struct err pe;

    f->res->order_polls++;
    if (rc == 0 && r->order->status != ORDER_VALID) {
        rc = err_set(&pe, -EPROTO, "order is %s", acme_order_status_str(r->order->status));
        e = &pe;
    }
    if (rc < 0) {
        flow_fail(f, rc, r, e, "waiting for the order");
        flow_finish(f);
        return;
    }
    download(f, r->order->certificate);
}

static void on_finalized(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct flow *f = arg;
    struct err pe;

    err_clear(&pe);
    if (rc < 0) {
        flow_fail(f, rc, r, e, "finalize");
        flow_finish(f);
        return;
    }
    if (r->order->status == ORDER_VALID && r->order->certificate) {
        download(f, r->order->certificate);
        return;
    }
    rc = acme_order_poll(f->fe->acme, f->res->order_url, false,
                         clock_mono_ms() + ORDER_DEADLINE_MS, on_order_polled, f, &pe);
    if (rc < 0) {
        flow_fail(f, rc, NULL, &pe, "order poll");
        flow_finish(f);
    }
}

static void finalize(struct flow *f)
{
    uint8_t *csr = NULL;
    size_t len = 0;
    struct err e;
    int rc;

    rc = csr_create(f->res->key, f->req->names, f->req->nnames, false, &csr, &len, &e);
    if (rc == 0)
        rc = acme_order_finalize(f->fe->acme, f->order->finalize, csr, len, on_finalized, f, &e);
    free(csr);
    if (rc < 0) {
        flow_fail(f, rc, NULL, &e, "finalize");
        flow_finish(f);
    }
}

static void authz_done(struct authz_ctx *a)
{
    struct flow *f = a->f;
    char json[512];

    if (a->token) {
        snprintf(json, sizeof json, "{\"token\":\"%s\"}", a->token);
        flow_challtestsrv(f->req->challtestsrv, "/del-http01", json);
    }
    if (a->published_host) {
        snprintf(json, sizeof json, "{\"host\":\"%s\"}", a->published_host);
        flow_challtestsrv(f->req->challtestsrv, "/clear-txt", json);
    }
    free(a->url);
    free(a->token);
    free(a->published_host);
    free(a);
    if (--f->authz_left > 0)
        return;
    if (f->failed)
        flow_finish(f);
    else
        finalize(f);
}

static void on_authz_polled(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct authz_ctx *a = arg;
    struct err pe;

    err_clear(&pe);
    a->f->res->authz_polls++;
    if (rc == 0 && r->authz->status != AUTHZ_VALID) {
        /* The reason is in the challenge's error. */
        const struct acme_problem *p = NULL;

        for (size_t i = 0; i < r->authz->nchallenges && !p; i++)
            p = r->authz->challenges[i].error;
        if (p) {
            char *t = acme_problem_format(p);

            err_set(&pe, ACME_EPROBLEM, "%s", t ? t : "invalid");
            free(t);
            if (p->type && !a->f->res->problem_type)
                a->f->res->problem_type = strdup(p->type);
        } else {
            err_set(&pe, -EPROTO, "authorization is %s", acme_authz_status_str(r->authz->status));
        }
        rc = pe.code;
        e = &pe;
    }
    if (rc < 0)
        flow_fail(a->f, rc, r, e, a->url);
    authz_done(a);
}

static void on_answered(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct authz_ctx *a = arg;
    struct err pe;

    err_clear(&pe);
    if (rc == 0) {
        rc = acme_authz_poll(a->f->fe->acme, a->url, clock_mono_ms() + AUTHZ_DEADLINE_MS,
                             on_authz_polled, a, &pe);
        e = &pe;
    }
    if (rc < 0) {
        flow_fail(a->f, rc, r, e, "answering the challenge");
        authz_done(a);
    }
}

/* Publishes the answer to `ch` through challtestsrv. Returns 0 or negative. */
static int publish(struct authz_ctx *a, const struct acme_authz *authz,
                   const struct acme_challenge *ch, struct err *e)
{
    char *ka = NULL, json[1024];
    int rc;

    if ((rc = keyauth_make(ch->token, a->f->thumbprint, &ka, e)) < 0)
        return rc;
    if (!strcmp(ch->type, "http-01")) {
        snprintf(json, sizeof json, "{\"token\":\"%s\",\"content\":\"%s\"}", ch->token, ka);
        rc = flow_challtestsrv(a->f->req->challtestsrv, "/add-http01", json);
        a->token = strdup(ch->token);
    } else {
        char *txt = keyauth_dns01_txt(ka);

        if (asprintf(&a->published_host, "_acme-challenge.%s.", authz->identifier.value) < 0)
            a->published_host = NULL;
        snprintf(json, sizeof json, "{\"host\":\"%s\",\"value\":\"%s\"}",
                 a->published_host ? a->published_host : "", txt ? txt : "");
        free(txt);
        rc = flow_challtestsrv(a->f->req->challtestsrv, "/set-txt", json);
    }
    free(ka);
    if (rc != 200)
        return err_set(e, -EIO, "challtestsrv refused to publish the %s answer (%d)", ch->type,
                       rc);
    return 0;
}

static void on_authz(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct authz_ctx *a = arg;
    const struct acme_challenge *ch;
    struct err pe;

    err_clear(&pe);
    if (rc < 0) {
        flow_fail(a->f, rc, r, e, a->url);
        authz_done(a);
        return;
    }
    if (r->authz->status == AUTHZ_VALID) {
        authz_done(a);
        return;
    }
    ch = acme_challenge_select(r->authz, a->f->req->prefs, a->f->req->nprefs);
    if (!ch) {
        err_set(&pe, -ENOTSUP, "no acceptable challenge for %s", r->authz->identifier.value);
    } else if (publish(a, r->authz, ch, &pe) == 0 &&
               acme_challenge_answer(a->f->fe->acme, ch->url, on_answered, a, &pe) == 0) {
        return;
    }
    flow_fail(a->f, pe.code, r, &pe, a->url);
    authz_done(a);
}

static void on_order(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct flow *f = arg;
    struct err pe;

    err_clear(&pe);
    if (rc == 0 && !r->location)
        rc = err_set(&pe, -EPROTO, "newOrder without a Location"), e = &pe;
    if (rc < 0) {
        flow_fail(f, rc, r, e, "newOrder");
        flow_finish(f);
        return;
    }
    f->res->order_url = strdup(r->location);
    f->order = r->order, r->order = NULL;
    if (f->order->status == ORDER_READY || f->order->nauthorizations == 0) {
        finalize(f);
        return;
    }
    f->authz_left = f->order->nauthorizations;
    for (size_t i = 0; i < f->order->nauthorizations; i++) {
        struct authz_ctx *a = calloc(1, sizeof *a);

        assert_non_null(a);
        a->f = f;
        a->url = strdup(f->order->authorizations[i]);
        if (acme_authz_get(f->fe->acme, a->url, on_authz, a, &pe) < 0) {
            flow_fail(f, pe.code, NULL, &pe, "authorization");
            authz_done(a);
        }
    }
}

int flow_issue_start(struct flow_env *fe, const struct flow_req *req, struct flow_result *res,
                     void (*cb)(void *arg, struct flow_result *res), void *arg)
{
    struct acme_identifier ids[16];
    struct acme_new_order o = {.ids = ids, .nids = req->nnames, .profile = req->profile,
                               .replaces = req->replaces};
    const struct signer *signer;
    struct flow *f;
    json_t *jwk;
    unsigned char buf[16];
    int rc;

    memset(res, 0, sizeof *res);
    assert_true(req->nnames <= 16);
    for (size_t i = 0; i < req->nnames; i++) {
        bool ip = inet_pton(AF_INET, req->names[i], buf) == 1 ||
                  inet_pton(AF_INET6, req->names[i], buf) == 1;

        ids[i].type = ip ? ACME_ID_IP : ACME_ID_DNS;
        ids[i].value = (char *)req->names[i];
    }
    if ((rc = key_generate(&req->key, &res->key, &res->e)) < 0)
        return rc;
    f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->fe = fe;
    f->req = req;
    f->res = res;
    f->cb = cb;
    f->arg = arg;
    signer = acme_client_account_signer(fe->acme);
    jwk = signer ? signer->jwk(signer->ctx, &res->e) : NULL;
    rc = jwk ? jwk_thumbprint(jwk, &f->thumbprint, &res->e) : -EINVAL;
    json_decref(jwk);
    if (rc == 0)
        rc = acme_order_new(fe->acme, &o, on_order, f, &res->e);
    if (rc < 0) {
        free(f->thumbprint);
        free(f);
    }
    return rc;
}

static void on_issued(void *arg, struct flow_result *res)
{
    *(bool *)arg = true;
}

int flow_issue(struct flow_env *fe, const struct flow_req *req, struct flow_result *res)
{
    bool done = false;
    int rc = flow_issue_start(fe, req, res, on_issued, &done);

    if (rc < 0) {
        res->rc = rc;
        return rc;
    }
    flow_run_until(&fe->loop, &done, 120000);
    return res->rc;
}

void flow_result_clear(struct flow_result *res)
{
    free(res->problem_type);
    free(res->cert_pem);
    key_free(res->key);
    free(res->order_url);
    memset(res, 0, sizeof *res);
}
