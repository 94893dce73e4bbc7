/* jws: flattened JWS JSON (RFC 7515 §7.2.2) through a signer, and verification of
 * ES256/ES384/ES512/RS256 signatures against a public JWK. */
#include "crypto/jws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "crypto/b64.h"
#include "crypto/jwk.h"
#include "crypto/mac.h"

/* ---- signers ---- */

int signer_sign(const struct signer *s, const uint8_t *data, size_t len, signer_cb cb, void *arg,
                struct err *e)
{
    if (!s || !s->alg || !s->sign || !cb)
        return err_set(e, -EINVAL, "no signer");
    return s->sign(s->ctx, data, len, cb, arg, e);
}

static json_t *key_signer_jwk(void *ctx, struct err *e)
{
    return jwk_public(ctx, e);
}

/* A local key answers at once, inside the call (signer contract: allowed). */
static int key_signer_sign(void *ctx, const uint8_t *data, size_t len, signer_cb cb, void *arg,
                           struct err *e)
{
    uint8_t *sig = NULL;
    size_t siglen = 0;
    int rc = key_sign(ctx, data, len, &sig, &siglen, e);

    if (rc < 0)
        return rc;
    cb(arg, 0, sig, siglen, NULL);
    free(sig);
    return 0;
}

void jws_signer_from_key(struct ckey *key, struct signer *out)
{
    out->alg = key_jws_alg(key);
    out->jwk = key_signer_jwk;
    out->sign = key_signer_sign;
    out->ctx = key;
}

/* A MAC key has no public half to put in a "jwk" header: ask for a "kid" instead. */
static json_t *hmac_signer_jwk(void *ctx, struct err *e)
{
    err_set(e, -EINVAL, "an HMAC signer has no public JWK");
    return NULL;
}

static int hmac_signer_sign(void *ctx, const uint8_t *data, size_t len, signer_cb cb, void *arg,
                            struct err *e)
{
    const struct hmac_key *key = ctx;
    uint8_t mac[MAC_SHA256_LEN];

    (void)e;
    mac_hmac_sha256(key->key, key->len, data, len, mac); /* wipes its context */
    cb(arg, 0, mac, sizeof mac, NULL);
    return 0;
}

void jws_signer_hmac(struct hmac_key *key, struct signer *out)
{
    out->alg = "HS256";
    out->jwk = hmac_signer_jwk;
    out->sign = hmac_signer_sign;
    out->ctx = key;
}

/* ---- signing ---- */

/* A JWS waiting for its signature: the encoded parts and whom to hand the result. */
struct jws_pending {
    char *hdr_b64, *pay_b64, *alg;
    jws_cb cb;
    void *arg;
};

static void pending_free(struct jws_pending *p)
{
    if (!p)
        return;
    free(p->hdr_b64);
    free(p->pay_b64);
    free(p->alg);
    free(p);
}

static void on_signature(void *arg, int rc, const uint8_t *sig, size_t siglen, const struct err *se)
{
    struct jws_pending *p = arg;
    char *sig_b64 = NULL, *text = NULL;
    json_t *jws = NULL;
    struct err e;

    err_clear(&e);
    if (rc < 0) {
        err_set(&e, rc, "JWS %s: %s", p->alg, err_msg(se));
        p->cb(p->arg, rc, NULL, &e);
        goto out;
    }
    if (!(sig_b64 = b64url_encode(sig, siglen)) ||
        !(jws = json_pack("{s:s, s:s, s:s}", "protected", p->hdr_b64, "payload", p->pay_b64,
                          "signature", sig_b64)) ||
        !(text = json_dumps(jws, JSON_COMPACT))) {
        rc = err_set(&e, -ENOMEM, "JWS: out of memory");
        p->cb(p->arg, rc, NULL, &e);
        goto out;
    }
    p->cb(p->arg, 0, text, NULL);
out:
    free(sig_b64);
    free(text);
    json_decref(jws);
    pending_free(p);
}

