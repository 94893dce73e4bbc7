/* http01_req: classifies the head of an HTTP request sent to the http-01 listener.
 *
 * Pure and stateless: the listener calls it again over its whole buffer whenever more bytes
 * arrive. Only the request line matters; header lines are skipped up to the blank line (CRLF
 * or bare LF line endings). The only path answered is "/.well-known/acme-challenge/<token>"
 * in origin form or absolute form ("http://host/..."); a query string is stripped (RFC 8555
 * validation never sends one, and ignoring it is harmless). The path is compared byte for
 * byte, never decoded or normalised, so "%2e", "..", "//" or any character outside base64url
 * simply does not match and gives 404: nothing can name another resource. */
#ifndef ACMED_CHALLENGE_HTTP01_REQ_H
#define ACMED_CHALLENGE_HTTP01_REQ_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP01_REQ_MAX_LINE 1024 /* request line, without its line ending */
#define HTTP01_REQ_MAX_HEAD 8192 /* whole head, blank line included */
#define HTTP01_TOKEN_MAX 256
#define HTTP01_PATH_PREFIX "/.well-known/acme-challenge/"

/* Results of http01_req_parse. Rejections are the negated HTTP status to answer with. */
enum http01_req_rc {
    HTTP01_REQ_OK = 0,
    HTTP01_REQ_INCOMPLETE = 1,
    HTTP01_REQ_BAD_REQUEST = -400,
    HTTP01_REQ_NOT_FOUND = -404,
    HTTP01_REQ_BAD_METHOD = -405,
    HTTP01_REQ_URI_TOO_LONG = -414,
    HTTP01_REQ_HEAD_TOO_LARGE = -431,
};

struct http01_req {
    bool head;                        /* HEAD: answer with headers only (set whenever known) */
    size_t head_len;                  /* bytes of the head, blank line included (OK only) */
    char token[HTTP01_TOKEN_MAX + 1]; /* base64url, NUL-terminated (OK only) */
};

/* Looks at buf[0..len) (borrowed). Returns HTTP01_REQ_OK with out filled for a complete head
 * of a GET or HEAD for a base64url token; HTTP01_REQ_INCOMPLETE when more bytes are needed;
 * or a rejection: -400 malformed request line or version other than HTTP/1.x, -405 a method
 * other than GET or HEAD, -414 request line over HTTP01_REQ_MAX_LINE (reported as soon as it
 * is known, before the head is complete), -431 no blank line within HTTP01_REQ_MAX_HEAD,
 * -404 any other path. Bytes after the head are ignored. Never fails otherwise. */
int http01_req_parse(const char *buf, size_t len, struct http01_req *out);

/* The HTTP status for a result of http01_req_parse: 200 for OK, 0 for INCOMPLETE. */
int http01_req_status(int rc);

/* The reason phrase for the statuses the listener sends ("Not Found"), "Error" otherwise. */
const char *http01_status_reason(int status);

/* The whole response with status and body (for 200, the key authorization; NULL for any other
 * status: "<status> <reason>\n"), headers only when head is true, into *out (the caller's,
 * free()). Returns its length, or 0 with *out NULL when out of memory. */
size_t http01_response_format(int status, const char *body, bool head, char **out);

#endif
