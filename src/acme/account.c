/* account: registration, lookup, update, key rollover and deactivation (RFC 8555 §7.3). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acme/op_internal.h"
#include "acme/ops.h"

static json_t *contact_array(const char *const *contact, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, json_string(contact[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The External Account Binding (§7.3.4): a JWS over the account's public JWK, protected by
 * {alg: HS256, kid: <EAB kid>, url: <newAccount URL>} and MACed with the CA's key. */
static json_t *eab_object(const struct acme_eab *eab, const struct signer *acct, const char *url,
                          struct err *e)
{
    struct hmac_key hk = {.key = eab->hmac, .len = eab->hmac_len};
    struct signer mac;
    json_t *jwk = NULL, *hdr = NULL, *out = NULL;
    char *jwk_text = NULL, *jws = NULL;

    jws_signer_hmac(&hk, &mac);
    if (!(jwk = acct->jwk(acct->ctx, e)))
        goto out;
    if (!(jwk_text = acme_json_text(jwk, e)))
        goto out;
    hdr = json_pack("{s:s, s:s}", "kid", eab->kid, "url", url);
    if (!hdr) {
        err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (jws_sign(&mac, hdr, jwk_text, &jws, e) < 0)
        goto out;
    if (!(out = json_loads(jws, 0, NULL)))
        err_set(e, -ENOMEM, "cannot parse our own EAB JWS");
out:
    json_decref(jwk);
    json_decref(hdr);
    free(jwk_text);
    free(jws);
    return out;
}

char *acme_eab_jws(const struct acme_eab *eab, const struct signer *acct, const char *url,
                   struct err *e)
{
    json_t *o = eab_object(eab, acct, url, e);
    char *text = o ? acme_json_text(o, e) : NULL;

