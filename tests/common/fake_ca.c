/* fake_ca: the scripted CA of tests/common/fake_ca.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <gnutls/x509.h>

#include "common/fake_ca.h"
#include "common/testutil.h"
#include "net/http_msg.h"

/* One reply in flight: delivered from the loop, never from the call (engine.h). */
struct reply {
    uv_timer_t timer;
    engine_cb cb;
    void *arg;
    int rc;
    struct err e;
    struct engine_result r;
};

static void maybe_stop(struct fake *f)
{
    if (f->j && f->stop_at >= 0 && (int)f->j->step == f->stop_at && !f->j->finished)
        *f->stopping = true;
}

static void on_check(uv_prepare_t *h)
{
    maybe_stop(h->data);
}

static void reply_closed(uv_handle_t *h)
{
    struct reply *p = h->data;

    engine_result_clear(&p->r);
    free(p);
}

static void reply_fire(uv_timer_t *t)
{
    struct reply *p = t->data;

    p->cb(p->arg, p->rc, &p->r, p->rc < 0 ? &p->e : NULL);
    uv_close((uv_handle_t *)&p->timer, reply_closed);
}

/* Logs the call and makes its reply: failed when the test asked for that. */
static struct reply *call(struct fake *f, const char *op, engine_cb cb, void *arg)
{
    struct reply *p = calloc(1, sizeof *p);

    assert_non_null(p);
    snprintf(f->log + strlen(f->log), sizeof f->log - strlen(f->log), "%s%s", *f->log ? "," : "",
             op);
    maybe_stop(f);
    p->cb = cb;
    p->arg = arg;
    p->r.retry_after = -1;
    p->r.status = 200;
    if (f->fail_times > 0 && !strcmp(f->fail_op, op) && !f->fail_problem) {
        /* No problem named: the operation is lost, as with a worker that died. */
        f->fail_times--;
        p->r.status = 0;
        p->rc = err_set(&p->e, ENGINE_ELOST, "%s: the worker went away", op);
    } else if (f->fail_times > 0 && !strcmp(f->fail_op, op)) {
        f->fail_times--;
        assert_non_null(p->r.problem = calloc(1, sizeof *p->r.problem));
        assert_non_null(p->r.problem->type = strdup(f->fail_problem));
        assert_non_null(p->r.problem->text = strdup(f->fail_problem));
        p->r.status = 400;
        p->rc = err_set(&p->e, ENGINE_EPROBLEM, "%s: %s", op, f->fail_problem);
    }
    uv_timer_init(f->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, reply_fire, 0, 0);
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);

    assert_non_null(d);
    return d;
}

/* a followed by b, allocated. */
static char *xcat(const char *a, const char *b)
{
    char *s = NULL;

    assert_true(asprintf(&s, "%s%s", a, b) >= 0);
    return s;
}

/* The CA's one order, made directly as the engine's plain data. */
static struct engine_order *order_obj(struct fake *f)
{
    struct engine_order *o = calloc(1, sizeof *o);

    assert_non_null(o);
    o->status = f->order;
    assert_non_null(o->identifiers = calloc(1, sizeof *o->identifiers));
    o->identifiers[0].value = xstrdup(f->name);
    o->nidentifiers = 1;
    assert_non_null(o->authorizations = calloc(1, sizeof *o->authorizations));
    o->authorizations[0] = xcat(f->url, "/authz/1");
    o->nauthorizations = 1;
    o->finalize = xcat(f->order_url, "/finalize");
    if (f->order == EORDER_VALID)
        o->certificate = xcat(f->url, "/cert/1");
    return o;
}

static struct fake *F(const struct engine *g)
{
    return (struct fake *)g;
}

static int f_start(struct engine *g, engine_cb cb, void *arg, struct err *e)
{
    call(F(g), "directory", cb, arg);
    return 0;
}

static const struct engine_directory *f_directory(const struct engine *g)
{
    return &F(g)->dir;
}

static int f_set_account(struct engine *g, const struct signer *s, const char *kid)
{
    free(F(g)->kid);
    F(g)->kid = kid ? strdup(kid) : NULL;
    return 0;
}

static const char *f_account_url(const struct engine *g)
{
    return F(g)->kid;
}

static int f_account_new(struct engine *g, const struct engine_new_account *req, engine_cb cb,
                         void *arg, struct err *e)
{
    struct reply *p = call(F(g), "account_new", cb, arg);

    p->r.location = xstrdup("https://ca.test/acct/1");
    (void)req;
    p->r.status = p->rc ? 400 : 201;
    return 0;
}

