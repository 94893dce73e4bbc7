/* jwk: public JWKs of our keys (RFC 7517, RFC 7518 §6) and RFC 7638 thumbprints. */
#include "crypto/jwk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "crypto/b64.h"
#include "crypto/key_internal.h"

/* Builds the base64url text of a big-endian integer left-padded with zeros to `width` bytes
 * (0 means no padding). Returns NULL when it does not fit or on allocation failure. */
static char *b64_padded(const gnutls_datum_t *v, size_t width)
{
    uint8_t buf[66];
    const uint8_t *p = v->data;
    size_t n = v->size;

    while (n > 0 && *p == 0) {
        p++;
        n--;
    }
    if (width == 0)
        return b64url_encode(p, n);
    if (n > width || width > sizeof buf)
        return NULL;
    memset(buf, 0, width - n);
    memcpy(buf + width - n, p, n);
    return b64url_encode(buf, width);
}

/* {"crv","kty":"EC","x","y"} with both coordinates the full curve size (RFC 7518 §6.2.1.2). */
static json_t *jwk_public_ec(const struct ckey *key, struct err *e)
{
    gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
    gnutls_ecc_curve_t curve;
    char *xb = NULL, *yb = NULL;
    const char *crv;
    json_t *jwk = NULL;
    size_t width;
    int gret;

    gret = gnutls_pubkey_export_ecc_raw2(key->pub, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ);
    if (gret < 0) {
        err_set(e, -EIO, "exporting the EC public key: %s", gnutls_strerror(gret));
        goto out;
    }
    switch (curve) {
    case GNUTLS_ECC_CURVE_SECP256R1:
        crv = "P-256";
        width = 32;
        break;
    case GNUTLS_ECC_CURVE_SECP384R1:
        crv = "P-384";
        width = 48;
        break;
    case GNUTLS_ECC_CURVE_SECP521R1:
        crv = "P-521";
        width = 66;
        break;
    default:
        err_set(e, -EINVAL, "no JWK curve name for GnuTLS curve %d", (int)curve);
        goto out;
    }
    xb = b64_padded(&x, width);
    yb = b64_padded(&y, width);
    if (!xb || !yb) {
        err_set(e, -ENOMEM, "encoding the EC public key");
        goto out;
    }
    jwk = json_pack("{s:s, s:s, s:s, s:s}", "crv", crv, "kty", "EC", "x", xb, "y", yb);
    if (!jwk)
        err_set(e, -ENOMEM, "building the EC JWK");
out:
    free(xb);
    free(yb);
    gnutls_free(x.data);
    gnutls_free(y.data);
    return jwk;
}

/* {"e","kty":"RSA","n"} with no leading zero bytes (RFC 7518 §6.3.1). */
static json_t *jwk_public_rsa(const struct ckey *key, struct err *e)
{
    gnutls_datum_t m = {NULL, 0}, ex = {NULL, 0};
    char *nb = NULL, *eb = NULL;
    json_t *jwk = NULL;
    int gret;

    gret = gnutls_pubkey_export_rsa_raw2(key->pub, &m, &ex, GNUTLS_EXPORT_FLAG_NO_LZ);
    if (gret < 0) {
        err_set(e, -EIO, "exporting the RSA public key: %s", gnutls_strerror(gret));
        goto out;
    }
    nb = b64_padded(&m, 0);
    eb = b64_padded(&ex, 0);
    if (!nb || !eb) {
        err_set(e, -ENOMEM, "encoding the RSA public key");
        goto out;
    }
    jwk = json_pack("{s:s, s:s, s:s}", "e", eb, "kty", "RSA", "n", nb);
    if (!jwk)
        err_set(e, -ENOMEM, "building the RSA JWK");
out:
    free(nb);
    free(eb);
    gnutls_free(m.data);
    gnutls_free(ex.data);
    return jwk;
}

json_t *jwk_public(const struct ckey *key, struct err *e)
{
    if (!key) {
        err_set(e, -EINVAL, "no key");
        return NULL;
    }
    if (key->type == KEY_ECDSA)
        return jwk_public_ec(key, e);
    if (key->type == KEY_RSA)
        return jwk_public_rsa(key, e);
    err_set(e, -EINVAL, "unsupported key type %d", (int)key->type);
    return NULL;
}

