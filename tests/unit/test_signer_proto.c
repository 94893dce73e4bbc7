/* Unit tests for signer/signer_proto: lacme-accountd's protocol version 1. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/b64.h"
#include "signer/signer_proto.h"

/* RFC 7638 §3.1: the example RSA key and its published thumbprint. */
#define RFC7638_N                                                                                  \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"      \
    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"     \
    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"            \
    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define RFC7638_JWK "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\"}"
#define RFC7638_TP "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

static int greeting(const char *line, struct signer_greeting *g)
{
    struct err e = {0};

    return signer_proto_greeting_parse(line, strlen(line), g, &e);
}

/* Every order of the members lacme-accountd's Perl hashes may produce parses the same. */
static void test_greeting_permutations(void **state)
{
    static const char *lines[] = {
        "1 OK {\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\",\"kid\":\"https://ca/a/1\"}",
        "1 OK {\"alg\":\"RS256\",\"kid\":\"https://ca/a/1\",\"jwk-thumbprint\":\"" RFC7638_TP "\"}",
        "1 OK {\"jwk-thumbprint\":\"" RFC7638_TP "\",\"alg\":\"RS256\",\"kid\":\"https://ca/a/1\"}",
        "1 OK {\"jwk-thumbprint\":\"" RFC7638_TP "\",\"kid\":\"https://ca/a/1\",\"alg\":\"RS256\"}",
        "1 OK {\"kid\":\"https://ca/a/1\",\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\"}",
        "1 OK {\"kid\":\"https://ca/a/1\",\"jwk-thumbprint\":\"" RFC7638_TP "\",\"alg\":\"RS256\"}",
        "1 OK { \"kid\" : \"https://ca/a/1\", \"jwk-thumbprint\" : \"" RFC7638_TP
        "\", \"alg\" : \"RS256\", \"future\": [1] }",
    };
    struct signer_greeting g;

    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        assert_int_equal(greeting(lines[i], &g), 0);
        assert_string_equal(g.alg, "RS256");
        assert_string_equal(g.thumbprint, RFC7638_TP);
        assert_string_equal(g.kid, "https://ca/a/1");
        signer_greeting_clear(&g);
    }
    assert_int_equal(greeting("1 OK {\"jwk-thumbprint\":\"" RFC7638_TP "\",\"alg\":\"ES256\"}", &g),
                     0);
    assert_string_equal(g.alg, "ES256");
    assert_null(g.kid);
    signer_greeting_clear(&g);
}

static void test_greeting_rejects(void **state)
{
    static const struct {
        const char *line;
        int rc;
    } bad[] = {
        {"2 OK {\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\"}", -EPROTONOSUPPORT},
        {"10 OK {\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\"}", -EPROTONOSUPPORT},
        {"0 OK {\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\"}", -EPROTONOSUPPORT},
        {"1 NO {\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\"}", -EPROTO},
        {"1 OK{\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\"}", -EPROTO},
        {"OK {\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\"}", -EPROTO},
        {"1 OK {\"jwk-thumbprint\":\"" RFC7638_TP "\"}", -EPROTO},
        {"1 OK {\"alg\":\"RS256\"}", -EPROTO},
        {"1 OK {\"alg\":1,\"jwk-thumbprint\":\"" RFC7638_TP "\"}", -EPROTO},
        {"1 OK {\"alg\":\"RS256\",\"jwk-thumbprint\":\"not base64!\"}", -EPROTO},
        {"1 OK {\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\",\"kid\":5}", -EPROTO},
        {"1 OK {\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\",\"kid\":\"a\\nb\"}",
         -EPROTO},
        {"1 OK {\"alg\":\"RS256\",\"alg\":\"ES256\",\"jwk-thumbprint\":\"" RFC7638_TP "\"}",
         -EPROTO},
        {"1 OK [\"alg\"]", -EPROTO},
        {"1 OK ", -EPROTO},
        {"1", -EPROTO},
        {"", -EPROTO},
    };
    struct signer_greeting g;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = greeting(bad[i].line, &g);

        if (rc != bad[i].rc)
            fail_msg("greeting %zu \"%s\": %d, want %d", i, bad[i].line, rc, bad[i].rc);
        assert_null(g.alg);
    }
}

