/* Unit tests for privsep/remote_signer with the keeper's side (wmsg, keeper_sign) in the same
 * process: the worker's JWS is signed by the keeper's key when an operation allows it, and
 * the keeper's refusal reaches the worker's request. Frames go through an in-memory queue;
 * the channel itself is tested in unit.ipc_chan. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/jwk.h"
#include "crypto/key.h"
#include "privsep/keeper_sign.h"
#include "privsep/remote_signer.h"
#include "privsep/wmsg.h"

#define ACCT "https://ca.test/acct/1"
#define DIR "https://ca.test/dir"

static struct buf to_keeper; /* the last frame the worker sent */

static int send_to_keeper(void *arg, struct buf *frame, struct err *e)
{
    (void)arg;
    (void)e;
    buf_clear(&to_keeper);
    to_keeper = *frame;
    memset(frame, 0, sizeof *frame);
    return 0;
}

/* The keeper: decode the worker's frame, sign if allowed, answer with a frame. */
struct keeper {
    struct signer s;
    const struct keeper_grant *grants;
    size_t nguards;
    struct buf answer;
    uint64_t id;
};

static void keeper_signed(void *arg, int rc, const uint8_t *sig, size_t len, const struct err *e)
{
    struct keeper *k = arg;
    struct ipc_out o;
    struct err oe;

    ipc_out_begin(&o, WMSG_SIGNED);
    ipc_put_u64(&o, WMSG_T_ID, k->id);
    if (rc == 0)
        ipc_put_bytes(&o, WMSG_T_SIG, sig, len);
    else
        ipc_put_text(&o, WMSG_T_ERROR, err_msg(e));
    assert_int_equal(ipc_out_end(&o, &oe), 0);
    k->answer = o.b;
}

static void keeper_handle(struct keeper *k)
{
    struct ipc_msg m;
    struct err e = {0};
    const uint8_t *in;
    size_t inlen;
    char *dir;

    assert_int_equal(ipc_decode(&wmsg_to_keeper, (uint8_t *)to_keeper.data, to_keeper.len, &m, &e),
                     0);
    assert_int_equal(m.type, WMSG_SIGN);
    assert_true(ipc_get_u64(&m, WMSG_T_ID, 0, &k->id));
    dir = ipc_get_text(&m, WMSG_T_DIRECTORY, 0);
    assert_string_equal(dir, DIR);
    free(dir);
    assert_true(ipc_get_bytes(&m, WMSG_T_INPUT, 0, &in, &inlen));
    if (keeper_sign_start(k->grants, k->nguards, (const char *)in, inlen, keeper_signed, k, &e) < 0)
        keeper_signed(k, e.code, NULL, 0, &e);
}

struct result {
    int calls, rc;
    char *jws;
    char msg[512];
};

static void on_jws(void *arg, int rc, const char *jws, const struct err *e)
{
    struct result *r = arg;

    r->calls++;
    r->rc = rc;
    if (rc == 0)
        r->jws = strdup(jws);
    else
        snprintf(r->msg, sizeof r->msg, "%s", err_msg(e));
}

/* The worker side receives the keeper's answer. */
static void worker_receive(struct remote_hub *h, struct keeper *k)
{
    struct ipc_msg m;
    struct err e = {0};

    assert_int_equal(ipc_decode(&wmsg_to_worker, (uint8_t *)k->answer.data, k->answer.len, &m, &e),
                     0);
    assert_int_equal(remote_hub_answer(h, &m, &e), 0);
    /* The same answer twice is refused: nothing waits for it any more. */
    assert_int_equal(remote_hub_answer(h, &m, &e), -EPROTO);
    buf_clear(&k->answer);
}

static void test_round_trip(void **state)
{
    struct key_spec spec = {.type = KEY_ECDSA, .size = 256};
    struct ckey *key = NULL;
    struct err e = {0};
    const char *names[] = {"a.example.test"};
    struct sign_guard order = {
        .op = SIGN_GUARD_NEW_ORDER, .alg = "ES256", .kid = ACCT, .names = names, .nnames = 1};
    struct keeper k = {.nguards = 1};
    const struct keeper_grant grants[] = {{&order, &k.s}};
    struct remote_hub *h = remote_hub_new(send_to_keeper, NULL);
    struct signer ws;
    struct result r = {0};
    json_t *jwk;

    (void)state;
    assert_non_null(h);
    assert_int_equal(key_generate(&spec, &key, &e), 0);
    jws_signer_from_key(key, &k.s);
    k.grants = grants;
    jwk = jwk_public(key, &e);
    /* The worker knows the public key, never the private one. */
    assert_int_equal(remote_hub_signer(h, DIR, "ES256", jwk, &ws, &e), 0);

    /* Allowed: the worker's JWS carries the keeper's signature, which verifies. */
    assert_int_equal(jws_sign_acme_start(&ws, ACCT, "nonce1", "https://ca.test/new-order",
                                         "{\"identifiers\":[{\"type\":\"dns\","
                                         "\"value\":\"a.example.test\"}]}",
                                         on_jws, &r, &e),
                     0);
    assert_int_equal(r.calls, 0); /* waits for the keeper */
    keeper_handle(&k);
    worker_receive(h, &k);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(jws_verify_flattened(r.jws, jwk, &e), 0);
    free(r.jws);

    /* Another target's name: the keeper refuses, the worker's request fails with why. */
    memset(&r, 0, sizeof r);
    assert_int_equal(jws_sign_acme_start(&ws, ACCT, "nonce2", "https://ca.test/new-order",
                                         "{\"identifiers\":[{\"type\":\"dns\","
                                         "\"value\":\"b.example.org\"}]}",
                                         on_jws, &r, &e),
                     0);
    keeper_handle(&k);
    worker_receive(h, &k);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "keeper refused"));
    assert_non_null(strstr(r.msg, "other names"));

    /* A request still waiting when the hub goes: cancelled, once. */
    memset(&r, 0, sizeof r);
    assert_int_equal(jws_sign_acme_start(&ws, ACCT, "n3", "https://ca.test/x", "", on_jws, &r, &e),
                     0);
    remote_hub_free(h);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, -ECANCELED);

    buf_clear(&to_keeper);
    json_decref(jwk);
    key_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
