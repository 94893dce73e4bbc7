/* Unit tests for privsep/keeper and privsep/engine_proxy against a hostile worker: this binary
 * is its own worker (the keeper execs itself with --privsep-worker; ACMED_TEST_WORKER says how
 * it misbehaves), speaking the channel by hand. Covered: a result the keeper's checks refuse
 * fails that operation only; a result for an operation it was never given ends the worker and
 * the operation is lost (ENGINE_ELOST), then a new worker starts; a frame its schema refuses
 * likewise; a signature for a newOrder of other names than the operation's is refused while
 * the operation's own is signed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fake_worker.h"
#include "common/testutil.h"
#include "crypto/b64.h"
#include "crypto/jws.h"
#include "crypto/key.h"
#include "privsep/child.h"
#include "privsep/engine_proxy.h"
#include "privsep/wmsg.h"
#include "privsep/wmsg_encode.h"

#define DIR "https://ca.test/dir"
#define ACCT "https://ca.test/acct/1"
#define MGMT "mgmt+http://127.0.0.1:1/sign"

/* ---- the worker side, by hand, blocking ---- */

static void result_end(struct ipc_out *o)
{
    ipc_put_u64(o, WMSG_T_REQUESTS, 0);
    ipc_put_u64(o, WMSG_T_NONCES, 0);
    ipc_put_u64(o, WMSG_T_RETRIES, 0);
    fw_send(o);
}

/* Asks the keeper to sign a newOrder for `name`; returns 1 when it signed, 0 when it refused
 * (the refusal in why). */
static int ask_sign(uint64_t sid, const char *name, char *why, size_t whylen)
{
    char hdr[256], pl[256], *h64 = NULL, *p64 = NULL, *input = NULL;
    struct ipc_out o;
    struct ipc_msg *m = malloc(sizeof *m);
    uint8_t *buf = NULL;
    int signed_ = 0;

    snprintf(
        hdr, sizeof hdr,
        "{\"alg\":\"ES256\",\"kid\":\"%s\",\"nonce\":\"n1\",\"url\":\"https://ca.test/new-order\"}",
        ACCT);
    snprintf(pl, sizeof pl, "{\"identifiers\":[{\"type\":\"dns\",\"value\":\"%s\"}]}", name);
    h64 = b64url_encode((const uint8_t *)hdr, strlen(hdr));
    p64 = b64url_encode((const uint8_t *)pl, strlen(pl));
    if (!m || !h64 || !p64 || asprintf(&input, "%s.%s", h64, p64) < 0)
        _exit(6);
    ipc_out_begin(&o, WMSG_SIGN);
    ipc_put_u64(&o, WMSG_T_ID, sid);
    ipc_put_text(&o, WMSG_T_DIRECTORY, DIR);
    ipc_put_text(&o, WMSG_T_INPUT, input);
    fw_send(&o);
    /* The answer (skipping anything else the keeper sends meanwhile). */
    for (;;) {
        free(buf);
        buf = NULL;
        if (fw_next_msg(&buf, m) < 0)
            _exit(7);
        if (m->type == WMSG_SIGNED)
            break;
    }
    if (ipc_count(m, WMSG_T_SIG))
        signed_ = 1;
    else {
        char *t = ipc_get_text(m, WMSG_T_ERROR, 0);

        snprintf(why, whylen, "%s", t ? t : "?");
        free(t);
    }
    free(buf);
    free(m);
    free(h64);
    free(p64);
    free(input);
    return signed_;
}

/* A central server's answers, one per post in turn: a chain not for the keeper's key; a 200
 * without a chain; a 429 with Retry-After and a reason; a 200 with a reason but no chain. The
 * first post's frame must hold the URL, the CSR and the keeper's HMAC header, else the answer
 * is an error saying so. */
