/* fuzz_signer_proto: the signer protocol's parsers (src/signer/signer_proto.h).
 *
 * The input is read as a stream of CRLF lines with signer_proto_line (which must never
 * report a line past the buffer or longer than SIGNER_LINE_MAX); the first line is parsed
 * as a greeting, the second as the JWK line against it, every later one as a request line
 * (and as an answer line). Whatever parses as a greeting must format and parse back to the
 * same members. */
#include "fuzz_common.h"

#include "signer/signer_proto.h"

FUZZ_QUIET_LOGS()

static void check_greeting_round_trip(const struct signer_greeting *g)
{
    struct signer_greeting back;
    char *line = NULL;

    if (signer_proto_greeting_format(g, &line, NULL) < 0)
        return;
    if (signer_proto_greeting_parse(line, strlen(line) - 2, &back, NULL) != 0 ||
        strcmp(back.alg, g->alg) != 0 || strcmp(back.thumbprint, g->thumbprint) != 0 ||
        (!g->kid) != (!back.kid) || (g->kid && strcmp(g->kid, back.kid) != 0))
        abort();
    signer_greeting_clear(&back);
    free(line);
}

static void parse_request(const char *line, size_t len)
{
    struct signer_request r;
    uint8_t *sig = NULL;
    size_t siglen;

    if (signer_proto_request_parse(line, len, &r, NULL) == 0) {
        if (!r.alg || !r.nonce || !r.url || (!r.kid && !r.jwk))
            abort();
        signer_request_clear(&r);
    }
    if (signer_proto_answer_parse(line, len, &sig, &siglen, NULL) == 0)
        free(sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_memdup(data, size);
    struct signer_greeting g = {0};
    bool have_greeting = false;
    size_t off = 0, len, used;
    unsigned n = 0;
    json_t *jwk;

    if (!buf)
        return 0;
    while (off < size && signer_proto_line(buf + off, size - off, &len, &used, NULL) == 1) {
        char *line = fuzz_memdup((const uint8_t *)buf + off, len);

        if (used != len + 2 || off + used > size || used > SIGNER_LINE_MAX)
            abort();
        if (!line)
            break;
        if (n == 0) {
            have_greeting = signer_proto_greeting_parse(line, len, &g, NULL) == 0;
            if (have_greeting)
                check_greeting_round_trip(&g);
        } else if (n == 1 && have_greeting) {
            if (signer_proto_jwk_parse(&g, line, len, &jwk, NULL) == 0)
                json_decref(jwk);
        } else {
            parse_request(line, len);
        }
        free(line);
        off += used;
        n++;
    }
    /* The whole input as one line too, for inputs without CRLF. */
    if (n == 0) {
        parse_request(buf, size);
        if (signer_proto_greeting_parse(buf, size, &g, NULL) == 0)
            check_greeting_round_trip(&g);
    }
    signer_greeting_clear(&g);
    free(buf);
    return 0;
}
