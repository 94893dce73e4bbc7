/* Unit tests for reconcile/job and its steps, driven through a scripted engine (engine.h): a
 * small CA in memory that answers every operation from its own order state, logs each call
 * and fails the calls a test asks it to. The jobs run on a real loop against a real state
 * directory in a temporary directory; nothing touches the network. Covered: the happy path,
 * a stop at every checkpoint followed by a resume from it, an order the CA declares invalid
 * (when created and when resumed), and `accountDoesNotExist` re-registration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/x509.h>

#include "common/testutil.h"
#include "reconcile/engine.h"
#include "reconcile/job.h"
#include "reconcile/plan.h"
#include "store/desired.h"

#define CA "https://ca.test/dir"
#define ORDER_URL "https://ca.test/order/1"

/* ---- the scripted engine ---- */

struct fake {
    struct engine base;
    uv_loop_t *loop;
    struct acme_directory dir;
    char *kid;
    char log[1024];               /* "op,op,...": every call in order */
    enum acme_order_status order; /* the CA's one order; ORDER_INVALID when none */
    bool new_order_invalid;       /* newOrder creates an order already invalid */
    const char *fail_op;          /* this operation fails fail_times times with fail_problem */
    unsigned fail_times;
    const char *fail_problem;
    uint8_t *csr; /* what finalize got, for the certificate */
    size_t csr_len;
    struct job *j;      /* the job under test, for stop_at */
    int stop_at;        /* stop the pass while this step runs (-1: never) */
    uv_prepare_t check; /* runs after the timers, before the loop waits */
};

/* One reply in flight: delivered from the loop, never from the call (engine.h). */
struct reply {
    uv_timer_t timer;
    acme_cb cb;
    void *arg;
    int rc;
    struct err e;
    struct acme_result r;
    struct acme_problem problem;
};

static void maybe_stop(struct fake *f)
{
    if (f->j && f->stop_at >= 0 && (int)f->j->step == f->stop_at && !f->j->finished)
        f->j->rec->stopping = true;
}

static void on_check(uv_prepare_t *h)
{
    maybe_stop(h->data);
}

static void reply_closed(uv_handle_t *h)
{
    struct reply *p = h->data;

    acme_order_free(p->r.order);
    acme_authz_free(p->r.authz);
    acme_account_free(p->r.account);
    free(p->r.cert_pem);
    free(p);
}

static void reply_fire(uv_timer_t *t)
{
    struct reply *p = t->data;

    p->cb(p->arg, p->rc, &p->r, p->rc < 0 ? &p->e : NULL);
    uv_close((uv_handle_t *)&p->timer, reply_closed);
}

/* Logs the call and makes its reply: failed when the test asked for that. */
static struct reply *call(struct fake *f, const char *op, acme_cb cb, void *arg)
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
    if (f->fail_times > 0 && !strcmp(f->fail_op, op)) {
        f->fail_times--;
        p->problem.type = (char *)f->fail_problem;
        p->r.problem = &p->problem;
        p->r.status = 400;
        p->rc = err_set(&p->e, ACME_EPROBLEM, "%s: %s", op, f->fail_problem);
    }
    uv_timer_init(f->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, reply_fire, 0, 0);
    return p;
}

static struct acme_order *order_obj(struct fake *f)
{
    static const char *names[] = {"pending", "ready", "processing", "valid", "invalid"};
    struct acme_order *o = NULL;
    char text[512];
    struct err e;

    snprintf(text, sizeof text,
             "{\"status\":\"%s\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}],"
             "\"authorizations\":[\"https://ca.test/authz/1\"],"
             "\"finalize\":\"https://ca.test/order/1/finalize\"%s}",
             names[f->order],
             f->order == ORDER_VALID ? ",\"certificate\":\"https://ca.test/cert/1\"" : "");
    assert_int_equal(acme_order_parse(text, strlen(text), &o, &e), 0);
    assert_int_equal(o->status, f->order);
    return o;
}

static struct fake *F(const struct engine *g)
{
    return (struct fake *)g;
}

static int f_start(struct engine *g, acme_cb cb, void *arg, struct err *e)
{
    call(F(g), "directory", cb, arg);
    return 0;
}

static const struct acme_directory *f_directory(const struct engine *g)
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

static int f_account_new(struct engine *g, const struct acme_new_account *req, acme_cb cb,
                         void *arg, struct err *e)
{
    struct reply *p = call(F(g), "account_new", cb, arg);

    p->r.location = "https://ca.test/acct/1";
    p->r.status = p->rc ? 400 : 201;
    return 0;
}

static int f_order_new(struct engine *g, const struct acme_new_order *req, acme_cb cb, void *arg,
                       struct err *e)
{
    struct fake *f = F(g);
    struct reply *p = call(f, "order_new", cb, arg);

