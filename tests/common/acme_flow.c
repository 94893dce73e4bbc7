/* acme_flow: see acme_flow.h. */
#include "common/acme_flow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/pebble_env.h"
#include "crypto/csr.h"
#include "crypto/jwk.h"
#include "util/clock.h"

#define FLOW_LIMIT_MS 60000

/* ---- synchronous helpers ---- */

void flow_run_until(uv_loop_t *loop, const bool *done, unsigned limit_ms)
{
    uint64_t end = clock_mono_ms() + limit_ms;

    while (!*done) {
        if (clock_mono_ms() > end)
            fail_msg("operation did not finish within %u ms", limit_ms);
        uv_run(loop, UV_RUN_ONCE);
    }
}

void flow_sync_cb(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct flow_sync *s = arg;

    s->done = true;
    s->rc = rc;
    err_clear(&s->e);
    if (e)
        s->e = *e;
    s->status = r->status;
    s->retry_after = (long)r->retry_after;
    s->location = r->location ? strdup(r->location) : NULL;
    s->problem = r->problem, r->problem = NULL;
    s->account = r->account, r->account = NULL;
    s->order = r->order, r->order = NULL;
    s->authz = r->authz, r->authz = NULL;
    s->challenge = r->challenge, r->challenge = NULL;
    s->cert_pem = r->cert_pem, r->cert_pem = NULL;
    s->cert_len = r->cert_len;
    if (r->http && r->http->body) {
        s->body = strndup(r->http->body, r->http->body_len);
        s->body_len = r->http->body_len;
    }
}

void flow_sync_wait(struct flow_env *fe, struct flow_sync *s)
{
    flow_run_until(&fe->loop, &s->done, FLOW_LIMIT_MS);
}

void flow_sync_clear(struct flow_sync *s)
{
    free(s->location);
    acme_problem_free(s->problem);
    acme_account_free(s->account);
    acme_order_free(s->order);
    acme_authz_free(s->authz);
    acme_challenge_free(s->challenge);
    free(s->body);
    free(s->cert_pem);
    memset(s, 0, sizeof *s);
}

int flow_challtestsrv(const char *mgmt, const char *path, const char *json)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    char url[512];
    long code = -1;

    snprintf(url, sizeof url, "%s%s", mgmt, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return (int)code;
}

static size_t collect(char *p, size_t sz, size_t n, void *arg)
{
    char **buf = arg;
    size_t old = *buf ? strlen(*buf) : 0;
    char *nb = realloc(*buf, old + sz * n + 1);

    if (!nb)
        return 0;
    memcpy(nb + old, p, sz * n);
    nb[old + sz * n] = '\0';
    *buf = nb;
    return sz * n;
}

char *flow_pebble_mgmt(const char *path)
{
    char url[512], *body = NULL;
    CURL *h = curl_easy_init();
    long code = 0;

    snprintf(url, sizeof url, "%s%s", pe_get("PEBBLE_MGMT"), path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, pe_get("PEBBLE_CA"));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(h) != CURLE_OK)
        fail_msg("GET %s failed", url);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    if (code != 200 || !body)
        fail_msg("GET %s: HTTP %ld", url, code);
    return body;
}

/* ---- the environment ---- */

static void on_started(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    flow_sync_cb(arg, rc, r, e);
}

int flow_env_init_opts(struct flow_env *fe, const char *directory,
                       const struct http_client_opts *opts,
                       const struct acme_retry_policy *policy, struct err *e)
{
    struct flow_sync s = {0};
    int rc;

    memset(fe, 0, sizeof *fe);
    assert_int_equal(uv_loop_init(&fe->loop), 0);
    if (http_client_new(&fe->loop, opts, &fe->http, e) < 0)
        fail_msg("http_client_new: %s", err_msg(e));
    if (acme_client_new(&fe->loop, fe->http, directory, policy, &fe->acme, e) < 0)
        fail_msg("acme_client_new: %s", err_msg(e));
    if (acme_client_start(fe->acme, on_started, &s, e) < 0)
        fail_msg("acme_client_start: %s", err_msg(e));
    flow_sync_wait(fe, &s);
    rc = s.rc;
    if (rc < 0)
        *e = s.e;
    flow_sync_clear(&s);
    return rc;
}

void flow_env_init(struct flow_env *fe, const char *directory, const char *ca,
                   const struct acme_retry_policy *policy)
{
    struct http_client_opts ho = {.ca_bundle = ca};
    struct err e;

    if (flow_env_init_opts(fe, directory, &ho, policy, &e) < 0)
        fail_msg("directory %s: %s", directory, err_msg(&e));
}

int flow_env_account(struct flow_env *fe, const struct acme_eab *eab, struct err *e)
{
    struct key_spec spec = {KEY_ECDSA, 256};
    struct acme_new_account req = {.agree_tos = true, .eab = eab};
    static const char *contact[] = {"mailto:test@example.com"};
    struct flow_sync s = {0};
    json_t *jwk;
    int rc;

    if (!fe->account_key && key_generate(&spec, &fe->account_key, e) < 0)
        return e->code;
    jws_signer_from_key(fe->account_key, &fe->account);
    free(fe->thumbprint);
    fe->thumbprint = NULL;
    jwk = fe->account.jwk(fe->account.ctx, e);
    if (!jwk || jwk_thumbprint(jwk, &fe->thumbprint, e) < 0) {
        json_decref(jwk);
        return -EINVAL;
    }
    json_decref(jwk);
    req.key = &fe->account;
    req.contact = contact;
    req.ncontact = 1;
    if ((rc = acme_account_new(fe->acme, &req, flow_sync_cb, &s, e)) < 0)
        return rc;
    flow_sync_wait(fe, &s);
    rc = s.rc;
    if (rc < 0)
        *e = s.e;
    else if (!s.location)
        rc = err_set(e, -EPROTO, "newAccount without a Location");
    else
        rc = acme_client_set_account(fe->acme, &fe->account, s.location);
    flow_sync_clear(&s);
    return rc;
}

static void on_http_closed(void *arg)
{
    *(bool *)arg = true;
}

void flow_env_fini(struct flow_env *fe)
{
    bool closed = false;

    acme_client_free(fe->acme);
    http_client_close(fe->http, on_http_closed, &closed);
    flow_run_until(&fe->loop, &closed, 10000);
    uv_run(&fe->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fe->loop), 0);
    key_free(fe->account_key);
    free(fe->thumbprint);
    memset(fe, 0, sizeof *fe);
}
