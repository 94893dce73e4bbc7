/* x509: reading the facts acmed needs from a certificate (names, validity, serial, AKI, CNs)
 * and whether it is for a key, with GnuTLS. Chains are verified in x509_chain.c. */
#include "crypto/x509.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>

#include "crypto/b64.h"
#include "crypto/san.h"
#include "crypto/key_internal.h"
#include "crypto/x509_internal.h"

#define OID_SAN "2.5.29.17"

int x509_import_der(const uint8_t *der, size_t len, gnutls_x509_crt_t *crt, struct err *e)
{
    gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
    int rc;

    *crt = NULL;
    if (!der || len == 0 || len > UINT32_MAX)
        return err_set(e, -EINVAL, "x509: empty certificate");
    rc = gnutls_x509_crt_init(crt);
    if (rc < 0) {
        *crt = NULL;
        return err_set(e, -ENOMEM, "x509: %s", gnutls_strerror(rc));
    }
    rc = gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_DER);
    if (rc < 0) {
        gnutls_x509_crt_deinit(*crt);
        *crt = NULL;
        return err_set(e, -EINVAL, "x509: not a DER certificate: %s", gnutls_strerror(rc));
    }
    return 0;
}

typedef int (*dn_oid_getter)(gnutls_x509_crt_t crt, const char *oid, unsigned idx, unsigned raw,
                             void *buf, size_t *size);

/* The first common name of the subject or issuer DN (chosen by `get`) as a new string in
 * *cn, NULL when the DN has none. */
static int get_cn(gnutls_x509_crt_t crt, dn_oid_getter get, char **cn, struct err *e)
{
    size_t size = 0;
    int rc;

    *cn = NULL;
    rc = get(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, NULL, &size);
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return 0;
    if (rc != GNUTLS_E_SHORT_MEMORY_BUFFER && rc < 0)
        return err_set(e, -EINVAL, "x509: reading a common name: %s", gnutls_strerror(rc));
    *cn = calloc(1, size + 1);
    if (!*cn)
        return err_set(e, -ENOMEM, "x509: out of memory");
    rc = get(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, *cn, &size);
    if (rc < 0) {
        free(*cn);
        *cn = NULL;
        return err_set(e, -EINVAL, "x509: reading a common name: %s", gnutls_strerror(rc));
    }
    return 0;
}

int x509_crt_cn(gnutls_x509_crt_t crt, int issuer, char **cn, struct err *e)
{
    return get_cn(
        crt, issuer ? gnutls_x509_crt_get_issuer_dn_by_oid : gnutls_x509_crt_get_dn_by_oid, cn, e);
}

/* Appends a copy of a string to a growing array. */
static int push_str(char ***arr, size_t *n, const char *s, size_t len, struct err *e)
{
    char **grown = realloc(*arr, (*n + 1) * sizeof *grown);
    char *copy;

    if (!grown)
        return err_set(e, -ENOMEM, "x509: out of memory");
    *arr = grown;
    copy = strndup(s, len);
    if (!copy)
        return err_set(e, -ENOMEM, "x509: out of memory");
    grown[(*n)++] = copy;
    return 0;
}

/* Stores one SAN entry: DNS names lowercased, IP addresses in text form, others ignored. */
static int store_san(struct x509_info *info, unsigned type, const gnutls_datum_t *san,
                     struct err *e)
{
    char text[INET6_ADDRSTRLEN];
    size_t i;
    int rc;

    if (type == GNUTLS_SAN_DNSNAME) {
        if (memchr(san->data, '\0', san->size))
            return err_set(e, -EINVAL, "x509: a DNS name contains a NUL byte");
        rc = push_str(&info->dns, &info->ndns, (const char *)san->data, san->size, e);
        if (rc < 0)
            return rc;
        for (i = 0; i < san->size; i++)
            info->dns[info->ndns - 1][i] = (char)tolower((unsigned char)san->data[i]);
        return 0;
    }
    if (type != GNUTLS_SAN_IPADDRESS)
        return 0;
    if (san->size == 4)
        inet_ntop(AF_INET, san->data, text, sizeof text);
    else if (san->size == 16)
        inet_ntop(AF_INET6, san->data, text, sizeof text);
    else
        return err_set(e, -EINVAL, "x509: an IP address SAN has %u bytes", san->size);
    return push_str(&info->ips, &info->nips, text, strlen(text), e);
}

static int each_san(void *arg, unsigned type, const gnutls_datum_t *san, struct err *e)
{
    return store_san(arg, type, san, e);
}

/* Reads the subjectAltName extension, when there is one, into info->dns and info->ips. */
static int read_sans(gnutls_x509_crt_t crt, struct x509_info *info, struct err *e)
{
    gnutls_datum_t ext = {NULL, 0};
    unsigned critical;
    int rc = gnutls_x509_crt_get_extension_by_oid2(crt, OID_SAN, 0, &ext, &critical);

    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        return 0;
    if (rc < 0)
        return err_set(e, -EINVAL, "x509: subjectAltName: %s", gnutls_strerror(rc));
    rc = san_walk(&ext, "x509", 0, each_san, info, e);
    gnutls_free(ext.data);
    return rc;
}

typedef int (*bytes_getter)(gnutls_x509_crt_t crt, void *buf, size_t *size);

static int get_serial(gnutls_x509_crt_t crt, void *buf, size_t *size)
{
    return gnutls_x509_crt_get_serial(crt, buf, size);
}