static void csr_post_answer(struct ipc_out *o, const struct ipc_msg *m, uint64_t id)
{
    static int n;
    char *url = ipc_get_text(m, WMSG_T_URL, 0), *auth = ipc_get_text(m, WMSG_T_AUTHN, 0);
    const uint8_t *csr = NULL;
    size_t len = 0, clen;
    char *chain;
    struct err e;

    ipc_put_u64(o, WMSG_T_ID, id);
    ipc_get_bytes(m, WMSG_T_CSR, 0, &csr, &len);
    if (n == 0 &&
        (!url || strcmp(url, "http://127.0.0.1:1/sign") || !auth ||
         strcmp(auth, "hmac name=sha256, hash=00ff") || len != 9 || memcmp(csr, "PEM BYTES", 9))) {
        err_set(&e, -EINVAL, "the frame: url %s, auth %s, %zu bytes", url ? url : "-",
                auth ? auth : "-", len);
        wmsg_put_result(o, -EINVAL, NULL, &e);
    } else if (n == 0) {
        chain = tu_read_data("x509/chain.pem", &clen);
        wmsg_put_result(o, 0,
                        &(struct engine_result){
                            .status = 200, .retry_after = -1, .cert_pem = chain, .cert_len = clen},
                        NULL);
        free(chain);
    } else if (n == 1) {
        wmsg_put_result(o, 0, &(struct engine_result){.status = 200, .retry_after = -1}, NULL);
    } else if (n == 2) {
        wmsg_put_result(o, 0,
                        &(struct engine_result){
                            .status = 429, .retry_after = 120, .body = "slow\n", .body_len = 5},
                        NULL);
    } else {
        wmsg_put_result(o, 0,
                        &(struct engine_result){
                            .status = 200, .retry_after = -1, .body = "no chain", .body_len = 8},
                        NULL);
    }
    n++;
    free(url);
    free(auth);
    result_end(o);
}

static int fake_worker(void)
{
    const char *mode = getenv("ACMED_TEST_WORKER");
    struct ipc_msg *m = malloc(sizeof *m);
    uint8_t *buf = NULL;

    if (!m || !mode)
        return 2;
    for (;;) {
        uint64_t id = 0, op = 0;
        struct ipc_out o;

        free(buf);
        buf = NULL;
        if (fw_next_msg(&buf, m) < 0)
            return 0; /* the keeper is gone */
        if (m->type != WMSG_OP)
            continue;
        ipc_get_u64(m, WMSG_T_ID, 0, &id);
        ipc_get_u64(m, WMSG_T_OP, 0, &op);
        ipc_out_begin(&o, WMSG_RESULT);
        if (op == WOP_START) {
            struct engine_directory d = {.new_account = "https://ca.test/new-acct",
                                         .new_order = "https://ca.test/new-order"};

            ipc_put_u64(&o, WMSG_T_ID, id);
            wmsg_put_result(&o, 0, NULL, NULL);
            wmsg_put_directory(&o, &d);
            result_end(&o);
            continue;
        }
        if (!strcmp(mode, "csr-post")) {
            csr_post_answer(&o, m, id);
            continue;
        }
        if (!strcmp(mode, "bad-status")) {
            struct ipc_out in;
            struct err e;

            ipc_out_begin(&in, OBJ_ORDER);
            ipc_put_u64(&in, O_STATUS, 99);
            ipc_put_u64(&in, O_EXPIRES, 0);
            if (ipc_out_end(&in, &e) < 0)
                return 3;
            ipc_put_u64(&o, WMSG_T_ID, id);
            ipc_put_u64(&o, WMSG_T_RC, 0);
            ipc_put_bytes(&o, WMSG_T_ORDER, in.b.data, in.b.len);
            buf_clear(&in.b);
            result_end(&o);
        } else if (!strcmp(mode, "wrong-id")) {
            ipc_put_u64(&o, WMSG_T_ID, id + 1000);
            ipc_put_u64(&o, WMSG_T_RC, 0);
            result_end(&o);
        } else if (!strcmp(mode, "garbage")) {
            buf_clear(&o.b);
            ipc_out_begin(&o, 9999);
            ipc_put_u64(&o, WMSG_T_ID, id);
            fw_send(&o);
        } else if (!strcmp(mode, "sign")) {
            char why[512] = "";
            int other = ask_sign(1, "b.example.org", why, sizeof why);
            int own = ask_sign(2, "a.example.test", why + strlen(why), 8);
            struct err e;

            ipc_put_u64(&o, WMSG_T_ID, id);
            if (!other && own) {
                err_set(&e, -EPERM, "%s", why);
                wmsg_put_result(&o, -EPERM, NULL, &e);
            } else {
                err_set(&e, -EIO, "other signed %d, own signed %d", other, own);
                wmsg_put_result(&o, -EIO, NULL, &e);
            }
            result_end(&o);
        }
    }
}

