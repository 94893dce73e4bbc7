/* engine_types: the plain data of struct engine (engine.h), independent of src/acme so that
 * an implementation outside the process (a worker reached over a socket) can encode it: only
 * strings, integers, booleans, time_t and arrays of those. Every object is caller-owned and
 * released with its _free function (NULL is ignored); strings in it are owned by it. */
#ifndef ACMED_RECONCILE_ENGINE_TYPES_H
#define ACMED_RECONCILE_ENGINE_TYPES_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/err.h"

struct signer;
struct ckey;

/* The rc of an operation the server refused with a problem document (as acme/client.h's). */
#define ENGINE_EPROBLEM (-EREMOTEIO)
/* The most of a body http01_fetch hands back (a key authorization is about 130 bytes). */
#define ENGINE_FETCH_MAX 4096

/* The rc of an operation whose executor went away before answering (a privilege-separated
 * worker that died): nothing is known of its outcome; resume from the last checkpoint. */
#define ENGINE_ELOST (-ECONNABORTED)

/* Statuses, in the order of RFC 8555 §7.1.6. */
enum engine_order_status {
    EORDER_PENDING,
    EORDER_READY,
    EORDER_PROCESSING,
    EORDER_VALID,
    EORDER_INVALID
};
enum engine_authz_status {
    EAUTHZ_PENDING,
    EAUTHZ_VALID,
    EAUTHZ_INVALID,
    EAUTHZ_DEACTIVATED,
    EAUTHZ_EXPIRED,
    EAUTHZ_REVOKED,
};
enum engine_chall_status { ECHALL_PENDING, ECHALL_PROCESSING, ECHALL_VALID, ECHALL_INVALID };
enum engine_account_status { EACCOUNT_VALID, EACCOUNT_DEACTIVATED, EACCOUNT_REVOKED };

/* An identifier: ip false for "dns" (RFC 8555), true for "ip" (RFC 8738). */
struct engine_identifier {
    bool ip;
    char *value;
};

/* A problem document (RFC 7807, RFC 8555 §6.7). */
struct engine_problem {
    char *type;                        /* "about:blank" when the server gave none */
    char *detail;                      /* NULL when absent */
    char *text;                        /* preformatted for messages: type, detail and subproblems */
    int status;                        /* HTTP status in the document, 0 when absent */
    struct engine_identifier *sub_ids; /* identifiers of the subproblems that name one */
    size_t nsub_ids;
};

struct engine_account {
    enum engine_account_status status;
    char *url; /* the account URL ("kid") when the operation gives it, else NULL */
    char **contact;
    size_t ncontact;
    char *orders; /* NULL when absent */
};

struct engine_order {
    enum engine_order_status status;
    char *url; /* the order's URL when the operation gives it (order_new: Location), else NULL */
    char *finalize;
    char *certificate; /* NULL until the order is valid */
    time_t expires;    /* 0 when absent */
    struct engine_identifier *identifiers;
    size_t nidentifiers;
    char **authorizations;
    size_t nauthorizations;
    struct engine_problem *error; /* NULL when absent */
};

struct engine_challenge {
    char *type; /* "http-01", "dns-01", "tls-alpn-01" or any other, as given */
    char *url;
    char *token; /* NULL when absent */
    enum engine_chall_status status;
    struct engine_problem *error; /* NULL when absent */
};

struct engine_authz {
    enum engine_authz_status status;
    struct engine_identifier identifier;
    bool wildcard;
    time_t expires; /* 0 when absent */
    struct engine_challenge *challenges;
    size_t nchallenges;
};

struct engine_directory {
    char *new_account;
    char *new_order;
    char *revoke_cert;
    char *key_change;       /* NULL when the server has no key rollover */
    char *new_authz;        /* NULL when the server has no pre-authorization */
    char *renewal_info;     /* NULL when the server has no ARI (RFC 9773) */
    char *terms_of_service; /* meta, NULL when absent */
    char *website;
    char **caa_identities;
    size_t ncaa_identities;
    bool external_account_required;
    char **profiles; /* profile names, in server order */
    size_t nprofiles;
};

/* A renewal information window (RFC 9773). */
struct engine_renewal_info {
    time_t start;
    time_t end;
    char *explanation_url; /* NULL when absent */
};

/* --- Requests: borrowed for the call only, as the strings in them. --- */

/* External Account Binding (RFC 8555 §7.3.4). */
struct engine_eab {
    const char *kid;     /* the key identifier the CA gave */
    const uint8_t *hmac; /* the MAC key, decoded from its base64url form */
    size_t hmac_len;
};