static int get_aki(gnutls_x509_crt_t crt, void *buf, size_t *size)
{
    unsigned critical;

    return gnutls_x509_crt_get_authority_key_id(crt, buf, size, &critical);
}

/* Reads a variable-length byte field (asking GnuTLS for its size first) into a new buffer.
 * *out stays NULL when the field is absent. */
static int get_bytes(gnutls_x509_crt_t crt, bytes_getter get, const char *what, uint8_t **out,
                     size_t *len, struct err *e)
{
    size_t size = 0;
    int rc;

    *out = NULL;
    *len = 0;
    rc = get(crt, NULL, &size);
    if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE || rc == GNUTLS_E_X509_UNSUPPORTED_EXTENSION)
        return 0;
    if (rc != GNUTLS_E_SHORT_MEMORY_BUFFER && rc < 0)
        return err_set(e, -EINVAL, "x509: reading the %s: %s", what, gnutls_strerror(rc));
    *out = malloc(size ? size : 1);
    if (!*out)
        return err_set(e, -ENOMEM, "x509: out of memory");
    rc = get(crt, *out, &size);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        return err_set(e, -EINVAL, "x509: reading the %s: %s", what, gnutls_strerror(rc));
    }
    *len = size;
    return 0;
}

static char *hex_lower(const uint8_t *data, size_t len)
{
    char *hex = malloc(len * 2 + 1);
    size_t i;

    if (!hex)
        return NULL;
    for (i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", data[i]);
    hex[len * 2] = '\0';
    return hex;
}

int x509_parse(const uint8_t *der, size_t len, struct x509_info **out, struct err *e)
{
    gnutls_x509_crt_t crt = NULL;
    struct x509_info *info = NULL;
    int rc;

    *out = NULL;
    rc = x509_import_der(der, len, &crt, e);
    if (rc < 0)
        goto out;
    info = calloc(1, sizeof *info);
    if (!info) {
        rc = err_set(e, -ENOMEM, "x509: out of memory");
        goto out;
    }
    info->not_before = gnutls_x509_crt_get_activation_time(crt);
    info->not_after = gnutls_x509_crt_get_expiration_time(crt);
    if (info->not_before == (time_t)-1 || info->not_after == (time_t)-1) {
        rc = err_set(e, -EINVAL, "x509: unreadable validity period");
        goto out;
    }
    rc = read_sans(crt, info, e);
    if (rc >= 0)
        rc = get_bytes(crt, get_serial, "serial number", &info->serial, &info->serial_len, e);
    if (rc >= 0 && !info->serial)
        rc = err_set(e, -EINVAL, "x509: no serial number");
    if (rc >= 0)
        rc = get_bytes(crt, get_aki, "authority key identifier", &info->aki, &info->aki_len, e);
    if (rc >= 0)
        rc = get_cn(crt, gnutls_x509_crt_get_issuer_dn_by_oid, &info->issuer_cn, e);
    if (rc >= 0)
        rc = get_cn(crt, gnutls_x509_crt_get_dn_by_oid, &info->subject_cn, e);
    if (rc < 0)
        goto out;
    info->serial_hex = hex_lower(info->serial, info->serial_len);
    if (!info->serial_hex) {
        rc = err_set(e, -ENOMEM, "x509: out of memory");
        goto out;
    }
    *out = info;
    info = NULL;
    rc = 0;
out:
    x509_info_free(info);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return rc;
}

void x509_info_free(struct x509_info *info)
{
    size_t i;

    if (!info)
        return;
    for (i = 0; i < info->ndns; i++)
        free(info->dns[i]);
    free(info->dns);
    for (i = 0; i < info->nips; i++)
        free(info->ips[i]);
    free(info->ips);
    free(info->serial_hex);
    free(info->serial);
    free(info->aki);
    free(info->issuer_cn);
    free(info->subject_cn);
    free(info);
}

/* Compares DER SubjectPublicKeyInfo encodings: GnuTLS re-encodes both the same way, so equal
 * keys give equal bytes whatever the certificate's original encoding. */
char *x509_ari_cert_id(const uint8_t *aki, size_t aki_len, const uint8_t *serial, size_t serial_len)
{
    char *a = NULL, *s = NULL, *out = NULL;

    if (!aki || !aki_len || !serial || !serial_len)
        return NULL;
    a = b64url_encode(aki, aki_len);
    s = b64url_encode(serial, serial_len);
    if (a && s && asprintf(&out, "%s.%s", a, s) < 0)
        out = NULL;
    free(a);
    free(s);
    return out;
}

int x509_matches_key(const uint8_t *der, size_t len, const struct ckey *key, struct err *e)
{
    gnutls_x509_crt_t crt = NULL;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    int rc;

    if (!key || !key->pub)
        return err_set(e, -EINVAL, "x509: no key");
    rc = x509_import_der(der, len, &crt, e);
    if (rc < 0)
        goto out;
    rc = gnutls_pubkey_init(&pub);
    if (rc < 0) {
        pub = NULL;
        rc = err_set(e, -ENOMEM, "x509: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = gnutls_pubkey_import_x509(pub, crt, 0);
    if (rc >= 0)
        rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a);
    if (rc >= 0)
        rc = gnutls_pubkey_export2(key->pub, GNUTLS_X509_FMT_DER, &b);
    if (rc < 0) {
        rc = err_set(e, -EINVAL, "x509: exporting a public key: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
out:
    gnutls_free(a.data);
    gnutls_free(b.data);
    if (pub)
        gnutls_pubkey_deinit(pub);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return rc;
}
