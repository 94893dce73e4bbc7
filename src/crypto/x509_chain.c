/* x509_chain: chain checks with GnuTLS. x509_verify_chain asks whether a chain reaches a
 * trusted root; x509_check_chain_links checks a chain as a CA sent it, link by link, before
 * it is installed (and against request.trust-anchors when the target names some). */
#include "crypto/x509.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "crypto/x509_internal.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/sanitize.h"

/* Imports every certificate of a chain into *out (n of them; free_crts releases them). */
static int import_chain(const struct pem_chain *chain, gnutls_x509_crt_t **out, struct err *e)
{
    gnutls_x509_crt_t *crts;
    struct err sub;
    int rc;

    *out = NULL;
    if (!chain || chain->n == 0 || chain->n > UINT16_MAX)
        return err_set(e, -EINVAL, "x509: empty certificate chain");
    if (!(crts = calloc(chain->n, sizeof *crts)))
        return err_set(e, -ENOMEM, "x509: out of memory");
    for (size_t i = 0; i < chain->n; i++) {
        rc = x509_import_der(chain->certs[i].der, chain->certs[i].len, &crts[i], &sub);
        if (rc < 0) {
            for (size_t k = 0; k < i; k++)
                gnutls_x509_crt_deinit(crts[k]);
            free(crts);
            return err_set(e, -EBADMSG, "chain certificate %zu: %s", i, err_msg(&sub));
        }
    }
    *out = crts;
    return 0;
}