/* RFC 7638 §3.2: the required members of each key type, which alone enter the hash. */
static const char *const *thumbprint_members(const char *kty)
{
    static const char *const ec[] = {"crv", "kty", "x", "y", NULL};
    static const char *const rsa[] = {"e", "kty", "n", NULL};
    static const char *const oct[] = {"k", "kty", NULL};

    if (!kty)
        return NULL;
    if (strcmp(kty, "EC") == 0)
        return ec;
    if (strcmp(kty, "RSA") == 0)
        return rsa;
    if (strcmp(kty, "oct") == 0)
        return oct;
    return NULL;
}

int jwk_thumbprint(json_t *jwk, char **out, struct err *e)
{
    const char *const *members;
    uint8_t digest[32];
    json_t *canon = NULL, *v;
    const char *kty;
    char *text = NULL;
    int rc;

    *out = NULL;
    kty = json_string_value(json_object_get(jwk, "kty"));
    members = thumbprint_members(kty);
    if (!members) {
        rc = err_set(e, -EINVAL, "JWK thumbprint: unsupported key type \"%s\"",
                     kty ? kty : "(none)");
        goto out;
    }
    canon = json_object();
    if (!canon) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; members[i]; i++) {
        v = json_object_get(jwk, members[i]);
        if (!json_is_string(v)) {
            rc = err_set(e, -EINVAL, "JWK thumbprint: member \"%s\" missing or not a string",
                         members[i]);
            goto out;
        }
        if (json_object_set(canon, members[i], v) < 0) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
    }
    /* Compact and sorted gives exactly RFC 7638's form: the member names are ASCII, so
     * jansson's byte order is the code point order the RFC asks for. */
    text = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        rc = err_set(e, -ENOMEM, "JWK thumbprint: serialising the JWK");
        goto out;
    }
    crypto_sha256(text, strlen(text), digest);
    *out = b64url_encode(digest, sizeof digest);
    rc = *out ? 0 : err_set(e, -ENOMEM, "out of memory");
out:
    free(text);
    json_decref(canon);
    return rc;
}

int jwk_key_thumbprint(const struct ckey *key, char **out, struct err *e)
{
    struct err local = {0};
    json_t *jwk;
    int rc;

    *out = NULL;
    jwk = jwk_public(key, e ? e : &local);
    if (!jwk)
        return e ? e->code : local.code;
    rc = jwk_thumbprint(jwk, out, e);
    json_decref(jwk);
    return rc;
}

int jwk_get_bytes(json_t *jwk, const char *name, uint8_t **out, size_t *len, struct err *e)
{
    json_t *v;
    int rc;

    *out = NULL;
    *len = 0;
    v = json_object_get(jwk, name);
    if (!v)
        return err_set(e, -ENOENT, "JWK member \"%s\" missing", name);
    if (!json_is_string(v))
        return err_set(e, -EINVAL, "JWK member \"%s\" is not a string", name);
    rc = b64url_decode(json_string_value(v), json_string_length(v), out, len);
    if (rc == -ENOMEM)
        return err_set(e, rc, "out of memory");
    if (rc < 0)
        return err_set(e, rc, "JWK member \"%s\" is not valid base64url", name);
    return 0;
}

/* The curves a private EC JWK may name (RFC 7518 §6.2.1.1), with their coordinate size. */
struct jwk_curve {
    const char *name;
    gnutls_ecc_curve_t curve;
    size_t bytes;
};

static const struct jwk_curve jwk_curves[] = {
    {"P-256", GNUTLS_ECC_CURVE_SECP256R1, 32},
    {"P-384", GNUTLS_ECC_CURVE_SECP384R1, 48},
    {"P-521", GNUTLS_ECC_CURVE_SECP521R1, 66},
};

static const struct jwk_curve *curve_by_name(const char *crv)
{
    for (size_t i = 0; crv && i < sizeof jwk_curves / sizeof jwk_curves[0]; i++) {
        if (strcmp(jwk_curves[i].name, crv) == 0)
            return &jwk_curves[i];
    }
    return NULL;
}

/* Records a GnuTLS failure: `what` names the step, GnuTLS's own text explains it. */
static int gtls_err(struct err *e, int code, int gret, const char *what)
{
    if (gret == GNUTLS_E_MEMORY_ERROR)
        code = -ENOMEM;
    return err_set(e, code, "%s: %s", what, gnutls_strerror(gret));
}