/* What we send is what lacme-accountd sends: "1 OK ", compact JSON, CRLF. */
static void test_greeting_format(void **state)
{
    struct signer_greeting g = {.alg = "RS256", .thumbprint = RFC7638_TP}, back;
    struct err e = {0};
    char *line;

    assert_int_equal(signer_proto_greeting_format(&g, &line, &e), 0);
    assert_string_equal(line, "1 OK {\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP "\"}\r\n");
    free(line);
    g.kid = "https://ca.test/acct/1";
    assert_int_equal(signer_proto_greeting_format(&g, &line, &e), 0);
    assert_string_equal(line, "1 OK {\"alg\":\"RS256\",\"jwk-thumbprint\":\"" RFC7638_TP
                              "\",\"kid\":\"https://ca.test/acct/1\"}\r\n");
    assert_int_equal(signer_proto_greeting_parse(line, strlen(line) - 2, &back, &e), 0);
    assert_string_equal(back.kid, g.kid);
    signer_greeting_clear(&back);
    free(line);
}

static void test_jwk_line(void **state)
{
    struct signer_greeting g = {.alg = "RS256", .thumbprint = RFC7638_TP};
    struct err e = {0};
    json_t *jwk;
    char *line;
    const char *bad_tp = "{\"e\":\"AQAC\",\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\"}";

    /* RFC 7638 §3.1: the thumbprint of the example key is the published one. */
    assert_int_equal(signer_proto_jwk_parse(&g, RFC7638_JWK, strlen(RFC7638_JWK), &jwk, &e), 0);
    assert_non_null(jwk);
    assert_int_equal(signer_proto_jwk_format(jwk, &line, &e), 0);
    assert_string_equal(line, RFC7638_JWK "\r\n");
    free(line);
    json_decref(jwk);
    /* The same key with members in another order and whitespace: same thumbprint. */
    assert_int_equal(signer_proto_jwk_parse(
                         &g, "{ \"n\": \"" RFC7638_N "\", \"kty\": \"RSA\", \"e\": \"AQAB\" }",
                         strlen("{ \"n\": \"" RFC7638_N "\", \"kty\": \"RSA\", \"e\": \"AQAB\" }"),
                         &jwk, &e),
                     0);
    json_decref(jwk);
    assert_int_equal(signer_proto_jwk_parse(&g, bad_tp, strlen(bad_tp), &jwk, &e), -EPROTO);
    assert_non_null(strstr(e.msg, "thumbprint"));
    assert_null(jwk);
    /* {} is only for a signer that gave a kid. */
    assert_int_equal(signer_proto_jwk_parse(&g, "{}", 2, &jwk, &e), -EPROTO);
    g.kid = "https://ca.test/acct/1";
    assert_int_equal(signer_proto_jwk_parse(&g, "{}", 2, &jwk, &e), 0);
    assert_null(jwk);
    assert_int_equal(signer_proto_jwk_format(NULL, &line, &e), 0);
    assert_string_equal(line, "{}\r\n");
    free(line);
    assert_int_equal(signer_proto_jwk_parse(&g, "[]", 2, &jwk, &e), -EPROTO);
    assert_int_equal(signer_proto_jwk_parse(&g, "{\"kty\":\"oct\"}", 13, &jwk, &e), -EPROTO);
    assert_int_equal(signer_proto_jwk_parse(&g, "", 0, &jwk, &e), -EPROTO);
}