static void free_crts(gnutls_x509_crt_t *crts, size_t n)
{
    for (size_t i = 0; crts && i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    free(crts);
}

/* A trust list holding the certificates of `pem` (`what` names them in errors): -EINVAL when
 * it holds none. */
static int load_roots(const char *pem, size_t len, const char *what, gnutls_x509_trust_list_t *tl,
                      struct err *e)
{
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
    int rc;

    *tl = NULL;
    if (!pem || len == 0 || len > UINT32_MAX)
        return err_set(e, -EINVAL, "x509: no %s", what);
    rc = gnutls_x509_trust_list_init(tl, 0);
    if (rc < 0) {
        *tl = NULL;
        return err_set(e, -ENOMEM, "x509: %s", gnutls_strerror(rc));
    }
    rc = gnutls_x509_trust_list_add_trust_mem(*tl, &d, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
    if (rc <= 0) {
        gnutls_x509_trust_list_deinit(*tl, 1);
        *tl = NULL;
        return err_set(e, -EINVAL, "no usable certificate among the %s%s%s", what,
                       rc < 0 ? ": " : "", rc < 0 ? gnutls_strerror(rc) : "");
    }
    return 0;
}

/* Checks that `now` lies within a certificate's validity period. */
static int check_time(gnutls_x509_crt_t crt, const char *role, time_t now, struct err *e)
{
    time_t nb = gnutls_x509_crt_get_activation_time(crt);
    time_t na = gnutls_x509_crt_get_expiration_time(crt);
    char t[32], n[32];

    if (nb == (time_t)-1 || na == (time_t)-1)
        return err_set(e, -EBADMSG, "x509: %s has an unreadable validity period", role);
    if (now < nb)
        return err_set(e, -EBADMSG, "x509: %s is not valid before %s (now %s)", role,
                       clock_rfc3339(nb, t, sizeof t), clock_rfc3339(now, n, sizeof n));
    if (now > na)
        return err_set(e, -EBADMSG, "x509: %s expired at %s (now %s)", role,
                       clock_rfc3339(na, t, sizeof t), clock_rfc3339(now, n, sizeof n));
    return 0;
}

/* The validity periods of the chain and of every trust anchor that issued one of its
 * certificates, checked against `now`. GnuTLS's own time checks read the wall clock, which
 * would make verification at an injected time (and its tests) impossible. */
static int check_times(gnutls_x509_trust_list_t tl, gnutls_x509_crt_t *crts, size_t n, time_t now,
                       struct err *e)
{
    gnutls_x509_crt_t anchor;
    char role[48];
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        snprintf(role, sizeof role, i == 0 ? "the certificate" : "chain certificate %zu", i);
        rc = check_time(crts[i], role, now, e);
        if (rc < 0)
            return rc;
        if (gnutls_x509_trust_list_get_issuer(tl, crts[i], &anchor, GNUTLS_TL_GET_COPY) < 0)
            continue;
        rc = check_time(anchor, "the trusted root", now, e);
        gnutls_x509_crt_deinit(anchor);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Turns a GnuTLS verification status into an -EBADMSG error "<what>: <GnuTLS's words>". */
static int status_error(unsigned status, const char *what, struct err *e)
{
    gnutls_datum_t text = {NULL, 0};
    int rc;

    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) < 0)
        return err_set(e, -EBADMSG, "%s (status 0x%x)", what, status);
    rc = err_set(e, -EBADMSG, "%s: %s", what, (const char *)text.data);
    gnutls_free(text.data);
    return rc;
}

int x509_verify_chain(const struct pem_chain *chain, const char *roots_pem, size_t roots_len,
                      time_t now, struct err *e)
{
    gnutls_x509_trust_list_t tl = NULL;
    gnutls_x509_crt_t *crts = NULL;
    unsigned flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;
    unsigned status = 0;
    int rc;

    if (!chain || chain->n == 0 || chain->n > UINT16_MAX)
        return err_set(e, -EINVAL, "x509: empty certificate chain");
    if ((rc = load_roots(roots_pem, roots_len, "trusted roots", &tl, e)) < 0 ||
        (rc = import_chain(chain, &crts, e)) < 0)
        goto out;
    rc = gnutls_x509_trust_list_verify_crt(tl, crts, (unsigned)chain->n, flags, &status, NULL);
    if (rc < 0) {
        rc = err_set(e, -EBADMSG, "x509: verifying the chain: %s", gnutls_strerror(rc));
        goto out;
    }
    if (status != 0) {
        rc = status_error(status, "x509: the chain does not verify", e);
        goto out;
    }
    rc = check_times(tl, crts, chain->n, now, e);
out:
    free_crts(crts, crts ? chain->n : 0);
    if (tl)
        gnutls_x509_trust_list_deinit(tl, 1);
    return rc;
}

/* ---- a chain as the CA sent it ---- */

/* How a certificate is named in errors: its role ("the leaf", "chain certificate 2", "the
 * trust anchor") and its subject CN, which comes from the CA and so goes through the
 * sanitiser, cut short. */
static const char *describe(gnutls_x509_crt_t crt, const char *role, char *buf, size_t size)
{
    char *cn = NULL, clean[72];

    if (x509_crt_cn(crt, 0, &cn, NULL) < 0 || !cn) {
        snprintf(buf, size, "%s (no CN)", role);
    } else {
        sanitize_into(clean, sizeof clean, cn, strlen(cn));
        snprintf(buf, size, "%s (CN \"%s\")", role, clean);
    }
    free(cn);
    return buf;
}

/* describe() for position pos of the chain (0 is the leaf). */
static const char *describe_at(gnutls_x509_crt_t crt, size_t pos, char *buf, size_t size)
{
    char role[40];

    if (pos == 0)
        snprintf(role, sizeof role, "the leaf");
    else
        snprintf(role, sizeof role, "chain certificate %zu", pos);
    return describe(crt, role, buf, size);
}

/* The validity period against `now`, a notBefore up to `skew` seconds ahead allowed (the CA's
 * clock may run ahead of ours). */
static int check_validity(gnutls_x509_crt_t crt, const char *who, time_t now, time_t skew,
                          struct err *e)
{
    time_t nb = gnutls_x509_crt_get_activation_time(crt);
    time_t na = gnutls_x509_crt_get_expiration_time(crt);
    char t1[32], t2[32];

    if (nb == (time_t)-1 || na == (time_t)-1)
        return err_set(e, -EBADMSG, "%s has an unreadable validity period", who);
    if (nb > now && nb - now > skew)
        return err_set(e, -EBADMSG, "%s is not valid before %s (now %s)", who,
                       clock_rfc3339(nb, t1, sizeof t1), clock_rfc3339(now, t2, sizeof t2));
    if (now > na)
        return err_set(e, -EBADMSG, "%s expired at %s (now %s)", who,
                       clock_rfc3339(na, t1, sizeof t1), clock_rfc3339(now, t2, sizeof t2));
    return 0;
}

/* Why GnuTLS refused a link, in words naming both certificates. */
static int link_error(unsigned status, const char *who, const char *by, struct err *e)
{
    char what[300];

    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
        return err_set(e, -EBADMSG, "%s is not issued by %s", who, by);
    if (status & GNUTLS_CERT_SIGNATURE_FAILURE)
        return err_set(e, -EBADMSG, "the signature of %s is not by %s", who, by);
    if (status & GNUTLS_CERT_SIGNER_NOT_CA)
        return err_set(e, -EBADMSG, "%s is signed by %s, which is not a CA", who, by);
    if (status & GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE)
        return err_set(e, -EBADMSG, "%s is signed by %s, which may not sign certificates", who, by);
    if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
        return err_set(e, -EBADMSG, "%s is signed by %s with an insecure algorithm", who, by);
    snprintf(what, sizeof what, "%s does not verify under %s", who, by);
    return status_error(status, what, e);
}

/* One link: crt names `issuer` as its issuer (name and key identifier), issuer is a CA allowed
 * to sign certificates, and the signature is by issuer's key. The issuer is handed to GnuTLS
 * as the only trusted CA; times are ours to check (GnuTLS would read the real clock), and
 * DO_NOT_ALLOW_SAME stops a certificate followed by itself from passing unchecked. */
static int check_link(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer, const char *who,
                      const char *by, struct err *e)
{
    unsigned flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS |
                     GNUTLS_VERIFY_DO_NOT_ALLOW_SAME;
    unsigned status = 0;
    int rc;

    if (!gnutls_x509_crt_check_issuer(crt, issuer))
        return err_set(e, -EBADMSG, "%s is not issued by %s", who, by);
    rc = gnutls_x509_crt_verify(crt, &issuer, 1, flags, &status);
    if (rc < 0)
        return err_set(e, -EBADMSG, "checking %s against %s: %s", who, by, gnutls_strerror(rc));
    return status ? link_error(status, who, by, e) : 0;
}

/* A CA's pathLenConstraint (RFC 5280 §4.2.1.9) bounds the intermediates below it, which GnuTLS
 * cannot see when it is given one link at a time: chain certificate `pos` has pos - 1. */
static int check_path_len(gnutls_x509_crt_t crt, size_t pos, const char *who, struct err *e)
{
    unsigned critical = 0, ca = 0;
    int pathlen = -1;

    if (gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, &pathlen) <= 0 || !ca ||
        pathlen < 0 || pos - 1 <= (size_t)pathlen)
        return 0;
    return err_set(e, -EBADMSG,
                   "%s allows %d intermediate certificate%s below it, the chain has %zu", who,
                   pathlen, pathlen == 1 ? "" : "s", pos - 1);
}