int jws_sign_start(const struct signer *s, json_t *protected_hdr, const char *payload, jws_cb cb,
                   void *arg, struct err *e)
{
    char *hdr_json = NULL, *input = NULL;
    struct jws_pending *p = NULL;
    json_t *hdr = NULL;
    int rc;

    if (!s || !s->alg || !payload || !cb) {
        rc = err_set(e, -EINVAL, "JWS: no signer or no payload");
        goto out;
    }
    hdr = protected_hdr ? json_deep_copy(protected_hdr) : json_object();
    if (!json_is_object(hdr)) {
        rc = err_set(e, -EINVAL, "JWS: the protected header is not an object");
        goto out;
    }
    if (!(p = calloc(1, sizeof *p)) || !(p->alg = strdup(s->alg)) ||
        json_object_set_new(hdr, "alg", json_string(s->alg)) < 0 ||
        !(hdr_json = json_dumps(hdr, JSON_COMPACT)) ||
        !(p->hdr_b64 = b64url_encode(hdr_json, strlen(hdr_json))) ||
        !(p->pay_b64 = b64url_encode(payload, strlen(payload))) ||
        asprintf(&input, "%s.%s", p->hdr_b64, p->pay_b64) < 0) {
        input = NULL;
        rc = err_set(e, -ENOMEM, "JWS: out of memory");
        goto out;
    }
    p->cb = cb;
    p->arg = arg;
    /* From here p belongs to on_signature, which may already have run when sign returns. */
    if ((rc = s->sign(s->ctx, (const uint8_t *)input, strlen(input), on_signature, p, e)) < 0) {
        err_wrap(e, "JWS %s", s->alg);
        goto out;
    }
    p = NULL;
out:
    pending_free(p);
    free(hdr_json);
    free(input);
    json_decref(hdr);
    return rc;
}

int jws_sign_acme_start(const struct signer *s, const char *kid, const char *nonce, const char *url,
                        const char *payload, jws_cb cb, void *arg, struct err *e)
{
    json_t *hdr = NULL, *jwk = NULL;
    int rc;

    if (!s || !s->alg || !url) {
        rc = err_set(e, -EINVAL, "JWS: no signer or no URL");
        goto out;
    }
    /* "alg" goes first only to keep the header readable; jws_sign_start sets its value. */
    hdr = json_pack("{s:s}", "alg", s->alg);
    if (!hdr || (nonce && json_object_set_new(hdr, "nonce", json_string(nonce)) < 0) ||
        json_object_set_new(hdr, "url", json_string(url)) < 0) {
        rc = err_set(e, -ENOMEM, "JWS: out of memory");
        goto out;
    }
    if (kid) {
        rc = json_object_set_new(hdr, "kid", json_string(kid));
    } else {
        jwk = s->jwk(s->ctx, e);
        if (!jwk) {
            rc = e && e->code ? e->code : -EINVAL;
            err_wrap(e, "JWS: no \"kid\" and no public JWK");
            goto out;
        }
        rc = json_object_set(hdr, "jwk", jwk);
    }
    if (rc < 0) {
        rc = err_set(e, -ENOMEM, "JWS: out of memory");
        goto out;
    }
    rc = jws_sign_start(s, hdr, payload, cb, arg, e);
out:
    json_decref(jwk);
    json_decref(hdr);
    return rc;
}

/* The synchronous forms wait for nothing: the box is shared with the callback, and whichever
 * of the two comes last frees it, so a signer that answers late finds it still there. */
struct sync_box {
    int done, abandoned;
    int rc;
    char *out;
    struct err e;
};

static void on_sync(void *arg, int rc, const char *jws, const struct err *e)
{
    struct sync_box *b = arg;

    if (b->abandoned) {
        free(b);
        return;
    }
    b->done = 1;
    b->rc = rc;
    if (rc < 0)
        b->e = *e;
    else if (!(b->out = strdup(jws)))
        b->rc = err_set(&b->e, -ENOMEM, "JWS: out of memory");
}

static int sync_finish(struct sync_box *b, int rc, char **out, struct err *e)
{
    if (rc < 0) {
        free(b);
        return rc;
    }
    if (!b->done) {
        b->abandoned = 1;
        return err_set(e, -EWOULDBLOCK, "JWS: the signer did not answer at once");
    }
    rc = b->rc;
    if (rc < 0 && e)
        *e = b->e;
    *out = b->out;
    free(b);
    return rc;
}

int jws_sign(const struct signer *s, json_t *protected_hdr, const char *payload, char **out,
             struct err *e)
{
    struct sync_box *b = calloc(1, sizeof *b);

    *out = NULL;
    if (!b)
        return err_set(e, -ENOMEM, "JWS: out of memory");
    return sync_finish(b, jws_sign_start(s, protected_hdr, payload, on_sync, b, e), out, e);
}

