/* pem: splitting a PEM certificate chain into DER certificates, and the reverse for one.
 *
 * RFC 8555 §11.4 lets the certificate URL return only "CERTIFICATE" blocks. The parser is
 * strict about everything a confused or hostile server could send that would end up on disk
 * next to the key: another label (a private key above all), text between blocks, broken
 * base64, a block that never ends. */
#include "crypto/pem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

#define PEM_BEGIN "-----BEGIN "
#define PEM_END "-----END "
#define PEM_DASHES "-----"
#define PEM_CERT_LABEL "CERTIFICATE"
#define PEM_LINE_COLS 64
#define PEM_LABEL_SHOW 64 /* longest label quoted back in an error message */

/* One line of the input with surrounding whitespace (including a '\r' before '\n') removed. */
struct pem_line {
    const char *s;
    size_t len;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Reads the line starting at *pos, trims it and advances *pos past its '\n'. */
static void next_line(const char *buf, size_t len, size_t *pos, struct pem_line *line)
{
    size_t start = *pos, end;
    const char *nl = memchr(buf + start, '\n', len - start);

    end = nl ? (size_t)(nl - buf) : len;
    *pos = nl ? end + 1 : len;
    while (start < end && is_space(buf[start]))
        start++;
    while (end > start && is_space(buf[end - 1]))
        end--;
    line->s = buf + start;
    line->len = end - start;
}

/* When `line` is "<prefix>LABEL-----", points *label at LABEL and returns true. */
static bool boundary(const struct pem_line *line, const char *prefix, struct pem_line *label)
{
    size_t plen = strlen(prefix), dlen = strlen(PEM_DASHES);

    if (line->len < plen + dlen || memcmp(line->s, prefix, plen) != 0 ||
        memcmp(line->s + line->len - dlen, PEM_DASHES, dlen) != 0)
        return false;
    label->s = line->s + plen;
    label->len = line->len - plen - dlen;
    return true;
}

static bool label_is(const struct pem_line *label, const char *want)
{
    return label->len == strlen(want) && memcmp(label->s, want, label->len) == 0;
}

static int show_len(const struct pem_line *label)
{
    return label->len > PEM_LABEL_SHOW ? PEM_LABEL_SHOW : (int)label->len;
}

/* Appends a DER blob to the chain, taking ownership of `der` (freed on failure). */
static int chain_push(struct pem_chain *chain, uint8_t *der, size_t len, struct err *e)
{
    struct der_blob *certs = realloc(chain->certs, (chain->n + 1) * sizeof *certs);

    if (!certs) {
        free(der);
        return err_set(e, -ENOMEM, "pem: out of memory");
    }
    chain->certs = certs;
    certs[chain->n].der = der;
    certs[chain->n].len = len;
    chain->n++;
    return 0;
}

/* Decodes the base64 body of block number `idx` (standard alphabet, '=' padding required,
 * whitespace ignored) and appends it to the chain. */
static int decode_block(const char *b64, size_t b64len, size_t idx, struct pem_chain *chain,
                        struct err *e)
{
    struct base64_decode_ctx ctx;
    uint8_t *der = NULL;
    size_t dlen = BASE64_DECODE_LENGTH(b64len);
    int rc;

