/* csr_read: unwrapping, checking and reading a PKCS#10 CSR made by someone else (see the
 * header for what is accepted and why).
 *
 * Order of the checks: the envelope (size, PEM or DER, one object) before GnuTLS sees
 * anything; the key before the signature, so that no signature is verified with a key acmed
 * would refuse anyway (an RSA key of 16384 bits costs time to verify with); the signature
 * before the names, so that what is read out of a CSR is what its key holder signed. */
#include "crypto/csr_read.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>
#include <nettle/base64.h>

#include "crypto/san.h"
#include "util/sanitize.h"

#define OID_SAN "2.5.29.17"
#define PEM_BEGIN "-----BEGIN "
#define PEM_END "-----END "
#define PEM_DASHES "-----"
#define QUOTE_MAX 48 /* bytes of input quoted back in a message, "..." included */

/* A sanitised, bounded copy of len bytes of the input for an error message, in buf. */
static const char *quote(char buf[QUOTE_MAX], const void *s, size_t len)
{
    sanitize_into(buf, QUOTE_MAX, s, len);
    return buf;
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Checks that der[0..len) is one DER SEQUENCE and nothing more, so that trailing bytes
 * (which GnuTLS could ignore) never ride along in the DER that finalize sends. */
static int check_der_envelope(const uint8_t *der, size_t len, struct err *e)
{
    size_t hdr = 2, body = 0, i, nlen;

    if (len < 2 || der[0] != 0x30)
        return err_set(e, -EINVAL, "csr: not a DER SEQUENCE");
    if (der[1] < 0x80) {
        body = der[1];
    } else {
        nlen = der[1] & 0x7f;
        if (nlen == 0 || nlen > 3 || len < 2 + nlen)
            return err_set(e, -EINVAL, "csr: bad DER length");
        for (i = 0; i < nlen; i++)
            body = body << 8 | der[2 + i];
        hdr += nlen;
    }
    if (hdr + body != len)
        return err_set(e, -EINVAL, "csr: the DER object is %zu bytes but the input %zu", hdr + body,
                       len);
    return 0;
}

/* Trims whitespace at both ends of [*s, *s + *len). */
static void trim(const uint8_t **s, size_t *len)
{
    while (*len > 0 && is_space((*s)[0])) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_space((*s)[*len - 1]))
        (*len)--;
}

