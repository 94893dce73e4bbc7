/* Unit tests for the etcd client's pure parts: net/etcd_json (standard base64, prefix ends,
 * request bodies) and net/etcd_parse (answers from a hostile gateway, watch lines, the retry
 * decision). No etcd needed; these run under ASan too (integration.etcd drives a real cluster). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "net/etcd_json.h"
#include "net/etcd_parse.h"

static void test_b64(void **state)
{
    static const struct {
        const char *plain, *b64;
    } v[] = {{"", ""},
             {"f", "Zg=="},
             {"fo", "Zm8="},
             {"foo", "Zm9v"},
             {"foob", "Zm9vYg=="},
             {"fooba", "Zm9vYmE="},
             {"foobar", "Zm9vYmFy"}};
    static const char *const bad[] = {"Zg",   "Zg=",  "Z===", "Zh==", "Zm9=", "Zm9v=",
                                      "Zm=v", "Zm-v", "Zm_v", "Zm v", "====", "Zg==Zg=="};
    uint8_t all[256], *out;
    size_t n;
    char *s;

    (void)state;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        s = etcd_b64_encode(v[i].plain, strlen(v[i].plain));
        assert_string_equal(s, v[i].b64);
        free(s);
        assert_int_equal(etcd_b64_decode(v[i].b64, strlen(v[i].b64), 100, &out, &n), 0);
        assert_int_equal(n, strlen(v[i].plain));
        assert_memory_equal(out, v[i].plain, n);
        free(out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(etcd_b64_decode(bad[i], strlen(bad[i]), 100, &out, &n), -EINVAL);
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)(255 - i);
    s = etcd_b64_encode(all, sizeof all);
    assert_int_equal(etcd_b64_decode(s, strlen(s), 256, &out, &n), 0);
    assert_int_equal(n, 256);
    assert_memory_equal(out, all, 256);
    free(out);
    assert_int_equal(etcd_b64_decode(s, strlen(s), 255, &out, &n), -EFBIG);
    free(s);
}

static void test_prefix_end(void **state)
{
    uint8_t *end;
    size_t n;

    (void)state;
    end = etcd_prefix_end("/acmed/", &n);
    assert_int_equal(n, 7);
    assert_memory_equal(end, "/acmed0", 7);
    free(end);
    end = etcd_prefix_end("a\xff\xff", &n);
    assert_int_equal(n, 1);
    assert_int_equal(end[0], 'b');
    free(end);
    end = etcd_prefix_end("\xff", &n);
    assert_int_equal(n, 1);
    assert_int_equal(end[0], 0); /* every key */
    free(end);
}