    assert_int_equal(req->nids, 1);
    assert_string_equal(req->ids[0].value, "a.test");
    if (p->rc == 0) {
        f->order = f->new_order_invalid ? ORDER_INVALID : ORDER_PENDING;
        p->r.location = ORDER_URL;
        p->r.order = order_obj(f);
    }
    return 0;
}

static int f_order_get(struct engine *g, const char *url, acme_cb cb, void *arg, struct err *e)
{
    struct reply *p = call(F(g), "order_get", cb, arg);

    assert_string_equal(url, ORDER_URL);
    if (p->rc == 0)
        p->r.order = order_obj(F(g));
    return 0;
}

static int f_authz_get(struct engine *g, const char *url, acme_cb cb, void *arg, struct err *e)
{
    static const char text[] = "{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\","
                               "\"value\":\"a.test\"},\"challenges\":[]}";
    struct reply *p = call(F(g), "authz_get", cb, arg);
    struct err pe;

    if (p->rc == 0)
        assert_int_equal(acme_authz_parse(text, strlen(text), &p->r.authz, &pe), 0);
    return 0;
}

static int f_order_poll(struct engine *g, const char *url, bool until_ready, uint64_t deadline_ms,
                        acme_cb cb, void *arg, struct err *e)
{
    struct fake *f = F(g);
    struct reply *p = call(f, until_ready ? "poll_ready" : "poll_valid", cb, arg);

    /* The CA moves on while it is polled. */
    if (f->order == ORDER_PENDING)
        f->order = ORDER_READY;
    else if (f->order == ORDER_PROCESSING)
        f->order = ORDER_VALID;
    if (p->rc == 0)
        p->r.order = order_obj(f);
    return 0;
}

