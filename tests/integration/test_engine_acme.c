/* engine_acme (src/reconcile/engine_acme.c) against the real Pebble fixture: every object the
 * engine hands to the steps is checked field by field against the JSON Pebble served for it,
 * parsed here with jansson alone. The raw JSON comes from the same Pebble through a second
 * client (tests/common/acme_flow, src/acme's operations, same account) that keeps the
 * response bodies: the directory, a new account, an order and its authorizations (a wildcard
 * one too), a refused order's problem document, a challenge whose validation fails, the
 * finalized order and the certificate. Through the fault proxy, what Pebble 2.4 lacks: the
 * directory's profiles and renewalInfo, a renewal information window, and a problem document
 * with subproblems. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/acme_flow.h"
#include "common/faultproxy.h"
#include "common/pebble_env.h"
#include "crypto/csr.h"
#include "crypto/jwk.h"
#include "crypto/jws.h"
#include "crypto/keyauth.h"
#include "reconcile/engine.h"
#include "util/clock.h"

#define LIMIT_MS 60000
#define ACME_ERR "urn:ietf:params:acme:error:"

/* ---- running engine operations synchronously ---- */

struct es {
    bool done;
    int rc;
    struct err e;
    struct engine_result r; /* everything the callback got, taken over */
};

static void es_cb(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct es *s = arg;

    s->done = true;
    s->rc = rc;
    err_clear(&s->e);
    if (rc < 0 && e)
        s->e = *e;
    s->r = *r;
    /* Taken over: the engine clears only what is left. */
    r->problem = NULL;
    r->location = NULL;
    r->account = NULL;
    r->order = NULL;
    r->authz = NULL;
    r->renewal_info = NULL;
    r->cert_pem = NULL;
}

static void es_clear(struct es *s)
{
    engine_result_clear(&s->r);
    memset(s, 0, sizeof *s);
}

/* Waits for the operation started with rc (0: started) and fails the test unless it ended
 * with want_rc. */
static void es_wait(struct flow_env *fe, int rc, struct es *s, const struct err *e, int want_rc,
                    const char *what)
{
    if (rc < 0)
        fail_msg("%s did not start: %s", what, err_msg(e));
    flow_run_until(&fe->loop, &s->done, LIMIT_MS);
    if (s->rc != want_rc)
        fail_msg("%s: rc %d (%s), wanted %d", what, s->rc, s->rc < 0 ? err_msg(&s->e) : "ok",
                 want_rc);
}

/* ---- what Pebble served ---- */

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

/* GETs url over TLS trusting PEBBLE_CA (blocking, loopback) and parses the JSON answer. */
static json_t *get_json(const char *url)
{
    CURL *h = curl_easy_init();
    char *body = NULL;
    long code = 0;
    json_t *j;

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
    if (code != 200 || !body || !(j = json_loads(body, 0, NULL)))
        fail_msg("GET %s: HTTP %ld, %s", url, code, body ? body : "no body");
    free(body);
    return j;
}

/* The body of a finished flow_sync operation as JSON. */
static json_t *body_json(const struct flow_sync *s)
{
    json_t *j = s->body ? json_loadb(s->body, s->body_len, 0, NULL) : NULL;

    if (!j)
        fail_msg("no JSON body (rc %d, HTTP %ld)", s->rc, s->status);
    return j;
}

/* POST-as-GET of an order or authorization through the second client: the JSON Pebble
 * serves for it now. */
static json_t *raw_get(struct flow_env *fe, const char *url, bool authz)
{
    struct flow_sync s = {0};
    struct err e;
    json_t *j;

    assert_int_equal(authz ? acme_authz_get(fe->acme, url, flow_sync_cb, &s, &e)
                           : acme_order_get(fe->acme, url, flow_sync_cb, &s, &e),
                     0);
    flow_sync_wait(fe, &s);
    if (s.rc != 0)
        fail_msg("GET %s: %s", url, err_msg(&s.e));
    j = body_json(&s);
    flow_sync_clear(&s);
    return j;
}

/* ---- field by field ---- */

static const char *jstr(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* got is the string member key of obj, or NULL when obj has none (absent or null). */
static void expect_str(const char *got, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!v || json_is_null(v)) {
        if (got)
            fail_msg("%s: engine has \"%s\", Pebble sent none", key, got);
        return;
    }
    if (!json_is_string(v))
        fail_msg("%s: Pebble sent a non-string", key);
    if (!got || strcmp(got, json_string_value(v)) != 0)
        fail_msg("%s: engine has \"%s\", Pebble sent \"%s\"", key, got ? got : "(null)",
                 json_string_value(v));
}