int jws_sign_acme(const struct signer *s, const char *kid, const char *nonce, const char *url,
                  const char *payload, char **out, struct err *e)
{
    struct sync_box *b = calloc(1, sizeof *b);

    *out = NULL;
    if (!b)
        return err_set(e, -ENOMEM, "JWS: out of memory");
    return sync_finish(b, jws_sign_acme_start(s, kid, nonce, url, payload, on_sync, b, e), out, e);
}

/* ---- verification ---- */

/* What each JWS algorithm requires of the key (RFC 7518 §3.3, §3.4). */
struct alg_info {
    const char *alg;
    gnutls_sign_algorithm_t sign;
    const char *crv; /* NULL for RSA */
    gnutls_ecc_curve_t curve;
    size_t bytes;
};

static const struct alg_info algs[] = {
    {"ES256", GNUTLS_SIGN_ECDSA_SHA256, "P-256", GNUTLS_ECC_CURVE_SECP256R1, 32},
    {"ES384", GNUTLS_SIGN_ECDSA_SHA384, "P-384", GNUTLS_ECC_CURVE_SECP384R1, 48},
    {"ES512", GNUTLS_SIGN_ECDSA_SHA512, "P-521", GNUTLS_ECC_CURVE_SECP521R1, 66},
    {"RS256", GNUTLS_SIGN_RSA_SHA256, NULL, GNUTLS_ECC_CURVE_INVALID, 0},
};

/* Builds a GnuTLS public key from the JWK, checking it is the kind `ai` needs. */
static int import_jwk_pub(json_t *jwk, const struct alg_info *ai, gnutls_pubkey_t *pubp,
                          struct err *e)
{
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    const char *kty, *crv;
    size_t alen, blen;
    int rc, gret;

    *pubp = NULL;
    kty = json_string_value(json_object_get(jwk, "kty"));
    if (!kty || strcmp(kty, ai->crv ? "EC" : "RSA") != 0) {
        rc = err_set(e, -EINVAL, "%s needs a %s key, the JWK has kty \"%s\"", ai->alg,
                     ai->crv ? "EC" : "RSA", kty ? kty : "(none)");
        goto out;
    }
    if (ai->crv) {
        crv = json_string_value(json_object_get(jwk, "crv"));
        if (!crv || strcmp(crv, ai->crv) != 0) {
            rc = err_set(e, -EINVAL, "%s needs curve %s, the JWK has \"%s\"", ai->alg, ai->crv,
                         crv ? crv : "(none)");
            goto out;
        }
    }
    if ((rc = jwk_get_bytes(jwk, ai->crv ? "x" : "n", &a.data, &alen, e)) < 0 ||
        (rc = jwk_get_bytes(jwk, ai->crv ? "y" : "e", &b.data, &blen, e)) < 0)
        goto out;
    a.size = (unsigned int)alen;
    b.size = (unsigned int)blen;
    if (ai->crv && (alen != ai->bytes || blen != ai->bytes)) {
        rc = err_set(e, -EINVAL, "JWK coordinates for %s must be %zu bytes", ai->crv, ai->bytes);
        goto out;
    }
    if ((gret = gnutls_pubkey_init(pubp)) < 0) {
        rc = err_set(e, -ENOMEM, "gnutls_pubkey_init: %s", gnutls_strerror(gret));
        goto out;
    }
    gret = ai->crv ? gnutls_pubkey_import_ecc_raw(*pubp, ai->curve, &a, &b)
                   : gnutls_pubkey_import_rsa_raw(*pubp, &a, &b);
    if (gret < 0) {
        rc = err_set(e, -EINVAL, "importing the JWK: %s", gnutls_strerror(gret));
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        gnutls_pubkey_deinit(*pubp);
        *pubp = NULL;
    }
    free(a.data);
    free(b.data);
    return rc;
}

/* A datum over a big-endian integer without its leading zero bytes (one byte at least), as
 * gnutls_encode_rs_value wants minimal INTEGER contents. */
static gnutls_datum_t trim_int(const uint8_t *p, size_t n)
{
    gnutls_datum_t d;

    while (n > 1 && *p == 0) {
        p++;
        n--;
    }
    d.data = (unsigned char *)p;
    d.size = (unsigned int)n;
    return d;
}

