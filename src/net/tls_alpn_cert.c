/* tls_alpn_cert: the key and the self-signed validation certificates of the tls-alpn-01
 * responder (RFC 8737 §3). */
#include "net/tls_alpn_cert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>

/* id-pe-acmeIdentifier, RFC 8737 §6.1. */
#define ACME_IDENTIFIER_OID "1.3.6.1.5.5.7.1.31"
/* The validator looks only at the extensions, so the subject is a fixed, honest label. */
#define CERT_CN "acmed tls-alpn-01 validation"
/* Validators skip path and date checks; a week either side absorbs any clock skew. */
#define CERT_SLACK_SECONDS (7 * 24 * 3600)

static int gtls_fail(struct err *e, int gret, const char *what)
{
    return err_set(e, gret == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EIO, "tls-alpn-01: %s: %s", what,
                   gnutls_strerror(gret));
}

bool tls_alpn_name_valid(const char *name)
{
    size_t len, label = 0;

    if (!name)
        return false;
    len = strlen(name);
    if (len == 0 || len > TLS_ALPN_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0;
}

int tls_alpn_key_new(gnutls_x509_privkey_t *out, struct err *e)
{
    gnutls_x509_privkey_t key = NULL;
    int rc = 0, gret;

    *out = NULL;
    gret = gnutls_x509_privkey_init(&key);
    if (gret < 0) {
        rc = gtls_fail(e, gret, "key init");
        goto out;
    }
    gret = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    if (gret < 0) {
        rc = gtls_fail(e, gret, "generating the ECDSA P-256 key");
        goto out;
    }
    *out = key;
    key = NULL;
out:
    if (key)
        gnutls_x509_privkey_deinit(key);
    return rc;
}

/* Fills in everything but the signature: version 3, a random positive serial, the dates,
 * the subject (also the issuer, as the certificate is self-signed), the public key, the one
 * dNSName and the critical acmeIdentifier whose extnValue is the DER OCTET STRING (04 20 ..)
 * of the digest. */
static int cert_fill(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *name,
                     const uint8_t digest[32], struct err *e)
{
    uint8_t serial[16], ext[2 + 32];
    time_t now = time(NULL);
    int gret;

    gret = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial);
    if (gret < 0)
        return gtls_fail(e, gret, "serial number");
    serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40); /* positive, no leading zero byte */
    ext[0] = 0x04;
    ext[1] = 32;
    memcpy(ext + 2, digest, 32);

    if ((gret = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
        (gret = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
        (gret = gnutls_x509_crt_set_activation_time(crt, now - CERT_SLACK_SECONDS)) < 0 ||
        (gret = gnutls_x509_crt_set_expiration_time(crt, now + CERT_SLACK_SECONDS)) < 0 ||
        (gret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, CERT_CN,
                                              strlen(CERT_CN))) < 0 ||
        (gret = gnutls_x509_crt_set_key(crt, key)) < 0 ||
        (gret = gnutls_x509_crt_set_subject_alt_name(
             crt, GNUTLS_SAN_DNSNAME, name, (unsigned)strlen(name), GNUTLS_FSAN_SET)) < 0 ||
        (gret = gnutls_x509_crt_set_extension_by_oid(crt, ACME_IDENTIFIER_OID, ext, sizeof ext,
                                                     1)) < 0)
        return gtls_fail(e, gret, "building the validation certificate");
    return 0;
}

int tls_alpn_entry_new(gnutls_x509_privkey_t key, const char *name, const uint8_t digest[32],
                       struct alpn_entry **out, struct err *e)
{
    struct alpn_entry *en = NULL;
    gnutls_x509_crt_t crt = NULL;
    int rc = 0, gret;

    *out = NULL;
    en = calloc(1, sizeof *en);
    if (!en || !(en->name = strdup(name))) {
        rc = err_set(e, -ENOMEM, "tls-alpn-01: out of memory");
        goto out;
    }
    en->refs = 1;
    gret = gnutls_x509_crt_init(&crt);
    if (gret < 0) {
        rc = gtls_fail(e, gret, "certificate init");
        goto out;
    }
    rc = cert_fill(crt, key, name, digest, e);
    if (rc < 0)
        goto out;
    gret = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
    if (gret < 0) {
        rc = gtls_fail(e, gret, "signing the validation certificate");
        goto out;
    }
    gret = gnutls_certificate_allocate_credentials(&en->cred);
    if (gret < 0) {
        rc = gtls_fail(e, gret, "credentials");
        goto out;
    }
    /* Both the certificate and the key are copied into the credentials. */
    gret = gnutls_certificate_set_x509_key(en->cred, &crt, 1, key);
    if (gret < 0) {
        rc = gtls_fail(e, gret, "loading the validation certificate");
        goto out;
    }
    *out = en;
    en = NULL;
out:
    if (crt)
        gnutls_x509_crt_deinit(crt);
    tls_alpn_entry_unref(en);
    return rc;
}

struct alpn_entry *tls_alpn_entry_ref(struct alpn_entry *en)
{
    en->refs++;
    return en;
}

void tls_alpn_entry_unref(struct alpn_entry *en)
{
    if (!en || --en->refs > 0)
        return;
    if (en->cred)
        gnutls_certificate_free_credentials(en->cred);
    free(en->name);
    free(en);
}
