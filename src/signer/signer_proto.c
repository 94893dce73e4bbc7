/* signer_proto: lacme-accountd's protocol version 1, formatted and parsed (see the header). */
#include "signer/signer_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/b64.h"
#include "crypto/jwk.h"

int signer_proto_line(const char *buf, size_t len, size_t *line_len, size_t *consumed,
                      struct err *e)
{
    const char *nl = memchr(buf, '\n', len < SIGNER_LINE_MAX ? len : SIGNER_LINE_MAX);
    size_t i;

    if (!nl) {
        if (len >= SIGNER_LINE_MAX)
            return err_set(e, -EMSGSIZE, "signer protocol: line longer than %d bytes",
                           SIGNER_LINE_MAX);
        return 0;
    }
    i = (size_t)(nl - buf);
    if (i == 0 || buf[i - 1] != '\r')
        return err_set(e, -EPROTO, "signer protocol: line ends in a bare LF");
    *line_len = i - 1;
    *consumed = i + 1;
    return 1;
}

/* Appends CRLF to a NUL-terminated text, taking ownership of it. NULL on allocation failure. */
static char *with_crlf(char *text, const char *prefix)
{
    char *out = NULL;

    if (text && asprintf(&out, "%s%s\r\n", prefix, text) < 0)
        out = NULL;
    free(text);
    return out;
}

int signer_proto_greeting_format(const struct signer_greeting *g, char **out, struct err *e)
{
    json_t *o = json_pack("{s:s, s:s}", "alg", g->alg, "jwk-thumbprint", g->thumbprint);
    char prefix[16];

    *out = NULL;
    if (o && g->kid && json_object_set_new(o, "kid", json_string(g->kid)) < 0)
        json_decref(o), o = NULL;
    snprintf(prefix, sizeof prefix, "%d OK ", SIGNER_PROTO_VERSION);
    if (o)
        *out = with_crlf(json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER), prefix);
    json_decref(o);
    return *out ? 0 : err_set(e, -ENOMEM, "out of memory");
}

void signer_greeting_clear(struct signer_greeting *g)
{
    if (!g)
        return;
    free(g->alg);
    free(g->thumbprint);
    free(g->kid);
    g->alg = g->thumbprint = g->kid = NULL;
}

/* A copy of the string member `name`, NULL when absent; *bad set when present but not a
 * non-empty string without control characters. */
static char *member_dup(json_t *o, const char *name, bool *bad)
{
    json_t *v = json_object_get(o, name);
    const char *s;

    if (!v)
        return NULL;
    s = json_string_value(v);
    if (!s || !*s || strlen(s) != json_string_length(v)) {
        *bad = true;
        return NULL;
    }
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *bad = true;
            return NULL;
        }
    }
    return strdup(s);
}

int signer_proto_greeting_parse(const char *line, size_t len, struct signer_greeting *out,
                                struct err *e)
{
    json_error_t jerr;
    json_t *o = NULL;
    size_t v = 0;
    bool bad = false;
    int rc;

    memset(out, 0, sizeof *out);
    while (v < len && line[v] >= '0' && line[v] <= '9')
        v++;
    if (v == 0 || v >= len || line[v] != ' ') {
        rc = err_set(e, -EPROTO, "signer greeting: no protocol version");
        goto out;
    }
    if (v != 1 || line[0] != '0' + SIGNER_PROTO_VERSION) {
        rc = err_set(e, -EPROTONOSUPPORT, "signer greeting: protocol version %.*s, not %d",
                     (int)(v < 10 ? v : 10), line, SIGNER_PROTO_VERSION);
        goto out;
    }
    if (len - v < 4 || memcmp(line + v, " OK ", 4) != 0) {
        rc = err_set(e, -EPROTO, "signer greeting: no \"OK\"");
        goto out;
    }
    o = json_loadb(line + v + 4, len - v - 4, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        rc = err_set(e, -EPROTO, "signer greeting: not a JSON object");
        goto out;
    }
    out->alg = member_dup(o, "alg", &bad);
    out->thumbprint = member_dup(o, "jwk-thumbprint", &bad);
    out->kid = member_dup(o, "kid", &bad);
    if (bad || !out->alg || !out->thumbprint) {
        rc = err_set(e, -EPROTO,
                     "signer greeting: \"alg\" or \"jwk-thumbprint\" missing, or "
                     "a member that is not a string");
        goto out;
    }
    if (!b64url_valid(out->thumbprint)) {
        rc = err_set(e, -EPROTO, "signer greeting: \"jwk-thumbprint\" is not base64url");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    if (rc < 0)
        signer_greeting_clear(out);
    return rc;
}

int signer_proto_jwk_format(json_t *jwk, char **out, struct err *e)
{
    *out = jwk ? with_crlf(json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS), "") : strdup("{}\r\n");
    return *out ? 0 : err_set(e, -ENOMEM, "out of memory");
}