static int f_order_new(struct engine *g, const struct engine_new_order *req, engine_cb cb,
                       void *arg, struct err *e)
{
    struct fake *f = F(g);
    struct reply *p = call(f, "order_new", cb, arg);

    assert_int_equal(req->nids, 1);
    assert_string_equal(req->ids[0].value, f->name);
    if (p->rc == 0) {
        f->order = f->new_order_invalid ? EORDER_INVALID : EORDER_PENDING;
        f->authz = f->authz_initial;
        p->r.location = xstrdup(f->order_url);
        p->r.order = order_obj(f);
        p->r.order->url = xstrdup(f->order_url);
    }
    return 0;
}

static int f_order_get(struct engine *g, const char *url, engine_cb cb, void *arg, struct err *e)
{
    struct reply *p = call(F(g), "order_get", cb, arg);

    assert_string_equal(url, F(g)->order_url);
    if (p->rc == 0)
        p->r.order = order_obj(F(g));
    return 0;
}

/* The order's authorization as the CA has it: an http-01 challenge, with its error once
 * invalid. */
static struct engine_authz *authz_obj(struct fake *f)
{
    struct engine_authz *az = calloc(1, sizeof *az);
    struct engine_challenge *ch;
    bool bad = f->authz == EAUTHZ_INVALID;

    assert_non_null(az);
    az->status = f->authz;
    az->identifier.value = xstrdup(f->name);
    assert_non_null(ch = az->challenges = calloc(1, sizeof *az->challenges));
    az->nchallenges = 1;
    ch->type = xstrdup("http-01");
    ch->url = xcat(f->url, "/chall/1");
    ch->token = xstrdup(f->token);
    ch->status = bad ? ECHALL_INVALID : ECHALL_PENDING;
    if (bad) {
        assert_non_null(ch->error = calloc(1, sizeof *ch->error));
        ch->error->type = xstrdup("urn:ietf:params:acme:error:unauthorized");
        ch->error->detail = xstrdup("wrong answer");
        ch->error->text = xstrdup("urn:ietf:params:acme:error:unauthorized: wrong answer");
    }
    return az;
}

static int f_authz_get(struct engine *g, const char *url, engine_cb cb, void *arg, struct err *e)
{
    struct reply *p = call(F(g), "authz_get", cb, arg);

    if (p->rc == 0)
        p->r.authz = authz_obj(F(g));
    return 0;
}

/* Answering: the CA fetches http://<name>/.well-known/acme-challenge/<token>; here, the file
 * the webroot directory (served as /.well-known/acme-challenge/) must hold by now, with the key
 * authorization ("<token>.<thumbprint>"). */
static int f_challenge_answer(struct engine *g, const char *url, engine_cb cb, void *arg,
                              struct err *e)
{
    struct fake *f = F(g);
    call(f, "answer", cb, arg);
    char path[1024], *text;

    assert_int_equal(f->authz, EAUTHZ_PENDING);
    if (f->webroot) {
        snprintf(path, sizeof path, "%s/%s", f->webroot, f->token);
        if ((text = tu_read_file(path, NULL))) {
            if (!strncmp(text, f->token, strlen(f->token)) && text[strlen(f->token)] == '.')
                f->answers++;
            free(text);
        }
    }
    return 0;
}

static int f_authz_poll(struct engine *g, const char *url, uint64_t deadline_ms, engine_cb cb,
                        void *arg, struct err *e)
{
    struct fake *f = F(g);
    struct reply *p = call(f, "authz_poll", cb, arg);

    /* The CA decides: valid only when the answer was where it looked. */
    f->authz = f->authz_final == EAUTHZ_VALID && f->webroot && !f->answers ? EAUTHZ_INVALID
                                                                           : f->authz_final;
    if (p->rc == 0)
        p->r.authz = authz_obj(f);
    return 0;
}

static int f_order_poll(struct engine *g, const char *url, bool until_ready, uint64_t deadline_ms,
                        engine_cb cb, void *arg, struct err *e)
{
    struct fake *f = F(g);
    struct reply *p = call(f, until_ready ? "poll_ready" : "poll_valid", cb, arg);

    /* The CA moves on while it is polled (once the authorization is valid). */
    if (f->order == EORDER_PENDING && f->authz == EAUTHZ_VALID)
        f->order = EORDER_READY;
    else if (f->order == EORDER_PROCESSING)
        f->order = EORDER_VALID;
    if (p->rc == 0)
        p->r.order = order_obj(f);
    return 0;
}