/* The value of field `path` (dots between object names) of the JSON text s, as a string. */
static const char *field(json_t *root, const char *path)
{
    char buf[128], *tok, *save = NULL;
    json_t *o = root;

    snprintf(buf, sizeof buf, "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
        o = json_is_array(o) ? json_array_get(o, (size_t)atoi(tok)) : json_object_get(o, tok);
    return json_string_value(o);
}

static void test_bodies(void **state)
{
    struct err e;
    json_t *j;
    char *s;

    (void)state;
    s = etcd_body_range("/acmed/x", true, 5, &e);
    j = json_loads(s, 0, NULL);
    assert_string_equal(field(j, "key"), "L2FjbWVkL3g=");
    assert_string_equal(field(j, "range_end"), "L2FjbWVkL3k=");
    assert_string_equal(field(j, "limit"), "5"); /* int64 as a string */
    json_decref(j);
    free(s);

    s = etcd_body_put("k", "\0\xff", 2, 77, &e);
    j = json_loads(s, 0, NULL);
    assert_string_equal(field(j, "value"), "AP8=");
    assert_string_equal(field(j, "lease"), "77");
    json_decref(j);
    free(s);

    struct etcd_cmp cmp = {
        .target = ETCD_CMP_CREATE, .op = ETCD_CMP_EQUAL, .key = "L", .num = 9223372036854775807LL};
    struct etcd_op then = {.type = ETCD_OP_PUT, .key = "X", .value = "v", .value_len = 1};
    struct etcd_op els = {.type = ETCD_OP_DELETE_PREFIX, .key = "P"};
    struct etcd_txn t = {&cmp, 1, &then, 1, &els, 1};

    s = etcd_body_txn(&t, &e);
    j = json_loads(s, 0, NULL);
    assert_string_equal(field(j, "compare.0.target"), "CREATE");
    assert_string_equal(field(j, "compare.0.result"), "EQUAL");
    assert_string_equal(field(j, "compare.0.create_revision"), "9223372036854775807");
    assert_string_equal(field(j, "success.0.request_put.key"), "WA==");
    assert_string_equal(field(j, "failure.0.request_delete_range.range_end"), "UQ==");
    json_decref(j);
    free(s);

    /* What etcd would refuse is refused here, with a message. */
    assert_null(etcd_body_range("", false, 0, &e));
    assert_int_equal(e.code, -EINVAL);
    assert_null(etcd_body_put("k", "", ETCD_MAX_VALUE + 1, 0, &e));
    assert_int_equal(e.code, -EINVAL);
    cmp.target = (enum etcd_cmp_target)9;
    assert_null(etcd_body_txn(&t, &e));
    assert_int_equal(e.code, -EINVAL);
    assert_null(etcd_body_lease_grant(0, &e));

    s = etcd_body_watch("/p/", 42, &e);
    j = json_loads(s, 0, NULL);
    assert_string_equal(field(j, "create_request.start_revision"), "42");
    assert_string_equal(field(j, "create_request.range_end"), "L3Aw"); /* "/p0" */
    json_decref(j);
    free(s);
}

#define PARSE(call, text, r) etcd_parse(call, text, strlen(text), r, NULL, &e)

static void test_parse_range(void **state)
{
    struct etcd_result r;
    struct err e;

    (void)state;
    assert_int_equal(
        PARSE(ETCD_RANGE,
              "{\"header\":{\"revision\":\"12\"},\"kvs\":[{\"key\":\"YQ==\",\"create_revision\":"
              "\"3\",\"mod_revision\":\"9\",\"version\":\"2\",\"value\":\"AAE=\",\"lease\":\"-5\"}"
              ",{\"key\":\"Yg==\"}],\"more\":true,\"count\":\"7\"}",
              &r),
        0);
    assert_int_equal(r.revision, 12);
    assert_int_equal(r.nkvs, 2);
    assert_string_equal(r.kvs[0].key, "a");
    assert_int_equal(r.kvs[0].value_len, 2);
    assert_int_equal(r.kvs[0].value[1], 1);
    assert_int_equal(r.kvs[0].create_revision, 3);
    assert_int_equal(r.kvs[0].mod_revision, 9);
    assert_int_equal(r.kvs[0].lease, -5);
    assert_int_equal(r.kvs[1].value_len, 0); /* defaults are left out */
    assert_true(r.more);
    assert_int_equal(r.count, 7);
    etcd_result_clear(&r);

    /* An empty range: no kvs at all. */
    assert_int_equal(PARSE(ETCD_RANGE, "{\"header\":{\"revision\":\"1\"}}", &r), 0);
    assert_int_equal(r.nkvs, 0);
    etcd_result_clear(&r);
}

static void test_parse_hostile(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"header\":[]}",
        "{\"header\":{\"revision\":12.5}}",
        "{\"header\":{\"revision\":\"12a\"}}",
        "{\"header\":{\"revision\":\"\"}}",
        "{\"header\":{\"revision\":\"-\"}}",
        "{\"header\":{\"revision\":\"9223372036854775808\"}}",
        "{\"header\":{\"revision\":\"99999999999999999999\"}}",
        "{\"header\":{\"revision\":\"+1\"}}",
        "{\"kvs\":{}}",
        "{\"kvs\":[1]}",
        "{\"kvs\":[{\"key\":\"YQ\"}]}",
        "{\"kvs\":[{\"key\":\"YQ==\",\"value\":\"!!!!\"}]}",
        "{\"kvs\":[{\"key\":\"YQ==\",\"value\":5}]}",
        "{\"kvs\":[{\"value\":\"YQ==\"}]}",
        "{\"kvs\":[{\"key\":\"YQBi\"}]}", /* a NUL inside the key */
        "{\"kvs\":[{\"key\":\"YQ==\"}],\"more\":\"true\"}",
        "{\"count\":\"-1\"}",
        "{\"kvs\":[],\"kvs\":[]}", /* duplicate keys */
    };
    struct etcd_result r;
    struct err e;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = PARSE(ETCD_RANGE, bad[i], &r);

        if (rc != -EBADMSG)
            fail_msg("accepted (%d): %s", rc, bad[i]);
        assert_int_equal(r.nkvs, 0);
    }
    /* The largest int64 is fine; the smallest too. */
    assert_int_equal(PARSE(ETCD_RANGE, "{\"header\":{\"revision\":\"9223372036854775807\"}}", &r),
                     0);
    assert_int_equal(r.revision, INT64_MAX);
    assert_int_equal(PARSE(ETCD_RANGE,
                           "{\"kvs\":[{\"key\":\"YQ==\",\"lease\":"
                           "\"-9223372036854775808\"}]}",
                           &r),
                     0);
    assert_int_equal(r.kvs[0].lease, INT64_MIN);
    etcd_result_clear(&r);

    /* A value above etcd's limit. */
    size_t big = ETCD_MAX_VALUE + 3;
    char *text = malloc(big / 3 * 4 + 64), *p;

    p = text + sprintf(text, "{\"kvs\":[{\"key\":\"YQ==\",\"value\":\"");
    for (size_t i = 0; i < big / 3; i++, p += 4)
        memcpy(p, "AAAA", 4);
    strcpy(p, "\"}]}");
    assert_int_equal(PARSE(ETCD_RANGE, text, &r), -EFBIG);
    free(text);
}