int signer_proto_jwk_parse(const struct signer_greeting *g, const char *line, size_t len,
                           json_t **jwk, struct err *e)
{
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    char *tp = NULL;
    struct err te;
    int rc;

    *jwk = NULL;
    if (!json_is_object(o)) {
        rc = err_set(e, -EPROTO, "signer JWK: not a JSON object");
        goto out;
    }
    if (json_object_size(o) == 0) {
        /* lacme-accountd sends {} when it is configured with the account's kid. */
        rc = g->kid ? 0 : err_set(e, -EPROTO, "signer JWK: {} without a kid in the greeting");
        goto out;
    }
    if (jwk_thumbprint(o, &tp, &te) < 0) {
        rc = err_set(e, -EPROTO, "signer JWK: %s", err_msg(&te));
        goto out;
    }
    if (strcmp(tp, g->thumbprint) != 0) {
        rc = err_set(e, -EPROTO, "signer JWK: thumbprint %s, the greeting said %s", tp,
                     g->thumbprint);
        goto out;
    }
    *jwk = o;
    o = NULL;
    rc = 0;
out:
    free(tp);
    json_decref(o);
    return rc;
}

void signer_request_clear(struct signer_request *r)
{
    if (!r)
        return;
    json_decref(r->header);
    json_decref(r->payload_json);
    free(r->payload);
    memset(r, 0, sizeof *r);
}

static bool b64url_span(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* The protected header's members as RFC 8555 §6.2 requires them. */
static int request_header(struct signer_request *r, struct err *e)
{
    json_t *kid = json_object_get(r->header, "kid"), *jwk = json_object_get(r->header, "jwk");

    r->alg = json_string_value(json_object_get(r->header, "alg"));
    r->nonce = json_string_value(json_object_get(r->header, "nonce"));
    r->url = json_string_value(json_object_get(r->header, "url"));
    if (!r->alg || !r->nonce || !r->url)
        return err_set(e, -EPROTO, "JWS protected header without \"alg\", \"nonce\" or \"url\"");
    if (kid && jwk)
        return err_set(e, -EPROTO, "JWS protected header with both \"jwk\" and \"kid\"");
    if (json_is_string(kid)) {
        r->kid = json_string_value(kid);
    } else if (json_is_object(jwk)) {
        r->jwk = jwk;
    } else {
        return err_set(e, -EPROTO, "JWS protected header without \"jwk\" or \"kid\"");
    }
    return 0;
}

int signer_proto_request_parse(const char *line, size_t len, struct signer_request *out,
                               struct err *e)
{
    const char *dot = memchr(line, '.', len);
    size_t hlen, plen;
    uint8_t *hdr = NULL;
    size_t hdr_len = 0;
    json_error_t jerr;
    int rc;

    memset(out, 0, sizeof *out);
    hlen = dot ? (size_t)(dot - line) : len;
    plen = dot ? len - hlen - 1 : 0;
    if (!dot || hlen == 0 || !b64url_span(line, hlen) ||
        b64url_decode(line, hlen, &hdr, &hdr_len) < 0) {
        rc = err_set(e, -EPROTO, "malformed JWS Protected Header");
        goto out;
    }
    if (!b64url_span(dot + 1, plen) ||
        b64url_decode(dot + 1, plen, &out->payload, &out->payload_len) < 0) {
        rc = err_set(e, -EPROTO, "malformed JWS Payload");
        goto out;
    }
    out->header = json_loadb((const char *)hdr, hdr_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(out->header)) {
        rc = err_set(e, -EPROTO, "JWS Protected Header is not a JSON object");
        goto out;
    }
    if ((rc = request_header(out, e)) < 0)
        goto out;
    if (out->payload_len > 0)
        out->payload_json =
            json_loadb((const char *)out->payload, out->payload_len, JSON_REJECT_DUPLICATES, &jerr);
    rc = 0;
out:
    free(hdr);
    if (rc < 0)
        signer_request_clear(out);
    return rc;
}

int signer_proto_request_format(const char *input, size_t len, char **out, struct err *e)
{
    *out = NULL;
    if (len + 2 > SIGNER_LINE_MAX)
        return err_set(e, -EMSGSIZE, "signer request of %zu bytes: the limit is %d", len + 2,
                       SIGNER_LINE_MAX);
    if (!(*out = malloc(len + 3)))
        return err_set(e, -ENOMEM, "out of memory");
    memcpy(*out, input, len);
    memcpy(*out + len, "\r\n", 3);
    return 0;
}

int signer_proto_answer_format(const uint8_t *sig, size_t len, char **out, struct err *e)
{
    *out = with_crlf(b64url_encode(sig, len), "");
    return *out ? 0 : err_set(e, -ENOMEM, "out of memory");
}

int signer_proto_answer_parse(const char *line, size_t len, uint8_t **sig, size_t *siglen,
                              struct err *e)
{
    *sig = NULL;
    if (len == 0 || !b64url_span(line, len) || b64url_decode(line, len, sig, siglen) < 0)
        return err_set(e, -EPROTO, "signer answer is not a base64url signature");
    return 0;
}