static int f_order_finalize(struct engine *g, const char *url, const uint8_t *csr, size_t len,
                            engine_cb cb, void *arg, struct err *e)
{
    struct fake *f = F(g);
    struct reply *p = call(f, "finalize", cb, arg);

    assert_int_equal(f->order, EORDER_READY);
    free(f->csr);
    assert_non_null(f->csr = malloc(len));
    memcpy(f->csr, csr, len);
    f->csr_len = len;
    f->order = EORDER_PROCESSING;
    if (p->rc == 0)
        p->r.order = order_obj(f);
    return 0;
}

/* The certificate for the finalized CSR, signed by the test intermediate, then that one. */
static char *issue(struct fake *f, size_t *len)
{
    gnutls_x509_crq_t crq;
    gnutls_x509_crt_t crt, ca;
    gnutls_x509_privkey_t cakey;
    gnutls_datum_t d = {f->csr, (unsigned)f->csr_len}, out = {0};
    size_t klen, clen;
    char *kpem = tu_read_data("x509/inter.key", &klen);
    char *cpem = tu_read_data("x509/inter.pem", &clen);
    gnutls_datum_t kd = {(unsigned char *)kpem, (unsigned)klen};
    gnutls_datum_t cd = {(unsigned char *)cpem, (unsigned)clen};
    time_t now = time(NULL);
    static unsigned char issued;
    unsigned char serial[8] = {1, 2, 3, 4, 5, 6, (unsigned char)now, ++issued};
    unsigned char ski[64];
    size_t ski_len = sizeof ski;
    char *chain;

    assert_non_null(f->csr);
    assert_int_equal(gnutls_x509_crq_init(&crq), 0);
    assert_int_equal(gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER), 0);
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_init(&ca), 0);
    assert_int_equal(gnutls_x509_privkey_init(&cakey), 0);
    assert_int_equal(gnutls_x509_privkey_import(cakey, &kd, GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(gnutls_x509_crt_import(ca, &cd, GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(gnutls_x509_crt_set_crq(crt, crq), 0);
    assert_int_equal(gnutls_x509_crt_set_crq_extensions(crt, crq), 0);
    assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
    assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, sizeof serial), 0);
    assert_int_equal(gnutls_x509_crt_set_activation_time(crt, now - 60), 0);
    assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, now + 30 * 86400), 0);
    /* The issuer's key id: what renewal information's certID is made of (RFC 9773). */
    assert_int_equal(gnutls_x509_crt_get_subject_key_id(ca, ski, &ski_len, NULL), 0);
    assert_int_equal(gnutls_x509_crt_set_authority_key_id(crt, ski, ski_len), 0);
    assert_int_equal(gnutls_x509_crt_sign2(crt, ca, cakey, GNUTLS_DIG_SHA256, 0), 0);
    assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out), 0);
    assert_non_null(chain = malloc(out.size + clen + 1));
    memcpy(chain, out.data, out.size);
    memcpy(chain + out.size, cpem, clen);
    *len = out.size + clen;
    chain[*len] = '\0';
    gnutls_free(out.data);
    gnutls_x509_crq_deinit(crq);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_privkey_deinit(cakey);
    free(kpem);
    free(cpem);
    return chain;
}

static int f_cert_download(struct engine *g, const struct engine_download *req, engine_cb cb,
                           void *arg, struct err *e)
{
    struct reply *p = call(F(g), "download", cb, arg);

    char want[200];

    snprintf(want, sizeof want, "%s/cert/1", F(g)->url);
    assert_string_equal(req->url, want);
    if (p->rc == 0)
        p->r.cert_pem = issue(F(g), &p->r.cert_len);
    return 0;
}

static int f_account_update(struct engine *g, const char *const *contact, size_t ncontact,
                            engine_cb cb, void *arg, struct err *e)
{
    struct fake *f = F(g);

    call(f, "account_update", cb, arg);
    f->contact[0] = '\0';
    for (size_t i = 0; i < ncontact; i++)
        snprintf(f->contact + strlen(f->contact), sizeof f->contact - strlen(f->contact), "%s%s",
                 i ? "," : "", contact[i]);
    return 0;
}

static int f_cert_revoke(struct engine *g, const uint8_t *der, size_t len, int reason,
                         const struct signer *cert_key, engine_cb cb, void *arg, struct err *e)
{
    struct fake *f = F(g);
    struct reply *p = call(f, "revoke", cb, arg);

    assert_true(len > 100 && der[0] == 0x30); /* a DER certificate */
    if (p->rc == 0) {
        f->revoked++;
        f->revoke_reason = reason;
    }
    return 0;
}

/* RFC 9773 §4.2: the suggested window, with Retry-After. */
static int f_renewal_info_get(struct engine *g, const char *cert_id, engine_cb cb, void *arg,
                              struct err *e)
{
    struct fake *f = F(g);
    struct reply *p = call(f, "renewal_info", cb, arg);

