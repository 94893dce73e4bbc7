/* ops: the RFC 8555 operations, each one asynchronous request (or a bounded series of them)
 * through the client's request machinery (acme/client.h).
 *
 * Every function returns 0 when the operation started, in which case cb runs exactly once
 * later on the loop thread, or a negative code with e set, in which case cb never runs. The
 * result's parsed object (account, order, authz, challenge, cert_pem) is set as documented
 * per function; the callee may take it over by setting the member to NULL. Strings passed in
 * are copied; signers and keys are borrowed until the callback. No policy lives here: which
 * challenge to prefer, when to renew and what to store are the caller's business. */
#ifndef ACMED_ACME_OPS_H
#define ACMED_ACME_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acme/client.h"
#include "acme/objects.h"
#include "crypto/jws.h"
#include "crypto/key.h"

/* ---- accounts (§7.3) ---- */

struct acme_eab {
    const char *kid;     /* the key identifier the CA gave */
    const uint8_t *hmac; /* the MAC key, decoded from its base64url form */
    size_t hmac_len;
};

struct acme_new_account {
    const struct signer *key;   /* the account key (signs with "jwk") */
    const char *const *contact; /* e.g. "mailto:ops@example.com"; may be NULL */
    size_t ncontact;
    bool agree_tos;             /* termsOfServiceAgreed */
    bool only_return_existing;  /* §7.3.1: find the account of this key, create none */
    const struct acme_eab *eab; /* External Account Binding (§7.3.4), or NULL */
    const char *eab_jws;        /* or the binding already made (acme_eab_jws), JSON text */
};

/* The External Account Binding object for an account key and the directory's newAccount URL,
 * as JSON text (caller frees), or NULL with e set. For a keeper that MACs what its worker
 * sends: the MAC key stays with the keeper. */
char *acme_eab_jws(const struct acme_eab *eab, const struct signer *acct, const char *url,
                   struct err *e);

/* Registers (or, with only_return_existing, finds) the account of req->key. On success
 * r->location is the account URL (the "kid") and r->account the account object; r->status
 * is 201 for a new account and 200 for an existing one. A missing account under
 * only_return_existing is ACME_EPROBLEM with type accountDoesNotExist. */
int acme_account_new(struct acme_client *c, const struct acme_new_account *req, acme_cb cb,
                     void *arg, struct err *e);

/* Replaces the contact list of the client's account (acme_client_set_account). r->account. */
int acme_account_update(struct acme_client *c, const char *const *contact, size_t ncontact,
                        acme_cb cb, void *arg, struct err *e);

/* Key rollover (§7.3.5): the inner JWS is signed by new_key, the outer by the current
 * account key. On success the client already signs with new_key (borrowed: it must outlive
 * the client or the next acme_client_set_account). */
int acme_account_key_change(struct acme_client *c, const struct signer *new_key, acme_cb cb,
                            void *arg, struct err *e);

/* The inner JWS of a key rollover (§7.3.5) as JSON text (caller frees), for a keeper that
 * signs it itself with a new key that answers at once (a local key): {jwk: new, url} over
 * {account: kid, oldKey}. NULL with e set on failure (the same key twice: -EINVAL). */
char *acme_key_change_inner(const char *url, const char *kid, const struct signer *old_key,
                            const struct signer *new_key, struct err *e);

/* acme_account_key_change with the inner JWS made already (acme_key_change_inner): posts it
 * signed by the account, then signs with new_key (borrowed, as the account's). */
int acme_account_key_change_inner(struct acme_client *c, const char *inner,
                                  const struct signer *new_key, acme_cb cb, void *arg,
                                  struct err *e);

/* Deactivates the client's account (§7.3.6). r->account has status deactivated. */
int acme_account_deactivate(struct acme_client *c, acme_cb cb, void *arg, struct err *e);

/* ---- orders, authorizations, challenges (§7.4, §7.5) ---- */

struct acme_new_order {
    const struct acme_identifier *ids; /* dns names and ip addresses (RFC 8738) */
    size_t nids;
    const char *profile;  /* sent only when the directory lists profiles; else -ENOTSUP */
    const char *replaces; /* ARI certID (RFC 9773 §5); sent only when the directory has
                             renewalInfo, silently dropped otherwise */
};

/* Creates an order. r->location is the order URL, r->order the order. */
int acme_order_new(struct acme_client *c, const struct acme_new_order *req, acme_cb cb, void *arg,
                   struct err *e);

/* POST-as-GET of an order (r->order) or an authorization (r->authz). */
int acme_order_get(struct acme_client *c, const char *url, acme_cb cb, void *arg, struct err *e);
int acme_authz_get(struct acme_client *c, const char *url, acme_cb cb, void *arg, struct err *e);