    json_decref(o);
    return text;
}

int acme_account_new(struct acme_client *c, const struct acme_new_account *req, acme_cb cb,
                     void *arg, struct err *e)
{
    const struct acme_directory *d = acme_client_directory(c);
    struct acme_call call = {.method = "POST", .auth = ACME_AUTH_JWK, .signer = req->key};
    json_t *p = NULL;
    char *text = NULL;
    int rc = -ENOMEM;

    if (!d)
        return err_set(e, -EINVAL, "newAccount before the directory was fetched");
    if (!(p = json_object()))
        goto oom;
    if (req->ncontact > 0 &&
        json_object_set_new(p, "contact", contact_array(req->contact, req->ncontact)) < 0)
        goto oom;
    if (req->agree_tos && json_object_set_new(p, "termsOfServiceAgreed", json_true()) < 0)
        goto oom;
    if (req->only_return_existing && json_object_set_new(p, "onlyReturnExisting", json_true()) < 0)
        goto oom;
    if ((req->eab || req->eab_jws) && !req->only_return_existing) {
        json_t *eab = req->eab_jws ? json_loads(req->eab_jws, 0, NULL)
                                   : eab_object(req->eab, req->key, d->new_account, e);

        if (!eab) {
            rc = req->eab_jws   ? err_set(e, -EINVAL, "the external account binding is not JSON")
                 : e && e->code ? e->code
                                : -ENOMEM;
            goto out;
        }
        json_object_set_new(p, "externalAccountBinding", eab);
    } else if (d->meta.external_account_required && !req->only_return_existing) {
        rc = err_set(e, -EINVAL,
                     "the CA requires External Account Binding (an EAB kid and "
                     "HMAC key) to create an account");
        goto out;
    }
    if (!(text = acme_json_text(p, e)))
        goto out;
    call.url = d->new_account;
    call.payload = text;
    rc = acme_op_start(c, &call, OP_ACCOUNT, cb, arg, e);
    goto out;
oom:
    rc = err_set(e, -ENOMEM, "out of memory");
out:
    json_decref(p);
    free(text);
    return rc;
}

int acme_account_update(struct acme_client *c, const char *const *contact, size_t ncontact,
                        acme_cb cb, void *arg, struct err *e)
{
    json_t *p = json_pack("{s:o}", "contact", contact_array(contact, ncontact));
    int rc;

    if (!p)
        return err_set(e, -ENOMEM, "out of memory");
    rc = acme_op_post(c, acme_client_account_url(c), p, OP_ACCOUNT, cb, arg, e);
    json_decref(p);
    return rc;
}

int acme_account_deactivate(struct acme_client *c, acme_cb cb, void *arg, struct err *e)
{
    json_t *p = json_pack("{s:s}", "status", "deactivated");
    int rc;

    if (!p)
        return err_set(e, -ENOMEM, "out of memory");
    rc = acme_op_post(c, acme_client_account_url(c), p, OP_ACCOUNT, cb, arg, e);
    json_decref(p);
    return rc;
}

struct keychange {
    struct acme_client *c;
    const struct signer *new_key;
    char *url; /* the directory's keyChange */
    acme_cb cb;
    void *arg;
    bool starting; /* inside acme_account_key_change: report failures by its return */
    int start_rc;  /* what acme_account_key_change returns when the inner JWS came at once */
    struct err *start_e;
};

static void keychange_free(struct keychange *k)
{
    if (k) {
        free(k->url);
        free(k);
    }
}

static void on_key_changed(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct keychange *k = arg;
    struct err se;

    err_clear(&se);
    if (rc == 0) {
        /* From now on the account is the new key's: sign with it. */
        rc = acme_client_set_account(k->c, k->new_key, acme_client_account_url(k->c));
        if (rc < 0)
            e = (err_set(&se, rc, "out of memory"), &se);
    }
    k->cb(k->arg, rc, r, e);
    keychange_free(k);
}

/* The inner JWS, signed by the new key (at once for a local key, later for a remote signer),
 * becomes the payload of the outer one, signed by the current account key. A failure after
 * acme_account_key_change returned reaches the caller's callback, from the loop. */
static void on_inner_signed(void *arg, int rc, const char *jws, const struct err *se)
{
    struct keychange *k = arg;
    struct acme_call call = {.method = "POST", .url = k->url, .auth = ACME_AUTH_KID};
    struct acme_result r = {.retry_after = -1};
    struct err e;

    err_clear(&e);
    if (rc < 0) {
        err_set(&e, rc, "keyChange, signing with the new key: %s", err_msg(se));
    } else {
        call.payload = jws;
        rc = acme_op_start(k->c, &call, OP_RAW, on_key_changed, k, &e);
        if (rc == 0)
            return;
    }
    if (k->starting) {
        k->start_rc = rc;
        if (k->start_e)
            *k->start_e = e;
        return;
    }
    k->cb(k->arg, rc, &r, &e);
    keychange_free(k);
}

/* Key rollover (§7.3.5): inner JWS {alg, jwk: new key, url: keyChange} over
 * {account, oldKey}, signed by the new key, as the payload of a kid-signed outer JWS. */
int acme_account_key_change(struct acme_client *c, const struct signer *new_key, acme_cb cb,
                            void *arg, struct err *e)
{
    const struct acme_directory *d = acme_client_directory(c);
    const struct signer *old = acme_client_account_signer(c);
    const char *kid = acme_client_account_url(c);
    struct keychange *k = NULL;
    json_t *old_jwk = NULL, *new_jwk = NULL, *inner_p = NULL, *hdr = NULL;
    char *inner_text = NULL;
    int rc = -ENOMEM;

    if (!d || !d->key_change || !old || !kid)
        return err_set(e, -EINVAL, "key rollover needs the directory's keyChange and an account");
    if (!(old_jwk = old->jwk(old->ctx, e)) || !(new_jwk = new_key->jwk(new_key->ctx, e)))
        goto out;
    if (json_equal(old_jwk, new_jwk)) {
        rc = err_set(e, -EINVAL, "key rollover to the same key");
        goto out;
    }
    inner_p = json_pack("{s:s, s:O}", "account", kid, "oldKey", old_jwk);
    hdr = json_pack("{s:O, s:s}", "jwk", new_jwk, "url", d->key_change);
    if (!inner_p || !hdr || !(inner_text = acme_json_text(inner_p, e)) ||
        !(k = calloc(1, sizeof *k)) || !(k->url = strdup(d->key_change)))
        goto oom;
    k->c = c;
    k->new_key = new_key;
    k->cb = cb;
    k->arg = arg;
    k->starting = true;
    k->start_e = e;
    if ((rc = jws_sign_start(new_key, hdr, inner_text, on_inner_signed, k, e)) < 0)
        goto out;
    /* Signed already (a local key) and failed to send: k is still ours. */
    if (k->start_rc < 0) {
        rc = k->start_rc;
        goto out;
    }
    /* Started: from here k belongs to the callbacks. */
    k->starting = false;
    k->start_e = NULL;
    k = NULL;
    goto out;
oom:
    rc = err_set(e, -ENOMEM, "out of memory");
out:
    keychange_free(k);
    json_decref(old_jwk);
    json_decref(new_jwk);
    json_decref(inner_p);
    json_decref(hdr);
    free(inner_text);
    return rc;
}

char *acme_key_change_inner(const char *url, const char *kid, const struct signer *old_key,
                            const struct signer *new_key, struct err *e)
{
    json_t *old_jwk = NULL, *new_jwk = NULL, *p = NULL, *hdr = NULL;
    char *text = NULL, *jws = NULL;

    if (!(old_jwk = old_key->jwk(old_key->ctx, e)) || !(new_jwk = new_key->jwk(new_key->ctx, e)))
        goto out;
    if (json_equal(old_jwk, new_jwk)) {
        err_set(e, -EINVAL, "key rollover to the same key");
        goto out;
    }
    p = json_pack("{s:s, s:O}", "account", kid, "oldKey", old_jwk);
    hdr = json_pack("{s:O, s:s}", "jwk", new_jwk, "url", url);
    if (!p || !hdr) {
        err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if ((text = acme_json_text(p, e)))
        jws_sign(new_key, hdr, text, &jws, e);
out:
    json_decref(old_jwk);
    json_decref(new_jwk);
    json_decref(p);
    json_decref(hdr);
    free(text);
    return jws;
}

int acme_account_key_change_inner(struct acme_client *c, const char *inner,
                                  const struct signer *new_key, acme_cb cb, void *arg,
                                  struct err *e)
{
    const struct acme_directory *d = acme_client_directory(c);
    struct keychange *k;
    int rc;

    if (!d || !d->key_change || !acme_client_account_url(c))
        return err_set(e, -EINVAL, "key rollover needs the directory's keyChange and an account");
    if (!(k = calloc(1, sizeof *k)) || !(k->url = strdup(d->key_change))) {
        free(k);
        return err_set(e, -ENOMEM, "out of memory");
    }
    k->c = c;
    k->new_key = new_key;
    k->cb = cb;
    k->arg = arg;
    k->starting = true;
    k->start_e = e;
    on_inner_signed(k, 0, inner, NULL);
    if ((rc = k->start_rc) < 0) {
        keychange_free(k);
        return rc;
    }
    k->starting = false;
    k->start_e = NULL;
    return 0;
}