static void test_line_framing(void **state)
{
    struct err e = {0};
    size_t n, used;
    char *big, *line;

    assert_int_equal(signer_proto_line("abc\r\ndef", 8, &n, &used, &e), 1);
    assert_int_equal(n, 3);
    assert_int_equal(used, 5);
    assert_int_equal(signer_proto_line("\r\n", 2, &n, &used, &e), 1);
    assert_int_equal(n, 0);
    assert_int_equal(signer_proto_line("abc\r", 4, &n, &used, &e), 0);
    assert_int_equal(signer_proto_line("", 0, &n, &used, &e), 0);
    assert_int_equal(signer_proto_line("abc\n", 4, &n, &used, &e), -EPROTO);
    assert_int_equal(signer_proto_line("\n", 1, &n, &used, &e), -EPROTO);
    assert_int_equal(signer_proto_line("a\rb\n", 4, &n, &used, &e), -EPROTO);

    big = malloc(SIGNER_LINE_MAX + 2);
    memset(big, 'A', SIGNER_LINE_MAX + 2);
    /* The longest line allowed: SIGNER_LINE_MAX bytes with its CRLF. */
    memcpy(big + SIGNER_LINE_MAX - 2, "\r\n", 2);
    assert_int_equal(signer_proto_line(big, SIGNER_LINE_MAX, &n, &used, &e), 1);
    assert_int_equal(used, SIGNER_LINE_MAX);
    memset(big, 'A', SIGNER_LINE_MAX + 2);
    memcpy(big + SIGNER_LINE_MAX - 1, "\r\n", 2);
    assert_int_equal(signer_proto_line(big, SIGNER_LINE_MAX + 1, &n, &used, &e), -EMSGSIZE);
    /* An unfinished line already too long is refused without waiting for its end. */
    memset(big, 'A', SIGNER_LINE_MAX + 2);
    assert_int_equal(signer_proto_line(big, SIGNER_LINE_MAX - 1, &n, &used, &e), 0);
    assert_int_equal(signer_proto_line(big, SIGNER_LINE_MAX, &n, &used, &e), -EMSGSIZE);
    assert_int_equal(signer_proto_request_format(big, SIGNER_LINE_MAX - 1, &line, &e), -EMSGSIZE);
    assert_null(line);
    assert_int_equal(signer_proto_request_format(big, SIGNER_LINE_MAX - 2, &line, &e), 0);
    assert_int_equal(strlen(line), SIGNER_LINE_MAX);
    free(line);
    free(big);
}

/* A request line from JSON texts of header and payload. */
static char *req_line(const char *hdr, const char *payload)
{
    char *h = b64url_encode(hdr, strlen(hdr)), *p = b64url_encode(payload, strlen(payload));
    char *out;

    assert_true(asprintf(&out, "%s.%s", h, p) > 0);
    free(h);
    free(p);
    return out;
}

static int request(const char *hdr, const char *payload, struct signer_request *r)
{
    char *line = req_line(hdr, payload);
    struct err e = {0};
    int rc = signer_proto_request_parse(line, strlen(line), r, &e);

    free(line);
    return rc;
}

static void test_request_parse(void **state)
{
    struct signer_request r;
    const char *jwk_hdr = "{\"alg\":\"ES256\",\"nonce\":\"n1\",\"url\":\"https://ca/new-acct\","
                          "\"jwk\":{\"kty\":\"EC\"}}";

    assert_int_equal(request(jwk_hdr, "{\"termsOfServiceAgreed\":true}", &r), 0);
    assert_string_equal(r.alg, "ES256");
    assert_string_equal(r.nonce, "n1");
    assert_string_equal(r.url, "https://ca/new-acct");
    assert_null(r.kid);
    assert_non_null(r.jwk);
    assert_true(json_is_true(json_object_get(r.payload_json, "termsOfServiceAgreed")));
    signer_request_clear(&r);

    /* POST-as-GET: an empty payload. */
    assert_int_equal(
        request("{\"alg\":\"RS256\",\"nonce\":\"n\",\"url\":\"https://ca/o/1\",\"kid\":\"k\"}", "",
                &r),
        0);
    assert_string_equal(r.kid, "k");
    assert_int_equal(r.payload_len, 0);
    assert_null(r.payload_json);
    signer_request_clear(&r);

    /* A payload that is not JSON parses; payload_json says it is not JSON. */
    assert_int_equal(
        request("{\"alg\":\"RS256\",\"nonce\":\"n\",\"url\":\"u\",\"kid\":\"k\"}", "not json", &r),
        0);
    assert_null(r.payload_json);
    assert_int_equal(r.payload_len, 8);
    signer_request_clear(&r);
}