/* got[0..n) are the strings of the array member key of obj, in order (none when absent). */
static void expect_strv(char *const *got, size_t n, json_t *obj, const char *key)
{
    json_t *a = json_object_get(obj, key);
    size_t want = json_is_array(a) ? json_array_size(a) : 0;

    if (n != want)
        fail_msg("%s: engine has %zu entries, Pebble sent %zu", key, n, want);
    for (size_t i = 0; i < n; i++) {
        const char *w = json_string_value(json_array_get(a, i));

        if (!w || !got[i] || strcmp(got[i], w) != 0)
            fail_msg("%s[%zu]: engine has \"%s\", Pebble sent \"%s\"", key, i,
                     got[i] ? got[i] : "(null)", w ? w : "(non-string)");
    }
}

/* got[0..n) are the strings of the array member key of obj, each once, in any order: Pebble
 * lists an order's authorizations and identifiers in a different order in each answer. */
static void expect_strset(char *const *got, size_t n, json_t *obj, const char *key)
{
    json_t *a = json_object_get(obj, key);

    if (n != json_array_size(a))
        fail_msg("%s: engine has %zu entries, Pebble sent %zu", key, n, json_array_size(a));
    for (size_t i = 0; i < n; i++) {
        unsigned found = 0;

        for (size_t j = 0; j < n; j++)
            found += got[i] && json_string_value(json_array_get(a, j)) &&
                     !strcmp(got[i], json_string_value(json_array_get(a, j)));
        if (found != 1)
            fail_msg("%s: engine has \"%s\" which Pebble sent %u times", key,
                     got[i] ? got[i] : "(null)", found);
    }
}

/* got is the RFC 3339 time member key of obj, 0 when absent. */
static void expect_time(time_t got, json_t *obj, const char *key)
{
    const char *s = jstr(obj, key);
    time_t want = 0;

    if (s && clock_parse_rfc3339(s, &want) < 0)
        fail_msg("%s: Pebble sent \"%s\", not RFC 3339", key, s);
    if (got != want)
        fail_msg("%s: engine has %lld, Pebble sent %s (%lld)", key, (long long)got, s ? s : "none",
                 (long long)want);
}

static void expect_id(const struct engine_identifier *id, json_t *jid)
{
    const char *type = jstr(jid, "type");

    assert_non_null(type);
    assert_true(!strcmp(type, "dns") || !strcmp(type, "ip"));
    assert_int_equal(id->ip, !strcmp(type, "ip"));
    expect_str(id->value, jid, "value");
}

/* A problem document: type ("about:blank" when absent), detail, status, and the preformatted
 * text naming the type, the detail and every subproblem's identifier. */
static void expect_problem(const struct engine_problem *p, json_t *raw)
{
    json_t *subs = json_object_get(raw, "subproblems");
    const char *type = jstr(raw, "type");

    assert_non_null(p);
    assert_string_equal(p->type, type ? type : "about:blank");
    expect_str(p->detail, raw, "detail");
    assert_int_equal(p->status, json_integer_value(json_object_get(raw, "status")));
    assert_non_null(p->text);
    if (!strstr(p->text, p->type) || (p->detail && !strstr(p->text, p->detail)))
        fail_msg("problem text \"%s\" lacks the type or the detail", p->text);
    for (size_t i = 0; i < json_array_size(subs); i++) {
        const char *v = jstr(json_object_get(json_array_get(subs, i), "identifier"), "value");

        if (v && !strstr(p->text, v))
            fail_msg("problem text \"%s\" lacks subproblem identifier %s", p->text, v);
    }
}

static void expect_order(const struct engine_order *o, json_t *raw)
{
    json_t *ids = json_object_get(raw, "identifiers");

    assert_non_null(o);
    assert_string_equal(engine_order_status_str(o->status), jstr(raw, "status"));
    expect_str(o->finalize, raw, "finalize");
    expect_str(o->certificate, raw, "certificate");
    expect_time(o->expires, raw, "expires");
    expect_strset(o->authorizations, o->nauthorizations, raw, "authorizations");
    assert_int_equal(o->nidentifiers, json_array_size(ids));
    for (size_t i = 0; i < o->nidentifiers; i++) {
        unsigned found = 0;

        for (size_t j = 0; j < o->nidentifiers; j++) {
            json_t *jid = json_array_get(ids, j);

            found += !strcmp(o->identifiers[i].value, jstr(jid, "value")) &&
                     o->identifiers[i].ip == !strcmp(jstr(jid, "type"), "ip");
        }
        if (found != 1)
            fail_msg("identifier %s: Pebble sent it %u times", o->identifiers[i].value, found);
    }
    if (json_object_get(raw, "error"))
        expect_problem(o->error, json_object_get(raw, "error"));
    else
        assert_null(o->error);
}