static int f_order_finalize(struct engine *g, const char *url, const uint8_t *csr, size_t len,
                            acme_cb cb, void *arg, struct err *e)
{
    struct fake *f = F(g);
    struct reply *p = call(f, "finalize", cb, arg);

    assert_int_equal(f->order, ORDER_READY);
    free(f->csr);
    assert_non_null(f->csr = malloc(len));
    memcpy(f->csr, csr, len);
    f->csr_len = len;
    f->order = ORDER_PROCESSING;
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
    unsigned char serial[8] = {1, 2, 3, 4, 5, 6, 7, (unsigned char)now};
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

static int f_cert_download(struct engine *g, const struct acme_download *req, acme_cb cb, void *arg,
                           struct err *e)
{
    struct reply *p = call(F(g), "download", cb, arg);

    assert_string_equal(req->url, "https://ca.test/cert/1");
    if (p->rc == 0)
        p->r.cert_pem = issue(F(g), &p->r.cert_len);
    return 0;
}

static void f_stats(const struct engine *g, struct acme_client_stats *out)
{
    memset(out, 0, sizeof *out);
}

/* The fake lives as long as the test: the provider does not own it. */
static void f_free(struct engine *g)
{
}

/* Its authorizations are valid already, so challenge_answer and authz_poll are never asked
 * for, nor are account_update, cert_revoke and renewal_info_get (pass phases, not steps):
 * they stay NULL, and a step that called one would crash the test. */
static const struct engine_ops fake_ops = {
    .start = f_start,
    .directory = f_directory,
    .set_account = f_set_account,
    .account_url = f_account_url,
    .account_new = f_account_new,
    .order_new = f_order_new,
    .order_get = f_order_get,
    .authz_get = f_authz_get,
    .order_poll = f_order_poll,
    .order_finalize = f_order_finalize,
    .cert_download = f_cert_download,
    .stats = f_stats,
    .free = f_free,
};

static int fake_factory(void *arg, const char *url, struct engine **out, struct err *e)
{
    assert_string_equal(url, CA);
    *out = arg;
    return 0;
}

/* ---- the fixture: a state directory, one target, a pass to hang jobs on ---- */

struct fx {
    char *dir;
    uv_loop_t loop;
    struct rec_opts o;
    struct rec r;
    struct target t;
    struct fake f;
};

static int setup(void **state)
{
    static const char text[] = "satisfy:\n  names: [a.test]\nrequest:\n  provider: " CA "\n"
                               "  key:\n    type: ecdsa\n";
    struct fx *x = calloc(1, sizeof *x);
    struct err e;

    assert_non_null(x);
    assert_non_null(x->dir = tu_mkdtemp("job"));
    assert_int_equal(uv_loop_init(&x->loop), 0);
    assert_int_equal(store_open(x->dir, &x->r.st, &e), 0);
    assert_int_equal(desired_parse("a.test", text, strlen(text), NULL, 0, &x->t, &e), 0);
    x->o.state_dir = x->dir;
    x->o.agree_tos = true;
    x->r.o = &x->o;
    x->r.loop = &x->loop;
    x->r.ds.targets = &x->t;
    x->r.ds.ntargets = 1;
    /* The pass's index of which target owns each name (rec_link_target asks it). */
    assert_int_equal(plan_index_owners(&x->r.owners, x->r.ds.targets, x->r.ds.ntargets), 0);
    x->r.new_engine = fake_factory;
    x->r.new_engine_arg = &x->f;
    x->f.base.ops = &fake_ops;
    x->f.loop = &x->loop;
    x->f.order = ORDER_INVALID;
    x->f.stop_at = -1;
    assert_int_equal(uv_prepare_init(&x->loop, &x->f.check), 0);
    x->f.check.data = &x->f;
    uv_prepare_start(&x->f.check, on_check);
    *state = x;
    return 0;
}

static void providers_free(struct fx *x)
{
    for (size_t i = 0; i < x->r.nprovs; i++)
        provider_free(x->r.provs[i]);
    free(x->r.provs);
    x->r.provs = NULL;
    x->r.nprovs = 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;

    providers_free(x);
    uv_close((uv_handle_t *)&x->f.check, NULL);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    for (size_t i = 0; i < x->r.nchanged; i++)
        free(x->r.changed[i]);
    free(x->r.changed);
    plan_index_free(&x->r.owners);
    target_clear(&x->t);
    store_close(&x->r.st);
    free(x->f.kid);
    free(x->f.csr);
    tu_rmtree(x->dir);
    free(x->dir);
    free(x);
    return 0;
}

static int finished;

static void on_done(struct job *j)
{
    finished = 1;
}

/* Runs one job of the target to its end, as a pass does: a fresh provider (a new run) unless
 * `same_run`, the target's saved progress, and the engine log cleared first. */
static void run_job(struct fx *x, struct job *j, bool same_run)
{
    struct err e;

    memset(j, 0, sizeof *j);
    if (!same_run)
        providers_free(x);
    x->r.stopping = false;
    x->f.log[0] = '\0';
    x->f.j = j;
    j->rec = &x->r;
    j->done = on_done;
    j->t = &x->t;
    assert_int_equal(tstate_load(&x->r.st, x->t.file, &j->ts, &e), 0);
    assert_non_null(j->prov = provider_get(&x->r, CA));
    finished = 0;
    job_start(j);
    assert_true(tu_run_until(&x->loop, &finished, 20000));
    x->f.j = NULL;
}

static void job_clear(struct job *j)
{
    acme_order_free(j->order);
    key_free(j->key);
    free(j->chain);
    free(j->fail_problem);
    if (j->have_installed)
        store_cert_clear(&j->installed);
    tstate_free(&j->ts);
}

/* What state/ says of the target now. */
static void saved(struct fx *x, struct tstate *ts)
{
    struct err e;

    assert_int_equal(tstate_load(&x->r.st, x->t.file, ts, &e), 0);
}

static void assert_installed(struct fx *x, struct job *j)
{
    char path[1024];
    char *live;

    assert_true(j->ok);
    assert_true(j->have_installed);
    snprintf(path, sizeof path, "%s/live/a.test/cert", x->dir);
    assert_non_null(live = tu_read_file(path, NULL));
    free(live);
}

static void test_happy_path(void **state)
{
    struct fx *x = *state;
    struct job j;
    struct tstate ts;

    run_job(x, &j, false);
    assert_string_equal(x->f.log, "directory,account_new,order_new,authz_get,poll_ready,"
                                  "finalize,poll_valid,download");
    assert_installed(x, &j);
    assert_false(j.interrupted);
    job_clear(&j);
    saved(x, &ts);
    assert_null(ts.order_url); /* installing ends the order */
    assert_int_equal(ts.failures, 0);
    tstate_free(&ts);

    /* The next renewal finds the account in accounts/: no registration. */
    run_job(x, &j, false);
    assert_string_equal(x->f.log, "directory,order_new,authz_get,poll_ready,finalize,poll_valid,"
                                  "download");
    assert_installed(x, &j);
    job_clear(&j);
}

/* Stops the pass while each step runs: the job ends after that step's checkpoint, state/
 * names it, and the next run resumes from there with only the calls still needed. */
static void test_stop_and_resume_at_every_step(void **state)
{
    static const struct {
        enum job_step step;
        const char *name;
        const char *first, *resumed;
    } cases[] = {
        {STEP_ACCOUNT, "account", "directory,account_new",
         "directory,order_new,authz_get,poll_ready,finalize,poll_valid,download"},
        {STEP_KEY, "key", "directory",
         "directory,order_new,authz_get,poll_ready,finalize,poll_valid,download"},
        {STEP_ORDER, "order", "directory,order_new",
         "directory,order_get,authz_get,poll_ready,finalize,poll_valid,download"},
        /* The order's status, not state/'s step, says what is left: still pending, its
         * authorizations are fetched again (the CA reuses the valid ones). */
        {STEP_AUTHORIZE, "authorize", "directory,order_get,authz_get",
         "directory,order_get,authz_get,poll_ready,finalize,poll_valid,download"},
        {STEP_FINALIZE, "finalize", "directory,order_get,authz_get,poll_ready,finalize,poll_valid",
         "directory,order_get,download"},
        /* The chain is not kept: a resumed download downloads again. */
        {STEP_DOWNLOAD, "download", "directory,order_get,download", "directory,order_get,download"},
    };
    struct fx *x = *state;
    struct job j;
    struct tstate ts;
    char *order_key = NULL;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* From STEP_AUTHORIZE on, the order stopped after STEP_ORDER is carried on. */
        bool carry = cases[i].step > STEP_ORDER;

        if (carry) {
            struct job k;

            x->f.stop_at = (int)cases[i].step - 1;
            run_job(x, &k, false);
            job_clear(&k);
        }
        x->f.stop_at = (int)cases[i].step;
        run_job(x, &j, false);
        assert_string_equal(x->f.log, cases[i].first);
        assert_true(j.interrupted);
        assert_false(j.ok);
        saved(x, &ts);
        assert_string_equal(ts.step, cases[i].name);
        assert_int_equal(ts.failures, 0);
        if (cases[i].step >= STEP_ORDER) {
            assert_string_equal(ts.order_url, ORDER_URL);
            assert_non_null(ts.key_id);
            if (order_key)
                assert_string_equal(ts.key_id, order_key);
            free(order_key);
            order_key = strdup(ts.key_id);
        }
        tstate_free(&ts);
        job_clear(&j);

        x->f.stop_at = -1;
        run_job(x, &j, false);
        assert_string_equal(x->f.log, cases[i].resumed);
        assert_installed(x, &j);
        if (cases[i].step >= STEP_ORDER)
            assert_string_equal(j.key_id, order_key); /* the order's key, not a new one */
        job_clear(&j);
        free(order_key);
        order_key = NULL;
    }
}