static void test_parse_others(void **state)
{
    struct etcd_result r;
    struct err e;
    char *token = NULL;

    (void)state;
    assert_int_equal(PARSE(ETCD_TXN, "{\"header\":{},\"succeeded\":true,\"responses\":[]}", &r), 0);
    assert_true(r.succeeded);
    assert_int_equal(PARSE(ETCD_TXN, "{\"header\":{}}", &r), 0);
    assert_false(r.succeeded); /* false is left out */
    assert_int_equal(PARSE(ETCD_TXN, "{\"succeeded\":1}", &r), -EBADMSG);
    assert_int_equal(PARSE(ETCD_DELETE, "{\"deleted\":\"3\"}", &r), 0);
    assert_int_equal(r.deleted, 3);
    assert_int_equal(PARSE(ETCD_LEASE_GRANT, "{\"ID\":\"77\",\"TTL\":\"10\"}", &r), 0);
    assert_int_equal(r.lease_id, 77);
    assert_int_equal(r.ttl, 10);
    assert_int_equal(PARSE(ETCD_LEASE_GRANT, "{\"ID\":\"77\",\"error\":\"x\"}", &r), -EBADMSG);
    assert_int_equal(PARSE(ETCD_LEASE_KEEPALIVE, "{\"result\":{\"ID\":\"77\",\"TTL\":\"9\"}}", &r),
                     0);
    assert_int_equal(r.ttl, 9);
    assert_int_equal(PARSE(ETCD_LEASE_KEEPALIVE, "{\"result\":{\"ID\":\"77\"}}", &r), 0);
    assert_int_equal(r.ttl, 0); /* gone */
    assert_int_equal(PARSE(ETCD_LEASE_KEEPALIVE, "{\"ID\":\"77\"}", &r), -EBADMSG);

    assert_int_equal(etcd_parse(ETCD_AUTH, "{\"token\":\"abc.12\"}", 18, &r, &token, &e), 0);
    assert_string_equal(token, "abc.12");
    free(token);
    assert_int_equal(etcd_parse(ETCD_AUTH, "{\"token\":\"a\\r\\nX: y\"}", 21, &r, &token, &e),
                     -EBADMSG); /* would inject a header */
    assert_null(token);
    assert_int_equal(etcd_parse(ETCD_AUTH, "{}", 2, &r, &token, &e), -EBADMSG);
}