struct engine_new_account {
    const struct signer *key;   /* the account key (signs with "jwk") */
    const char *const *contact; /* e.g. "mailto:ops@example.com"; may be NULL */
    size_t ncontact;
    bool agree_tos;               /* termsOfServiceAgreed */
    bool only_return_existing;    /* find the account of this key, create none */
    const struct engine_eab *eab; /* or NULL */
    const char *eab_jws;          /* or the binding already made (JSON text), or NULL */
};

struct engine_new_order {
    const struct engine_identifier *ids;
    size_t nids;
    const char *profile;  /* sent only when the directory lists profiles; else -ENOTSUP */
    const char *replaces; /* ARI certID; dropped when the directory has no renewalInfo */
};

/* A key rollover (RFC 8555 §7.3.5): the account's key becomes new_key. With inner set (JSON
 * text of the inner JWS, made by whoever holds new_key), that is posted as it is. */
struct engine_key_change {
    const struct signer *new_key;
    const char *inner;
};

/* The certificate download and the checks of the chain (acme/ops.h's acme_cert_download). */
struct engine_download {
    const char *url;             /* the order's certificate URL */
    const char *preferred_chain; /* issuer CN of the top certificate to prefer, or NULL */
    const struct ckey *key;      /* when set: the leaf must be for this key */
    const char *const *names;    /* when set: the leaf must carry every name (dns or ip) */
    size_t nnames;
    const char *trust_anchors; /* PEM roots; when set the chain must end at one */
    size_t trust_anchors_len;
};

/* A CSR posted to a central certificate server (acme-mgmtserver's protocol, DESIGN.md §11). */
struct engine_csr_post {
    const char *url;  /* the server's http(s) URL (the provider's, without "mgmt+") */
    const char *body; /* the CSR, PEM */
    size_t len;
    const char *auth; /* the Authentication header's value (the caller's HMAC), or NULL */
    /* The checks of a 200's chain, as engine_download's: the leaf for key (when set), naming
     * every one of names, each link, and the top at one of trust_anchors (PEM, when set). */
    const struct ckey *key;
    const char *const *names;
    size_t nnames;
    const char *trust_anchors;
    size_t trust_anchors_len;
};

/* Request counters (zero where the implementation keeps none). */
struct engine_stats {
    uint64_t requests;    /* HTTP requests sent, retries included */
    uint64_t nonce_heads; /* HEAD newNonce requests */
    uint64_t retries;     /* attempts beyond the first */
};

/* The result of an operation: HTTP status of the final response (0 if none), the server's
 * problem document, Retry-After (-1 if none) and the object the operation names (engine.h).
 * The callee of engine_cb may take over a member by setting it to NULL. */
struct engine_result {
    long status;
    time_t retry_after;
    struct engine_problem *problem;
    char *location; /* the URL of what account_new or order_new made (Location), else NULL */
    struct engine_account *account;           /* account_new, account_update */
    struct engine_order *order;               /* order_new (with url), order_get/poll/finalize */
    struct engine_authz *authz;               /* authz_get, authz_poll */
    struct engine_renewal_info *renewal_info; /* renewal_info_get */
    char *cert_pem; /* cert_download, csr_post's 200: the chain (PEM), leaf first */
    size_t cert_len;
    char *body; /* http01_fetch: the response body (status in status); csr_post: the reason an
                 * error status came with (at most ENGINE_FETCH_MAX bytes, not sanitised) */
    size_t body_len;
};

/* rc == 0 on success; rc < 0 with e describing the failure (r->problem set when the server
 * sent one). r is valid during the call only. */
typedef void (*engine_cb)(void *arg, int rc, struct engine_result *r, const struct err *e);

/* Frees what r holds and zeroes it (retry_after -1). */
void engine_result_clear(struct engine_result *r);
/* True when p's type is "urn:ietf:params:acme:error:<name>"; p may be NULL (false). */
bool engine_problem_is(const struct engine_problem *p, const char *name);

void engine_problem_free(struct engine_problem *p);
void engine_account_free(struct engine_account *a);
void engine_order_free(struct engine_order *o);
void engine_challenge_free(struct engine_challenge *c);
void engine_authz_free(struct engine_authz *a);
void engine_directory_free(struct engine_directory *d);
void engine_renewal_info_free(struct engine_renewal_info *r);

/* The challenge of authz of this type with a well-formed token, or NULL. Borrowed. */
const struct engine_challenge *engine_challenge_select(const struct engine_authz *authz,
                                                       const char *type);

/* Status names as RFC 8555 spells them (a static string, "unknown" out of range). */
const char *engine_order_status_str(enum engine_order_status s);
const char *engine_authz_status_str(enum engine_authz_status s);
const char *engine_chall_status_str(enum engine_chall_status s);

#endif