/* ---- the keeper side ---- */

struct res {
    int done, rc;
    char msg[ERR_MSG_MAX];
    long status;
    time_t retry;
    bool chain;
    char body[64];
};

static void on_res(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct res *s = arg;

    s->done = 1;
    s->rc = rc;
    s->status = r ? r->status : 0;
    s->retry = r ? r->retry_after : -1;
    s->chain = r && r->cert_pem;
    snprintf(s->body, sizeof s->body, "%s", r && r->body ? r->body : "");
    if (rc < 0 && e)
        snprintf(s->msg, sizeof s->msg, "%s", err_msg(e));
}

struct fx {
    uv_loop_t loop;
    struct keeper *k;
    struct engine *g;
    struct privdrop_id id;
    char *dir, ca[512];
};

static void fx_start(struct fx *x, const char *mode)
{
    struct keeper_opts ko = {0};
    struct res r = {0};
    struct err e = {0};

    setenv("ACMED_TEST_WORKER", mode, 1);
    assert_int_equal(uv_loop_init(&x->loop), 0);
    assert_int_equal(privdrop_resolve("nobody", &x->id, &e), 0);
    ko.id = geteuid() == 0 ? &x->id : NULL;
    /* The worker here talks to no CA: any bundle will do. */
    assert_non_null(x->dir = tu_mkdtemp("keeper"));
    snprintf(x->ca, sizeof x->ca, "%s/ca.pem", x->dir);
    tu_write_file(x->ca, "-----BEGIN CERTIFICATE-----\nnot used\n-----END CERTIFICATE-----\n");
    ko.ca_bundle = x->ca;
    assert_non_null(x->k = keeper_start(&x->loop, &ko, &e));
    if (!strcmp(mode, "csr-post")) {
        /* A central server's engine: no directory to fetch. */
        assert_int_equal(engine_proxy_new(x->k, MGMT, &x->g, &e), 0);
        return;
    }
    assert_int_equal(engine_proxy_new(x->k, DIR, &x->g, &e), 0);
    assert_int_equal(engine_start(x->g, on_res, &r, &e), 0);
    assert_true(tu_run_until(&x->loop, &r.done, 10000));
    assert_int_equal(r.rc, 0);
    assert_string_equal(engine_directory(x->g)->new_order, "https://ca.test/new-order");
}

static void fx_stop(struct fx *x)
{
    engine_free(x->g);
    keeper_free(x->k);
    uv_run(&x->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&x->loop), 0);
    tu_rmtree(x->dir);
    free(x->dir);
}

static void order_get(struct fx *x, struct res *r)
{
    struct err e = {0};

    memset(r, 0, sizeof *r);
    assert_int_equal(engine_order_get(x->g, "https://ca.test/order/1", on_res, r, &e), 0);
    assert_true(tu_run_until(&x->loop, &r->done, 10000));
}

static void test_bad_result(void **state)
{
    struct fx x = {0};
    struct res r;

    (void)state;
    fx_start(&x, "bad-status");
    order_get(&x, &r);
    assert_int_equal(r.rc, -EPROTO);
    assert_non_null(strstr(r.msg, "order status"));
    /* Only that operation failed: the worker is the first one still. */
    assert_int_equal(keeper_worker_starts(x.k), 1);
    fx_stop(&x);
}