/* The top of an (already linked) chain is a trust anchor, or is issued by one that is itself
 * valid. GnuTLS shortens the chain at a certificate that has an anchor's name and key. */
static int check_anchors(gnutls_x509_crt_t *crts, size_t n, const char *pem, size_t len, time_t now,
                         time_t skew, struct err *e)
{
    unsigned flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS |
                     GNUTLS_VERIFY_DO_NOT_ALLOW_UNSORTED_CHAIN;
    gnutls_x509_trust_list_t tl = NULL;
    gnutls_x509_crt_t anchor = NULL;
    unsigned status = 0;
    char who[160], aname[160];
    int rc;

    if ((rc = load_roots(pem, len, "trust anchors", &tl, e)) < 0)
        return rc;
    describe_at(crts[n - 1], n - 1, who, sizeof who);
    rc = gnutls_x509_trust_list_verify_crt(tl, crts, (unsigned)n, flags, &status, NULL);
    if (rc < 0) {
        rc = err_set(e, -EBADMSG, "checking the chain against the trust anchors: %s",
                     gnutls_strerror(rc));
    } else if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE)) {
        rc = err_set(e, -EBADMSG, "%s is neither a trust anchor nor issued by one", who);
    } else if (status != 0) {
        /* Something of the anchors' own, such as their name constraints. */
        rc = status_error(status, "the chain does not verify under the trust anchors", e);
    } else if (gnutls_x509_trust_list_get_issuer(tl, crts[n - 1], &anchor, GNUTLS_TL_GET_COPY) ==
               0) {
        rc = check_validity(anchor, describe(anchor, "the trust anchor", aname, sizeof aname), now,
                            skew, e);
        gnutls_x509_crt_deinit(anchor);
    } else {
        rc = 0;
    }
    gnutls_x509_trust_list_deinit(tl, 1);
    return rc;
}