    assert_non_null(cert_id);
    assert_non_null(p->r.renewal_info = calloc(1, sizeof *p->r.renewal_info));
    p->r.renewal_info->start = f->ari_start;
    p->r.renewal_info->end = f->ari_end;
    p->r.retry_after = 3600;
    return 0;
}

/* A central certificate server (engine_mgmt): the CSR (PEM) is signed as a finalized one. A
 * failure asked for with fail_problem "429" is that status with Retry-After 600 s, the reason
 * in the body, as the server sends it. */
static int f_csr_post(struct engine *g, const struct engine_csr_post *req, engine_cb cb, void *arg,
                      struct err *e)
{
    struct fake *f = F(g);
    struct reply *p = call(f, "csr_post", cb, arg);
    gnutls_x509_crq_t crq;
    gnutls_datum_t d = {(unsigned char *)req->body, (unsigned)req->len}, der = {0};

    snprintf(f->auth, sizeof f->auth, "%s", req->auth ? req->auth : "");
    f->post_checks = (req->key ? 1 : 0) + (req->nnames == 1 && !strcmp(req->names[0], f->name)) +
                     (req->trust_anchors && req->trust_anchors_len > 0);
    free(f->body);
    assert_non_null(f->body = strndup(req->body, req->len));
    if (p->r.problem && !strcmp(p->r.problem->type, "429")) {
        engine_result_clear(&p->r);
        p->rc = 0;
        p->r.status = 429;
        p->r.retry_after = 600;
        assert_non_null(p->r.body = strdup("over the rate\n"));
        p->r.body_len = strlen(p->r.body);
        return 0;
    }
    if (p->rc < 0)
        return 0;
    assert_int_equal(gnutls_x509_crq_init(&crq), 0);
    assert_int_equal(gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der), 0);
    gnutls_x509_crq_deinit(crq);
    free(f->csr);
    assert_non_null(f->csr = malloc(der.size));
    memcpy(f->csr, der.data, der.size);
    f->csr_len = der.size;
    gnutls_free(der.data);
    p->r.cert_pem = issue(f, &p->r.cert_len);
    return 0;
}

static void f_stats(const struct engine *g, struct engine_stats *out)
{
    memset(out, 0, sizeof *out);
}

/* The fake lives as long as the test: the provider does not own it. */
static void f_free(struct engine *g)
{
}

static const struct engine_ops fake_ops = {
    .start = f_start,
    .directory = f_directory,
    .set_account = f_set_account,
    .account_url = f_account_url,
    .account_new = f_account_new,
    .order_new = f_order_new,
    .order_get = f_order_get,
    .authz_get = f_authz_get,
    .challenge_answer = f_challenge_answer,
    .authz_poll = f_authz_poll,
    .account_update = f_account_update,
    .cert_revoke = f_cert_revoke,
    .renewal_info_get = f_renewal_info_get,
    .order_poll = f_order_poll,
    .order_finalize = f_order_finalize,
    .cert_download = f_cert_download,
    .csr_post = f_csr_post,
    .stats = f_stats,
    .free = f_free,
};

int fake_factory(void *arg, const char *url, struct engine **out, struct err *e)
{
    for (struct fake *f = arg; f; f = f->next) {
        if (!strcmp(f->url, url)) {
            f->dir.renewal_info = f->ari_end ? (char *)"https://ca.test/ari" : NULL;
            *out = &f->base;
            return 0;
        }
    }
    fail_msg("no fake CA at %s", url);
    return -1;
}

void fake_init(struct fake *f, uv_loop_t *loop, const char *url, const char *name)
{
    memset(f, 0, sizeof *f);
    f->base.ops = &fake_ops;
    f->loop = loop;
    snprintf(f->url, sizeof f->url, "%s", url);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->order_url, sizeof f->order_url, "%s/order/1", url);
    snprintf(f->token, sizeof f->token, "%s-%c", FAKE_TOKEN, name[0]);
    f->order = EORDER_INVALID;
    f->authz_initial = f->authz_final = EAUTHZ_VALID;
    f->stop_at = -1;
    assert_int_equal(uv_prepare_init(loop, &f->check), 0);
    f->check.data = f;
    uv_prepare_start(&f->check, on_check);
}

void fake_clear(struct fake *f)
{
    uv_close((uv_handle_t *)&f->check, NULL);
    free(f->kid);
    free(f->csr);
    free(f->body);
    f->kid = NULL;
    f->csr = NULL;
    f->body = NULL;
}