static void expect_authz(const struct engine_authz *a, json_t *raw)
{
    json_t *chs = json_object_get(raw, "challenges");

    assert_non_null(a);
    assert_string_equal(engine_authz_status_str(a->status), jstr(raw, "status"));
    expect_id(&a->identifier, json_object_get(raw, "identifier"));
    assert_int_equal(a->wildcard, json_is_true(json_object_get(raw, "wildcard")));
    expect_time(a->expires, raw, "expires");
    assert_true(json_array_size(chs) > 0);
    assert_int_equal(a->nchallenges, json_array_size(chs));
    /* Pebble lists the challenges in a different order in each answer: each is found by its
     * URL. */
    for (size_t i = 0; i < a->nchallenges; i++) {
        const struct engine_challenge *c = &a->challenges[i];
        json_t *jc = NULL;

        assert_non_null(c->url);
        for (size_t j = 0; j < a->nchallenges; j++) {
            const char *u = jstr(json_array_get(chs, j), "url");

            if (u && !strcmp(u, c->url)) {
                assert_null(jc);
                jc = json_array_get(chs, j);
            }
        }
        if (!jc)
            fail_msg("challenge %s: Pebble sent none with that URL", c->url);
        expect_str(c->type, jc, "type");
        expect_str(c->token, jc, "token");
        assert_string_equal(engine_chall_status_str(c->status), jstr(jc, "status"));
        if (json_object_get(jc, "error"))
            expect_problem(c->error, json_object_get(jc, "error"));
        else
            assert_null(c->error);
    }
}

/* Nothing but what the operation names: no stray objects. */
static void expect_only(const struct engine_result *r, const void *member)
{
    const void *all[] = {r->account, r->order, r->authz, r->renewal_info, r->cert_pem};

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i] && all[i] != member)
            fail_msg("the result holds object %zu it should not", i);
}

/* ---- the environment ---- */

static struct flow_env fe;    /* the second client, for the raw JSON */
static struct ckey *acct_key; /* the engine's account, registered by test_account_new */
static struct signer acct_signer;
static char *acct_url, *acct_thumb;

static struct engine *engine_up(const char *directory)
{
    struct engine *g = NULL;
    struct es s = {0};
    struct err e;

    if (engine_acme_new(&fe.loop, fe.http, directory, 0, &g, &e) < 0)
        fail_msg("engine_acme_new: %s", err_msg(&e));
    assert_null(engine_directory(g));
    es_wait(&fe, engine_start(g, es_cb, &s, &e), &s, &e, 0, "start");
    assert_int_equal(s.r.status, 200);
    expect_only(&s.r, NULL);
    es_clear(&s);
    assert_non_null(engine_directory(g));
    return g;
}

static int setup(void **state)
{
    struct key_spec ks = {KEY_ECDSA, 256};
    struct err e;
    json_t *jwk;

    flow_env_init(&fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), NULL);
    if (key_generate(&ks, &acct_key, &e) < 0)
        fail_msg("key: %s", err_msg(&e));
    jws_signer_from_key(acct_key, &acct_signer);
    jwk = acct_signer.jwk(acct_signer.ctx, &e);
    assert_non_null(jwk);
    assert_int_equal(jwk_thumbprint(jwk, &acct_thumb, &e), 0);
    json_decref(jwk);
    return 0;
}

static int teardown(void **state)
{
    flow_env_fini(&fe);
    key_free(acct_key);
    free(acct_url);
    free(acct_thumb);
    return 0;
}

/* The engine, with the account test_account_new registered (registered here when that test
 * did not run first). The second client signs as the same account. */
static struct engine *engine_with_account(void)
{
    struct engine *g = engine_up(pe_get("PEBBLE_DIRECTORY"));

