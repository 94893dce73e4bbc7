/* Tests of the engine results on the keeper/worker channel (privsep/wmsg_encode.h writes,
 * privsep/wmsg_engine.h reads): every object survives the trip field for field; what a
 * hostile CA could send to break the channel is cut or refused on the worker's side; what a
 * hostile worker could send is refused on the keeper's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "privsep/wmsg.h"
#include "privsep/wmsg_encode.h"
#include "privsep/wmsg_engine.h"

/* Encodes rc/r as a RESULT frame and decodes it back against the keeper's schema. */
static int trip(int rc, const struct engine_result *r, const struct err *why, int *rc_out,
                struct err *why_out, struct engine_result *out, struct err *e)
{
    struct ipc_out o;
    struct ipc_msg *m = malloc(sizeof *m);
    int x;

    assert_non_null(m);
    ipc_out_begin(&o, WMSG_RESULT);
    ipc_put_u64(&o, WMSG_T_ID, 1);
    wmsg_put_result(&o, rc, r, why);
    ipc_put_u64(&o, WMSG_T_REQUESTS, 3);
    ipc_put_u64(&o, WMSG_T_NONCES, 1);
    ipc_put_u64(&o, WMSG_T_RETRIES, 0);
    if ((x = ipc_out_end(&o, e)) < 0) {
        free(m);
        return x;
    }
    x = ipc_decode(&wmsg_to_keeper, (const uint8_t *)o.b.data, o.b.len, m, e);
    if (x == 0)
        x = wmsg_get_result(m, rc_out, why_out, out, e);
    buf_clear(&o.b);
    free(m);
    return x;
}

