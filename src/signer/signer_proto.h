/* signer_proto: the account-key signer protocol, lacme-accountd's version 1 (DESIGN.md §10).
 *
 * Pure functions over buffers, no I/O; both ends use them (signer/signer_client.h and
 * `acmed signer`). On connect the signer sends two lines:
 *     1 OK {"alg":"RS256","jwk-thumbprint":"<RFC 7638 thumbprint>"[,"kid":"<account URL>"]}
 *     <the public JWK, or {} when a kid is given>
 * then each request is one line `<b64url protected header>.<b64url payload>`, answered by one
 * line holding the b64url signature. Lines end in CRLF (a bare LF is an error: the reference
 * implementation aborts on one) and are at most SIGNER_LINE_MAX bytes, CRLF included. A
 * refusal or a malformed line closes the connection: there is no error line. */
#ifndef ACMED_SIGNER_SIGNER_PROTO_H
#define ACMED_SIGNER_SIGNER_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SIGNER_PROTO_VERSION 1
#define SIGNER_LINE_MAX 65536

/* The first line's JSON: the signer's algorithm, its key's thumbprint and optional kid. */
struct signer_greeting {
    char *alg;
    char *thumbprint;
    char *kid; /* NULL when the signer gave none */
};

/* Finds the first complete line of buf[0..len). Returns 1 with *line_len (the content, CRLF
 * excluded) and *consumed (CRLF included) set, 0 when more bytes are needed, -EPROTO for a
 * line ending in a bare LF, -EMSGSIZE for a line (or an unfinished one) longer than
 * SIGNER_LINE_MAX. e is set on errors. */
int signer_proto_line(const char *buf, size_t len, size_t *line_len, size_t *consumed,
                      struct err *e);

/* The greeting line, CRLF included: "1 OK " and the compact JSON of g. *out caller-owned.
 * Returns 0 or negative. */
int signer_proto_greeting_format(const struct signer_greeting *g, char **out, struct err *e);

/* Parses a greeting line (content without CRLF): version 1 only, "OK", a JSON object with
 * string members "alg" and "jwk-thumbprint" and an optional string "kid", in any order
 * (other members are ignored). Fills *out (release with signer_greeting_clear). Returns 0,
 * -EPROTONOSUPPORT for another protocol version, -EPROTO for anything malformed. */
int signer_proto_greeting_parse(const char *line, size_t len, struct signer_greeting *out,
                                struct err *e);

void signer_greeting_clear(struct signer_greeting *g);

/* The JWK line, CRLF included: jwk's compact JSON with sorted members (as lacme-accountd),
 * or "{}" when jwk is NULL (a signer with a kid). *out caller-owned. Returns 0 or negative. */
int signer_proto_jwk_format(json_t *jwk, char **out, struct err *e);

/* Parses the JWK line (content without CRLF) against the greeting g: a JSON object whose
 * RFC 7638 thumbprint equals g->thumbprint, or "{}" when g has a kid. *jwk is the JWK (new
 * reference) or NULL for "{}". Returns 0 or -EPROTO (mismatch, malformed). */
int signer_proto_jwk_parse(const struct signer_greeting *g, const char *line, size_t len,
                           json_t **jwk, struct err *e);

/* One decoded request. header is the protected header object; the borrowed strings point
 * into it. payload is the decoded payload bytes (NUL-terminated; len 0 for POST-as-GET), and
 * payload_json its JSON value when it is JSON (NULL when empty or not JSON). */
struct signer_request {
    json_t *header;
    const char *alg, *nonce, *url, *kid; /* kid NULL when the header carries a jwk */
    json_t *jwk;                         /* borrowed from header; NULL when it carries a kid */
    uint8_t *payload;
    size_t payload_len;
    json_t *payload_json;
};

/* Parses a request line (content without CRLF) as lacme-accountd does: base64url header, a
 * dot, base64url payload (may be empty); the header a JSON object holding string "alg",
 * "nonce" and "url" and an object "jwk" or a string "kid". Fills *out (release with
 * signer_request_clear). Returns 0 or -EPROTO with e saying what is wrong. */
int signer_proto_request_parse(const char *line, size_t len, struct signer_request *out,
                               struct err *e);

void signer_request_clear(struct signer_request *r);

/* The request line for a JWS signing input "<b64url header>.<b64url payload>": the input
 * and CRLF. *out caller-owned. Returns 0, -EMSGSIZE when longer than SIGNER_LINE_MAX, or
 * -ENOMEM. */
int signer_proto_request_format(const char *input, size_t len, char **out, struct err *e);

/* The answer line for a signature: base64url and CRLF. *out caller-owned. */
int signer_proto_answer_format(const uint8_t *sig, size_t len, char **out, struct err *e);

/* Parses an answer line (content without CRLF): non-empty base64url. *sig caller-owned.
 * Returns 0 or -EPROTO. */
int signer_proto_answer_parse(const char *line, size_t len, uint8_t **sig, size_t *siglen,
                              struct err *e);

#endif
