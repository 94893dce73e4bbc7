/* Unit tests for util/ipc: the keeper/worker frames and their validation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "privsep/ipc.h"

enum { T_ORDER = 7, T_CHAIN = 9 };
enum { F_NAME = 1, F_ID = 2, F_PEM = 3 };

static const struct ipc_field_spec order_fields[] = {
    {F_ID, IPC_U64, 0, 1, 1},
    {F_NAME, IPC_TEXT, 16, 1, 3},
};
static const struct ipc_field_spec chain_fields[] = {
    {F_ID, IPC_U64, 0, 1, 1},
    {F_PEM, IPC_BYTES, 64, 0, 1},
};
static const struct ipc_msg_spec msgs[] = {
    {T_ORDER, "order", order_fields, 2},
    {T_CHAIN, "chain", chain_fields, 2},
};
static const struct ipc_schema schema = {msgs, 2};

static void test_roundtrip(void **state)
{
    struct ipc_out o;
    struct ipc_msg m;
    struct err e = {0};
    uint64_t id = 0;
    const uint8_t *p;
    size_t n;
    char *s;

    (void)state;
    ipc_out_begin(&o, T_ORDER);
    ipc_put_u64(&o, F_ID, 0x0102030405060708ull);
    ipc_put_text(&o, F_NAME, "a.example");
    ipc_put_text(&o, F_NAME, "b.example");
    assert_int_equal(ipc_out_end(&o, &e), 0);
    /* 4 + 2 + (6 + 8) + (6 + 9) * 2 */
    assert_int_equal(o.b.len, 50);
    assert_int_equal(ipc_frame_len((uint8_t *)o.b.data, o.b.len), 50);
    assert_int_equal(ipc_frame_len((uint8_t *)o.b.data, 49), 0);
    assert_int_equal(ipc_decode(&schema, (uint8_t *)o.b.data, o.b.len, &m, &e), 0);
    assert_int_equal(m.type, T_ORDER);
    assert_true(ipc_get_u64(&m, F_ID, 0, &id));
    assert_true(id == 0x0102030405060708ull);
    assert_int_equal(ipc_count(&m, F_NAME), 2);
    s = ipc_get_text(&m, F_NAME, 1);
    assert_string_equal(s, "b.example");
    free(s);
    assert_null(ipc_get_text(&m, F_NAME, 2));
    assert_false(ipc_get_bytes(&m, F_PEM, 0, &p, &n));
    buf_clear(&o.b);
}

/* Each rule of the schema, broken once. */
static void expect_refused(struct ipc_out *o, const char *why)
{
    struct ipc_msg m;
    struct err e = {0};

    if (o->rc == 0)
        assert_int_equal(ipc_out_end(o, &e), 0);
    assert_int_equal(ipc_decode(&schema, (uint8_t *)o->b.data, o->b.len, &m, &e), -EPROTO);
    assert_non_null(strstr(e.msg, why));
    buf_clear(&o->b);
}

static void test_refusals(void **state)
{
    struct ipc_out o;
    uint8_t junk[65] = {0};

    (void)state;
    ipc_out_begin(&o, 99);
    expect_refused(&o, "unknown type");

    ipc_out_begin(&o, T_ORDER);
    ipc_put_u64(&o, F_ID, 1);
    expect_refused(&o, "field 1 missing");

    ipc_out_begin(&o, T_ORDER);
    ipc_put_u64(&o, F_ID, 1);
    ipc_put_u64(&o, F_ID, 2);
    ipc_put_text(&o, F_NAME, "a");
    expect_refused(&o, "field 2 repeated");

    ipc_out_begin(&o, T_ORDER);
    ipc_put_u64(&o, F_ID, 1);
    ipc_put_text(&o, F_NAME, "a-name-of-17-byte");
    expect_refused(&o, "at most 16");

    ipc_out_begin(&o, T_ORDER);
    ipc_put_u64(&o, F_ID, 1);
    ipc_put_text(&o, F_NAME, "a\033[31m");
    expect_refused(&o, "not valid text");

    ipc_out_begin(&o, T_ORDER);
    ipc_put_u64(&o, F_ID, 1);
    ipc_put_bytes(&o, F_NAME, "a\0b", 3);
    expect_refused(&o, "not valid text");

    ipc_out_begin(&o, T_ORDER);
    ipc_put_u64(&o, F_ID, 1);
    ipc_put_bytes(&o, F_NAME, "\xc0\xaf", 2); /* overlong '/' */
    expect_refused(&o, "not valid text");

    ipc_out_begin(&o, T_ORDER);
    ipc_put_u64(&o, F_ID, 1);
    ipc_put_bytes(&o, F_NAME, "\xe2\x82", 2); /* truncated sequence */
    expect_refused(&o, "not valid text");

    ipc_out_begin(&o, T_ORDER);
    ipc_put_bytes(&o, F_ID, "1234", 4);
    ipc_put_text(&o, F_NAME, "a");
    expect_refused(&o, "not an integer");

    ipc_out_begin(&o, T_ORDER);
    ipc_put_u64(&o, F_ID, 1);
    ipc_put_text(&o, F_PEM, "x");
    expect_refused(&o, "unexpected field 3");

    ipc_out_begin(&o, T_CHAIN);
    ipc_put_u64(&o, F_ID, 1);
    ipc_put_bytes(&o, F_PEM, junk, sizeof junk);
    expect_refused(&o, "at most 64");
}

static void test_framing(void **state)
{
    struct ipc_out o;
    struct ipc_msg m;
    struct err e = {0};
    uint8_t big[4] = {0x00, 0x10, 0x00, 0x01}; /* 1 MiB + 1 */
    uint8_t zero[4] = {0, 0, 0, 0};

    (void)state;
    assert_int_equal(ipc_frame_len(big, 4), -EMSGSIZE);
    assert_int_equal(ipc_frame_len(zero, 4), -EMSGSIZE);
    assert_int_equal(ipc_frame_len(zero, 3), 0);

    /* A field length that runs past the frame; a truncated field header. */
    ipc_out_begin(&o, T_CHAIN);
    ipc_put_u64(&o, F_ID, 1);
    assert_int_equal(ipc_out_end(&o, &e), 0);
    o.b.data[4 + 2 + 5] = 9; /* the id field claims 9 bytes */
    assert_int_equal(ipc_decode(&schema, (uint8_t *)o.b.data, o.b.len, &m, &e), -EPROTO);
    assert_non_null(strstr(e.msg, "runs past"));
    assert_int_equal(ipc_decode(&schema, (uint8_t *)o.b.data, o.b.len - 1, &m, &e), -EPROTO);
    assert_non_null(strstr(e.msg, "frame length"));
    /* Nothing, or less than a length prefix (found by fuzz_ipc: read past the input). */
    assert_int_equal(ipc_decode(&schema, (uint8_t *)o.b.data, 0, &m, &e), -EPROTO);
    assert_int_equal(ipc_decode(&schema, (uint8_t *)o.b.data, 3, &m, &e), -EPROTO);
    buf_clear(&o.b);

    /* Too large to encode. */
    {
        uint8_t *huge = calloc(1, IPC_FRAME_MAX);

        assert_non_null(huge);
        ipc_out_begin(&o, T_CHAIN);
        ipc_put_bytes(&o, F_PEM, huge, IPC_FRAME_MAX);
        assert_int_equal(ipc_out_end(&o, &e), -E2BIG);
        assert_null(o.b.data);
        free(huge);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_framing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