int x509_check_chain_links(const struct pem_chain *chain, const char *anchors_pem,
                           size_t anchors_len, time_t now, time_t skew, struct err *e)
{
    gnutls_x509_crt_t *crts = NULL;
    char who[160], by[160];
    size_t i, n;
    int rc;

    if ((rc = import_chain(chain, &crts, e)) < 0)
        return rc;
    n = chain->n;
    for (i = 0; i < n; i++) {
        describe_at(crts[i], i, who, sizeof who);
        if ((rc = check_validity(crts[i], who, now, skew, e)) < 0 ||
            (i >= 2 && (rc = check_path_len(crts[i], i, who, e)) < 0))
            goto out;
        if (i + 1 < n) {
            describe_at(crts[i + 1], i + 1, by, sizeof by);
            if ((rc = check_link(crts[i], crts[i + 1], who, by, e)) < 0)
                goto out;
        }
    }
    if (anchors_pem)
        rc = check_anchors(crts, n, anchors_pem, anchors_len, now, skew, e);
out:
    free_crts(crts, n);
    return rc;
}

char *x509_chain_top_issuer_cn(const struct pem_chain *chain)
{
    gnutls_x509_crt_t crt = NULL;
    const struct der_blob *top;
    char *cn = NULL;

    if (!chain || chain->n == 0)
        return NULL;
    top = &chain->certs[chain->n - 1];
    if (x509_import_der(top->der, top->len, &crt, NULL) < 0)
        return NULL;
    if (x509_crt_cn(crt, 1, &cn, NULL) < 0)
        cn = NULL;
    gnutls_x509_crt_deinit(crt);
    return cn;
}

int x509_system_anchors(char **pem, size_t *len, struct err *e)
{
    gnutls_x509_trust_list_t tl = NULL;
    gnutls_x509_trust_list_iter_t it = NULL;
    gnutls_x509_crt_t crt = NULL;
    struct buf b = BUF_INIT;
    int rc;

    *pem = NULL;
    *len = 0;
    if ((rc = gnutls_x509_trust_list_init(&tl, 0)) < 0)
        return err_set(e, -ENOMEM, "x509: %s", gnutls_strerror(rc));
    if ((rc = gnutls_x509_trust_list_add_system_trust(tl, 0, 0)) <= 0) {
        rc = err_set(e, -ENOENT, "the system's trust store holds no certificate%s%s",
                     rc < 0 ? ": " : "", rc < 0 ? gnutls_strerror(rc) : "");
        goto out;
    }
    while (gnutls_x509_trust_list_iter_get_ca(tl, &it, &crt) == 0) {
        gnutls_datum_t d = {NULL, 0};

        rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
        gnutls_x509_crt_deinit(crt);
        if (rc == 0 && buf_append(&b, d.data, d.size) < 0)
            rc = GNUTLS_E_MEMORY_ERROR;
        gnutls_free(d.data);
        if (rc < 0) {
            rc = err_set(e, -ENOMEM, "x509: the system's trust store: %s", gnutls_strerror(rc));
            goto out;
        }
    }
    if (b.len == 0) {
        rc = err_set(e, -ENOENT, "the system's trust store holds no certificate");
        goto out;
    }
    *len = b.len;
    *pem = buf_steal(&b);
    rc = *pem ? 0 : err_set(e, -ENOMEM, "out of memory");
out:
    if (it)
        gnutls_x509_trust_list_iter_deinit(it);
    gnutls_x509_trust_list_deinit(tl, 1);
    buf_clear(&b);
    return rc;
}
