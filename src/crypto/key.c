/* key: private keys behind GnuTLS (generate, load, save, identify, sign). */
#include "crypto/key.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "crypto/b64.h"
#include "crypto/key_internal.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 4096

/* The ECDSA curves we support, with the digest and JWS name RFC 7518 §3.4 pairs with each. */
struct curve_info {
    int size;
    gnutls_ecc_curve_t curve;
    gnutls_digest_algorithm_t dig;
    size_t bytes; /* size of one coordinate and of each signature half */
    const char *alg;
};

static const struct curve_info curves[] = {
    {256, GNUTLS_ECC_CURVE_SECP256R1, GNUTLS_DIG_SHA256, 32, "ES256"},
    {384, GNUTLS_ECC_CURVE_SECP384R1, GNUTLS_DIG_SHA384, 48, "ES384"},
    {521, GNUTLS_ECC_CURVE_SECP521R1, GNUTLS_DIG_SHA512, 66, "ES512"},
};

static const struct curve_info *curve_by_size(int size)
{
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++) {
        if (curves[i].size == size)
            return &curves[i];
    }
    return NULL;
}

static const struct curve_info *curve_by_id(gnutls_ecc_curve_t curve)
{
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++) {
        if (curves[i].curve == curve)
            return &curves[i];
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

/* Frees a GnuTLS datum after overwriting it, for buffers that may hold a secret. */
static void datum_wipe(gnutls_datum_t *d)
{
    if (d->data) {
        gnutls_memset(d->data, 0, d->size);
        gnutls_free(d->data);
    }
    d->data = NULL;
    d->size = 0;
}

int key_spec_check(const struct key_spec *spec, struct err *e)
{
    if (!spec)
        return err_set(e, -EINVAL, "no key specification");
    switch (spec->type) {
    case KEY_ECDSA:
        if (curve_by_size(spec->size))
            return 0;
        return err_set(e, -EINVAL, "unsupported ECDSA curve size %d (want 256, 384 or 521)",
                       spec->size);
    case KEY_RSA:
        if (spec->size >= RSA_MIN_BITS && spec->size <= RSA_MAX_BITS && spec->size % 8 == 0)
            return 0;
        return err_set(e, -EINVAL,
                       "unsupported RSA key size %d (want %d..%d bits, a multiple of 8)",
                       spec->size, RSA_MIN_BITS, RSA_MAX_BITS);
    }
    return err_set(e, -EINVAL, "unsupported key type %d", (int)spec->type);
}

/* See key_internal.h. The checks live here, with the rest of what makes a key acceptable. */
int key_adopt(gnutls_privkey_t *privp, struct ckey **out, struct err *e)
{
    gnutls_privkey_t priv = *privp;
    gnutls_pubkey_t pub = NULL;
    const struct curve_info *ci;
    gnutls_ecc_curve_t curve;
    struct ckey *key = NULL;
    unsigned int bits = 0;
    int algo, rc, gret;

    *privp = NULL;
    *out = NULL;
    algo = gnutls_privkey_get_pk_algorithm(priv, &bits);
    if (algo != GNUTLS_PK_RSA && algo != GNUTLS_PK_ECDSA) {
        const char *name = algo < 0 ? gnutls_strerror(algo)
                                    : gnutls_pk_algorithm_get_name((gnutls_pk_algorithm_t)algo);

        rc = err_set(e, -EINVAL, "unsupported key algorithm %s (want ECDSA or RSA)",
                     name ? name : "(unknown)");
        goto out;
    }
    if (algo == GNUTLS_PK_RSA && (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)) {
        rc = err_set(e, -EINVAL, "unsupported RSA key size %u (want %d..%d bits)", bits,
                     RSA_MIN_BITS, RSA_MAX_BITS);
        goto out;
    }
    if ((gret = gnutls_privkey_verify_params(priv)) < 0) {
        rc = gtls_err(e, -EINVAL, gret, "inconsistent private key");
        goto out;
    }
    if ((gret = gnutls_pubkey_init(&pub)) < 0 ||
        (gret = gnutls_pubkey_import_privkey(pub, priv, 0, 0)) < 0) {
        rc = gtls_err(e, -EIO, gret, "deriving the public key");
        goto out;
    }
    key = calloc(1, sizeof *key);
    if (!key) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (algo == GNUTLS_PK_RSA) {
        key->type = KEY_RSA;
        key->size = (int)bits;
    } else {
        if ((gret = gnutls_pubkey_export_ecc_raw2(pub, &curve, NULL, NULL, 0)) < 0) {
            rc = gtls_err(e, -EIO, gret, "reading the ECDSA curve");
            goto out;
        }
        ci = curve_by_id(curve);
        if (!ci) {
            const char *name = gnutls_ecc_curve_get_name(curve);

            rc = err_set(e, -EINVAL, "unsupported ECDSA curve %s (want P-256, P-384 or P-521)",
                         name ? name : "(unknown)");
            goto out;
        }
        key->type = KEY_ECDSA;
        key->size = ci->size;
    }
    key->priv = priv;
    key->pub = pub;
    priv = NULL;
    pub = NULL;
    *out = key;
    key = NULL;
    rc = 0;
out:
    free(key);
    gnutls_pubkey_deinit(pub);
    gnutls_privkey_deinit(priv);
    return rc;
}

int key_generate(const struct key_spec *spec, struct ckey **out, struct err *e)
{
    gnutls_privkey_t priv = NULL;
    gnutls_pk_algorithm_t algo;
    unsigned int bits;
    int rc, gret;

    *out = NULL;
    if ((rc = key_spec_check(spec, e)) < 0)
        return rc;
    if (spec->type == KEY_ECDSA) {
        algo = GNUTLS_PK_ECDSA;
        bits = GNUTLS_CURVE_TO_BITS(curve_by_size(spec->size)->curve);
    } else {
        algo = GNUTLS_PK_RSA;
        bits = (unsigned int)spec->size;
    }
    if ((gret = gnutls_privkey_init(&priv)) < 0) {
        rc = gtls_err(e, -EIO, gret, "gnutls_privkey_init");
        goto out;
    }
    if ((gret = gnutls_privkey_generate2(priv, algo, bits, 0, NULL, 0)) < 0) {
        rc = gtls_err(e, -EIO, gret, "generating the key");
        goto out;
    }
    rc = key_adopt(&priv, out, e);
out:
    gnutls_privkey_deinit(priv);
    return rc;
}

/* One asynchronous generation: lives from key_generate_async until its after-work callback. */
struct keygen_req {
    uv_work_t work;
    struct key_spec spec;
    key_gen_cb cb;
    void *arg;
    struct ckey *key;
    int rc;
    struct err err;
};

/* Runs on a thread-pool thread: touches nothing but the request. */
static void keygen_work(uv_work_t *work)
{
    struct keygen_req *req = work->data;

    req->rc = key_generate(&req->spec, &req->key, &req->err);
}

/* Runs on the loop thread, exactly once per queued request, cancelled or not. */
static void keygen_done(uv_work_t *work, int status)
{
    struct keygen_req *req = work->data;

    if (status < 0) {
        key_free(req->key);
        req->key = NULL;
        req->rc = status == UV_ECANCELED
                      ? err_set(&req->err, -ECANCELED, "key generation cancelled")
                      : err_set(&req->err, status, "key generation: %s", uv_strerror(status));
    }
    req->cb(req->arg, req->rc, req->rc == 0 ? req->key : NULL, &req->err);
    free(req);
}

int key_generate_async(uv_loop_t *loop, const struct key_spec *spec, key_gen_cb cb, void *arg)
{
    struct keygen_req *req;
    int rc;

    if (!loop || !cb || key_spec_check(spec, NULL) < 0)
        return -EINVAL;
    req = calloc(1, sizeof *req);
    if (!req)
        return -ENOMEM;
    req->work.data = req;
    req->spec = *spec;
    req->cb = cb;
    req->arg = arg;
    rc = uv_queue_work(loop, &req->work, keygen_work, keygen_done);
    if (rc < 0)
        free(req);
    return rc;
}

int key_from_pem(const char *pem, size_t len, struct ckey **out, struct err *e)
{
    gnutls_privkey_t priv = NULL;
    gnutls_datum_t d;
    int rc, gret;

    *out = NULL;
    if (!pem || len == 0 || len > UINT32_MAX)
        return err_set(e, -EINVAL, "empty private key");
    d.data = (unsigned char *)pem;
    d.size = (unsigned int)len;
    if ((gret = gnutls_privkey_init(&priv)) < 0) {
        rc = gtls_err(e, -EIO, gret, "gnutls_privkey_init");
        goto out;
    }
    /* No password: an encrypted key fails here rather than prompting. */
    if ((gret = gnutls_privkey_import_x509_raw(priv, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        rc = gtls_err(e, -EINVAL, gret, "parsing the PEM private key");
        goto out;
    }
    rc = key_adopt(&priv, out, e);
out:
    gnutls_privkey_deinit(priv);
    return rc;
}

int key_to_pem(const struct ckey *key, char **pem, size_t *len, struct err *e)
{
    gnutls_x509_privkey_t xkey = NULL;
    gnutls_datum_t d = {NULL, 0};
    size_t n;
    char *buf;
    int rc, gret;

    *pem = NULL;
    *len = 0;
    /* The x509 form writes the traditional PKCS#1 / SEC 1 encodings acmetool uses. */
    if ((gret = gnutls_privkey_export_x509(key->priv, &xkey)) < 0 ||
        (gret = gnutls_x509_privkey_export2(xkey, GNUTLS_X509_FMT_PEM, &d)) < 0) {
        rc = gtls_err(e, -EIO, gret, "exporting the private key");
        goto out;
    }
    n = d.size;
    while (n > 0 && d.data[n - 1] == '\0')
        n--;
    buf = malloc(n + 1);
    if (!buf) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    memcpy(buf, d.data, n);
    buf[n] = '\0';
    *pem = buf;
    *len = n;
    rc = 0;
out:
    datum_wipe(&d);
    gnutls_x509_privkey_deinit(xkey);
    return rc;
}

void key_pem_free(char *pem, size_t len)
{
    if (!pem)
        return;
    gnutls_memset(pem, 0, len);
    free(pem);
}

int key_spki_der(const struct ckey *key, uint8_t **der, size_t *len, struct err *e)
{
    gnutls_datum_t d = {NULL, 0};
    int rc, gret;

    *der = NULL;
    *len = 0;
    if ((gret = gnutls_pubkey_export2(key->pub, GNUTLS_X509_FMT_DER, &d)) < 0) {
        rc = gtls_err(e, -EIO, gret, "exporting the public key");
        goto out;
    }
    *der = malloc(d.size ? d.size : 1);
    if (!*der) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    memcpy(*der, d.data, d.size);
    *len = d.size;
    rc = 0;
out:
    gnutls_free(d.data);
    return rc;
}

int key_id(const struct ckey *key, char *out, struct err *e)
{
    uint8_t *der = NULL;
    size_t len;
    int rc;

    if ((rc = key_spki_der(key, &der, &len, e)) < 0)
        return rc;
    crypto_sha256_id(der, len, out);
    free(der);
    return 0;
}

enum key_type key_get_type(const struct ckey *key)
{
    return key->type;
}

int key_get_size(const struct ckey *key)
{
    return key->size;
}

const char *key_jws_alg(const struct ckey *key)
{
    const struct curve_info *ci;

    if (key->type == KEY_RSA)
        return "RS256";
    ci = curve_by_size(key->size);
    return ci ? ci->alg : NULL;
}

/* Copies a big-endian integer into exactly `width` bytes, dropping leading zeros and padding
 * on the left. Returns -1 when the value does not fit. */
static int put_fixed(uint8_t *dst, size_t width, const gnutls_datum_t *v)
{
    const uint8_t *p = v->data;
    size_t n = v->size;

    while (n > 0 && *p == 0) {
        p++;
        n--;
    }
    if (n > width)
        return -1;
    memset(dst, 0, width - n);
    memcpy(dst + width - n, p, n);
    return 0;
}

/* GnuTLS signs ECDSA as a DER SEQUENCE {r, s}; JWS (RFC 7518 §3.4) wants r||s with each half
 * exactly the curve size, so P-521 halves are 66 bytes even when r happens to be short. RSA
 * signatures are padded to the modulus length the same way (RFC 7518 §3.3). */
int key_sign(const struct ckey *key, const uint8_t *data, size_t len, uint8_t **sig, size_t *siglen,
             struct err *e)
{
    gnutls_datum_t in, der = {NULL, 0}, r = {NULL, 0}, s = {NULL, 0};
    const struct curve_info *ci = NULL;
    gnutls_digest_algorithm_t dig = GNUTLS_DIG_SHA256;
    uint8_t *buf = NULL;
    size_t width;
    int rc, gret;

    *sig = NULL;
    *siglen = 0;
    if (len > UINT32_MAX)
        return err_set(e, -EINVAL, "data to sign too large");
    if (key->type == KEY_ECDSA) {
        ci = curve_by_size(key->size);
        dig = ci->dig;
    }
    in.data = (unsigned char *)data;
    in.size = (unsigned int)len;
    if ((gret = gnutls_privkey_sign_data(key->priv, dig, 0, &in, &der)) < 0) {
        rc = gtls_err(e, -EIO, gret, "signing");
        goto out;
    }
    width = ci ? 2 * ci->bytes : ((size_t)key->size + 7) / 8;
    buf = malloc(width);
    if (!buf) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (!ci) {
        if (put_fixed(buf, width, &der) < 0) {
            rc = err_set(e, -EIO, "RSA signature longer than the modulus");
            goto out;
        }
    } else {
        if ((gret = gnutls_decode_rs_value(&der, &r, &s)) < 0) {
            rc = gtls_err(e, -EIO, gret, "decoding the ECDSA signature");
            goto out;
        }
        if (put_fixed(buf, ci->bytes, &r) < 0 || put_fixed(buf + ci->bytes, ci->bytes, &s) < 0) {
            rc = err_set(e, -EIO, "ECDSA signature value larger than the curve");
            goto out;
        }
    }
    *sig = buf;
    *siglen = width;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    gnutls_free(der.data);
    gnutls_free(r.data);
    gnutls_free(s.data);
    return rc;
}

void key_free(struct ckey *key)
{
    if (!key)
        return;
    gnutls_pubkey_deinit(key->pub);
    gnutls_privkey_deinit(key->priv);
    free(key);
}