    if (!acct_url) {
        struct engine_new_account req = {.key = &acct_signer, .agree_tos = true};
        struct es s = {0};
        struct err e;

        es_wait(&fe, engine_account_new(g, &req, es_cb, &s, &e), &s, &e, 0, "newAccount");
        acct_url = strdup(s.r.location);
        es_clear(&s);
    }
    assert_int_equal(engine_set_account(g, &acct_signer, acct_url), 0);
    assert_string_equal(engine_account_url(g), acct_url);
    assert_int_equal(acme_client_set_account(fe.acme, &acct_signer, acct_url), 0);
    return g;
}

/* ---- the tests ---- */

/* The directory as Pebble serves it: URLs, meta. Pebble 2.4 has no newAuthz, renewalInfo,
 * website, caaIdentities or profiles: those must stay empty. */
static void test_directory(void **state)
{
    struct engine *g = engine_up(pe_get("PEBBLE_DIRECTORY"));
    const struct engine_directory *d = engine_directory(g);
    json_t *raw = get_json(pe_get("PEBBLE_DIRECTORY")), *meta = json_object_get(raw, "meta");

    assert_non_null(d->new_account);
    assert_non_null(d->terms_of_service);
    expect_str(d->new_account, raw, "newAccount");
    expect_str(d->new_order, raw, "newOrder");
    expect_str(d->revoke_cert, raw, "revokeCert");
    expect_str(d->new_authz, raw, "newAuthz");
    expect_str(d->renewal_info, raw, "renewalInfo");
    expect_str(d->terms_of_service, meta, "termsOfService");
    expect_str(d->website, meta, "website");
    expect_strv(d->caa_identities, d->ncaa_identities, meta, "caaIdentities");
    assert_int_equal(d->external_account_required,
                     json_is_true(json_object_get(meta, "externalAccountRequired")));
    assert_int_equal(d->nprofiles, json_object_size(json_object_get(meta, "profiles")));
    json_decref(raw);
    engine_free(g);
}

/* newAccount: 201, Location = the account URL, status and contact as Pebble answers them
 * (its answer to an onlyReturnExisting for the same key is the raw JSON). */
static void test_account_new(void **state)
{
    static const char *contact[] = {"mailto:engine-acme@example.com", "mailto:second@example.com"};
    struct engine *g = engine_up(pe_get("PEBBLE_DIRECTORY"));
    struct engine_new_account req = {
        .key = &acct_signer, .contact = contact, .ncontact = 2, .agree_tos = true};
    struct acme_new_account again = {.key = &acct_signer, .only_return_existing = true};
    const struct engine_account *a;
    struct flow_sync fs = {0};
    struct es s = {0};
    struct err e;
    json_t *raw;

    es_wait(&fe, engine_account_new(g, &req, es_cb, &s, &e), &s, &e, 0, "newAccount");
    assert_int_equal(s.r.status, 201);
    a = s.r.account;
    expect_only(&s.r, a);
    assert_non_null(a);
    assert_non_null(s.r.location);
    assert_non_null(a->url);
    assert_string_equal(a->url, s.r.location);
    assert_null(s.r.problem);

    assert_int_equal(acme_account_new(fe.acme, &again, flow_sync_cb, &fs, &e), 0);
    flow_sync_wait(&fe, &fs);
    assert_int_equal(fs.rc, 0);
    assert_int_equal(fs.status, 200);
    assert_string_equal(fs.location, a->url);
    raw = body_json(&fs);
    assert_string_equal(jstr(raw, "status"), "valid");
    assert_int_equal(a->status, EACCOUNT_VALID);
    expect_strv(a->contact, a->ncontact, raw, "contact");
    assert_int_equal(a->ncontact, 2);
    assert_string_equal(a->contact[0], contact[0]);
    assert_string_equal(a->contact[1], contact[1]);
    expect_str(a->orders, raw, "orders");
    json_decref(raw);
    flow_sync_clear(&fs);
    free(acct_url);
    acct_url = strdup(a->url);
    es_clear(&s);
    engine_free(g);
}

/* An order's life through the engine: newOrder (201, pending, identifiers as sent, one
 * authorization each, finalize), each authorization (identifier, status, challenges with
 * type, URL, token), an order GET, then the http-01 answers through challtestsrv, finalize,
 * the valid order with its certificate URL, and the download. */