static bool is_csr_label(const uint8_t *label, size_t len)
{
    static const char *const labels[] = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"};
    size_t i;

    for (i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (len == strlen(labels[i]) && memcmp(label, labels[i], len) == 0)
            return true;
    return false;
}

/* Decodes the one PEM block that text[0..len) (trimmed) must be into a new *der: a BEGIN
 * line with a CSR label, base64 lines, the END line with the same label, nothing else. */
static int pem_unwrap(const uint8_t *text, size_t len, uint8_t **der, size_t *der_len,
                      struct err *e)
{
    struct base64_decode_ctx ctx;
    const uint8_t *label, *nl, *body, *end_line;
    size_t label_len, body_len, dlen, end_len;
    char q[QUOTE_MAX];

    trim(&text, &len);
    if (len < strlen(PEM_BEGIN) || memcmp(text, PEM_BEGIN, strlen(PEM_BEGIN)) != 0)
        return err_set(e, -EINVAL, "csr: neither DER nor PEM (starts with \"%s\")",
                       quote(q, text, len < 16 ? len : 16));
    nl = memchr(text, '\n', len);
    if (!nl)
        return err_set(e, -EINVAL, "csr: the PEM block has no END line");
    label = text + strlen(PEM_BEGIN);
    label_len = (size_t)(nl - label);
    while (label_len > 0 && is_space(label[label_len - 1]))
        label_len--;
    if (label_len < strlen(PEM_DASHES) ||
        memcmp(label + label_len - strlen(PEM_DASHES), PEM_DASHES, strlen(PEM_DASHES)) != 0)
        return err_set(e, -EINVAL, "csr: malformed PEM BEGIN line");
    label_len -= strlen(PEM_DASHES);
    if (!is_csr_label(label, label_len))
        return err_set(e, -EINVAL, "csr: a PEM \"%s\" block, not a CERTIFICATE REQUEST",
                       quote(q, label, label_len));
    body = nl + 1;
    end_line = body;
    for (const uint8_t *p = body; p < text + len; p++)
        if (p[0] == '\n')
            end_line = p + 1;
    end_len = (size_t)(text + len - end_line);
    if (end_line == body || end_len != strlen(PEM_END) + label_len + strlen(PEM_DASHES) ||
        memcmp(end_line, PEM_END, strlen(PEM_END)) != 0 ||
        memcmp(end_line + strlen(PEM_END), label, label_len) != 0 ||
        memcmp(end_line + strlen(PEM_END) + label_len, PEM_DASHES, strlen(PEM_DASHES)) != 0)
        return err_set(e, -EINVAL, "csr: the PEM block does not end with its END line");
    body_len = (size_t)(end_line - body);
    if (memmem(body, body_len, PEM_DASHES, strlen(PEM_DASHES)))
        return err_set(e, -EINVAL, "csr: more than one PEM block (one CSR per input)");
    dlen = BASE64_DECODE_LENGTH(body_len);
    *der = malloc(dlen ? dlen : 1);
    if (!*der)
        return err_set(e, -ENOMEM, "csr: out of memory");
    /* Nettle skips the whitespace of line ends; headers (RFC 1421 "Proc-Type:") fail here. */
    base64_decode_init(&ctx);
    if (!base64_decode_update(&ctx, &dlen, *der, body_len, (const char *)body) ||
        !base64_decode_final(&ctx) || dlen == 0) {
        free(*der);
        *der = NULL;
        return err_set(e, -EINVAL, "csr: the PEM block is not valid base64");
    }
    *der_len = dlen;
    return 0;
}

/* The DER of the input (a new copy in *der), from PEM or DER. */
static int unwrap(const uint8_t *data, size_t len, uint8_t **der, size_t *der_len, struct err *e)
{
    int rc;

    *der = NULL;
    if (!data || len == 0)
        return err_set(e, -EINVAL, "csr: empty input");
    if (len > CSR_READ_MAX)
        return err_set(e, -EINVAL, "csr: %zu bytes, over the limit of %d", len, CSR_READ_MAX);
    if (data[0] == 0x30) {
        *der = malloc(len);
        if (!*der)
            return err_set(e, -ENOMEM, "csr: out of memory");
        memcpy(*der, data, len);
        *der_len = len;
    } else {
        rc = pem_unwrap(data, len, der, der_len, e);
        if (rc < 0)
            return rc;
    }
    rc = check_der_envelope(*der, *der_len, e);
    if (rc < 0) {
        free(*der);
        *der = NULL;
    }
    return rc;
}

/* Checks the key type and size (see the header), fills info->key_desc and info->spki. */
static int read_key(gnutls_x509_crq_t crq, struct csr_info *info, struct err *e)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t spki = {NULL, 0}, x = {NULL, 0}, y = {NULL, 0};
    gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
    unsigned bits = 0;
    const char *name;
    int rc, alg;

    rc = gnutls_pubkey_init(&pub);
    if (rc < 0) {
        pub = NULL;
        rc = err_set(e, -ENOMEM, "csr: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = gnutls_pubkey_import_x509_crq(pub, crq, 0);
    if (rc < 0) {
        rc = err_set(e, -EINVAL, "csr: unreadable public key: %s", gnutls_strerror(rc));
        goto out;
    }
    alg = gnutls_pubkey_get_pk_algorithm(pub, &bits);
    if (alg == GNUTLS_PK_RSA) {
        if (bits < 2048 || bits > 4096) {
            rc = err_set(e, -EINVAL, "csr: an RSA key of %u bits (2048 to 4096 accepted)", bits);
            goto out;
        }
        snprintf(info->key_desc, sizeof info->key_desc, "RSA-%u", bits);
    } else if (alg == GNUTLS_PK_ECDSA) {
        rc = gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, 0);
        if (rc < 0) {
            rc = err_set(e, -EINVAL, "csr: unreadable EC key: %s", gnutls_strerror(rc));
            goto out;
        }
        if (curve != GNUTLS_ECC_CURVE_SECP256R1 && curve != GNUTLS_ECC_CURVE_SECP384R1) {
            name = gnutls_ecc_curve_get_name(curve);
            rc = err_set(e, -EINVAL, "csr: an EC key on %s (P-256 and P-384 accepted)",
                         name ? name : "an unknown curve");
            goto out;
        }
        snprintf(info->key_desc, sizeof info->key_desc, "EC-P%u",
                 curve == GNUTLS_ECC_CURVE_SECP256R1 ? 256u : 384u);
    } else {
        name = gnutls_pk_algorithm_get_name((gnutls_pk_algorithm_t)alg);
        rc = err_set(e, -EINVAL,
                     "csr: a %s key (RSA and EC P-256/P-384 accepted: public CAs issue for no "
                     "other)",
                     name ? name : "unknown");
        goto out;
    }
    rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki);
    if (rc < 0) {
        rc = err_set(e, -EINVAL, "csr: exporting the public key: %s", gnutls_strerror(rc));
        goto out;
    }
    info->spki = malloc(spki.size);
    if (!info->spki) {
        rc = err_set(e, -ENOMEM, "csr: out of memory");
        goto out;
    }
    memcpy(info->spki, spki.data, spki.size);
    info->spki_len = spki.size;
    rc = 0;
out:
    gnutls_free(spki.data);
    gnutls_free(x.data);
    gnutls_free(y.data);
    if (pub)
        gnutls_pubkey_deinit(pub);
    return rc;
}

