/* Unit tests for challenge/http01_req: the request-head parser of the http-01 listener. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "challenge/http01_req.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define PATH "/.well-known/acme-challenge/" TOKEN

struct row {
    const char *req;
    int rc;
    bool head;
    const char *token; /* expected for OK */
};

static const struct row rows[] = {
    {"GET " PATH " HTTP/1.1\r\nHost: example.org\r\nUser-Agent: x\r\n\r\n", HTTP01_REQ_OK, false,
     TOKEN},
    {"HEAD " PATH " HTTP/1.1\r\nHost: example.org\r\n\r\n", HTTP01_REQ_OK, true, TOKEN},
    {"GET " PATH " HTTP/1.0\r\n\r\n", HTTP01_REQ_OK, false, TOKEN},
    /* Bare LF line endings, and a mix of both. */
    {"GET " PATH " HTTP/1.1\nHost: a\n\n", HTTP01_REQ_OK, false, TOKEN},
    {"GET " PATH " HTTP/1.1\r\nHost: a\n\r\n", HTTP01_REQ_OK, false, TOKEN},
    /* An empty line before the request line is ignored (RFC 9112 §2.2). */
    {"\r\nGET " PATH " HTTP/1.1\r\n\r\n", HTTP01_REQ_OK, false, TOKEN},
    /* Absolute form. */
    {"GET http://example.org" PATH " HTTP/1.1\r\n\r\n", HTTP01_REQ_OK, false, TOKEN},
    {"GET HTTP://example.org:80" PATH " HTTP/1.1\r\n\r\n", HTTP01_REQ_OK, false, TOKEN},
    /* A query string is stripped. */
    {"GET " PATH "?x=1 HTTP/1.1\r\n\r\n", HTTP01_REQ_OK, false, TOKEN},
    {"GET " PATH "? HTTP/1.1\r\n\r\n", HTTP01_REQ_OK, false, TOKEN},
    /* Methods. */
    {"POST " PATH " HTTP/1.1\r\n\r\n", HTTP01_REQ_BAD_METHOD, false, NULL},
    {"PUT " PATH " HTTP/1.1\r\n\r\n", HTTP01_REQ_BAD_METHOD, false, NULL},
    {"get " PATH " HTTP/1.1\r\n\r\n", HTTP01_REQ_BAD_METHOD, false, NULL},
    {"OPTIONS * HTTP/1.1\r\n\r\n", HTTP01_REQ_BAD_METHOD, false, NULL},
    /* Malformed request lines. */
    {"GET " PATH "\r\n\r\n", HTTP01_REQ_BAD_REQUEST, false, NULL},
    {"GET " PATH " \r\n\r\n", HTTP01_REQ_BAD_REQUEST, false, NULL},
    {"GET " PATH " HTTP/2.0\r\n\r\n", HTTP01_REQ_BAD_REQUEST, false, NULL},
    {"GET " PATH " HTTP/1.1 \r\n\r\n", HTTP01_REQ_BAD_REQUEST, false, NULL},
    {"GET " PATH " http/1.1\r\n\r\n", HTTP01_REQ_BAD_REQUEST, false, NULL},
    {"GET  " PATH " HTTP/1.1\r\n\r\n", HTTP01_REQ_BAD_REQUEST, false, NULL},
    {" GET " PATH " HTTP/1.1\r\n\r\n", HTTP01_REQ_BAD_REQUEST, false, NULL},
    {"G(T " PATH " HTTP/1.1\r\n\r\n", HTTP01_REQ_BAD_REQUEST, false, NULL},
    {"GET /a\tb HTTP/1.1\r\n\r\n", HTTP01_REQ_BAD_REQUEST, false, NULL},
    {"GET\r\n\r\n", HTTP01_REQ_BAD_REQUEST, false, NULL},
    {"HEAD " PATH "\r\n\r\n", HTTP01_REQ_BAD_REQUEST, true, NULL},
    /* Other paths: nothing but the exact prefix and a base64url token. */
    {"GET /foo HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"GET / HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"HEAD /foo HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, true, NULL},
    {"GET /.well-known/acme-challenge/ HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"GET /.well-known/acme-challenge HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"GET /.well-known/acme-challenge/a.b HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"GET /.well-known/acme-challenge/.. HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"GET /.well-known/acme-challenge/../../etc/passwd HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND,
     false, NULL},
    {"GET /.well-known/acme-challenge/a/b HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"GET /.well-known/acme-challenge/%2e%2e HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"GET /.well-known/acme-challenge/abc%2Fdef HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false,
     NULL},
    {"GET /.well-known/acme-challenge/a=b HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"GET /.well-known/acme-challenge/a#b HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"GET /.well-known/./acme-challenge/" TOKEN " HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false,
     NULL},
    {"GET //.well-known/acme-challenge/" TOKEN " HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false,
     NULL},
    {"GET /.WELL-KNOWN/acme-challenge/" TOKEN " HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false,
     NULL},
    {"GET http://example.org HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    {"GET * HTTP/1.1\r\n\r\n", HTTP01_REQ_NOT_FOUND, false, NULL},
    /* Incomplete heads. */
    {"", HTTP01_REQ_INCOMPLETE, false, NULL},
    {"GE", HTTP01_REQ_INCOMPLETE, false, NULL},
    {"GET " PATH " HTTP/1.1", HTTP01_REQ_INCOMPLETE, false, NULL},
    {"GET " PATH " HTTP/1.1\r", HTTP01_REQ_INCOMPLETE, false, NULL},
    {"GET " PATH " HTTP/1.1\r\n", HTTP01_REQ_INCOMPLETE, false, NULL},
    {"GET " PATH " HTTP/1.1\r\nHost: a\r\n", HTTP01_REQ_INCOMPLETE, false, NULL},
    {"GET " PATH " HTTP/1.1\r\nHost: a\r\n\r", HTTP01_REQ_INCOMPLETE, false, NULL},
    {"POST /x HTTP/1.1\r\n", HTTP01_REQ_INCOMPLETE, false, NULL},
    {"\r\n\r\n", HTTP01_REQ_INCOMPLETE, false, NULL},
};

static void test_table(void **state)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        struct http01_req req;
        int rc = http01_req_parse(r->req, strlen(r->req), &req);

        if (rc != r->rc)
            fail_msg("row %zu \"%s\": got %d, want %d", i, r->req, rc, r->rc);
        if (req.head != r->head)
            fail_msg("row %zu \"%s\": head %d", i, r->req, req.head);
        if (rc == HTTP01_REQ_OK) {
            assert_string_equal(req.token, r->token);
            assert_int_equal(req.head_len, strlen(r->req));
        }
    }
}