static void test_order_life(void **state)
{
    static const char *const names[] = {"order.engine-acme.test", "127.0.0.1"};
    const struct engine_identifier ids[] = {{false, (char *)names[0]}, {true, (char *)names[1]}};
    struct engine *g = engine_with_account();
    struct engine_new_order req = {.ids = ids, .nids = 2};
    struct key_spec ks = {KEY_ECDSA, 256};
    struct engine_order *o;
    struct ckey *cert_key = NULL;
    struct es s = {0}, t = {0};
    struct flow_sync fs = {0};
    uint8_t *csr = NULL;
    size_t csr_len;
    char *url, json[1024];
    json_t *raw;
    struct err e;

    es_wait(&fe, engine_order_new(g, &req, es_cb, &s, &e), &s, &e, 0, "newOrder");
    assert_int_equal(s.r.status, 201);
    o = s.r.order;
    expect_only(&s.r, o);
    assert_non_null(o);
    assert_non_null(s.r.location);
    assert_non_null(o->url);
    assert_string_equal(o->url, s.r.location);
    url = strdup(o->url);
    assert_int_equal(o->status, EORDER_PENDING);
    /* The identifiers sent, each once, in whatever order Pebble lists them. */
    assert_int_equal(o->nidentifiers, 2);
    for (size_t i = 0; i < 2; i++) {
        unsigned found = 0;

        for (size_t j = 0; j < o->nidentifiers; j++)
            found +=
                o->identifiers[j].ip == ids[i].ip && !strcmp(o->identifiers[j].value, ids[i].value);
        assert_int_equal(found, 1);
    }
    assert_int_equal(o->nauthorizations, 2);
    assert_non_null(o->finalize);
    assert_null(o->certificate);
    assert_true(o->expires > clock_now());
    raw = raw_get(&fe, url, false);
    expect_order(o, raw);
    json_decref(raw);

    /* Each authorization, and its http-01 answer published. */
    for (size_t i = 0; i < o->nauthorizations; i++) {
        const struct engine_challenge *ch;
        char *ka = NULL;

        es_wait(&fe, engine_authz_get(g, o->authorizations[i], es_cb, &t, &e), &t, &e, 0, "authz");
        assert_int_equal(t.r.status, 200);
        expect_only(&t.r, t.r.authz);
        assert_int_equal(t.r.authz->status, EAUTHZ_PENDING);
        assert_false(t.r.authz->wildcard);
        raw = raw_get(&fe, o->authorizations[i], true);
        expect_authz(t.r.authz, raw);
        json_decref(raw);
        ch = engine_challenge_select(t.r.authz, "http-01");
        assert_non_null(ch);
        assert_non_null(ch->token);
        assert_int_equal(keyauth_make(ch->token, acct_thumb, &ka, &e), 0);
        snprintf(json, sizeof json, "{\"token\":\"%s\",\"content\":\"%s\"}", ch->token, ka);
        free(ka);
        assert_int_equal(flow_challtestsrv(pe_get("CHALLTESTSRV_MGMT"), "/add-http01", json), 200);
        {
            struct es a = {0};

            es_wait(&fe, engine_challenge_answer(g, ch->url, es_cb, &a, &e), &a, &e, 0, "answer");
            assert_int_equal(a.r.status, 200);
            expect_only(&a.r, NULL);
            es_clear(&a);
        }
        es_clear(&t);
    }
    for (size_t i = 0; i < o->nauthorizations; i++) {
        es_wait(&fe,
                engine_authz_poll(g, o->authorizations[i], clock_mono_ms() + 30000, es_cb, &t, &e),
                &t, &e, 0, "authz poll");
        assert_int_equal(t.r.authz->status, EAUTHZ_VALID);
        raw = raw_get(&fe, o->authorizations[i], true);
        expect_authz(t.r.authz, raw);
        json_decref(raw);
        es_clear(&t);
    }

    /* order_get: the order, ready now, without a URL (no Location). */
    es_wait(&fe, engine_order_get(g, url, es_cb, &t, &e), &t, &e, 0, "order GET");
    assert_int_equal(t.r.status, 200);
    expect_only(&t.r, t.r.order);
    assert_null(t.r.order->url);
    assert_int_equal(t.r.order->status, EORDER_READY);
    raw = raw_get(&fe, url, false);
    expect_order(t.r.order, raw);
    json_decref(raw);
    es_clear(&t);

    /* Finalize, poll until valid, download. */
    assert_int_equal(key_generate(&ks, &cert_key, &e), 0);
    assert_int_equal(csr_create(cert_key, names, 2, false, &csr, &csr_len, &e), 0);
    es_wait(&fe, engine_order_finalize(g, o->finalize, csr, csr_len, es_cb, &t, &e), &t, &e, 0,
            "finalize");
    assert_int_equal(t.r.status, 200);
    assert_true(t.r.order->status == EORDER_PROCESSING || t.r.order->status == EORDER_VALID);
    es_clear(&t);
    es_wait(&fe, engine_order_poll(g, url, false, clock_mono_ms() + 30000, es_cb, &t, &e), &t, &e,
            0, "order poll");
    assert_int_equal(t.r.order->status, EORDER_VALID);
    assert_non_null(t.r.order->certificate);
    raw = raw_get(&fe, url, false);
    expect_order(t.r.order, raw);
    json_decref(raw);
    {
        struct engine_download dl = {
            .url = t.r.order->certificate, .key = cert_key, .names = names, .nnames = 2};
        struct acme_download adl = {
            .url = t.r.order->certificate, .key = cert_key, .names = names, .nnames = 2};
        struct es c = {0};

        es_wait(&fe, engine_cert_download(g, &dl, es_cb, &c, &e), &c, &e, 0, "download");
        assert_int_equal(c.r.status, 200);
        expect_only(&c.r, c.r.cert_pem);
        assert_non_null(c.r.cert_pem);
        assert_int_equal(acme_cert_download(fe.acme, &adl, flow_sync_cb, &fs, &e), 0);
        flow_sync_wait(&fe, &fs);
        assert_int_equal(fs.rc, 0);
        assert_int_equal(c.r.cert_len, fs.cert_len);
        assert_memory_equal(c.r.cert_pem, fs.cert_pem, fs.cert_len);
        assert_int_equal(strncmp(c.r.cert_pem, "-----BEGIN CERTIFICATE-----", 27), 0);
        flow_sync_clear(&fs);
        es_clear(&c);
    }
    es_clear(&t);
    free(csr);
    key_free(cert_key);
    free(url);
    es_clear(&s);
    engine_free(g);
}