#define WPARSE(text, m) etcd_parse_watch(text, strlen(text), m, &e)

static void test_parse_watch(void **state)
{
    struct etcd_watch_msg m;
    struct err e;

    (void)state;
    assert_int_equal(WPARSE("{\"result\":{\"header\":{\"revision\":\"3\"},\"created\":true}}", &m),
                     0);
    assert_int_equal(m.kind, ETCD_WATCH_CREATED);
    etcd_watch_msg_clear(&m);
    assert_int_equal(
        WPARSE("{\"result\":{\"header\":{\"revision\":\"5\"},\"events\":[{\"kv\":{\"key\":\"YQ==\","
               "\"mod_revision\":\"4\",\"value\":\"MQ==\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":"
               "\"YQ==\",\"mod_revision\":\"5\"}}]}}",
               &m),
        0);
    assert_int_equal(m.kind, ETCD_WATCH_EVENTS);
    assert_int_equal(m.nevents, 2);
    assert_int_equal(m.events[0].type, ETCD_EVENT_PUT);
    assert_int_equal(m.events[0].kv.mod_revision, 4);
    assert_int_equal(m.events[1].type, ETCD_EVENT_DELETE);
    etcd_watch_msg_clear(&m);
    assert_int_equal(WPARSE("{\"result\":{\"canceled\":true,\"compact_revision\":\"3\"}}", &m), 0);
    assert_int_equal(m.kind, ETCD_WATCH_COMPACTED);
    assert_int_equal(m.compact_revision, 3);
    etcd_watch_msg_clear(&m);
    assert_int_equal(WPARSE("{\"result\":{\"created\":true,\"canceled\":true,\"cancel_reason\":"
                            "\"rpc error: code = Unauthenticated desc = x\\u001b[2J\"}}",
                            &m),
                     0);
    assert_int_equal(m.kind, ETCD_WATCH_CANCELED);
    assert_true(m.unauthenticated);
    assert_null(strchr(m.cancel_reason, 0x1b)); /* sanitised */
    etcd_watch_msg_clear(&m);
    assert_int_equal(WPARSE("{\"error\":{\"grpc_code\":14,\"message\":\"gone\"}}", &m),
                     -ECONNRESET);
    assert_non_null(strstr(e.msg, "gone"));
    assert_int_equal(WPARSE("{\"result\":{\"events\":[{\"type\":\"TOUCH\",\"kv\":{\"key\":"
                            "\"YQ==\"}}]}}",
                            &m),
                     -EBADMSG);
    assert_int_equal(m.nevents, 0);
    assert_int_equal(WPARSE("{\"result\":{\"events\":[{\"type\":\"PUT\"}]}}", &m), -EBADMSG);
    assert_int_equal(WPARSE("{\"result\":5}", &m), -EBADMSG);
}

static enum etcd_next next(enum etcd_call call, int http_rc, long status, const char *body,
                           int *code)
{
    return etcd_next_step(call, http_rc, status, body, body ? strlen(body) : 0, code);
}

