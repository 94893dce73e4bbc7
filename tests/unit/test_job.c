/* Unit tests for reconcile/job and its steps, driven through a scripted engine (engine.h;
 * tests/common/fake_ca.h): a small CA in memory that answers every operation from its own
 * order state, logs each call and fails the calls a test asks it to. Whole passes (challenges,
 * account update, revocation, renewal information) are in test_pass.c. The jobs run on a real loop
 * against a real state directory in a temporary directory; nothing touches the network. Covered:
 * the happy path, a stop at every checkpoint followed by a resume from it, an order the CA declares
 * invalid (when created and when resumed), and `accountDoesNotExist` re-registration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/fake_ca.h"
#include "common/testutil.h"
#include "reconcile/engine.h"
#include "reconcile/job.h"
#include "reconcile/pass.h"
#include "reconcile/plan.h"
#include "store/desired.h"

#define CA "https://ca.test/dir"
#define ORDER_URL CA "/order/1"

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
    x->r.provs.st = &x->r.st;
    x->r.provs.ds = &x->r.ds;
    x->r.provs.loop = &x->loop;
    x->r.provs.o = &x->o;
    x->r.provs.new_engine = fake_factory;
    x->r.provs.new_engine_arg = &x->f;
    rec_job_ctx_init(&x->r);
    fake_init(&x->f, &x->loop, CA, "a.test");
    x->f.stopping = &x->r.stopping;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;

    providers_free(&x->r.provs);
    fake_clear(&x->f);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    for (size_t i = 0; i < x->r.nchanged; i++)
        free(x->r.changed[i]);
    free(x->r.changed);
    plan_index_free(&x->r.owners);
    target_clear(&x->t);
    store_close(&x->r.st);
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
        providers_free(&x->r.provs);
    x->r.stopping = false;
    x->f.log[0] = '\0';
    x->f.j = j;
    j->ctx = &x->r.jctx;
    j->done = on_done;
    j->t = &x->t;
    assert_int_equal(tstate_load(&x->r.st, x->t.file, &j->ts, &e), 0);
    assert_non_null(j->prov = provider_get(&x->r.provs, CA));
    finished = 0;
    job_start(j);
    assert_true(tu_run_until(&x->loop, &finished, 20000));
    x->f.j = NULL;
}

static void job_clear(struct job *j)
{
    engine_order_free(j->order);
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
        /* The order's status says what is left (state/ does not record the step): still
         * pending, its authorizations are fetched again (the CA reuses the valid ones). */
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
    x->f.order = EORDER_INVALID;
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

/* An operation lost with the engine's worker (privilege separation): the job resumes from its
 * checkpoint in the same run, a few times, then fails like any other failure. */
static void test_lost_operation_resumes(void **state)
{
    struct fx *x = *state;
    struct job j;
    struct tstate ts;

    x->f.fail_op = "finalize";
    x->f.fail_times = 1;
    x->f.fail_problem = NULL;
    run_job(x, &j, false);
    /* The finalize did reach the CA: the resumed job finds the order valid and downloads. */
    assert_string_equal(x->f.log, "directory,account_new,order_new,authz_get,poll_ready,finalize,"
                                  "order_get,poll_valid,download");
    assert_int_equal(j.lost, 1);
    assert_installed(x, &j);
    job_clear(&j);
    saved(x, &ts);
    assert_int_equal(ts.failures, 0);
    tstate_free(&ts);

    /* Lost every time: given up after JOB_LOST_MAX resumptions, as a failure of the target. */
    x->f.order = EORDER_INVALID;
    x->f.fail_op = "order_new";
    x->f.fail_times = JOB_LOST_MAX + 1;
    run_job(x, &j, false);
    assert_false(j.ok);
    assert_false(j.interrupted);
    assert_int_equal(j.lost, JOB_LOST_MAX);
    job_clear(&j);
    saved(x, &ts);
    assert_int_equal(ts.failures, 1);
    assert_non_null(strstr(ts.last_error, "the worker went away"));
    tstate_free(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_happy_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_resume_at_every_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_does_not_exist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_operation_resumes, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