/* A wildcard order: its authorization names the base domain with wildcard set, and offers
 * dns-01 only. */
static void test_wildcard_authz(void **state)
{
    const struct engine_identifier ids[] = {{false, "*.wild.engine-acme.test"}};
    struct engine *g = engine_with_account();
    struct engine_new_order req = {.ids = ids, .nids = 1};
    struct es s = {0}, t = {0};
    struct err e;
    json_t *raw;

    es_wait(&fe, engine_order_new(g, &req, es_cb, &s, &e), &s, &e, 0, "newOrder");
    assert_string_equal(s.r.order->identifiers[0].value, "*.wild.engine-acme.test");
    assert_int_equal(s.r.order->nauthorizations, 1);
    es_wait(&fe, engine_authz_get(g, s.r.order->authorizations[0], es_cb, &t, &e), &t, &e, 0,
            "authz");
    assert_true(t.r.authz->wildcard);
    assert_string_equal(t.r.authz->identifier.value, "wild.engine-acme.test");
    assert_non_null(engine_challenge_select(t.r.authz, "dns-01"));
    assert_null(engine_challenge_select(t.r.authz, "http-01"));
    raw = raw_get(&fe, s.r.order->authorizations[0], true);
    expect_authz(t.r.authz, raw);
    json_decref(raw);
    es_clear(&t);
    es_clear(&s);
    engine_free(g);
}

/* A challenge answered with nothing published: the authorization becomes invalid and the
 * challenge carries Pebble's problem document. */
static void test_failed_challenge(void **state)
{
    const struct engine_identifier ids[] = {{false, "unanswered.engine-acme.test"}};
    struct engine *g = engine_with_account();
    struct engine_new_order req = {.ids = ids, .nids = 1};
    const struct engine_challenge *ch;
    struct es s = {0}, t = {0};
    struct err e;
    char *authz;
    json_t *raw;

    es_wait(&fe, engine_order_new(g, &req, es_cb, &s, &e), &s, &e, 0, "newOrder");
    authz = s.r.order->authorizations[0];
    es_wait(&fe, engine_authz_get(g, authz, es_cb, &t, &e), &t, &e, 0, "authz");
    ch = engine_challenge_select(t.r.authz, "http-01");
    assert_non_null(ch);
    {
        struct es a = {0};

        es_wait(&fe, engine_challenge_answer(g, ch->url, es_cb, &a, &e), &a, &e, 0, "answer");
        es_clear(&a);
    }
    es_clear(&t);
    es_wait(&fe, engine_authz_poll(g, authz, clock_mono_ms() + 30000, es_cb, &t, &e), &t, &e, 0,
            "authz poll");
    assert_int_equal(t.r.authz->status, EAUTHZ_INVALID);
    ch = engine_challenge_select(t.r.authz, "http-01");
    assert_non_null(ch);
    assert_int_equal(ch->status, ECHALL_INVALID);
    assert_non_null(ch->error);
    assert_int_equal(strncmp(ch->error->type, ACME_ERR, strlen(ACME_ERR)), 0);
    raw = raw_get(&fe, authz, true);
    expect_authz(t.r.authz, raw);
    json_decref(raw);
    es_clear(&t);
    es_clear(&s);
    engine_free(g);
}

