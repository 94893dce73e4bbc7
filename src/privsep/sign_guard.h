/* sign_guard: what the keeper agrees to sign for its worker (DESIGN.md §10).
 *
 * Under privilege separation the worker composes each ACME request and asks the keeper to
 * sign it with the account key. The worker talks to the Internet, so it may be compromised:
 * the keeper signs only a request that does exactly what the operation it started asked, for
 * that operation's target. A guard describes the operation; sign_guard_check compares a
 * decoded signing input (signer/signer_proto.h) with it.
 *
 *   POST_AS_GET      empty payload (reads an order, authorization, certificate)
 *   CHALLENGE        payload {} to the challenge URL the keeper was told of
 *   NEW_ACCOUNT      the keeper's contact, terms agreement, EAB object, onlyReturnExisting
 *   ACCOUNT_CONTACT  {"contact": [...]} equal to the keeper's, to the account URL
 *   NEW_ORDER        identifiers exactly the target's names, replaces only the keeper's
 *   FINALIZE         {"csr": <the keeper's CSR>}
 *   REVOKE           the certificate (and reason) the keeper marked for revocation
 *   KEY_CHANGE       exactly the inner JWS the keeper made with the new key (rollover)
 *   DEACTIVATE       {"status": "deactivated"} to the account URL
 *
 * In every case the header's alg must be the key's, and it must carry the account URL as kid
 * (or, for NEW_ACCOUNT and a revocation signed with the certificate key, the key's JWK). A
 * keyChange or a deactivation is signed only under the guard of the `account` command that
 * asked for it (KEY_CHANGE, DEACTIVATE); any member not listed is refused. */
#ifndef ACMED_PRIVSEP_SIGN_GUARD_H
#define ACMED_PRIVSEP_SIGN_GUARD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signer/signer_proto.h"
#include "util/err.h"

enum sign_guard_op {
    SIGN_GUARD_POST_AS_GET,
    SIGN_GUARD_CHALLENGE,
    SIGN_GUARD_NEW_ACCOUNT,
    SIGN_GUARD_ACCOUNT_CONTACT,
    SIGN_GUARD_NEW_ORDER,
    SIGN_GUARD_FINALIZE,
    SIGN_GUARD_REVOKE,
    SIGN_GUARD_KEY_CHANGE, /* payload exactly the keeper's own inner JWS (inner) */
    SIGN_GUARD_DEACTIVATE, /* {"status": "deactivated"} to the account URL */
};

/* One operation's allowance. Everything is borrowed. */
struct sign_guard {
    enum sign_guard_op op;
    const char *alg;          /* the signing key's JWS alg */
    const char *kid;          /* the account URL; NULL when the request must carry jwk instead */
    json_t *jwk;              /* the public JWK expected when kid is NULL */
    const char *url;          /* the exact request URL required, or NULL for any */
    const char *const *names; /* NEW_ORDER: the target's names (normalised, IPs as text) */
    size_t nnames;
    const char *replaces; /* NEW_ORDER: the ARI certID the order may replace, or NULL */
    const uint8_t *der;   /* FINALIZE: the CSR; REVOKE: the certificate (DER) */
    size_t der_len;
    int reason;                 /* REVOKE: the reason code, or -1 for none */
    const char *const *contact; /* NEW_ACCOUNT, ACCOUNT_CONTACT */
    size_t ncontact;
    json_t *eab;               /* NEW_ACCOUNT: the externalAccountBinding object, or NULL */
    bool only_return_existing; /* NEW_ACCOUNT */
    json_t *inner;             /* KEY_CHANGE: the inner JWS the keeper signed */
};

/* Checks r against g. Returns 0 when the keeper may sign it, else -EPERM with e saying what
 * differs (never echoing more than a bounded, sanitised part of the request). */
int sign_guard_check(const struct sign_guard *g, const struct signer_request *r, struct err *e);

#endif