static void test_request_rejects(void **state)
{
    static const char *bad_hdrs[] = {
        "{\"nonce\":\"n\",\"url\":\"u\",\"kid\":\"k\"}",
        "{\"alg\":\"RS256\",\"url\":\"u\",\"kid\":\"k\"}",
        "{\"alg\":\"RS256\",\"nonce\":\"n\",\"kid\":\"k\"}",
        "{\"alg\":\"RS256\",\"nonce\":\"n\",\"url\":\"u\"}",
        "{\"alg\":\"RS256\",\"nonce\":\"n\",\"url\":\"u\",\"kid\":\"k\",\"jwk\":{}}",
        "{\"alg\":\"RS256\",\"nonce\":\"n\",\"url\":\"u\",\"jwk\":\"k\"}",
        "{\"alg\":\"RS256\",\"nonce\":1,\"url\":\"u\",\"kid\":\"k\"}",
        "[\"alg\"]",
        "not json",
    };
    static const char *bad_lines[] = {
        "",         ".",           ".e30",     "e30",       "e30=.e30",
        "e3 0.e30", "e30.e30.e30", "e30.e30=", "e30.e30\r", "e30.A",
    };
    struct signer_request r;
    struct err e = {0};

    for (size_t i = 0; i < sizeof bad_hdrs / sizeof bad_hdrs[0]; i++) {
        if (request(bad_hdrs[i], "{}", &r) != -EPROTO)
            fail_msg("header %zu accepted: %s", i, bad_hdrs[i]);
        assert_null(r.header);
    }
    for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
        if (signer_proto_request_parse(bad_lines[i], strlen(bad_lines[i]), &r, &e) != -EPROTO)
            fail_msg("line %zu accepted: %s", i, bad_lines[i]);
    }
    /* A NUL inside the line is not base64url either. */
    assert_int_equal(signer_proto_request_parse("e30.e\0", 6, &r, &e), -EPROTO);
}

static void test_answer(void **state)
{
    const uint8_t sig[] = {0xfb, 0xff, 0x00, 0x01};
    struct err e = {0};
    uint8_t *back;
    size_t len;
    char *line;

    assert_int_equal(signer_proto_answer_format(sig, sizeof sig, &line, &e), 0);
    assert_string_equal(line, "-_8AAQ\r\n");
    assert_int_equal(signer_proto_answer_parse(line, strlen(line) - 2, &back, &len, &e), 0);
    assert_int_equal(len, sizeof sig);
    assert_memory_equal(back, sig, len);
    free(back);
    free(line);
    assert_int_equal(signer_proto_answer_parse("", 0, &back, &len, &e), -EPROTO);
    assert_int_equal(signer_proto_answer_parse("-_8AAQ==", 8, &back, &len, &e), -EPROTO);
    assert_int_equal(signer_proto_answer_parse("ab cd", 5, &back, &len, &e), -EPROTO);
    assert_int_equal(signer_proto_request_format("a.b", 3, &line, &e), 0);
    assert_string_equal(line, "a.b\r\n");
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_permutations), cmocka_unit_test(test_greeting_rejects),
        cmocka_unit_test(test_greeting_format),       cmocka_unit_test(test_jwk_line),
        cmocka_unit_test(test_line_framing),          cmocka_unit_test(test_request_parse),
        cmocka_unit_test(test_request_rejects),       cmocka_unit_test(test_answer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