/* newOrder for a name on Pebble's blocklist (the fixture's "blocked.test"): ENGINE_EPROBLEM,
 * HTTP 400, and the problem document as Pebble sends it (the same request through the second
 * client gives the raw JSON). */
static void test_problem(void **state)
{
    const struct engine_identifier ids[] = {{false, "ok.engine-acme.test"},
                                            {false, "blocked.test"}};
    struct acme_identifier aids[] = {{ACME_ID_DNS, "ok.engine-acme.test"},
                                     {ACME_ID_DNS, "blocked.test"}};
    struct engine *g = engine_with_account();
    struct engine_new_order req = {.ids = ids, .nids = 2};
    struct acme_new_order areq = {.ids = aids, .nids = 2};
    const struct engine_problem *p;
    struct flow_sync fs = {0};
    struct es s = {0};
    struct err e;
    json_t *raw;

    es_wait(&fe, engine_order_new(g, &req, es_cb, &s, &e), &s, &e, ENGINE_EPROBLEM, "newOrder");
    assert_int_equal(s.r.status, 400);
    expect_only(&s.r, NULL);
    assert_null(s.r.location);
    p = s.r.problem;
    assert_non_null(p);
    assert_string_equal(p->type, ACME_ERR "rejectedIdentifier");
    assert_int_equal(p->status, 400);
    assert_non_null(p->detail);
    assert_non_null(strstr(p->text, "blocked.test"));

    assert_int_equal(acme_order_new(fe.acme, &areq, flow_sync_cb, &fs, &e), 0);
    flow_sync_wait(&fe, &fs);
    assert_int_equal(fs.rc, ENGINE_EPROBLEM);
    raw = body_json(&fs);
    expect_problem(p, raw);
    /* Pebble 2.4 sends no subproblems here: test_subproblems has them. */
    assert_null(json_object_get(raw, "subproblems"));
    assert_int_equal(p->nsub_ids, 0);
    json_decref(raw);
    flow_sync_clear(&fs);
    es_clear(&s);
    engine_free(g);
}

/* A problem document with subproblems (RFC 8555 §6.7.1), which Pebble 2.4 never sends: the
 * fault proxy answers the newOrder with one. */
static void test_subproblems(void **state)
{
    static const char problem[] =
        "{\"type\": \"" ACME_ERR "rejectedIdentifier\", \"status\": 400,"
        " \"detail\": \"Some identifiers were rejected\", \"subproblems\": ["
        "{\"type\": \"" ACME_ERR "rejectedIdentifier\", \"detail\": \"no such name\","
        " \"identifier\": {\"type\": \"dns\", \"value\": \"sub.blocked.test\"}},"
        "{\"type\": \"" ACME_ERR "rejectedIdentifier\", \"detail\": \"not ours\","
        " \"identifier\": {\"type\": \"ip\", \"value\": \"192.0.2.1\"}}]}";
    const struct engine_identifier ids[] = {{false, "sub.blocked.test"}, {true, "192.0.2.1"}};
    struct engine_new_order req = {.ids = ids, .nids = 2};
    struct faultproxy *fp = NULL;
    const struct engine_problem *p;
    struct engine *g;
    struct es s = {0};
    struct err e;
    char rule[2048];
    json_t *raw = json_loads(problem, 0, NULL);

    assert_non_null(raw);
    assert_int_equal(fp_start_pebble(&fp), 0);
    snprintf(rule, sizeof rule,
             "{\"method\": \"POST\", \"path\": \"^/order-plz$\", \"action\": \"status\","
             " \"status\": 400, \"with_nonce\": true, \"problem\": %s}",
             problem);
    assert_true(fp_add_rule(fp, rule) >= 0);
    g = engine_up(fp_url(fp, "/dir"));
    /* The proxy answers without asking Pebble: any account URL does. */
    assert_int_equal(engine_set_account(g, &acct_signer, "https://127.0.0.1/my-account/1"), 0);
    es_wait(&fe, engine_order_new(g, &req, es_cb, &s, &e), &s, &e, ENGINE_EPROBLEM, "newOrder");
    assert_int_equal(fp_count(fp, "POST", "^/order-plz$"), 1);
    assert_int_equal(s.r.status, 400);
    expect_only(&s.r, NULL);
    p = s.r.problem;
    expect_problem(p, raw);
    assert_non_null(strstr(p->text, "no such name"));
    assert_non_null(strstr(p->text, "not ours"));
    /* The subproblems' identifiers, in the document's order. */
    assert_int_equal(p->nsub_ids, 2);
    assert_false(p->sub_ids[0].ip);
    assert_string_equal(p->sub_ids[0].value, "sub.blocked.test");
    assert_true(p->sub_ids[1].ip);
    assert_string_equal(p->sub_ids[1].value, "192.0.2.1");
    es_clear(&s);
    engine_free(g);
    fp_stop(fp);
    json_decref(raw);
}