static void test_order_and_problem(void **state)
{
    struct engine_identifier ids[2] = {{false, "a.example.test"}, {true, "192.0.2.1"}};
    char *authz[2] = {"https://ca.test/authz/1", "https://ca.test/authz/2"};
    struct engine_identifier sub = {false, "a.example.test"};
    struct engine_problem prob = {.type = "urn:ietf:params:acme:error:rejectedIdentifier",
                                  .detail = "no\x01thanks\nacmed: forged",
                                  .text = "rejected",
                                  .status = 400,
                                  .sub_ids = &sub,
                                  .nsub_ids = 1};
    struct engine_order ord = {.status = EORDER_INVALID,
                               .url = "https://ca.test/order/9",
                               .finalize = "https://ca.test/order/9/finalize",
                               .expires = 1800000000,
                               .identifiers = ids,
                               .nidentifiers = 2,
                               .authorizations = authz,
                               .nauthorizations = 2,
                               .error = &prob};
    struct engine_result r = {
        .status = 200, .retry_after = 7, .order = &ord, .location = "https://ca.test/order/9"};
    struct engine_result out;
    struct err e = {0}, why = {0};
    int rc = 1;

    (void)state;
    assert_int_equal(trip(0, &r, NULL, &rc, &why, &out, &e), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(out.status, 200);
    assert_int_equal(out.retry_after, 7);
    assert_string_equal(out.location, "https://ca.test/order/9");
    assert_non_null(out.order);
    assert_int_equal(out.order->status, EORDER_INVALID);
    assert_string_equal(out.order->finalize, "https://ca.test/order/9/finalize");
    assert_null(out.order->certificate);
    assert_int_equal(out.order->expires, 1800000000);
    assert_int_equal(out.order->nidentifiers, 2);
    assert_false(out.order->identifiers[0].ip);
    assert_string_equal(out.order->identifiers[0].value, "a.example.test");
    assert_true(out.order->identifiers[1].ip);
    assert_string_equal(out.order->identifiers[1].value, "192.0.2.1");
    assert_int_equal(out.order->nauthorizations, 2);
    assert_string_equal(out.order->authorizations[1], "https://ca.test/authz/2");
    assert_non_null(out.order->error);
    assert_true(engine_problem_is(out.order->error, "rejectedIdentifier"));
    /* A control character the channel refuses arrives as '?', not as a broken channel; a line
     * break the channel carries is no line break in the keeper's log either. */
    assert_string_equal(out.order->error->detail, "no?thanks?acmed: forged");
    assert_int_equal(out.order->error->status, 400);
    assert_int_equal(out.order->error->nsub_ids, 1);
    assert_string_equal(out.order->error->sub_ids[0].value, "a.example.test");
    engine_result_clear(&out);

    /* A failure: the code and the message travel. */
    err_set(&why, -ETIMEDOUT, "polling timed out");
    r = (struct engine_result){.retry_after = -1, .problem = &prob};
    assert_int_equal(trip(-ETIMEDOUT, &r, &why, &rc, &why, &out, &e), 0);
    assert_int_equal(rc, -ETIMEDOUT);
    assert_string_equal(why.msg, "polling timed out");
    assert_int_equal(out.retry_after, -1);
    assert_non_null(out.problem);
    assert_string_equal(out.problem->text, "rejected");
    engine_result_clear(&out);
}

static void test_authz_account_rinfo_chain(void **state)
{
    struct engine_problem cp = {.type = "urn:ietf:params:acme:error:connection", .text = "x"};
    struct engine_challenge ch[2] = {{.type = "http-01",
                                      .url = "https://ca.test/chall/1",
                                      .token = "tok_1",
                                      .status = ECHALL_INVALID,
                                      .error = &cp},
                                     {.type = "dns-01",
                                      .url = "https://ca.test/chall/2",
                                      .token = "tok_2",
                                      .status = ECHALL_PENDING}};
    struct engine_authz az = {.status = EAUTHZ_PENDING,
                              .identifier = {false, "b.example.test"},
                              .wildcard = true,
                              .challenges = ch,
                              .nchallenges = 2};
    char *contact[1] = {"mailto:ops@example.test"};
    struct engine_account ac = {.status = EACCOUNT_VALID,
                                .url = "https://ca.test/acct/1",
                                .contact = contact,
                                .ncontact = 1};
    struct engine_renewal_info ri = {.start = 1800000000, .end = 1800086400};
    struct engine_result r = {.retry_after = -1, .authz = &az}, out;
    struct err e = {0}, why = {0};
    char pem[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    int rc;

    (void)state;
    assert_int_equal(trip(0, &r, NULL, &rc, &why, &out, &e), 0);
    assert_non_null(out.authz);
    assert_true(out.authz->wildcard);
    assert_string_equal(out.authz->identifier.value, "b.example.test");
    assert_int_equal(out.authz->nchallenges, 2);
    assert_string_equal(out.authz->challenges[0].token, "tok_1");
    assert_int_equal(out.authz->challenges[0].status, ECHALL_INVALID);
    assert_true(engine_problem_is(out.authz->challenges[0].error, "connection"));
    assert_string_equal(out.authz->challenges[1].type, "dns-01");
    assert_null(out.authz->challenges[1].error);
    engine_result_clear(&out);

    r = (struct engine_result){.retry_after = -1, .account = &ac};
    assert_int_equal(trip(0, &r, NULL, &rc, &why, &out, &e), 0);
    assert_string_equal(out.account->url, "https://ca.test/acct/1");
    assert_int_equal(out.account->ncontact, 1);
    assert_string_equal(out.account->contact[0], "mailto:ops@example.test");
    engine_result_clear(&out);

    r = (struct engine_result){.retry_after = -1, .renewal_info = &ri};
    assert_int_equal(trip(0, &r, NULL, &rc, &why, &out, &e), 0);
    assert_int_equal(out.renewal_info->start, 1800000000);
    assert_int_equal(out.renewal_info->end, 1800086400);
    engine_result_clear(&out);

    r = (struct engine_result){.retry_after = -1, .cert_pem = pem, .cert_len = strlen(pem)};
    assert_int_equal(trip(0, &r, NULL, &rc, &why, &out, &e), 0);
    assert_int_equal(out.cert_len, strlen(pem));
    assert_memory_equal(out.cert_pem, pem, strlen(pem));
    engine_result_clear(&out);
}

static void test_directory(void **state)
{
    char *profiles[2] = {"classic", "shortlived"};
    struct engine_directory d = {.new_account = "https://ca.test/new-acct",
                                 .new_order = "https://ca.test/new-order",
                                 .revoke_cert = "https://ca.test/revoke",
                                 .renewal_info = "https://ca.test/ari",
                                 .external_account_required = true,
                                 .profiles = profiles,
                                 .nprofiles = 2};
    struct engine_directory *got = NULL;
    struct ipc_out o;
    struct ipc_msg *m = malloc(sizeof *m);
    struct err e = {0};

    (void)state;
    ipc_out_begin(&o, WMSG_RESULT);
    ipc_put_u64(&o, WMSG_T_ID, 1);
    wmsg_put_result(&o, 0, NULL, NULL);
    wmsg_put_directory(&o, &d);
    ipc_put_u64(&o, WMSG_T_REQUESTS, 1);
    ipc_put_u64(&o, WMSG_T_NONCES, 0);
    ipc_put_u64(&o, WMSG_T_RETRIES, 0);
    assert_int_equal(ipc_out_end(&o, &e), 0);
    assert_int_equal(ipc_decode(&wmsg_to_keeper, (uint8_t *)o.b.data, o.b.len, m, &e), 0);
    assert_int_equal(wmsg_get_directory(m, &got, &e), 0);
    assert_string_equal(got->new_order, "https://ca.test/new-order");
    assert_string_equal(got->renewal_info, "https://ca.test/ari");
    assert_null(got->new_authz);
    assert_true(got->external_account_required);
    assert_int_equal(got->nprofiles, 2);
    assert_string_equal(got->profiles[1], "shortlived");
    engine_directory_free(got);
    buf_clear(&o.b);
    free(m);
}

/* What does not fit is refused by the worker's encoder (it then sends a plain error). */
static void test_worker_bounds(void **state)
{
    char url[WMSG_URL_MAX + 2];
    struct engine_order ord = {.status = EORDER_PENDING};
    char **many = calloc(WMSG_NAMES_MAX + 1, sizeof *many);
    struct engine_result r = {.retry_after = -1, .order = &ord}, out;
    struct err e = {0}, why = {0};
    char detail[WMSG_O_DETAIL_MAX * 2];
    struct engine_problem p = {.type = "about:blank", .detail = detail, .text = "t"};
    int rc;

    (void)state;
    memset(url, 'a', sizeof url - 1);
    url[sizeof url - 1] = '\0';
    ord.finalize = url;
    assert_int_equal(trip(0, &r, NULL, &rc, &why, &out, &e), -E2BIG);

    assert_non_null(many);
    for (size_t i = 0; i <= WMSG_NAMES_MAX; i++)
        many[i] = "https://ca.test/a";
    ord.finalize = "https://ca.test/f";
    ord.authorizations = many;
    ord.nauthorizations = WMSG_NAMES_MAX + 1;
    assert_int_equal(trip(0, &r, NULL, &rc, &why, &out, &e), -E2BIG);
    free(many);

    /* Human text is cut to its bound, at a character boundary (é is two bytes). */
    memset(detail, 'x', sizeof detail);
    memcpy(detail + WMSG_O_DETAIL_MAX - 1, "\xc3\xa9", 2);
    detail[sizeof detail - 1] = '\0';
    r = (struct engine_result){.retry_after = -1, .problem = &p};
    assert_int_equal(trip(0, &r, NULL, &rc, &why, &out, &e), 0);
    assert_int_equal(strlen(out.problem->detail), WMSG_O_DETAIL_MAX - 1);
    engine_result_clear(&out);
}

/* Ends a RESULT begun in o (ID and RC put), decodes it as the keeper does and checks that the
 * keeper refuses it; *why gets the refusal. */
static void assert_refused(struct ipc_out *o, struct err *why)
{
    struct ipc_msg *m = malloc(sizeof *m);
    struct engine_result out;
    struct err e = {0}, w = {0};
    int rc;

    assert_non_null(m);
    ipc_put_u64(o, WMSG_T_REQUESTS, 1);
    ipc_put_u64(o, WMSG_T_NONCES, 0);
    ipc_put_u64(o, WMSG_T_RETRIES, 0);
    assert_int_equal(ipc_out_end(o, &e), 0);
    assert_int_equal(ipc_decode(&wmsg_to_keeper, (uint8_t *)o->b.data, o->b.len, m, &e), 0);
    assert_int_equal(wmsg_get_result(m, &rc, &w, &out, why), -EPROTO);
    buf_clear(&o->b);
    free(m);
}

static void result_begin(struct ipc_out *o, uint64_t rc)
{
    ipc_out_begin(o, WMSG_RESULT);
    ipc_put_u64(o, WMSG_T_ID, 1);
    ipc_put_u64(o, WMSG_T_RC, rc);
}

/* A worker that breaks the rules the schema cannot state is refused by the keeper. */
static void test_keeper_refuses(void **state)
{
    struct ipc_out o, in;
    struct err e = {0};

    (void)state;
    /* An order status out of range. */
    ipc_out_begin(&in, OBJ_ORDER);
    ipc_put_u64(&in, O_STATUS, 99);
    ipc_put_u64(&in, O_EXPIRES, 0);
    assert_int_equal(ipc_out_end(&in, &e), 0);
    result_begin(&o, 0);
    ipc_put_bytes(&o, WMSG_T_ORDER, in.b.data, in.b.len);
    assert_refused(&o, &e);
    assert_non_null(strstr(e.msg, "order status"));

    /* Two objects in one result. */
    result_begin(&o, 0);
    ipc_put_bytes(&o, WMSG_T_ORDER, in.b.data, in.b.len);
    ipc_put_bytes(&o, WMSG_T_AUTHZ, in.b.data, in.b.len);
    assert_refused(&o, &e);
    /* An error code beyond any errno. */
    result_begin(&o, 100000);
    assert_refused(&o, &e);
    /* A URL with a line break (it would end up in a request). */
    result_begin(&o, 0);
    ipc_put_text(&o, WMSG_T_LOCATION, "https://ca.test/o/1\r\nX-Evil: 1");
    assert_refused(&o, &e);
    assert_non_null(strstr(e.msg, "control character"));
    /* A nested frame of the wrong type: an order where an authorization goes. */
    result_begin(&o, 0);
    ipc_put_bytes(&o, WMSG_T_AUTHZ, in.b.data, in.b.len);
    assert_refused(&o, &e);
    buf_clear(&in.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_problem), cmocka_unit_test(test_authz_account_rinfo_chain),
        cmocka_unit_test(test_directory),         cmocka_unit_test(test_worker_bounds),
        cmocka_unit_test(test_keeper_refuses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