/* Reads the EC members of a private JWK into priv. x and y must be exactly the curve size and
 * d too (RFC 7518 §6.2.1.2, §6.2.2.1). */
static int jwk_import_ec(json_t *jwk, gnutls_privkey_t priv, struct err *e)
{
    static const char *const names[] = {"x", "y", "d"};
    gnutls_datum_t v[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    const struct jwk_curve *ci;
    const char *crv;
    uint8_t *bytes;
    size_t len;
    int rc, gret;

    crv = json_string_value(json_object_get(jwk, "crv"));
    ci = curve_by_name(crv);
    if (!ci)
        return err_set(e, -EINVAL, "unsupported JWK curve \"%s\"", crv ? crv : "(none)");
    for (size_t i = 0; i < 3; i++) {
        if ((rc = jwk_get_bytes(jwk, names[i], &bytes, &len, e)) < 0)
            goto out;
        v[i].data = bytes;
        v[i].size = (unsigned int)len;
        if (len != ci->bytes) {
            rc = err_set(e, -EINVAL, "JWK member \"%s\" is %zu bytes, want %zu", names[i], len,
                         ci->bytes);
            goto out;
        }
    }
    if ((gret = gnutls_privkey_import_ecc_raw(priv, ci->curve, &v[0], &v[1], &v[2])) < 0) {
        rc = gtls_err(e, -EINVAL, gret, "importing the EC JWK");
        goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < 3; i++) {
        if (v[i].data)
            gnutls_memset(v[i].data, 0, v[i].size);
        free(v[i].data);
    }
    return rc;
}

/* Reads the RSA members of a private JWK (all CRT parameters required) into priv. */
static int jwk_import_rsa(json_t *jwk, gnutls_privkey_t priv, struct err *e)
{
    static const char *const names[] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
    enum { N, E, D, P, Q, DP, DQ, QI, NMEMB };
    gnutls_datum_t v[NMEMB];
    uint8_t *bytes;
    size_t len;
    int rc, gret;

    memset(v, 0, sizeof v);
    for (size_t i = 0; i < NMEMB; i++) {
        if ((rc = jwk_get_bytes(jwk, names[i], &bytes, &len, e)) < 0)
            goto out;
        v[i].data = bytes;
        v[i].size = (unsigned int)len;
    }
    /* GnuTLS's "u" is q^-1 mod p, which is JWK's "qi"; e1 and e2 are dp and dq. */
    if ((gret = gnutls_privkey_import_rsa_raw(priv, &v[N], &v[E], &v[D], &v[P], &v[Q], &v[QI],
                                              &v[DP], &v[DQ])) < 0) {
        rc = gtls_err(e, -EINVAL, gret, "importing the RSA JWK");
        goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < NMEMB; i++) {
        if (v[i].data)
            gnutls_memset(v[i].data, 0, v[i].size);
        free(v[i].data);
    }
    return rc;
}

int jwk_to_key(const char *jwk_json, struct ckey **out, struct err *e)
{
    gnutls_privkey_t priv = NULL;
    json_error_t jerr;
    json_t *jwk = NULL;
    const char *kty;
    int rc, gret;

    *out = NULL;
    jwk = json_loads(jwk_json ? jwk_json : "", 0, &jerr);
    if (!json_is_object(jwk)) {
        rc = err_set(e, -EINVAL, "JWK is not a JSON object: %s", jwk ? "wrong type" : jerr.text);
        goto out;
    }
    if ((gret = gnutls_privkey_init(&priv)) < 0) {
        rc = gtls_err(e, -EIO, gret, "gnutls_privkey_init");
        goto out;
    }
    kty = json_string_value(json_object_get(jwk, "kty"));
    if (kty && strcmp(kty, "EC") == 0)
        rc = jwk_import_ec(jwk, priv, e);
    else if (kty && strcmp(kty, "RSA") == 0)
        rc = jwk_import_rsa(jwk, priv, e);
    else
        rc = err_set(e, -EINVAL, "unsupported JWK key type \"%s\"", kty ? kty : "(none)");
    if (rc < 0)
        goto out;
    rc = key_adopt(&priv, out, e);
out:
    gnutls_privkey_deinit(priv);
    json_decref(jwk);
    return rc;
}