static void test_unknown_operation_or_frame(void **state)
{
    static const char *const modes[] = {"wrong-id", "garbage"};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct fx x = {0};
        struct res r;
        int up = 0;

        fx_start(&x, modes[i]);
        order_get(&x, &r);
        assert_int_equal(r.rc, ENGINE_ELOST);
        /* The worker was ended; a new one starts at once. */
        for (int t = 0; t < 100 && !up; t++) {
            uv_run(&x.loop, UV_RUN_NOWAIT);
            up = keeper_worker_starts(x.k) >= 2 && keeper_worker_pid(x.k) > 0;
            usleep(20000);
        }
        assert_true(up);
        fx_stop(&x);
    }
}

static void test_sign_only_what_is_granted(void **state)
{
    struct fx x = {0};
    struct key_spec spec = {KEY_ECDSA, 256};
    struct ckey *key = NULL;
    struct signer s;
    struct engine_identifier id = {false, "a.example.test"};
    struct engine_new_order req = {.ids = &id, .nids = 1};
    struct res r = {0};
    struct err e = {0};

    (void)state;
    assert_int_equal(key_generate(&spec, &key, &e), 0);
    jws_signer_from_key(key, &s);
    fx_start(&x, "sign");
    assert_int_equal(engine_set_account(x.g, &s, ACCT), 0);
    assert_int_equal(engine_order_new(x.g, &req, on_res, &r, &e), 0);
    assert_true(tu_run_until(&x.loop, &r.done, 10000));
    /* The worker reports: the other names refused (with the keeper's reason), its own signed. */
    assert_int_equal(r.rc, -EPERM);
    assert_non_null(strstr(r.msg, "other names"));
    fx_stop(&x);
    key_free(key);
}

/* A CSR post: the worker gets the URL, the PEM and the keeper's header; what it brings back
 * is believed only as an HTTP answer, and a chain only once the keeper checked it. */
static void test_csr_post(void **state)
{
    static const char *const names[] = {"a.example.test"};
    struct fx x = {0};
    struct key_spec spec = {KEY_ECDSA, 256};
    struct ckey *key = NULL;
    struct engine_csr_post req = {.url = "http://127.0.0.1:1/sign",
                                  .body = "PEM BYTES",
                                  .len = 9,
                                  .auth = "hmac name=sha256, hash=00ff",
                                  .names = names,
                                  .nnames = 1};
    struct res r;
    struct err e = {0};

    (void)state;
    assert_int_equal(key_generate(&spec, &key, &e), 0);
    req.key = key;
    fx_start(&x, "csr-post");
    for (int i = 0; i < 4; i++) {
        memset(&r, 0, sizeof r);
        assert_int_equal(engine_csr_post(x.g, &req, on_res, &r, &e), 0);
        assert_true(tu_run_until(&x.loop, &r.done, 10000));
        if (i == 0) {
            /* A chain, but not for the keeper's key: refused here, and not handed over. */
            assert_int_equal(r.rc, -EBADMSG);
            assert_non_null(strstr(r.msg, "http://127.0.0.1:1/sign: the certificate is not for "
                                          "our key"));
            assert_false(r.chain);
        } else if (i == 2) {
            assert_int_equal(r.rc, 0);
            assert_int_equal(r.status, 429);
            assert_int_equal(r.retry, 120);
            assert_string_equal(r.body, "slow\n");
        } else {
            assert_int_equal(r.rc, -EPROTO);
            assert_non_null(strstr(r.msg, "bad answer of a central server"));
        }
    }
    /* None of it ended the worker. */
    assert_int_equal(keeper_worker_starts(x.k), 1);
    fx_stop(&x);
    key_free(key);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_result),
        cmocka_unit_test(test_unknown_operation_or_frame),
        cmocka_unit_test(test_sign_only_what_is_granted),
        cmocka_unit_test(test_csr_post),
    };

    if (argc == 2 && !strcmp(argv[1], "--privsep-worker"))
        return fake_worker();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