/* Refuses a name that is empty, too long, holds a NUL or control character, or (a dNSName,
 * an IA5String) a byte outside ASCII; a CN must also be well-formed UTF-8. */
static int check_name(const char *what, const uint8_t *s, size_t len, bool ascii, struct err *e)
{
    char q[QUOTE_MAX], clean[CSR_NAME_MAX + 4];
    size_t i;

    if (len == 0)
        return err_set(e, -EINVAL, "csr: an empty %s", what);
    if (len > CSR_NAME_MAX)
        return err_set(e, -EINVAL, "csr: a %s of %zu bytes (at most %d): \"%s\"", what, len,
                       CSR_NAME_MAX, quote(q, s, len));
    for (i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] == 0x7f || (ascii && s[i] > 0x7f))
            return err_set(e, -EINVAL, "csr: a %s with a %s byte 0x%02x: \"%s\"", what,
                           s[i] > 0x7f ? "non-ASCII" : "control", s[i], quote(q, s, len));
    /* sanitize_into keeps clean UTF-8 as it is: anything it changes (C1 controls, broken
     * UTF-8) is refused. */
    if (sanitize_into(clean, sizeof clean, (const char *)s, len) != len ||
        memcmp(clean, s, len) != 0)
        return err_set(e, -EINVAL, "csr: a %s that is not clean UTF-8: \"%s\"", what,
                       quote(q, s, len));
    return 0;
}

/* Appends a copy of s[0..len) to a string array. */
static int push_str(char ***arr, size_t *n, const void *s, size_t len, struct err *e)
{
    char **grown = realloc(*arr, (*n + 1) * sizeof *grown);

    if (!grown)
        return err_set(e, -ENOMEM, "csr: out of memory");
    *arr = grown;
    grown[*n] = strndup(s, len);
    if (!grown[*n])
        return err_set(e, -ENOMEM, "csr: out of memory");
    (*n)++;
    return 0;
}

/* Adds a name (borrowed from cn, dns or ips) to info->names unless it is already there. */
static int add_name(struct csr_info *info, char *name, struct err *e)
{
    char **grown;
    size_t i;

    for (i = 0; i < info->nnames; i++)
        if (strcasecmp(info->names[i], name) == 0)
            return 0;
    grown = realloc(info->names, (info->nnames + 1) * sizeof *grown);
    if (!grown)
        return err_set(e, -ENOMEM, "csr: out of memory");
    info->names = grown;
    grown[info->nnames++] = name;
    return 0;
}