/* Tells the server to validate a challenge (POST "{}"). r->challenge. */
int acme_challenge_answer(struct acme_client *c, const char *url, acme_cb cb, void *arg,
                          struct err *e);

/* Deactivates an authorization (§7.5.2). r->authz. */
int acme_authz_deactivate(struct acme_client *c, const char *url, acme_cb cb, void *arg,
                          struct err *e);

/* The first challenge of `authz` whose type appears earliest in `prefs` and whose token is
 * base64url, or NULL when none. Borrowed from authz. */
const struct acme_challenge *acme_challenge_select(const struct acme_authz *authz,
                                                   const char *const *prefs, size_t nprefs);

/* Polls an authorization until it leaves "pending" (r->authz: valid, invalid, ...), or an
 * order until it is neither "pending" nor "processing" (or, with until_ready, until it
 * leaves "pending" only). Waits honour Retry-After (capped by the deadline), else start at
 * ACME_POLL_FIRST_MS and double up to ACME_POLL_MAX_MS. Past deadline_ms (monotonic, from
 * clock_mono_ms) the operation fails with -ETIMEDOUT, with the last object in r. */
#define ACME_POLL_FIRST_MS 25
#define ACME_POLL_MAX_MS 4000
int acme_authz_poll(struct acme_client *c, const char *url, uint64_t deadline_ms, acme_cb cb,
                    void *arg, struct err *e);
int acme_order_poll(struct acme_client *c, const char *url, bool until_ready, uint64_t deadline_ms,
                    acme_cb cb, void *arg, struct err *e);

/* Finalizes an order with a DER CSR (§7.4). r->order (often "processing": poll it). */
int acme_order_finalize(struct acme_client *c, const char *finalize_url, const uint8_t *csr,
                        size_t csr_len, acme_cb cb, void *arg, struct err *e);

/* ---- certificates (§7.4.2, §7.6) ---- */

struct acme_download {
    const char *url;             /* the order's certificate URL */
    const char *preferred_chain; /* issuer CN of the top certificate to prefer, or NULL */
    const struct ckey *key;      /* when set: the leaf must be for this key */
    const char *const *names;    /* when set: the leaf must carry every name (dns or ip) */
    size_t nnames;
    const char *trust_anchors; /* PEM roots (copied); when set the chain must end at one */
    size_t trust_anchors_len;
};

/* Downloads the chain as application/pem-certificate-chain, following Link rel="alternate"
 * chains only when the default one fails its checks or its top issuer CN is not the preferred
 * one. Every chain is checked to hold only CERTIFICATE blocks, the leaf against key and names,
 * then every link, validity period (5 minutes of clock skew allowed) and the trust anchors
 * (x509_check_chain_links); a chain that fails is never handed over: the error then says
 * "chain does not verify: <why>". On success r->cert_pem/cert_len hold the chosen chain (leaf
 * first). */
int acme_cert_download(struct acme_client *c, const struct acme_download *req, acme_cb cb,
                       void *arg, struct err *e);

/* The checks acme_cert_download makes of each chain (pem, len bytes): only CERTIFICATE blocks,
 * the leaf for key (when not NULL) naming every one of names, unexpired, each link and period,
 * and the top at one of the anchors (PEM, when not NULL). *top_cn (when not NULL) gets the
 * issuer CN of the last certificate (caller frees; may be NULL). Returns 0 or negative with e:
 * "chain does not verify: <why>" for the links. */
int acme_chain_verify(const char *pem, size_t len, const struct ckey *key, const char *const *names,
                      size_t nnames, const char *anchors, size_t anchors_len, char **top_cn,
                      struct err *e);

/* Revokes a certificate (DER) with a reason (§7.6; an RFC 5280 code, crypto/crl_reason.h). cert_key
 * NULL signs with the account
 * ("kid"); otherwise the certificate's own key signs with "jwk". */
int acme_cert_revoke(struct acme_client *c, const uint8_t *der, size_t len, int reason,
                     const struct signer *cert_key, acme_cb cb, void *arg, struct err *e);

/* ---- renewal information (RFC 9773) ---- */

/* GETs renewalInfo for certID (x509_ari_cert_id). -ENOTSUP when the directory has none.
 * On success r->http is the response and r->retry_after the server's Retry-After (or -1);
 * parse the body with acme_renewal_info_parse. */
int acme_renewal_info_get(struct acme_client *c, const char *cert_id, acme_cb cb, void *arg,
                          struct err *e);

#endif