    if (b64len == 0) {
        rc = err_set(e, -EINVAL, "pem: certificate block %zu is empty", idx);
        goto out;
    }
    der = malloc(dlen);
    if (!der) {
        rc = err_set(e, -ENOMEM, "pem: out of memory");
        goto out;
    }
    base64_decode_init(&ctx);
    if (!base64_decode_update(&ctx, &dlen, der, b64len, b64) || !base64_decode_final(&ctx) ||
        dlen == 0) {
        rc = err_set(e, -EINVAL, "pem: certificate block %zu: invalid base64", idx);
        goto out;
    }
    rc = chain_push(chain, der, dlen, e);
    der = NULL; /* owned by the chain now, or already freed */
out:
    free(der);
    return rc;
}

/* Handles a line outside any block: 0 for a blank line, 1 when it opens a CERTIFICATE block,
 * -EINVAL for anything else (naming the label of any other block). */
static int outside_line(const struct pem_line *line, size_t lineno, struct err *e)
{
    struct pem_line label;

    if (line->len == 0)
        return 0;
    if (!boundary(line, PEM_BEGIN, &label))
        return err_set(e, -EINVAL, "pem: line %zu: unexpected text outside a block", lineno);
    if (!label_is(&label, PEM_CERT_LABEL))
        return err_set(e, -EINVAL,
                       "pem: line %zu: refusing a \"%.*s\" block (a chain holds only "
                       "CERTIFICATE blocks)",
                       lineno, show_len(&label), label.s);
    return 1;
}

/* The parser is line-based: outside a block only blank lines and BEGIN lines may appear;
 * inside one every line is base64 until the END line. The base64 text of the current block
 * collects in `b64` (sized for the whole input, which bounds any block). */
int pem_split_chain(const char *pem, size_t len, struct pem_chain *out, struct err *e)
{
    struct pem_chain chain = {NULL, 0};
    struct pem_line line, label;
    char *b64 = NULL;
    size_t pos = 0, b64len = 0, lineno = 0, open_line = 0;
    int rc = 0;

    out->certs = NULL;
    out->n = 0;
    b64 = malloc(len + 1);
    if (!b64) {
        rc = err_set(e, -ENOMEM, "pem: out of memory");
        goto out;
    }
    while (pos < len) {
        next_line(pem, len, &pos, &line);
        lineno++;
        if (open_line == 0) {
            rc = outside_line(&line, lineno, e);
            if (rc < 0)
                goto out;
            open_line = rc == 1 ? lineno : 0;
            b64len = 0;
        } else if (boundary(&line, PEM_END, &label)) {
            if (!label_is(&label, PEM_CERT_LABEL)) {
                rc = err_set(e, -EINVAL, "pem: line %zu: \"END %.*s\" closes a CERTIFICATE block",
                             lineno, show_len(&label), label.s);
                goto out;
            }
            rc = decode_block(b64, b64len, chain.n + 1, &chain, e);
            if (rc < 0)
                goto out;
            open_line = 0;
        } else if (boundary(&line, PEM_BEGIN, &label)) {
            rc = err_set(e, -EINVAL, "pem: line %zu: BEGIN inside the block opened on line %zu",
                         lineno, open_line);
            goto out;
        } else {
            memcpy(b64 + b64len, line.s, line.len);
            b64len += line.len;
        }
    }
    if (open_line != 0) {
        rc = err_set(e, -EINVAL, "pem: the CERTIFICATE block opened on line %zu is not terminated",
                     open_line);
        goto out;
    }
    if (chain.n == 0) {
        rc = err_set(e, -EINVAL, "pem: no certificate in the input");
        goto out;
    }
    *out = chain;
    chain.certs = NULL;
    chain.n = 0;
    rc = 0;
out:
    free(b64);
    pem_chain_clear(&chain);
    return rc;
}

void pem_chain_clear(struct pem_chain *chain)
{
    size_t i;

    if (!chain)
        return;
    for (i = 0; i < chain->n; i++)
        free(chain->certs[i].der);
    free(chain->certs);
    chain->certs = NULL;
    chain->n = 0;
}

char *pem_encode(const char *label, const uint8_t *der, size_t len)
{
    size_t llen = strlen(label), hlen = sizeof PEM_BEGIN - 1 + llen + sizeof PEM_DASHES;
    size_t tlen = sizeof PEM_END - 1 + llen + sizeof PEM_DASHES;
    size_t b64len = BASE64_ENCODE_RAW_LENGTH(len), nlines, cap, o = 0, i;
    char *b64 = NULL, *pem = NULL;

    b64 = malloc(b64len + 1);
    if (!b64)
        goto out;
    base64_encode_raw(b64, len, der);
    nlines = (b64len + PEM_LINE_COLS - 1) / PEM_LINE_COLS;
    cap = hlen + b64len + nlines + tlen + 1;
    pem = malloc(cap);
    if (!pem)
        goto out;
    o = (size_t)sprintf(pem, "%s%s%s\n", PEM_BEGIN, label, PEM_DASHES);
    for (i = 0; i < b64len; i += PEM_LINE_COLS) {
        size_t n = b64len - i < PEM_LINE_COLS ? b64len - i : PEM_LINE_COLS;

        memcpy(pem + o, b64 + i, n);
        o += n;
        pem[o++] = '\n';
    }
    sprintf(pem + o, "%s%s%s\n", PEM_END, label, PEM_DASHES);
out:
    free(b64);
    return pem;
}

char *pem_encode_cert(const uint8_t *der, size_t len)
{
    return pem_encode(PEM_CERT_LABEL, der, len);
}