/* Through the fault proxy: the directory's profiles and renewalInfo, and a renewal
 * information window (start, end, explanationURL, Retry-After) as served for a certID (the
 * RFC 9773 §4.1 example identifier). */
static void test_profiles_and_ari(void **state)
{
    static const char cert_id[] = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
    struct faultproxy *fp = NULL;
    const struct engine_directory *d;
    struct engine *g;
    struct es s = {0};
    struct err e;
    json_t *raw, *profiles, *v;
    const char *k;
    size_t i = 0;
    char ari[512];
    time_t start, end;

    assert_int_equal(fp_start_pebble(&fp), 0);
    assert_int_equal(fp_set_profiles(fp, "{\"classic\": \"90 days\", \"shortlived\": \"6 days\","
                                         " \"tlsserver\": \"7 days\"}"),
                     0);
    snprintf(ari, sizeof ari,
             "{\"retry_after\": 7200, \"certs\": {\"%s\": {\"window\": {"
             "\"start\": \"2030-01-01T00:00:00Z\", \"end\": \"2030-01-02T12:30:00Z\"},"
             " \"explanationURL\": \"https://ca.test/why\"}}}",
             cert_id);
    assert_int_equal(fp_set_ari(fp, ari), 0);
    g = engine_up(fp_url(fp, "/dir"));
    d = engine_directory(g);
    raw = get_json(fp_url(fp, "/dir"));
    expect_str(d->new_order, raw, "newOrder");
    assert_non_null(d->renewal_info);
    expect_str(d->renewal_info, raw, "renewalInfo");
    profiles = json_object_get(json_object_get(raw, "meta"), "profiles");
    assert_int_equal(json_object_size(profiles), 3);
    assert_int_equal(d->nprofiles, 3);
    json_object_foreach(profiles, k, v)
    {
        assert_string_equal(d->profiles[i], k);
        i++;
    }
    json_decref(raw);

    es_wait(&fe, engine_renewal_info_get(g, cert_id, es_cb, &s, &e), &s, &e, 0, "renewalInfo");
    assert_int_equal(s.r.status, 200);
    assert_int_equal(s.r.retry_after, 7200);
    expect_only(&s.r, s.r.renewal_info);
    assert_int_equal(clock_parse_rfc3339("2030-01-01T00:00:00Z", &start), 0);
    assert_int_equal(clock_parse_rfc3339("2030-01-02T12:30:00Z", &end), 0);
    assert_int_equal(s.r.renewal_info->start, start);
    assert_int_equal(s.r.renewal_info->end, end);
    assert_string_equal(s.r.renewal_info->explanation_url, "https://ca.test/why");
    es_clear(&s);
    engine_free(g);
    fp_stop(fp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directory),        cmocka_unit_test(test_account_new),
        cmocka_unit_test(test_order_life),       cmocka_unit_test(test_wildcard_authz),
        cmocka_unit_test(test_failed_challenge), cmocka_unit_test(test_problem),
        cmocka_unit_test(test_subproblems),      cmocka_unit_test(test_profiles_and_ari),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