/* Bytes after the head (a body, a pipelined request) are not part of it. */
static void test_trailing_bytes(void **state)
{
    const char *head = "GET " PATH " HTTP/1.1\r\nHost: a\r\n\r\n";
    char buf[512];
    struct http01_req req;

    snprintf(buf, sizeof buf, "%sGET /foo HTTP/1.1\r\n\r\n", head);
    assert_int_equal(http01_req_parse(buf, strlen(buf), &req), HTTP01_REQ_OK);
    assert_int_equal(req.head_len, strlen(head));
    assert_string_equal(req.token, TOKEN);
}

/* Builds "GET /<n-15 bytes> HTTP/1.1" so that the request line is exactly n bytes. */
static char *request_line(size_t n, const char *rest)
{
    size_t fixed = strlen("GET / HTTP/1.1");
    char *s = malloc(n + strlen(rest) + 1);

    assert_non_null(s);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', n - fixed);
    memcpy(s + 5 + n - fixed, " HTTP/1.1", 9);
    strcpy(s + n, rest);
    assert_int_equal(strcspn(s, "\r\n"), n);
    return s;
}

static void test_line_limits(void **state)
{
    struct http01_req req;
    char *s;

    s = request_line(HTTP01_REQ_MAX_LINE, "\r\n\r\n");
    assert_int_equal(http01_req_parse(s, strlen(s), &req), HTTP01_REQ_NOT_FOUND);
    free(s);
    s = request_line(HTTP01_REQ_MAX_LINE + 1, "\r\n\r\n");
    assert_int_equal(http01_req_parse(s, strlen(s), &req), HTTP01_REQ_URI_TOO_LONG);
    free(s);
    s = request_line(HTTP01_REQ_MAX_LINE + 1, "\n\n");
    assert_int_equal(http01_req_parse(s, strlen(s), &req), HTTP01_REQ_URI_TOO_LONG);
    free(s);
    /* Known before the line ends: no need to wait for (or buffer) the rest. */
    s = request_line(HTTP01_REQ_MAX_LINE + 1, "");
    assert_int_equal(http01_req_parse(s, strlen(s), &req), HTTP01_REQ_URI_TOO_LONG);
    assert_int_equal(http01_req_parse(s, strlen(s) - 1, &req), HTTP01_REQ_INCOMPLETE);
    free(s);
    s = request_line(HTTP01_REQ_MAX_LINE, "\r");
    assert_int_equal(http01_req_parse(s, strlen(s), &req), HTTP01_REQ_INCOMPLETE);
    free(s);
    /* A token longer than HTTP01_TOKEN_MAX cannot be ours. */
    s = malloc(600);
    assert_non_null(s);
    snprintf(s, 600, "GET %s%0*d HTTP/1.1\r\n\r\n", HTTP01_PATH_PREFIX, HTTP01_TOKEN_MAX + 1, 0);
    assert_int_equal(http01_req_parse(s, strlen(s), &req), HTTP01_REQ_NOT_FOUND);
    snprintf(s, 600, "GET %s%0*d HTTP/1.1\r\n\r\n", HTTP01_PATH_PREFIX, HTTP01_TOKEN_MAX, 0);
    assert_int_equal(http01_req_parse(s, strlen(s), &req), HTTP01_REQ_OK);
    assert_int_equal(strlen(req.token), HTTP01_TOKEN_MAX);
    free(s);
}