int jws_verify(json_t *jwk, const char *alg, const uint8_t *input, size_t inlen, const uint8_t *sig,
               size_t siglen, struct err *e)
{
    gnutls_datum_t data, sigd = {NULL, 0}, der = {NULL, 0}, r, s;
    const struct alg_info *ai = NULL;
    gnutls_pubkey_t pub = NULL;
    int rc, gret;

    for (size_t i = 0; alg && i < sizeof algs / sizeof algs[0]; i++) {
        if (strcmp(algs[i].alg, alg) == 0)
            ai = &algs[i];
    }
    if (!ai) {
        rc = err_set(e, -ENOTSUP, "unsupported JWS algorithm \"%s\"", alg ? alg : "(none)");
        goto out;
    }
    if (inlen > UINT32_MAX || siglen > UINT32_MAX) {
        rc = err_set(e, -EINVAL, "JWS too large");
        goto out;
    }
    if ((rc = import_jwk_pub(jwk, ai, &pub, e)) < 0)
        goto out;
    if (ai->crv) {
        /* A raw r||s of any other length cannot be a signature on this curve. */
        if (siglen != 2 * ai->bytes) {
            rc = err_set(e, -EBADMSG, "%s signature is %zu bytes, want %zu", alg, siglen,
                         2 * ai->bytes);
            goto out;
        }
        r = trim_int(sig, ai->bytes);
        s = trim_int(sig + ai->bytes, ai->bytes);
        if ((gret = gnutls_encode_rs_value(&der, &r, &s)) < 0) {
            rc = err_set(e, -EIO, "encoding the ECDSA signature: %s", gnutls_strerror(gret));
            goto out;
        }
        sigd = der;
    } else {
        sigd.data = (unsigned char *)sig;
        sigd.size = (unsigned int)siglen;
    }
    data.data = (unsigned char *)input;
    data.size = (unsigned int)inlen;
    gret = gnutls_pubkey_verify_data2(pub, ai->sign, 0, &data, &sigd);
    if (gret == GNUTLS_E_PK_SIG_VERIFY_FAILED) {
        rc = err_set(e, -EBADMSG, "%s signature does not verify", alg);
        goto out;
    }
    if (gret < 0) {
        rc = err_set(e, -EINVAL, "verifying the %s signature: %s", alg, gnutls_strerror(gret));
        goto out;
    }
    rc = 0;
out:
    gnutls_free(der.data);
    gnutls_pubkey_deinit(pub);
    return rc;
}

/* The string member `name` of a flattened JWS, or NULL with e set. */
static const char *jws_member(json_t *jws, const char *name, struct err *e)
{
    const char *v = json_string_value(json_object_get(jws, name));

    if (!v)
        err_set(e, -EINVAL, "JWS member \"%s\" missing or not a string", name);
    return v;
}

int jws_verify_flattened(const char *jws_json, json_t *jwk, struct err *e)
{
    const char *prot, *payload, *sig_b64, *alg;
    uint8_t *hdr_raw = NULL, *sig = NULL, *pay_raw = NULL;
    size_t hdr_len, siglen, pay_len;
    json_t *jws = NULL, *hdr = NULL;
    json_error_t jerr;
    char *input = NULL;
    int rc;

    jws = json_loads(jws_json ? jws_json : "", 0, &jerr);
    if (!json_is_object(jws)) {
        rc = err_set(e, -EINVAL, "JWS is not a JSON object: %s", jws ? "wrong type" : jerr.text);
        goto out;
    }
    if (!(prot = jws_member(jws, "protected", e)) || !(payload = jws_member(jws, "payload", e)) ||
        !(sig_b64 = jws_member(jws, "signature", e))) {
        rc = e ? e->code : -EINVAL;
        goto out;
    }
    if (b64url_decode(prot, strlen(prot), &hdr_raw, &hdr_len) < 0 ||
        b64url_decode(payload, strlen(payload), &pay_raw, &pay_len) < 0 ||
        b64url_decode(sig_b64, strlen(sig_b64), &sig, &siglen) < 0) {
        rc = err_set(e, -EINVAL, "JWS member is not valid base64url");
        goto out;
    }
    hdr = json_loadb((const char *)hdr_raw, hdr_len, 0, &jerr);
    alg = json_string_value(json_object_get(hdr, "alg"));
    if (!json_is_object(hdr) || !alg) {
        rc = err_set(e, -EINVAL, "JWS protected header is not an object with an \"alg\"");
        goto out;
    }
    if (asprintf(&input, "%s.%s", prot, payload) < 0) {
        input = NULL;
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    rc = jws_verify(jwk, alg, (const uint8_t *)input, strlen(input), sig, siglen, e);
out:
    free(input);
    free(hdr_raw);
    free(pay_raw);
    free(sig);
    json_decref(hdr);
    json_decref(jws);
    return rc;
}
