/* csr: PKCS#10 certificate signing requests built with GnuTLS's gnutls_x509_crq_* API. */
#include "crypto/csr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>

#include "crypto/key_internal.h"

#define CSR_CN_MAX 64                /* ub-common-name (RFC 5280 Appendix A) */
#define TLS_FEATURE_STATUS_REQUEST 5 /* RFC 7633: the "must-staple" feature */

/* The signature hash that matches the key's strength (and what CAs expect): SHA-384 for
 * P-384, SHA-512 for P-521, SHA-256 for P-256 and every RSA size. */
static gnutls_digest_algorithm_t csr_digest(const struct ckey *key)
{
    if (key->type == KEY_ECDSA && key->size == 384)
        return GNUTLS_DIG_SHA384;
    if (key->type == KEY_ECDSA && key->size == 521)
        return GNUTLS_DIG_SHA512;
    return GNUTLS_DIG_SHA256;
}

/* Adds one subjectAltName: an IP SAN (raw network-order bytes, as RFC 5280 §4.2.1.6 encodes
 * it) when the name parses as an IPv4 or IPv6 address, a DNS SAN otherwise. Reports through
 * *is_dns which kind it was. */
static int add_san(gnutls_x509_crq_t crq, const char *name, bool *is_dns, struct err *e)
{
    unsigned char addr[16];
    int rc;

    *is_dns = false;
    if (inet_pton(AF_INET, name, addr) == 1)
        rc = gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_IPADDRESS, addr, 4,
                                                  GNUTLS_FSAN_APPEND);
    else if (inet_pton(AF_INET6, name, addr) == 1)
        rc = gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_IPADDRESS, addr, 16,
                                                  GNUTLS_FSAN_APPEND);
    else {
        *is_dns = true;
        rc = gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, name,
                                                  (unsigned)strlen(name), GNUTLS_FSAN_APPEND);
    }
    if (rc < 0)
        return err_set(e, -EINVAL, "csr: adding the name \"%s\": %s", name, gnutls_strerror(rc));
    return 0;
}

/* Adds the TLS feature extension (RFC 7633) asking for status_request, i.e. OCSP must-staple. */
static int add_must_staple(gnutls_x509_crq_t crq, struct err *e)
{
    gnutls_x509_tlsfeatures_t features = NULL;
    int rc;

    rc = gnutls_x509_tlsfeatures_init(&features);
    if (rc < 0) {
        features = NULL;
        rc = err_set(e, -ENOMEM, "csr: tlsfeatures: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = gnutls_x509_tlsfeatures_add(features, TLS_FEATURE_STATUS_REQUEST);
    if (rc >= 0)
        rc = gnutls_x509_crq_set_tlsfeatures(crq, features);
    if (rc < 0) {
        rc = err_set(e, -EIO, "csr: adding the must-staple extension: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = 0;
out:
    if (features)
        gnutls_x509_tlsfeatures_deinit(features);
    return rc;
}

/* Sets version, public key, subject CN and SANs; signs is left to the caller. */
static int fill_request(gnutls_x509_crq_t crq, const struct ckey *key, const char *const *names,
                        size_t n, struct err *e)
{
    const char *cn = NULL;
    bool is_dns;
    size_t i;
    int rc;

    rc = gnutls_x509_crq_set_version(crq, 1);
    if (rc >= 0)
        rc = gnutls_x509_crq_set_pubkey(crq, key->pub);
    if (rc < 0)
        return err_set(e, -EIO, "csr: setting the key: %s", gnutls_strerror(rc));
    for (i = 0; i < n; i++) {
        if (!names[i] || !names[i][0])
            return err_set(e, -EINVAL, "csr: name %zu is empty", i);
        rc = add_san(crq, names[i], &is_dns, e);
        if (rc < 0)
            return rc;
        if (is_dns && !cn)
            cn = names[i];
    }
    /* A longer CN would make the request invalid; the SANs carry the names anyway. */
    if (cn && strlen(cn) <= CSR_CN_MAX) {
        rc = gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                           (unsigned)strlen(cn));
        if (rc < 0)
            return err_set(e, -EINVAL, "csr: setting the common name \"%s\": %s", cn,
                           gnutls_strerror(rc));
    }
    return 0;
}

int csr_create(const struct ckey *key, const char *const *names, size_t n, bool must_staple,
               uint8_t **der, size_t *len, struct err *e)
{
    gnutls_x509_crq_t crq = NULL;
    gnutls_datum_t out = {NULL, 0};
    int rc;

    *der = NULL;
    *len = 0;
    if (!key || !key->priv || !key->pub)
        return err_set(e, -EINVAL, "csr: no key");
    if (n == 0)
        return err_set(e, -EINVAL, "csr: no names");
    rc = gnutls_x509_crq_init(&crq);
    if (rc < 0) {
        crq = NULL;
        rc = err_set(e, -ENOMEM, "csr: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = fill_request(crq, key, names, n, e);
    if (rc < 0)
        goto out;
    if (must_staple) {
        rc = add_must_staple(crq, e);
        if (rc < 0)
            goto out;
    }
    rc = gnutls_x509_crq_privkey_sign(crq, key->priv, csr_digest(key), 0);
    if (rc < 0) {
        rc = err_set(e, -EIO, "csr: signing: %s", gnutls_strerror(rc));
        goto out;
    }
    rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &out);
    if (rc < 0) {
        rc = err_set(e, -EIO, "csr: exporting: %s", gnutls_strerror(rc));
        goto out;
    }
    *der = malloc(out.size);
    if (!*der) {
        rc = err_set(e, -ENOMEM, "csr: out of memory");
        goto out;
    }
    memcpy(*der, out.data, out.size);
    *len = out.size;
    rc = 0;
out:
    gnutls_free(out.data);
    if (crq)
        gnutls_x509_crq_deinit(crq);
    return rc;
}