/* A head of 9 KiB is too large whether or not its blank line has arrived; one of exactly
 * HTTP01_REQ_MAX_HEAD bytes is fine. */
static void test_head_limits(void **state)
{
    const char *line = "GET " PATH " HTTP/1.1\r\n";
    size_t cap = 10 * 1024, n;
    char *s = malloc(cap);
    struct http01_req req;

    assert_non_null(s);
    n = (size_t)snprintf(s, cap, "%s", line);
    while (n < 9 * 1024)
        n += (size_t)snprintf(s + n, cap - n, "X-Pad: %060d\r\n", 0);
    assert_int_equal(http01_req_parse(s, n, &req), HTTP01_REQ_HEAD_TOO_LARGE);
    memcpy(s + n, "\r\n", 3);
    assert_int_equal(http01_req_parse(s, n + 2, &req), HTTP01_REQ_HEAD_TOO_LARGE);
    /* Below the limit and incomplete. */
    assert_int_equal(http01_req_parse(s, 4000, &req), HTTP01_REQ_INCOMPLETE);
    /* Exactly the limit, blank line included. */
    n = strlen(line);
    memcpy(s, line, n);
    memset(s + n, 'x', HTTP01_REQ_MAX_HEAD - n - 4);
    s[n] = 'X';
    s[n + 1] = ':';
    memcpy(s + HTTP01_REQ_MAX_HEAD - 4, "\r\n\r\n", 4);
    assert_int_equal(http01_req_parse(s, HTTP01_REQ_MAX_HEAD, &req), HTTP01_REQ_OK);
    assert_int_equal(req.head_len, HTTP01_REQ_MAX_HEAD);
    /* One byte more. */
    memset(s + n, 'x', HTTP01_REQ_MAX_HEAD - n - 3);
    memcpy(s + HTTP01_REQ_MAX_HEAD - 3, "\r\n\r\n", 4);
    assert_int_equal(http01_req_parse(s, HTTP01_REQ_MAX_HEAD + 1, &req), HTTP01_REQ_HEAD_TOO_LARGE);
    /* Only empty lines, forever. */
    memset(s, '\n', HTTP01_REQ_MAX_HEAD + 1);
    assert_int_equal(http01_req_parse(s, HTTP01_REQ_MAX_HEAD + 1, &req), HTTP01_REQ_HEAD_TOO_LARGE);
    free(s);
}

/* A NUL byte in the target is malformed, never a shorter token. */
static void test_nul(void **state)
{
    static const char req_nul[] = "GET /.well-known/acme-challenge/abc\0def HTTP/1.1\r\n\r\n";
    struct http01_req req;

    assert_int_equal(http01_req_parse(req_nul, sizeof req_nul - 1, &req), HTTP01_REQ_BAD_REQUEST);
}

static void test_status(void **state)
{
    assert_int_equal(http01_req_status(HTTP01_REQ_OK), 200);
    assert_int_equal(http01_req_status(HTTP01_REQ_INCOMPLETE), 0);
    assert_int_equal(http01_req_status(HTTP01_REQ_BAD_REQUEST), 400);
    assert_int_equal(http01_req_status(HTTP01_REQ_NOT_FOUND), 404);
    assert_int_equal(http01_req_status(HTTP01_REQ_BAD_METHOD), 405);
    assert_int_equal(http01_req_status(HTTP01_REQ_URI_TOO_LONG), 414);
    assert_int_equal(http01_req_status(HTTP01_REQ_HEAD_TOO_LARGE), 431);
    assert_string_equal(http01_status_reason(404), "Not Found");
    assert_string_equal(http01_status_reason(431), "Request Header Fields Too Large");
    assert_string_equal(http01_status_reason(999), "Error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),       cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_line_limits), cmocka_unit_test(test_head_limits),
        cmocka_unit_test(test_nul),         cmocka_unit_test(test_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