static void test_next_step(void **state)
{
    int code;

    (void)state;
    /* Nothing sent: any call may go elsewhere. */
    assert_int_equal(next(ETCD_TXN, -ENOTCONN, 0, NULL, &code), ETCD_NEXT_RETRY);
    /* Sent and no answer: reads retry, writes are unknown. */
    assert_int_equal(next(ETCD_RANGE, -ETIMEDOUT, 0, NULL, &code), ETCD_NEXT_RETRY);
    assert_int_equal(next(ETCD_LEASE_KEEPALIVE, -ECONNRESET, 0, NULL, &code), ETCD_NEXT_RETRY);
    assert_int_equal(next(ETCD_PUT, -ETIMEDOUT, 0, NULL, &code), ETCD_NEXT_UNKNOWN);
    assert_int_equal(next(ETCD_TXN, -ECONNRESET, 0, NULL, &code), ETCD_NEXT_UNKNOWN);
    assert_int_equal(next(ETCD_DELETE, -ETIMEDOUT, 0, NULL, &code), ETCD_NEXT_UNKNOWN);
    /* etcd unavailable: before proposing (no leader) a write may go elsewhere; a server-side
     * timeout after proposing may have applied it. */
    assert_int_equal(next(ETCD_TXN, 0, 503,
                          "{\"error\":\"etcdserver: no leader\",\"message\":\"etcdserver: no "
                          "leader\",\"code\":14}",
                          &code),
                     ETCD_NEXT_RETRY);
    assert_int_equal(next(ETCD_TXN, 0, 503,
                          "{\"message\":\"etcdserver: request timed out\",\"code\":14}", &code),
                     ETCD_NEXT_UNKNOWN);
    assert_int_equal(
        next(ETCD_PUT, 0, 500, "{\"message\":\"raft proposal dropped\",\"code\":2}", &code),
        ETCD_NEXT_RETRY);
    assert_int_equal(next(ETCD_RANGE, 0, 503,
                          "{\"message\":\"etcdserver: request timed out\",\"code\":14}", &code),
                     ETCD_NEXT_RETRY);
    assert_int_equal(next(ETCD_PUT, 0, 502, "<html>", &code), ETCD_NEXT_UNKNOWN);
    /* Tokens. */
    assert_int_equal(next(ETCD_PUT, 0, 401,
                          "{\"message\":\"etcdserver: invalid auth token\",\"code\":16}", &code),
                     ETCD_NEXT_REAUTH);
    assert_int_equal(next(ETCD_AUTH, 0, 400,
                          "{\"message\":\"etcdserver: authentication failed, invalid user ID or "
                          "password\",\"code\":3}",
                          &code),
                     ETCD_NEXT_DONE);
    assert_int_equal(code, -EACCES);
    assert_int_equal(next(ETCD_RANGE, 0, 400,
                          "{\"message\":\"etcdserver: user name is empty\",\"code\":3}", &code),
                     ETCD_NEXT_DONE);
    assert_int_equal(code, -EACCES);
    /* Definite answers. */
    assert_int_equal(next(ETCD_LEASE_REVOKE, 0, 404,
                          "{\"message\":\"etcdserver: requested lease not found\",\"code\":5}",
                          &code),
                     ETCD_NEXT_DONE);
    assert_int_equal(code, -ENOENT);
    assert_int_equal(next(ETCD_PUT, 0, 400, "{\"code\":3}", &code), ETCD_NEXT_DONE);
    assert_int_equal(code, -EINVAL);
    assert_int_equal(next(ETCD_RANGE, 0, 200, "{}", &code), ETCD_NEXT_DONE);
    assert_int_equal(code, 0);
    assert_int_equal(next(ETCD_RANGE, -EFBIG, 0, NULL, &code), ETCD_NEXT_DONE);
    assert_int_equal(code, -EFBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64),           cmocka_unit_test(test_prefix_end),
        cmocka_unit_test(test_bodies),        cmocka_unit_test(test_parse_range),
        cmocka_unit_test(test_parse_hostile), cmocka_unit_test(test_parse_others),
        cmocka_unit_test(test_parse_watch),   cmocka_unit_test(test_next_step),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