/* Reads the subject CN into info->cn (left NULL when there is none); a second CN is refused,
 * as it is unclear which one a CA would take. */
static int read_cn(gnutls_x509_crq_t crq, struct csr_info *info, struct err *e)
{
    size_t size = 0;
    int rc;

    rc = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 1, 0, NULL, &size);
    if (rc >= 0 || rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
        return err_set(e, -EINVAL, "csr: the subject holds more than one CN");
    if (rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return err_set(e, -EINVAL, "csr: reading the subject: %s", gnutls_strerror(rc));
    size = 0;
    rc = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, NULL, &size);
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return 0;
    if (rc != GNUTLS_E_SHORT_MEMORY_BUFFER && rc < 0)
        return err_set(e, -EINVAL, "csr: reading the CN: %s", gnutls_strerror(rc));
    info->cn = calloc(1, size + 1);
    if (!info->cn)
        return err_set(e, -ENOMEM, "csr: out of memory");
    rc = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, info->cn, &size);
    if (rc < 0)
        return err_set(e, -EINVAL, "csr: reading the CN: %s", gnutls_strerror(rc));
    if (strlen(info->cn) != size)
        return err_set(e, -EINVAL, "csr: a CN with a NUL byte");
    rc = check_name("CN", (const uint8_t *)info->cn, size, false, e);
    return rc < 0 ? rc : add_name(info, info->cn, e);
}

/* What a SAN type is called in a message (the refused ones). */
static const char *san_type_name(unsigned type)
{
    switch (type) {
    case GNUTLS_SAN_RFC822NAME:
        return "an email address (rfc822Name)";
    case GNUTLS_SAN_URI:
        return "a URI";
    case GNUTLS_SAN_DN:
        return "a directoryName";
    case GNUTLS_SAN_REGISTERED_ID:
        return "a registeredID";
    default:
        return "an otherName or other type";
    }
}

/* Stores one SAN: a dNSName as found, an iPAddress in text form; refuses the other types. */
static int store_san(struct csr_info *info, unsigned type, const gnutls_datum_t *san, struct err *e)
{
    char text[INET6_ADDRSTRLEN], q[QUOTE_MAX];
    int rc;

    if (type == GNUTLS_SAN_DNSNAME) {
        rc = check_name("dNSName", san->data, san->size, true, e);
        if (rc >= 0)
            rc = push_str(&info->dns, &info->ndns, san->data, san->size, e);
        return rc < 0 ? rc : add_name(info, info->dns[info->ndns - 1], e);
    }
    if (type == GNUTLS_SAN_IPADDRESS) {
        if (san->size != 4 && san->size != 16)
            return err_set(e, -EINVAL, "csr: an iPAddress SAN of %u bytes", san->size);
        inet_ntop(san->size == 4 ? AF_INET : AF_INET6, san->data, text, sizeof text);
        rc = push_str(&info->ips, &info->nips, text, strlen(text), e);
        return rc < 0 ? rc : add_name(info, info->ips[info->nips - 1], e);
    }
    return err_set(e, -EINVAL,
                   "csr: subjectAltName holds %s (\"%s\"): an ACME order takes only DNS names "
                   "and IP addresses",
                   san_type_name(type), quote(q, san->data, san->size));
}

static int each_san(void *arg, unsigned type, const gnutls_datum_t *san, struct err *e)
{
    return store_san(arg, type, san, e);
}

