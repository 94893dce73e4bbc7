/* http01_req: the request-head parser of the http-01 listener. */
#include "challenge/http01_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/b64.h"

/* RFC 9110 tchar: the characters a method name may contain. */
static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Length of a line ending at lf (pointing at '\n'), without the '\n' or a '\r' before it. */
static size_t line_len(const char *start, const char *lf)
{
    size_t n = (size_t)(lf - start);

    return n && start[n - 1] == '\r' ? n - 1 : n;
}

/* Matches the target against the one path we serve and copies the token. */
static int parse_target(const char *t, size_t n, struct http01_req *out)
{
    static const char prefix[] = HTTP01_PATH_PREFIX;
    const size_t plen = sizeof prefix - 1;
    const char *q;

    /* Absolute form (RFC 9112 §3.2.2): servers must accept it; the authority is not ours
     * to judge, the validation server chose it. */
    if (n >= 7 && strncasecmp(t, "http://", 7) == 0) {
        const char *slash = memchr(t + 7, '/', n - 7);

        if (!slash)
            return HTTP01_REQ_NOT_FOUND;
        n -= (size_t)(slash - t);
        t = slash;
    }
    q = memchr(t, '?', n);
    if (q)
        n = (size_t)(q - t);
    if (n <= plen || n - plen > HTTP01_TOKEN_MAX || memcmp(t, prefix, plen) != 0)
        return HTTP01_REQ_NOT_FOUND;
    memcpy(out->token, t + plen, n - plen);
    out->token[n - plen] = '\0';
    if (!b64url_valid(out->token)) {
        out->token[0] = '\0';
        return HTTP01_REQ_NOT_FOUND;
    }
    return HTTP01_REQ_OK;
}

/* Parses "METHOD SP target SP HTTP/1.x" (n bytes, line ending removed). */
static int parse_request_line(const char *line, size_t n, struct http01_req *out)
{
    const char *sp1 = memchr(line, ' ', n);
    const char *target, *sp2, *version;
    size_t mlen, tlen;

    if (!sp1 || sp1 == line)
        return HTTP01_REQ_BAD_REQUEST;
    mlen = (size_t)(sp1 - line);
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)line[i]))
            return HTTP01_REQ_BAD_REQUEST;
    target = sp1 + 1;
    sp2 = memchr(target, ' ', n - mlen - 1);
    /* No version at all is HTTP/0.9, which has no status line to answer with. */
    if (!sp2 || sp2 == target)
        return HTTP01_REQ_BAD_REQUEST;
    tlen = (size_t)(sp2 - target);
    version = sp2 + 1;
    if ((size_t)(line + n - version) != 8 || memcmp(version, "HTTP/1.", 7) != 0 ||
        version[7] < '0' || version[7] > '9')
        return HTTP01_REQ_BAD_REQUEST;
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)target[i] <= ' ' || (unsigned char)target[i] >= 0x7f)
            return HTTP01_REQ_BAD_REQUEST;
    if (mlen == 4 && memcmp(line, "HEAD", 4) == 0)
        out->head = true;
    else if (mlen != 3 || memcmp(line, "GET", 3) != 0)
        return HTTP01_REQ_BAD_METHOD;
    return parse_target(target, tlen, out);
}

int http01_req_parse(const char *buf, size_t len, struct http01_req *out)
{
    const char *end = buf + len;
    const char *start = buf, *lf, *p;
    size_t n;
    int rc;

    memset(out, 0, sizeof *out);
    /* Known early so that even an error answer to HEAD carries no body. */
    out->head = len >= 5 && memcmp(buf, "HEAD ", 5) == 0;
    /* RFC 9112 §2.2: at least one empty line before the request line should be ignored. */
    while (start < end &&
           (*start == '\n' || (*start == '\r' && start + 1 < end && start[1] == '\n')))
        start += *start == '\r' ? 2 : 1;
    lf = memchr(start, '\n', (size_t)(end - start));
    if (!lf) {
        n = (size_t)(end - start);
        if (n && start[n - 1] == '\r')
            n--;
        if (n > HTTP01_REQ_MAX_LINE)
            return HTTP01_REQ_URI_TOO_LONG;
        return len >= HTTP01_REQ_MAX_HEAD ? HTTP01_REQ_HEAD_TOO_LARGE : HTTP01_REQ_INCOMPLETE;
    }
    n = line_len(start, lf);
    if (n > HTTP01_REQ_MAX_LINE)
        return HTTP01_REQ_URI_TOO_LONG;
    /* Skip header lines up to the first empty one, which ends the head at p. */
    p = lf + 1;
    for (;;) {
        const char *next = memchr(p, '\n', (size_t)(end - p));

        if ((size_t)(p - buf) > HTTP01_REQ_MAX_HEAD)
            return HTTP01_REQ_HEAD_TOO_LARGE;
        if (!next)
            return len >= HTTP01_REQ_MAX_HEAD ? HTTP01_REQ_HEAD_TOO_LARGE : HTTP01_REQ_INCOMPLETE;
        if (line_len(p, next) == 0) {
            p = next + 1;
            break;
        }
        p = next + 1;
    }
    if ((size_t)(p - buf) > HTTP01_REQ_MAX_HEAD)
        return HTTP01_REQ_HEAD_TOO_LARGE;
    rc = parse_request_line(start, n, out);
    if (rc == HTTP01_REQ_OK)
        out->head_len = (size_t)(p - buf);
    return rc;
}

int http01_req_status(int rc)
{
    if (rc == HTTP01_REQ_OK)
        return 200;
    return rc < 0 ? -rc : 0;
}

const char *http01_status_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    default:
        return "Error";
    }
}

size_t http01_response_format(int status, const char *body, bool head, char **out)
{
    char errbody[64];
    size_t blen, cap;
    int n;

    *out = NULL;
    if (!body) {
        snprintf(errbody, sizeof errbody, "%d %s\n", status, http01_status_reason(status));
        body = errbody;
    }
    blen = strlen(body);
    cap = blen + 256;
    if (!(*out = malloc(cap)))
        return 0;
    n = snprintf(*out, cap,
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                 "%sCache-Control: no-store\r\nConnection: close\r\n\r\n",
                 status, http01_status_reason(status), blen,
                 status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (n < 0 || (size_t)n >= cap - blen) {
        free(*out);
        *out = NULL;
        return 0;
    }
    if (!head)
        memcpy(*out + n, body, blen);
    return (size_t)n + (head ? 0 : blen);
}