static void test_invalid_order(void **state)
{
    struct fx *x = *state;
    struct job j;
    struct tstate ts;

    /* Created invalid: the job fails and forgets the order. */
    x->f.new_order_invalid = true;
    run_job(x, &j, false);
    assert_false(j.ok);
    assert_false(j.interrupted);
    assert_string_equal(x->f.log, "directory,account_new,order_new");
    job_clear(&j);
    saved(x, &ts);
    assert_int_equal(ts.failures, 1);
    assert_null(ts.order_url);
    assert_non_null(strstr(ts.last_error, "invalid"));
    tstate_free(&ts);

    /* Invalid when resumed: a new order instead. */
    x->f.new_order_invalid = false;
    x->f.stop_at = STEP_ORDER;
    run_job(x, &j, false);
    job_clear(&j);
    x->f.stop_at = -1;
    x->f.order = ORDER_INVALID;
    run_job(x, &j, false);
    assert_string_equal(x->f.log, "directory,order_get,order_new,authz_get,poll_ready,finalize,"
                                  "poll_valid,download");
    assert_installed(x, &j);
    job_clear(&j);
    saved(x, &ts);
    assert_int_equal(ts.failures, 0);
    tstate_free(&ts);
}

static void test_account_does_not_exist(void **state)
{
    struct fx *x = *state;
    struct job j;
    struct tstate ts;

    run_job(x, &j, false); /* registers the account */
    job_clear(&j);
    /* The CA lost it: the same key is registered again, once, and the job goes on. */
    x->f.fail_op = "order_new";
    x->f.fail_times = 1;
    x->f.fail_problem = "urn:ietf:params:acme:error:accountDoesNotExist";
    run_job(x, &j, false);
    assert_string_equal(x->f.log, "directory,order_new,account_new,order_new,authz_get,"
                                  "poll_ready,finalize,poll_valid,download");
    assert_true(j.reregistered);
    assert_installed(x, &j);
    job_clear(&j);

    /* Twice in one job: the second time it is the job's failure, with the CA's problem. */
    x->f.fail_times = 2;
    run_job(x, &j, false);
    assert_string_equal(x->f.log, "directory,order_new,account_new,order_new");
    assert_false(j.ok);
    assert_false(j.interrupted);
    job_clear(&j);
    saved(x, &ts);
    assert_int_equal(ts.failures, 1);
    assert_string_equal(ts.last_problem, "urn:ietf:params:acme:error:accountDoesNotExist");
    tstate_free(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_happy_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_resume_at_every_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_does_not_exist, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