/* Reads the subjectAltName extension, when there is one (and only one). */
static int read_sans(gnutls_x509_crq_t crq, struct csr_info *info, struct err *e)
{
    gnutls_datum_t ext = {NULL, 0};
    unsigned critical;
    int rc;

    rc = gnutls_x509_crq_get_extension_by_oid2(crq, OID_SAN, 1, &ext, &critical);
    gnutls_free(ext.data);
    ext.data = NULL;
    if (rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return err_set(e, -EINVAL, "csr: more than one subjectAltName extension");
    rc = gnutls_x509_crq_get_extension_by_oid2(crq, OID_SAN, 0, &ext, &critical);
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return 0;
    if (rc < 0)
        return err_set(e, -EINVAL, "csr: subjectAltName: %s", gnutls_strerror(rc));
    rc = san_walk(&ext, "csr", CSR_READ_MAX_SANS, each_san, info, e);
    gnutls_free(ext.data);
    return rc;
}

static int hash_der(struct csr_info *info, struct err *e)
{
    uint8_t digest[32];
    size_t i;
    int rc;

    rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, info->der, info->der_len, digest);
    if (rc < 0)
        return err_set(e, -EIO, "csr: SHA-256: %s", gnutls_strerror(rc));
    for (i = 0; i < sizeof digest; i++)
        snprintf(info->sha256_hex + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

int csr_read(const uint8_t *data, size_t len, struct csr_info **out, struct err *e)
{
    gnutls_x509_crq_t crq = NULL;
    struct csr_info *info = NULL;
    gnutls_datum_t d;
    int rc;

    *out = NULL;
    info = calloc(1, sizeof *info);
    if (!info)
        return err_set(e, -ENOMEM, "csr: out of memory");
    rc = unwrap(data, len, &info->der, &info->der_len, e);
    if (rc < 0)
        goto out;
    rc = gnutls_x509_crq_init(&crq);
    if (rc < 0) {
        crq = NULL;
        rc = err_set(e, -ENOMEM, "csr: %s", gnutls_strerror(rc));
        goto out;
    }
    d.data = info->der;
    d.size = (unsigned)info->der_len;
    rc = gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER);
    if (rc < 0) {
        rc = err_set(e, -EINVAL, "csr: not a PKCS#10 request: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = read_key(crq, info, e);
    if (rc < 0)
        goto out;
    rc = gnutls_x509_crq_verify(crq, 0);
    if (rc < 0) {
        rc = err_set(e, -EBADMSG, "csr: the self-signature does not verify (%s)",
                     gnutls_strerror(rc));
        goto out;
    }
    rc = read_cn(crq, info, e);
    if (rc >= 0)
        rc = read_sans(crq, info, e);
    if (rc >= 0 && info->nnames == 0)
        rc = err_set(e, -EINVAL, "csr: no name in it (no CN, no DNS or IP subjectAltName)");
    if (rc >= 0)
        rc = hash_der(info, e);
    if (rc < 0)
        goto out;
    *out = info;
    info = NULL;
out:
    if (crq)
        gnutls_x509_crq_deinit(crq);
    csr_info_free(info);
    return rc;
}

const char *const *csr_names(const struct csr_info *c, size_t *n)
{
    *n = c->nnames;
    return (const char *const *)c->names;
}

int csr_matches_cert(const struct csr_info *c, const uint8_t *cert_der, size_t len, struct err *e)
{
    gnutls_x509_crt_t crt = NULL;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t d = {(unsigned char *)cert_der, (unsigned)len}, spki = {NULL, 0};
    int rc;

    if (!cert_der || len == 0 || len > CSR_READ_MAX)
        return err_set(e, -EINVAL, "csr: no certificate, or one over %d bytes", CSR_READ_MAX);
    rc = gnutls_x509_crt_init(&crt);
    if (rc < 0) {
        crt = NULL;
        rc = err_set(e, -ENOMEM, "csr: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
    if (rc >= 0)
        rc = gnutls_pubkey_init(&pub);
    if (rc >= 0)
        rc = gnutls_pubkey_import_x509(pub, crt, 0);
    if (rc >= 0)
        rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki);
    if (rc < 0) {
        rc = err_set(e, -EINVAL, "csr: reading the certificate's key: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = spki.size == c->spki_len && memcmp(spki.data, c->spki, spki.size) == 0;
out:
    gnutls_free(spki.data);
    if (pub)
        gnutls_pubkey_deinit(pub);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return rc;
}

static void free_strs(char **arr, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(arr[i]);
    free(arr);
}

void csr_info_free(struct csr_info *c)
{
    if (!c)
        return;
    free(c->der);
    free(c->cn);
    free_strs(c->dns, c->ndns);
    free_strs(c->ips, c->nips);
    free(c->names); /* its strings are those above */
    free(c->spki);
    free(c);
}
